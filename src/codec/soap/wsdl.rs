//! WSDL 1.1 documents from a neutral service description.
//!
//! Two bindings of the same operations: document/literal wrapped (zeep, node-soap, .NET,
//! Java) in [`LITERAL_NAMESPACE`], and rpc/encoded (suds, PHP SoapClient in WSDL mode) in
//! [`RPC_NAMESPACE`]. The description is built from the method tables elsewhere; this
//! module only writes XML.

use super::{ENC_11, LITERAL_NAMESPACE, RPC_NAMESPACE, XSD};
use crate::codec::xmlrpc::escape_into;

/// A type as the WSDL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    /// An XSD built-in (`string`, `int`, `dateTime`, …).
    Xsd(&'static str),
    /// A struct with declared members (see [`ComplexType`]).
    Named(String),
    /// A struct of any members.
    AnyStruct,
    /// Anything.
    Any,
    /// An array of the inner type.
    ArrayOf(Box<TypeRef>),
}

impl TypeRef {
    /// The schema type's local name and whether it is in our namespace.
    fn qname(&self) -> String {
        match self {
            TypeRef::Xsd(name) => format!("xsd:{name}"),
            TypeRef::Named(name) => format!("tns:{name}"),
            TypeRef::AnyStruct => "tns:Struct".into(),
            TypeRef::Any => "xsd:anyType".into(),
            TypeRef::ArrayOf(inner) => format!("tns:{}", array_name(inner)),
        }
    }
}

fn array_name(inner: &TypeRef) -> String {
    let item = match inner {
        TypeRef::Xsd(name) => capitalise(name),
        TypeRef::Named(name) => name.clone(),
        TypeRef::AnyStruct => "Struct".into(),
        TypeRef::Any => "AnyType".into(),
        TypeRef::ArrayOf(inner) => array_name(inner),
    };
    format!("ArrayOf{item}")
}

fn capitalise(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A struct with declared members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplexType {
    pub name: String,
    pub documentation: String,
    pub members: Vec<(String, TypeRef)>,
}

/// One operation: its element name (underscore spelling), parameters and result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub name: String,
    pub documentation: String,
    pub params: Vec<(String, TypeRef)>,
    pub returns: TypeRef,
}

/// Everything a WSDL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// The endpoint URL.
    pub location: String,
    pub operations: Vec<Operation>,
    pub types: Vec<ComplexType>,
}

impl Description {
    /// Every array type used anywhere, deduplicated, in a stable order.
    fn arrays(&self) -> Vec<TypeRef> {
        let mut found: Vec<TypeRef> = Vec::new();
        let mut note = |ty: &TypeRef| {
            if let TypeRef::ArrayOf(_) = ty
                && !found.contains(ty)
            {
                found.push(ty.clone());
            }
        };
        for operation in &self.operations {
            operation.params.iter().for_each(|(_, ty)| note(ty));
            note(&operation.returns);
        }
        for complex in &self.types {
            complex.members.iter().for_each(|(_, ty)| note(ty));
        }
        note(&TypeRef::ArrayOf(Box::new(TypeRef::Any)));
        found
    }
}

/// Which binding to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    DocumentLiteral,
    RpcEncoded,
}

fn text(out: &mut String, value: &str) {
    escape_into(out, value);
}

fn attribute(out: &mut String, value: &str) {
    for character in value.chars() {
        match character {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            c => out.push(c),
        }
    }
}

fn documentation(out: &mut String, doc: &str) {
    if !doc.is_empty() {
        out.push_str("<wsdl:documentation>");
        text(out, doc);
        out.push_str("</wsdl:documentation>");
    }
}

