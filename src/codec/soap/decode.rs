//! Lenient, namespace-aware decoding of SOAP request envelopes.
//!
//! What real toolkits send (`research/interop.md` A3, B8–B12): any envelope prefix, `Body`
//! under a different prefix than `Envelope` (suds), parameters qualified or not, with or
//! without `xsi:type` (zeep and node send none), the 1999/2000/2001 schema namespaces,
//! `SOAP-ENC:Array` with `arrayType`, structs as plain elements, `SOAP-ENC:Struct` or
//! Apache `Map` items (PHP's associative arrays), and multi-ref `href="#id"` (Axis, .NET).
//!
//! The document has passed the same pre-scan as XML-RPC; on top of it the decoder bounds
//! value depth (which also ends `href` cycles) and the number of values it produces (which
//! stops a small document of shared references from expanding exponentially).

use std::collections::HashMap;

use base64::Engine as _;
use groupware_api::{Fault, Struct, Value};
use roxmltree::{Document, Node};

use super::{APACHE, ENC_11, ENC_12, ENV_11, ENV_12, FaultKind, SoapCall, SoapFault, Version, XSD};
use crate::codec::encoding::{DecodeTextError, decode_text};
use crate::codec::xmlrpc::parse_document;
use crate::codec::{XmlLimits, is_valid_method_name};

/// Deepest value nesting followed, references included.
pub const MAX_VALUE_DEPTH: usize = 32;

const XSD_NAMESPACES: &[&str] = &[
    XSD,
    "http://www.w3.org/1999/XMLSchema",
    "http://www.w3.org/2000/10/XMLSchema",
];
const XSI_NAMESPACES: &[&str] = &[
    super::XSI,
    "http://www.w3.org/1999/XMLSchema-instance",
    "http://www.w3.org/2000/10/XMLSchema-instance",
];

fn client(version: Version, code: i32, message: impl Into<String>) -> SoapFault {
    SoapFault {
        version,
        kind: FaultKind::Client,
        fault: Fault::new(code, message),
    }
}

fn bad_value(message: impl std::fmt::Display) -> Fault {
    Fault::new(
        Fault::INVALID_PARAMS,
        format!("Invalid parameter value: {message}"),
    )
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Decodes a request envelope. `content_type` picks the version for faults raised before
/// the envelope's own namespace is known (`application/soap+xml` is SOAP 1.2).
pub fn decode_request(
    body: &[u8],
    content_type: Option<&str>,
    limits: &XmlLimits,
) -> Result<SoapCall, SoapFault> {
    let assumed = if content_type.is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/soap+xml")
    }) {
        Version::Soap12
    } else {
        Version::Soap11
    };
    let text = decode_text(body).map_err(|error| match error {
        DecodeTextError::Unsupported(name) => client(
            assumed,
            Fault::UNSUPPORTED_ENCODING,
            format!("Unsupported encoding '{name}': use UTF-8, US-ASCII or ISO-8859-1"),
        ),
        DecodeTextError::InvalidBytes(encoding) => client(
            assumed,
            Fault::PARSE_ERROR,
            format!("Parse error: the body is not valid {encoding}"),
        ),
    })?;
    let document = parse_document(&text, limits).map_err(|fault| SoapFault {
        version: assumed,
        kind: FaultKind::Client,
        fault,
    })?;
    decode_document(&document, assumed, limits)
}

