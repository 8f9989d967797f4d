//! The registry as SOAP sees it: which method an element names, how named parameters
//! become positional ones, and the service description the WSDL is rendered from.
//!
//! Everything here is driven by the method tables (names, signatures, declared
//! parameters and structs); nothing guesses a method from a name's shape.

use base64::Engine as _;
use groupware_api::{Account, ParamDef, Value};

use crate::codec::soap::wsdl::{ComplexType, Description, Operation, TypeRef};
use crate::registry::{Entry, Registry, Target};

/// Method namespaces whose local names are short names of one class: the SOAPBuilders
/// interop namespace carries `echoString`, registered as `interop.round2.echoString`.
const NAMESPACE_CLASSES: &[(&str, &str)] = &[("http://soapinterop.org/", "interop.round2")];

/// Finds the registered method a SOAP element names.
pub fn resolve<'r>(registry: &'r Registry, local: &str, namespace: &str) -> Option<&'r Entry> {
    if let Some(name) = registry.resolve_soap_name(local) {
        return registry.get(name);
    }
    NAMESPACE_CLASSES
        .iter()
        .find(|(ns, _)| namespace.trim_end_matches('/') == ns.trim_end_matches('/'))
        .and_then(|(_, class)| registry.get(&format!("{class}.{local}")))
}

/// Turns the request's named parameters into the method's positional ones.
///
/// Declared parameter names are matched first. Otherwise the values are taken in order
/// when some signature takes that many; and when the method takes one struct but got
/// several loose values (eGroupWare's own `system_login` with `username`, `password`
/// children), they are folded into that struct by name.
pub fn arrange(entry: &Entry, named: Vec<(String, Value)>) -> Vec<Value> {
    if !entry.params.is_empty()
        && !named.is_empty()
        && named.iter().all(|(n, _)| declared(entry.params, n))
    {
        {
            let mut by_name = named;
            let mut values: Vec<Value> = entry
                .params
                .iter()
                .map(|param| {
                    by_name
                        .iter()
                        .position(|(n, _)| n == param.name)
                        .map_or(Value::Nil, |at| by_name.remove(at).1)
                })
                .collect();
            while values.len() > 1 && values.last() == Some(&Value::Nil) {
                values.pop();
            }
            if values == [Value::Nil] && entry.accepts_count(0) {
                values.clear();
            }
            return coerce(entry, values);
        }
    }
    let count = named.len();
    if count > 1
        && !entry.accepts_count(count)
        && entry
            .signatures
            .iter()
            .any(|sig| sig.len() == 2 && sig[1] == "struct")
    {
        return vec![Value::Struct(
            named
                .into_iter()
                .map(|(name, value)| (name.into(), value))
                .collect(),
        )];
    }
    coerce(entry, named.into_iter().map(|(_, value)| value).collect())
}

fn declared(params: &[ParamDef], name: &str) -> bool {
    params.iter().any(|param| param.name == name)
}

/// Literal toolkits send untyped text, so a parameter arrives as a string where every
/// signature wants something else at that position: an empty element is an empty struct
/// or array there, and a date or base64 text is decoded. Anything that does not convert
/// stays as it is, for the method's own type check to report.
fn coerce(entry: &Entry, mut values: Vec<Value>) -> Vec<Value> {
    for (index, value) in values.iter_mut().enumerate() {
        let Value::String(text) = value else {
            continue;
        };
        let wanted: Vec<&str> = entry
            .signatures
            .iter()
            .filter_map(|sig| sig.get(index + 1).copied())
            .collect();
        let Some(first) = wanted.first().copied() else {
            continue;
        };
        if wanted.iter().any(|ty| *ty != first) {
            continue;
        }
        let converted = match first {
            "struct" if text.is_empty() => Some(Value::Struct(Default::default())),
            "array" if text.is_empty() => Some(Value::Array(Vec::new())),
            "dateTime.iso8601" => crate::codec::datetime::parse(text).map(Value::DateTime),
            "base64" => {
                let compact: String = text.split_ascii_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .ok()
                    .map(Value::Base64)
            }
            _ => None,
        };
        if let Some(converted) = converted {
            *value = converted;
        }
    }
    values
}

/// The declared members of the method's result struct (or of its array's items), for the
/// literal encoder's member order.
pub fn result_members(registry: &Registry, entry: &Entry) -> Option<Vec<&'static str>> {
    let name = entry.returns.trim_end_matches("[]");
    registry
        .struct_def(name)
        .map(|def| def.members.iter().map(|(member, _, _)| *member).collect())
}

/// The WSDL description of the methods `account` may call (the public ones for an
/// anonymous caller).
pub fn describe(registry: &Registry, account: Option<&Account>, location: String) -> Description {
    let operations = registry
        .entries()
        .filter(|entry| entry.visible_to(account))
        .filter(|entry| {
            !matches!(
                entry.target,
                Target::Builtin(crate::registry::Builtin::Multicall)
            )
        })
        .map(|entry| operation(registry, entry))
        .collect();
    let types = registry
        .structs()
        .map(|def| ComplexType {
            name: def.name.to_owned(),
            documentation: def.description.to_owned(),
            members: def
                .members
                .iter()
                .map(|(name, ty, _)| ((*name).to_owned(), type_ref(registry, ty)))
                .collect(),
        })
        .collect();
    Description {
        location,
        operations,
        types,
    }
}