/// Renders the WSDL document.
pub fn render(description: &Description, binding: Binding) -> String {
    let namespace = match binding {
        Binding::DocumentLiteral => LITERAL_NAMESPACE,
        Binding::RpcEncoded => RPC_NAMESPACE,
    };
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" xmlns:soapenc=\"{ENC_11}\" xmlns:xsd=\"{XSD}\" xmlns:tns=\"{namespace}\" targetNamespace=\"{namespace}\" name=\"groupware\">\n"
    ));
    write_types(&mut out, description, binding, namespace);
    for operation in &description.operations {
        write_messages(&mut out, operation, binding);
    }
    out.push_str("<wsdl:portType name=\"GroupwarePortType\">\n");
    for operation in &description.operations {
        let name = &operation.name;
        out.push_str(&format!("<wsdl:operation name=\"{name}\">"));
        documentation(&mut out, &operation.documentation);
        out.push_str(&format!(
            "<wsdl:input message=\"tns:{name}Request\"/><wsdl:output message=\"tns:{name}Response\"/></wsdl:operation>\n"
        ));
    }
    out.push_str("</wsdl:portType>\n");
    let (style, body) = match binding {
        Binding::DocumentLiteral => ("document", "<soap:body use=\"literal\"/>".to_owned()),
        Binding::RpcEncoded => (
            "rpc",
            format!(
                "<soap:body use=\"encoded\" namespace=\"{namespace}\" encodingStyle=\"{ENC_11}\"/>"
            ),
        ),
    };
    out.push_str(&format!(
        "<wsdl:binding name=\"GroupwareBinding\" type=\"tns:GroupwarePortType\"><soap:binding style=\"{style}\" transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n"
    ));
    for operation in &description.operations {
        out.push_str(&format!(
            "<wsdl:operation name=\"{0}\"><soap:operation soapAction=\"{namespace}#{0}\" style=\"{style}\"/><wsdl:input>{body}</wsdl:input><wsdl:output>{body}</wsdl:output></wsdl:operation>\n",
            operation.name
        ));
    }
    out.push_str("</wsdl:binding>\n<wsdl:service name=\"GroupwareService\"><wsdl:port name=\"GroupwarePort\" binding=\"tns:GroupwareBinding\"><soap:address location=\"");
    attribute(&mut out, &description.location);
    out.push_str("\"/></wsdl:port></wsdl:service>\n</wsdl:definitions>\n");
    out
}

fn write_types(out: &mut String, description: &Description, binding: Binding, namespace: &str) {
    let qualified = match binding {
        Binding::DocumentLiteral => " elementFormDefault=\"qualified\"",
        Binding::RpcEncoded => "",
    };
    out.push_str(&format!(
        "<wsdl:types><xsd:schema targetNamespace=\"{namespace}\"{qualified}>\n"
    ));
    if binding == Binding::RpcEncoded {
        out.push_str(&format!("<xsd:import namespace=\"{ENC_11}\"/>\n"));
    }
    let any = "<xsd:any minOccurs=\"0\" maxOccurs=\"unbounded\" processContents=\"lax\"/>";
    out.push_str(&format!(
        "<xsd:complexType name=\"Struct\"><xsd:sequence>{any}</xsd:sequence></xsd:complexType>\n"
    ));
    for complex in &description.types {
        out.push_str(&format!("<xsd:complexType name=\"{}\">", complex.name));
        if !complex.documentation.is_empty() {
            out.push_str("<xsd:annotation><xsd:documentation>");
            text(out, &complex.documentation);
            out.push_str("</xsd:documentation></xsd:annotation>");
        }
        out.push_str("<xsd:sequence>");
        for (member, ty) in &complex.members {
            out.push_str(&format!(
                "<xsd:element name=\"{member}\" type=\"{}\" minOccurs=\"0\" nillable=\"true\"/>",
                ty.qname()
            ));
        }
        out.push_str(any);
        out.push_str("</xsd:sequence></xsd:complexType>\n");
    }
    for array in description.arrays() {
        let TypeRef::ArrayOf(inner) = &array else {
            continue;
        };
        let name = array_name(inner);
        match binding {
            Binding::DocumentLiteral => out.push_str(&format!(
                "<xsd:complexType name=\"{name}\"><xsd:sequence><xsd:element name=\"item\" type=\"{}\" minOccurs=\"0\" maxOccurs=\"unbounded\" nillable=\"true\"/></xsd:sequence></xsd:complexType>\n",
                inner.qname()
            )),
            Binding::RpcEncoded => out.push_str(&format!(
                "<xsd:complexType name=\"{name}\"><xsd:complexContent><xsd:restriction base=\"soapenc:Array\"><xsd:attribute ref=\"soapenc:arrayType\" wsdl:arrayType=\"{}[]\"/></xsd:restriction></xsd:complexContent></xsd:complexType>\n",
                inner.qname()
            )),
        }
    }
    if binding == Binding::DocumentLiteral {
        for operation in &description.operations {
            out.push_str(&format!(
                "<xsd:element name=\"{}\"><xsd:complexType><xsd:sequence>",
                operation.name
            ));
            for (param, ty) in &operation.params {
                out.push_str(&format!(
                    "<xsd:element name=\"{param}\" type=\"{}\" minOccurs=\"0\" nillable=\"true\"/>",
                    ty.qname()
                ));
            }
            out.push_str(&format!(
                "</xsd:sequence></xsd:complexType></xsd:element>\n<xsd:element name=\"{}Response\"><xsd:complexType><xsd:sequence><xsd:element name=\"return\" type=\"{}\" minOccurs=\"0\" nillable=\"true\"/></xsd:sequence></xsd:complexType></xsd:element>\n",
                operation.name,
                operation.returns.qname()
            ));
        }
    }
    out.push_str("</xsd:schema></wsdl:types>\n");
}