fn decode_document(
    document: &Document<'_>,
    assumed: Version,
    limits: &XmlLimits,
) -> Result<SoapCall, SoapFault> {
    let root = document.root_element();
    if root.tag_name().name() != "Envelope" {
        return Err(client(
            assumed,
            Fault::INVALID_REQUEST,
            format!(
                "Invalid SOAP request: the root element is <{}>, expected a SOAP Envelope",
                truncate(root.tag_name().name())
            ),
        ));
    }
    let version = match root.tag_name().namespace() {
        Some(ENV_11) => Version::Soap11,
        Some(ENV_12) => Version::Soap12,
        other => {
            return Err(SoapFault {
                version: Version::Soap11,
                kind: FaultKind::VersionMismatch,
                fault: Fault::new(
                    Fault::INVALID_REQUEST,
                    format!(
                        "Version mismatch: the envelope namespace '{}' is neither SOAP 1.1 ({ENV_11}) nor SOAP 1.2 ({ENV_12})",
                        truncate(other.unwrap_or(""))
                    ),
                ),
            });
        }
    };
    let envelope_ns = version.envelope_namespace();
    let invalid = |message: String| {
        client(
            version,
            Fault::INVALID_REQUEST,
            format!("Invalid SOAP request: {message}"),
        )
    };
    let mut header = None;
    let mut body = None;
    for child in root.children().filter(Node::is_element) {
        let in_envelope = child.tag_name().namespace() == Some(envelope_ns);
        match child.tag_name().name() {
            "Header" if in_envelope && header.is_none() && body.is_none() => {
                header = Some(child);
            }
            "Body" if in_envelope && body.is_none() => body = Some(child),
            other => {
                return Err(invalid(format!(
                    "unexpected <{}> in the Envelope",
                    truncate(other)
                )));
            }
        }
    }
    let session = match header {
        Some(header) => read_header(header, version)?,
        None => None,
    };
    let body = body.ok_or_else(|| invalid("the Envelope has no Body".into()))?;
    let method_node = body
        .children()
        .find(Node::is_element)
        .ok_or_else(|| invalid("the Body is empty".into()))?;
    let method = method_node.tag_name().name().to_owned();
    if !is_valid_method_name(&method) {
        return Err(invalid(
            "the method element's name has characters outside A-Z a-z 0-9 _ . : /".into(),
        ));
    }
    let namespace = method_node
        .tag_name()
        .namespace()
        .unwrap_or_default()
        .to_owned();
    let mut decoder = Decoder::new(document, limits);
    let mut params = Vec::new();
    for param in method_node.children().filter(Node::is_element) {
        let value = decoder
            .value(param, 1, None)
            .map_err(|fault| SoapFault::from_fault(version, fault))?;
        params.push((param.tag_name().name().to_owned(), value));
    }
    Ok(SoapCall {
        version,
        method,
        namespace,
        params,
        session,
    })
}

/// Reads the Header: a block carrying `sessionid` and `kp3` is understood (toolkits that
/// cannot set Basic auth send the session so); any other block marked `mustUnderstand`
/// is refused, as SOAP requires.
fn read_header(
    header: Node<'_, '_>,
    version: Version,
) -> Result<Option<(String, String)>, SoapFault> {
    let mut session = None;
    for block in header.children().filter(Node::is_element) {
        let member = |name: &str| {
            block
                .children()
                .find(|child| child.is_element() && child.tag_name().name() == name)
                .map(|child| text_of(child).trim().to_owned())
        };
        if let (Some(sessionid), Some(kp3)) = (member("sessionid"), member("kp3")) {
            session = Some((sessionid, kp3));
            continue;
        }
        let must_understand = block.attributes().any(|attribute| {
            attribute.name() == "mustUnderstand"
                && attribute.namespace() == Some(version.envelope_namespace())
                && matches!(attribute.value().trim(), "1" | "true")
        });
        if must_understand {
            return Err(SoapFault {
                version,
                kind: FaultKind::MustUnderstand,
                fault: Fault::new(
                    Fault::INVALID_REQUEST,
                    format!(
                        "Header block {{{}}}{} was not understood",
                        truncate(block.tag_name().namespace().unwrap_or("")),
                        truncate(block.tag_name().name())
                    ),
                ),
            });
        }
    }
    Ok(session)
}

fn text_of(node: Node<'_, '_>) -> String {
    node.children()
        .filter(Node::is_text)
        .filter_map(|child| child.text())
        .collect()
}

/// A resolved `xsi:type`: namespace and local name.
type TypeName<'a> = (Option<&'a str>, &'a str);

struct Decoder<'a, 'input> {
    /// Elements by their `id` attribute, for `href="#id"` (1.1) and `enc:ref="id"` (1.2).
    ids: HashMap<&'a str, Node<'a, 'input>>,
    /// Values still allowed to be produced.
    budget: usize,
    /// Text bytes still allowed to be produced: without references a request's values hold
    /// less text than the document, so only repeated references to large text reach this.
    text_budget: usize,
}

impl<'a, 'input> Decoder<'a, 'input> {
    fn new(document: &'a Document<'input>, limits: &XmlLimits) -> Self {
        let ids = document
            .descendants()
            .filter(Node::is_element)
            .filter_map(|node| {
                node.attributes()
                    .find(|a| a.name() == "id" && matches!(a.namespace(), None | Some(ENC_12)))
                    .map(|a| (a.value(), node))
            })
            .collect();
        Decoder {
            ids,
            budget: limits.max_elements,
            text_budget: document.input_text().len().saturating_mul(2) + 64 * 1024,
        }
    }

