//! Response envelopes and faults.
//!
//! rpc/encoded responses type every value with `xsi:type` (what PHP, SOAP::Lite and suds
//! read); literal responses are plain elements in the document/literal WSDL's namespace
//! (what zeep and node-soap validate against that WSDL). Struct members whose names are
//! not XML names (numeric category ids, account ids) go out as an Apache `Map`, which PHP
//! turns back into an associative array.

use base64::Engine as _;
use groupware_api::{Fault, Value};

use super::{
    APACHE, DETAIL_NAMESPACE, ENC_11, ENC_12, FaultKind, SoapFault, Style, Version, XSD, XSI, sink,
};
use crate::codec::datetime;
use crate::codec::xmlrpc::escape_into;

/// Deepest result nesting written.
pub(super) const MAX_DEPTH: usize = 64;

const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn open_envelope(out: &mut String, version: Version) {
    open_envelope_with_header(out, version, "");
}

/// Opens the envelope, writing `header` (if not empty) as the Header's content.
fn open_envelope_with_header(out: &mut String, version: Version, header: &str) {
    out.push_str(PROLOG);
    out.push_str("<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"");
    out.push_str(version.envelope_namespace());
    out.push_str("\" xmlns:SOAP-ENC=\"");
    out.push_str(match version {
        Version::Soap11 => ENC_11,
        Version::Soap12 => ENC_12,
    });
    out.push_str("\" xmlns:xsd=\"");
    out.push_str(XSD);
    out.push_str("\" xmlns:xsi=\"");
    out.push_str(XSI);
    out.push_str("\" xmlns:apache=\"");
    out.push_str(APACHE);
    out.push_str("\">");
    if !header.is_empty() {
        out.push_str("<SOAP-ENV:Header>");
        out.push_str(header);
        out.push_str("</SOAP-ENV:Header>");
    }
    out.push_str("<SOAP-ENV:Body>");
}

/// SOAP 1.2's `Upgrade` header block, which tells a client with the wrong envelope which
/// envelopes the server speaks (SOAP 1.2 part 1, 5.4.7).
const UPGRADE_HEADER: &str = "<upg:Upgrade xmlns:upg=\"http://www.w3.org/2003/05/soap-envelope\"><upg:SupportedEnvelope qname=\"e12:Envelope\" xmlns:e12=\"http://www.w3.org/2003/05/soap-envelope\"/><upg:SupportedEnvelope qname=\"e11:Envelope\" xmlns:e11=\"http://schemas.xmlsoap.org/soap/envelope/\"/></upg:Upgrade>";

const CLOSE_ENVELOPE: &str = "</SOAP-ENV:Body></SOAP-ENV:Envelope>\n";

/// The response's buffer size: a listing's string member takes ~53 bytes encoded (with its
/// `xsi:type`), ~31 literal; with a margin, because a guess short of the reply doubles the
/// buffer at the very end.
pub(crate) fn response_capacity(style: Style, value: &Value) -> usize {
    let per_value = match style {
        Style::Encoded => 60,
        Style::Literal => 36,
    };
    768 + crate::codec::values_hint(value) * per_value
}

/// Encodes a successful result as `<{method}Response>` holding `<return>`.
///
/// `member_order` lists a declared struct's members: in literal style a result struct (or
/// each struct of a result array) writes those first, in that order, as the WSDL's
/// sequence requires.
pub fn encode_response(
    version: Version,
    style: Style,
    namespace: &str,
    method: &str,
    value: &Value,
    member_order: Option<&[&str]>,
) -> Result<String, Fault> {
    let mut out = String::with_capacity(response_capacity(style, value));
    open_envelope(&mut out, version);
    match style {
        Style::Encoded => {
            out.push_str("<ns:");
            out.push_str(method);
            out.push_str("Response xmlns:ns=\"");
            escape_attribute(&mut out, namespace);
            out.push_str("\" SOAP-ENV:encodingStyle=\"");
            out.push_str(match version {
                Version::Soap11 => ENC_11,
                Version::Soap12 => ENC_12,
            });
            out.push_str("\">");
            write_return(&mut out, version, style, value, member_order)?;
            out.push_str("</ns:");
            out.push_str(method);
            out.push_str("Response>");
        }
        Style::Literal => {
            out.push('<');
            out.push_str(method);
            out.push_str("Response xmlns=\"");
            escape_attribute(&mut out, namespace);
            out.push_str("\">");
            write_return(&mut out, version, style, value, member_order)?;
            out.push_str("</");
            out.push_str(method);
            out.push_str("Response>");
        }
    }
    out.push_str(CLOSE_ENVELOPE);
    Ok(out)
}

/// Writes the result as the element `return`: a written result directly, falling back to
/// its tree where its shape needs that (see [`sink`](super::sink)).
fn write_return(
    out: &mut String,
    version: Version,
    style: Style,
    value: &Value,
    member_order: Option<&[&str]>,
) -> Result<(), Fault> {
    if let Value::Written(written) = value {
        let start = out.len();
        match sink::write_result(out, version, style, written, member_order) {
            sink::Outcome::Written => return Ok(()),
            sink::Outcome::Fault(fault) => return Err(fault),
            sink::Outcome::GaveUp => out.truncate(start),
        }
    }
    match style {
        Style::Encoded => write_encoded(out, version, "return", value, 0),
        Style::Literal => write_literal(out, "return", value, member_order, 0),
    }
}

/// Encodes a fault: `Client`/`Server` (1.1) or `Sender`/`Receiver` (1.2), the English
/// message, and the numeric code in `detail`.
pub fn encode_fault(fault: &SoapFault) -> String {
    let mut out = String::with_capacity(512);
    let header = if fault.kind == FaultKind::VersionMismatch {
        UPGRADE_HEADER
    } else {
        ""
    };
    open_envelope_with_header(&mut out, fault.version, header);
    let code = match (fault.version, fault.kind) {
        (_, FaultKind::VersionMismatch) => "VersionMismatch",
        (_, FaultKind::MustUnderstand) => "MustUnderstand",
        (Version::Soap11, FaultKind::Client) => "Client",
        (Version::Soap11, FaultKind::Server) => "Server",
        (Version::Soap12, FaultKind::Client) => "Sender",
        (Version::Soap12, FaultKind::Server) => "Receiver",
    };
    let detail = format!(
        "<gw:faultCode xmlns:gw=\"{DETAIL_NAMESPACE}\">{}</gw:faultCode>",
        fault.fault.code
    );
    match fault.version {
        Version::Soap11 => {
            out.push_str("<SOAP-ENV:Fault><faultcode>SOAP-ENV:");
            out.push_str(code);
            out.push_str("</faultcode><faultstring>");
            escape_into(&mut out, &fault.fault.message);
            out.push_str("</faultstring><detail>");
            out.push_str(&detail);
            out.push_str("</detail></SOAP-ENV:Fault>");
        }
        Version::Soap12 => {
            out.push_str("<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:");
            out.push_str(code);
            out.push_str(
                "</SOAP-ENV:Value></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang=\"en\">",
            );
            escape_into(&mut out, &fault.fault.message);
            out.push_str("</SOAP-ENV:Text></SOAP-ENV:Reason><SOAP-ENV:Detail>");
            out.push_str(&detail);
            out.push_str("</SOAP-ENV:Detail></SOAP-ENV:Fault>");
        }
    }
    out.push_str(CLOSE_ENVELOPE);
    out
}

pub(super) fn too_deep() -> Fault {
    Fault::new(
        Fault::INTERNAL,
        "Internal server error: result nested too deeply",
    )
}

fn escape_attribute(out: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            c => out.push(c),
        }
    }
}