fn write_messages(out: &mut String, operation: &Operation, binding: Binding) {
    let name = &operation.name;
    match binding {
        Binding::DocumentLiteral => out.push_str(&format!(
            "<wsdl:message name=\"{name}Request\"><wsdl:part name=\"parameters\" element=\"tns:{name}\"/></wsdl:message>\n<wsdl:message name=\"{name}Response\"><wsdl:part name=\"parameters\" element=\"tns:{name}Response\"/></wsdl:message>\n"
        )),
        Binding::RpcEncoded => {
            out.push_str(&format!("<wsdl:message name=\"{name}Request\">"));
            for (param, ty) in &operation.params {
                out.push_str(&format!(
                    "<wsdl:part name=\"{param}\" type=\"{}\"/>",
                    ty.qname()
                ));
            }
            out.push_str(&format!(
                "</wsdl:message>\n<wsdl:message name=\"{name}Response\"><wsdl:part name=\"return\" type=\"{}\"/></wsdl:message>\n",
                operation.returns.qname()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Description {
        Description {
            location: "http://h/soap".into(),
            operations: vec![Operation {
                name: "a_b_c".into(),
                documentation: "Does <c>.".into(),
                params: vec![("params".into(), TypeRef::Named("Thing".into()))],
                returns: TypeRef::ArrayOf(Box::new(TypeRef::Named("Thing".into()))),
            }],
            types: vec![ComplexType {
                name: "Thing".into(),
                documentation: String::new(),
                members: vec![("id".into(), TypeRef::Xsd("int"))],
            }],
        }
    }

    #[test]
    fn both_bindings_are_well_formed_and_name_the_types() {
        for binding in [Binding::DocumentLiteral, Binding::RpcEncoded] {
            let wsdl = render(&sample(), binding);
            assert!(roxmltree::Document::parse(&wsdl).is_ok(), "{wsdl}");
            assert!(wsdl.contains("name=\"ArrayOfThing\""), "{wsdl}");
            assert!(wsdl.contains("Does &lt;c&gt;."), "{wsdl}");
        }
        assert!(render(&sample(), Binding::RpcEncoded).contains("wsdl:arrayType=\"tns:Thing[]\""));
    }
}