    fn value(
        &mut self,
        node: Node<'a, 'input>,
        depth: usize,
        default_type: Option<TypeName<'a>>,
    ) -> Result<Value, Fault> {
        if depth > MAX_VALUE_DEPTH {
            return Err(bad_value(format!(
                "values nest deeper than {MAX_VALUE_DEPTH} levels (or references form a cycle)"
            )));
        }
        self.budget = self.budget.checked_sub(1).ok_or_else(|| {
            bad_value("the request expands to too many values (shared references?)")
        })?;
        if let Some(target) = self.reference(node)? {
            return self.value(target, depth + 1, default_type);
        }
        if node.attributes().any(|a| {
            matches!(a.name(), "nil" | "null")
                && a.namespace().is_some_and(|ns| XSI_NAMESPACES.contains(&ns))
                && matches!(a.value().trim(), "true" | "1")
        }) {
            return Ok(Value::Nil);
        }
        let is_array = node.attributes().any(|a| {
            matches!(a.name(), "arrayType" | "itemType")
                && matches!(a.namespace(), Some(ENC_11 | ENC_12))
        });
        // An array's own attributes beat the item type its parent array declares.
        let declared = declared_type(node).or(if is_array { None } else { default_type });
        match declared {
            Some((_, "anyType" | "ur-type")) if is_array => self.array(node, depth),
            Some((Some(ns), local)) if XSD_NAMESPACES.contains(&ns) => {
                self.scalar_or_infer(node, local, depth)
            }
            Some((Some(ENC_11 | ENC_12), "Array")) => self.array(node, depth),
            Some((Some(ENC_11 | ENC_12), "Struct")) => self.structure(node, depth),
            Some((Some(ENC_11 | ENC_12), local)) => self.scalar_or_infer(node, local, depth),
            Some((Some(APACHE), "Map")) => self.map(node, depth),
            Some((Some(APACHE), "Vector")) => self.array(node, depth),
            _ if is_array => self.array(node, depth),
            _ => self.infer(node, depth),
        }
    }

    /// The element's text, charged to the text budget.
    fn text(&mut self, node: Node<'a, 'input>) -> Result<String, Fault> {
        let text = text_of(node);
        self.text_budget = self.text_budget.checked_sub(text.len()).ok_or_else(|| {
            bad_value("the request expands to too much text (shared references?)")
        })?;
        Ok(text)
    }

    /// The element an `href`/`ref` points at, if this is a reference.
    fn reference(&self, node: Node<'a, 'input>) -> Result<Option<Node<'a, 'input>>, Fault> {
        let target = node
            .attributes()
            .find_map(|a| match (a.name(), a.namespace()) {
                ("href", None) => Some(a.value().strip_prefix('#').unwrap_or(a.value())),
                ("ref", Some(ENC_12)) => Some(a.value()),
                _ => None,
            });
        match target {
            None => Ok(None),
            Some(id) => {
                self.ids.get(id).copied().map(Some).ok_or_else(|| {
                    bad_value(format!("reference to an unknown id '{}'", truncate(id)))
                })
            }
        }
    }