/// Whether `name` can be an element name as is (an NCName, ASCII for simplicity).
pub fn is_element_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}

/// The scalar's XSD type, or `None` for structs, arrays, nil and written values; a
/// non-finite double, which no XSD type can carry, is a fault.
pub(super) fn scalar_type(value: &Value) -> Result<Option<&'static str>, Fault> {
    Ok(Some(match value {
        Value::Int(number) => {
            if i32::try_from(*number).is_ok() {
                "xsd:int"
            } else {
                "xsd:long"
            }
        }
        Value::Bool(_) => "xsd:boolean",
        Value::String(_) => "xsd:string",
        Value::Double(number) => {
            if !number.is_finite() {
                return Err(Fault::new(
                    Fault::INTERNAL,
                    "Internal server error: result holds a non-finite number",
                ));
            }
            "xsd:double"
        }
        Value::DateTime(_) => "xsd:dateTime",
        Value::Base64(_) => "xsd:base64Binary",
        Value::Struct(_) | Value::Array(_) | Value::Nil | Value::Written(_) => return Ok(None),
    }))
}

/// Appends a scalar's text (for a value [`scalar_type`] types; nothing for others).
pub(super) fn push_scalar_text(out: &mut String, value: &Value) {
    match value {
        Value::Int(number) => out.push_str(itoa::Buffer::new().format(*number)),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::String(text) => escape_into(out, text),
        Value::Double(number) => out.push_str(&number.to_string()),
        Value::DateTime(moment) => datetime::push_extended(out, moment),
        Value::Base64(bytes) => base64::engine::general_purpose::STANDARD.encode_string(bytes, out),
        Value::Struct(_) | Value::Array(_) | Value::Nil | Value::Written(_) => {}
    }
}