fn operation(registry: &Registry, entry: &Entry) -> Operation {
    let longest = entry
        .signatures
        .iter()
        .max_by_key(|sig| sig.len())
        .copied()
        .unwrap_or(&[]);
    let params = if entry.params.is_empty() {
        longest
            .iter()
            .skip(1)
            .enumerate()
            .map(|(index, ty)| (format!("param{}", index + 1), type_ref(registry, ty)))
            .collect()
    } else {
        entry
            .params
            .iter()
            .enumerate()
            .map(|(index, param)| {
                let ty = if param.ty.is_empty() {
                    signature_type(entry, index + 1)
                } else {
                    param.ty
                };
                (param.name.to_owned(), type_ref(registry, ty))
            })
            .collect()
    };
    let returns = if entry.returns.is_empty() {
        signature_type(entry, 0)
    } else {
        entry.returns
    };
    Operation {
        name: entry.name.replace('.', "_"),
        documentation: entry.help.clone(),
        params,
        returns: type_ref(registry, returns),
    }
}

/// The type at `position` of the first signature long enough (`""` if none is).
fn signature_type(entry: &Entry, position: usize) -> &'static str {
    entry
        .signatures
        .iter()
        .find_map(|sig| sig.get(position).copied())
        .unwrap_or("")
}

/// Maps a table type (XML-RPC name, declared struct, `[]` suffix) to a WSDL type.
fn type_ref(registry: &Registry, ty: &str) -> TypeRef {
    if let Some(inner) = ty.strip_suffix("[]") {
        return TypeRef::ArrayOf(Box::new(type_ref(registry, inner)));
    }
    match ty {
        "int" | "i4" => TypeRef::Xsd("int"),
        "i8" => TypeRef::Xsd("long"),
        "boolean" => TypeRef::Xsd("boolean"),
        "string" => TypeRef::Xsd("string"),
        "double" => TypeRef::Xsd("double"),
        "dateTime.iso8601" => TypeRef::Xsd("dateTime"),
        "base64" => TypeRef::Xsd("base64Binary"),
        "struct" => TypeRef::AnyStruct,
        "array" => TypeRef::ArrayOf(Box::new(TypeRef::Any)),
        name if registry.struct_def(name).is_some() => TypeRef::Named(name.to_owned()),
        _ => TypeRef::Any,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use groupware_api::{Ctx, Flags, HandlerFuture, MethodDef, MethodTable, Params};

    fn noop(_ctx: Ctx, _params: Params) -> HandlerFuture {
        Box::pin(async { Ok(Value::Nil) })
    }

    fn registry() -> Registry {
        let table = MethodTable {
            app: "a",
            title: "A",
            version: "1",
            structs: &[],
            methods: vec![MethodDef {
                name: "a.b.two",
                function: "two",
                signatures: &[&["int", "int", "string"], &["int", "int"]],
                help: "",
                author: "",
                flags: Flags::PUBLIC,
                handler: noop,
                params: &[
                    ParamDef {
                        name: "n",
                        ty: "",
                        description: "",
                    },
                    ParamDef {
                        name: "s",
                        ty: "",
                        description: "",
                    },
                ],
                returns: "",
            }],
        };
        match Registry::build(&[table], true) {
            Ok(registry) => registry,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn named_positional_and_folded_parameters() {
        let registry = registry();
        let Some(two) = resolve(&registry, "a_b_two", "") else {
            panic!("not resolved")
        };
        let got = arrange(
            two,
            vec![("s".into(), Value::from("x")), ("n".into(), Value::Int(1))],
        );
        assert_eq!(got, vec![Value::Int(1), Value::from("x")]);
        let got = arrange(two, vec![("p1".into(), Value::Int(1))]);
        assert_eq!(got, vec![Value::Int(1)]);
        let Some(login) = resolve(&registry, "system_login", "urn:x") else {
            panic!("not resolved")
        };
        let got = arrange(
            login,
            vec![
                ("username".into(), Value::from("u")),
                ("password".into(), Value::from("p")),
            ],
        );
        assert_eq!(
            got,
            vec![Value::structure([
                ("username", Value::from("u")),
                ("password", Value::from("p"))
            ])]
        );
    }

    #[test]
    fn description_uses_declared_types() {
        let registry = registry();
        let description = describe(&registry, None, "http://x/soap".into());
        let Some(login) = description
            .operations
            .iter()
            .find(|o| o.name == "system_login")
        else {
            panic!("system_login missing")
        };
        assert_eq!(login.returns, TypeRef::Named("Session".into()));
        assert!(description.operations.iter().any(|o| o.name == "a_b_two"));
    }
}