    fn scalar_or_infer(
        &mut self,
        node: Node<'a, 'input>,
        local: &str,
        depth: usize,
    ) -> Result<Value, Fault> {
        let text = self.text(node)?;
        let trimmed = text.trim();
        Ok(match local {
            "string" | "normalizedString" | "token" | "anyURI" | "QName" | "NOTATION"
            | "language" | "Name" | "NCName" | "ID" | "date" | "time" | "duration" => {
                Value::from(text)
            }
            "int" | "integer" | "long" | "short" | "byte" | "unsignedInt" | "unsignedShort"
            | "unsignedByte" | "unsignedLong" | "nonNegativeInteger" | "positiveInteger"
            | "nonPositiveInteger" | "negativeInteger" | "i4" | "i8" => Value::Int(
                trimmed
                    .strip_prefix('+')
                    .unwrap_or(trimmed)
                    .parse()
                    .map_err(|_| {
                        bad_value(format!("'{}' is not a 64-bit integer", truncate(trimmed)))
                    })?,
            ),
            "boolean" => Value::Bool(match trimmed {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(bad_value(format!(
                        "'{}' is not a boolean",
                        truncate(trimmed)
                    )));
                }
            }),
            "float" | "double" | "decimal" => {
                let number = match trimmed {
                    "INF" | "-INF" | "NaN" => None,
                    _ => trimmed.parse::<f64>().ok().filter(|n| n.is_finite()),
                };
                Value::Double(number.ok_or_else(|| {
                    bad_value(format!("'{}' is not a finite number", truncate(trimmed)))
                })?)
            }
            "dateTime" | "timeInstant" => {
                Value::DateTime(crate::codec::datetime::parse(trimmed).ok_or_else(|| {
                    bad_value(format!("'{}' is not a date and time", truncate(trimmed)))
                })?)
            }
            "base64Binary" | "base64" => {
                let compact: Vec<u8> = trimmed
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                Value::Base64(
                    base64::engine::general_purpose::STANDARD
                        .decode(&compact)
                        .map_err(|_| bad_value("content is not valid base64"))?,
                )
            }
            "hexBinary" => Value::Base64(decode_hex(trimmed)?),
            _ => return self.infer(node, depth),
        })
    }

    /// Untyped (or unknown-typed) content: text is a string; `item`s with `key` and
    /// `value` are a map; other `item`s an array; any other children a struct.
    fn infer(&mut self, node: Node<'a, 'input>, depth: usize) -> Result<Value, Fault> {
        let mut children = node.children().filter(Node::is_element).peekable();
        let Some(first) = children.peek().copied() else {
            return Ok(Value::from(self.text(node)?));
        };
        if first.tag_name().name() == "item"
            && node
                .children()
                .filter(Node::is_element)
                .all(|child| child.tag_name().name() == "item")
        {
            let is_map = node.children().filter(Node::is_element).all(|item| {
                let names: Vec<&str> = item
                    .children()
                    .filter(Node::is_element)
                    .map(|c| c.tag_name().name())
                    .collect();
                names == ["key", "value"]
            });
            return if is_map {
                self.map(node, depth)
            } else {
                self.array(node, depth)
            };
        }
        self.structure(node, depth)
    }

    fn array(&mut self, node: Node<'a, 'input>, depth: usize) -> Result<Value, Fault> {
        let item_type = node
            .attributes()
            .find(|a| {
                matches!(a.name(), "arrayType" | "itemType")
                    && matches!(a.namespace(), Some(ENC_11 | ENC_12))
            })
            .and_then(|a| {
                let qname = a.value().split('[').next().unwrap_or("");
                resolve_qname(node, qname)
            });
        node.children()
            .filter(Node::is_element)
            .map(|item| self.value(item, depth + 1, item_type))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    }

    /// Child elements by local name. A name that repeats collects its values in an array
    /// (literal arrays written as repeated elements).
    fn structure(&mut self, node: Node<'a, 'input>, depth: usize) -> Result<Value, Fault> {
        let mut members = Struct::default();
        let mut repeated: Vec<String> = Vec::new();
        for child in node.children().filter(Node::is_element) {
            let name = child.tag_name().name();
            let value = self.value(child, depth + 1, None)?;
            match members.get_mut(name) {
                None => {
                    members.insert(name.to_owned().into(), value);
                }
                Some(existing) => {
                    if repeated.iter().any(|n| n == name) {
                        if let Value::Array(items) = existing {
                            items.push(value);
                        }
                    } else {
                        let first = std::mem::replace(existing, Value::Nil);
                        *existing = Value::Array(vec![first, value]);
                        repeated.push(name.to_owned());
                    }
                }
            }
        }
        Ok(Value::Struct(members))
    }

    /// Apache `Map`: `<item><key>…</key><value>…</value></item>` pairs.
    fn map(&mut self, node: Node<'a, 'input>, depth: usize) -> Result<Value, Fault> {
        let mut members = Struct::default();
        for item in node.children().filter(Node::is_element) {
            let mut key = None;
            let mut value = Value::Nil;
            for part in item.children().filter(Node::is_element) {
                match part.tag_name().name() {
                    "key" => {
                        key = Some(match self.value(part, depth + 2, None)? {
                            Value::String(text) => text.into_string(),
                            Value::Int(number) => number.to_string(),
                            _ => return Err(bad_value("a Map key must be a string")),
                        });
                    }
                    "value" => value = self.value(part, depth + 2, None)?,
                    _ => {}
                }
            }
            let key = key.ok_or_else(|| bad_value("a Map item has no key"))?;
            members.insert(key.into(), value);
        }
        Ok(Value::Struct(members))
    }
}

/// The `xsi:type` of an element, its QName resolved against the element's scope.
fn declared_type<'a>(node: Node<'a, '_>) -> Option<TypeName<'a>> {
    let attribute = node.attributes().find(|a| {
        a.name() == "type" && a.namespace().is_some_and(|ns| XSI_NAMESPACES.contains(&ns))
    })?;
    resolve_qname(node, attribute.value())
}