pub(super) fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
}

pub(super) fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

pub(super) fn write_encoded(
    out: &mut String,
    version: Version,
    name: &str,
    value: &Value,
    depth: usize,
) -> Result<(), Fault> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    if let Value::Written(written) = value {
        return write_encoded(out, version, name, &written.to_value(), depth);
    }
    open(out, name);
    if let Some(xsd_type) = scalar_type(value)? {
        out.push_str(" xsi:type=\"");
        out.push_str(xsd_type);
        out.push_str("\">");
        push_scalar_text(out, value);
        close(out, name);
        return Ok(());
    }
    match value {
        Value::Nil => out.push_str(" xsi:nil=\"true\"/>"),
        Value::Array(items) => {
            let item_type = common_type(items)?;
            match version {
                Version::Soap11 => {
                    out.push_str(" xsi:type=\"SOAP-ENC:Array\" SOAP-ENC:arrayType=\"");
                    out.push_str(item_type);
                    out.push('[');
                    out.push_str(&items.len().to_string());
                    out.push_str("]\">");
                }
                Version::Soap12 => {
                    out.push_str(" SOAP-ENC:itemType=\"");
                    out.push_str(item_type);
                    out.push_str("\" SOAP-ENC:arraySize=\"");
                    out.push_str(&items.len().to_string());
                    out.push_str("\">");
                }
            }
            for item in items {
                write_encoded(out, version, "item", item, depth + 1)?;
            }
            close(out, name);
        }
        Value::Struct(members) if members.keys().all(|key| is_element_name(key)) => {
            // Untyped, as SOAP::Lite writes hashes (suds reads typed `SOAP-ENC:Struct`
            // members as lists); typed only where untyped decoding would read it as
            // something else: no members (a string) or only `item`s (an array).
            if members.is_empty() || members.keys().all(|key| key == "item") {
                out.push_str(" xsi:type=\"SOAP-ENC:Struct\">");
            } else {
                out.push('>');
            }
            for (key, member) in members {
                write_encoded(out, version, key, member, depth + 1)?;
            }
            close(out, name);
        }
        Value::Struct(members) => {
            out.push_str(" xsi:type=\"apache:Map\">");
            for (key, member) in members {
                out.push_str("<item><key xsi:type=\"xsd:string\">");
                escape_into(out, key);
                out.push_str("</key>");
                write_encoded(out, version, "value", member, depth + 2)?;
                out.push_str("</item>");
            }
            close(out, name);
        }
        _ => {}
    }
    Ok(())
}