fn resolve_qname<'a>(node: Node<'a, '_>, qname: &'a str) -> Option<TypeName<'a>> {
    let qname = qname.trim();
    match qname.split_once(':') {
        Some((prefix, local)) => Some((node.lookup_namespace_uri(Some(prefix)), local)),
        None if qname.is_empty() => None,
        None => Some((node.lookup_namespace_uri(None), qname)),
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>, Fault> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(bad_value("hexBinary has an odd number of digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| bad_value("hexBinary has a non-hex digit"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Result<SoapCall, SoapFault> {
        decode_request(text.as_bytes(), Some("text/xml"), &XmlLimits::default())
    }

    fn envelope(body: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><S:Envelope xmlns:S="{ENV_11}" xmlns:E="{ENC_11}" xmlns:xsd="{XSD}" xmlns:xsi="{}"><S:Body>{body}</S:Body></S:Envelope>"#,
            super::super::XSI
        )
    }

    fn params(body: &str) -> Vec<(String, Value)> {
        match decode(&envelope(body)) {
            Ok(call) => call.params,
            Err(fault) => panic!("{fault:?}"),
        }
    }

    #[test]
    fn typed_and_untyped_scalars() {
        let got = params(
            r#"<m:f xmlns:m="urn:x"><a xsi:type="xsd:int">7</a><b>text</b><c xsi:type="xsd:boolean">true</c><d xsi:nil="true"/><e xsi:type="xsd:hexBinary">0aFF</e></m:f>"#,
        );
        assert_eq!(
            got,
            vec![
                ("a".into(), Value::Int(7)),
                ("b".into(), Value::from("text")),
                ("c".into(), Value::Bool(true)),
                ("d".into(), Value::Nil),
                ("e".into(), Value::Base64(vec![10, 255])),
            ]
        );
    }

    #[test]
    fn maps_arrays_and_structs() {
        let got = params(
            r#"<f xmlns:ap="http://xml.apache.org/xml-soap"><m xsi:type="ap:Map"><item><key>k</key><value xsi:type="xsd:int">1</value></item></m><a xsi:type="E:Array" E:arrayType="xsd:int[2]"><item>1</item><item>2</item></a><s><x>1</x><x>2</x><y/></s></f>"#,
        );
        assert_eq!(got[0].1, Value::structure([("k", Value::Int(1))]));
        assert_eq!(got[1].1, Value::Array(vec![Value::Int(1), Value::Int(2)]));
        assert_eq!(
            got[2].1,
            Value::structure([
                ("x", Value::Array(vec![Value::from("1"), Value::from("2")])),
                ("y", Value::from("")),
            ])
        );
    }

    #[test]
    fn references_resolve_and_cycles_fault() {
        let got = params(r##"<f><a href="#r1"/><b href="#r1"/></f><r id="r1"><x>1</x></r>"##);
        assert_eq!(got[0].1, got[1].1);
        let Err(fault) = decode(&envelope(
            r##"<f><a href="#c"/></f><c id="c"><d href="#c"/></c>"##,
        )) else {
            panic!("a cycle must fault");
        };
        assert_eq!(fault.fault.code, Fault::INVALID_PARAMS);
    }

    #[test]
    fn shared_references_cannot_amplify_text() {
        let big = "x".repeat(50_000);
        let refs = r##"<a href="#big"/>"##.repeat(100);
        let text = envelope(&format!(
            r#"<f><list>{refs}</list></f><s id="big">{big}</s>"#
        ));
        let Err(fault) = decode(&text) else {
            panic!("100 copies of 50 kB from a 55 kB document must be refused");
        };
        assert_eq!(fault.fault.code, Fault::INVALID_PARAMS);
    }

    #[test]
    fn version_mismatch_and_must_understand() {
        let Err(fault) = decode(r#"<e:Envelope xmlns:e="urn:other"><e:Body/></e:Envelope>"#) else {
            panic!("wrong namespace accepted");
        };
        assert_eq!(fault.kind, FaultKind::VersionMismatch);
        let text = format!(
            r#"<S:Envelope xmlns:S="{ENV_11}"><S:Header><h:x xmlns:h="urn:h" S:mustUnderstand="1"/></S:Header><S:Body><f/></S:Body></S:Envelope>"#
        );
        let Err(fault) = decode(&text) else {
            panic!("mustUnderstand ignored");
        };
        assert_eq!(fault.kind, FaultKind::MustUnderstand);
        let text = format!(
            r#"<S:Envelope xmlns:S="{ENV_12}"><S:Header><h:s xmlns:h="urn:h" S:mustUnderstand="true"><h:sessionid>a</h:sessionid><h:kp3>b</h:kp3></h:s></S:Header><S:Body><f/></S:Body></S:Envelope>"#
        );
        let Ok(call) = decode(&text) else {
            panic!("session header refused");
        };
        assert_eq!(call.version, Version::Soap12);
        assert_eq!(call.session, Some(("a".into(), "b".into())));
    }
}