/// The `arrayType` of an array's items: their XSD type when all share one scalar type.
fn common_type(items: &[Value]) -> Result<&'static str, Fault> {
    let mut common = None;
    for item in items {
        let Some(item_type) = scalar_type(item)? else {
            return Ok("xsd:anyType");
        };
        match common {
            None => common = Some(item_type),
            Some(seen) if seen == item_type => {}
            Some(_) => return Ok("xsd:anyType"),
        }
    }
    Ok(common.unwrap_or("xsd:anyType"))
}

pub(super) fn write_literal(
    out: &mut String,
    name: &str,
    value: &Value,
    member_order: Option<&[&str]>,
    depth: usize,
) -> Result<(), Fault> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    if let Value::Written(written) = value {
        return write_literal(out, name, &written.to_value(), member_order, depth);
    }
    open(out, name);
    if scalar_type(value)?.is_some() {
        out.push('>');
        push_scalar_text(out, value);
        close(out, name);
        return Ok(());
    }
    match value {
        Value::Nil => out.push_str(" xsi:nil=\"true\"/>"),
        Value::Array(items) => {
            out.push('>');
            for item in items {
                write_literal(out, "item", item, member_order, depth + 1)?;
            }
            close(out, name);
        }
        Value::Struct(members) => {
            out.push('>');
            let order = member_order.unwrap_or(&[]);
            let declared = order.iter().filter_map(|key| members.get_key_value(key));
            let rest = members
                .iter()
                .filter(|(key, _)| !order.contains(&key.as_ref()));
            for (key, member) in declared.chain(rest) {
                if is_element_name(key) {
                    write_literal(out, key, member, None, depth + 1)?;
                } else {
                    out.push_str("<item><key>");
                    escape_into(out, key);
                    out.push_str("</key>");
                    write_literal(out, "value", member, None, depth + 2)?;
                    out.push_str("</item>");
                }
            }
            close(out, name);
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_response_types_every_value() {
        let value = Value::structure([
            ("a", Value::Int(1)),
            ("7", Value::from("x")),
            (
                "list",
                Value::Array(vec![Value::from("p"), Value::from("q")]),
            ),
        ]);
        let Ok(text) = encode_response(Version::Soap11, Style::Encoded, "urn:x", "f", &value, None)
        else {
            panic!("encode failed");
        };
        assert!(text.contains("<return xsi:type=\"apache:Map\">"), "{text}");
        assert!(
            text.contains("<item><key xsi:type=\"xsd:string\">7</key>"),
            "{text}"
        );
        assert!(
            text.contains("SOAP-ENC:arrayType=\"xsd:string[2]\""),
            "{text}"
        );
    }

    #[test]
    fn literal_response_orders_declared_members() {
        let value = Value::structure([
            ("b", Value::Int(2)),
            ("x", Value::Nil),
            ("a", Value::Int(1)),
        ]);
        let Ok(text) = encode_response(
            Version::Soap11,
            Style::Literal,
            "urn:l",
            "f",
            &value,
            Some(&["a", "b"]),
        ) else {
            panic!("encode failed");
        };
        assert!(
            text.contains("<fResponse xmlns=\"urn:l\"><return><a>1</a><b>2</b><x xsi:nil=\"true\"/></return></fResponse>"),
            "{text}"
        );
    }

    #[test]
    fn faults_carry_the_code() {
        let fault = SoapFault::from_fault(Version::Soap12, Fault::new(1004, "bad <thing>"));
        let text = encode_fault(&fault);
        assert!(text.contains("<SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value>"));
        assert!(text.contains("bad &lt;thing&gt;"));
        assert!(text.contains(">1004</gw:faultCode>"));
        assert_eq!(fault.http_status(), 400);
    }
}
