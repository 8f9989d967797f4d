//! XML-RPC: lenient on input, exact on output.
//!
//! Input follows what real clients send (see `research/interop.md` A1): untyped values
//! are strings, tag names match case-insensitively and with any namespace prefix (Apache's
//! `ex:` extensions), base64 may be wrapped, every date spelling is accepted, and
//! `us-ascii`/`ISO-8859-1` prologs are decoded. Output is the spec form: UTF-8 prolog,
//! `<int>` for values that fit 32 bits and `<i8>` beyond, compact dates, exactly two fault
//! members.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use groupware_api::{Fault, Struct, Value, ValueSink};
use roxmltree::{Document, Node, ParsingOptions};

use super::encoding::{DecodeTextError, decode_text};
use super::{Call, XmlLimits, datetime, is_valid_method_name, plain_call, prescan};

/// Deepest value nesting the decoder follows. The pre-scan bounds element depth already;
/// this keeps the recursive decoder and encoder bounded on their own terms too.
pub const MAX_VALUE_DEPTH: usize = 32;

fn parse_fault(message: impl std::fmt::Display) -> Fault {
    Fault::new(Fault::PARSE_ERROR, format!("Parse error: {message}"))
}

fn invalid(message: impl std::fmt::Display) -> Fault {
    Fault::new(
        Fault::INVALID_REQUEST,
        format!("Invalid XML-RPC request: {message}"),
    )
}

fn bad_value(message: impl std::fmt::Display) -> Fault {
    Fault::new(
        Fault::INVALID_PARAMS,
        format!("Invalid parameter value: {message}"),
    )
}

/// Decodes a `<methodCall>` document: in its plain form directly ([`plain_call`]), in any
/// other through a parsed document.
pub fn decode_call(body: &[u8], limits: &XmlLimits) -> Result<Call, Fault> {
    let text = body_text(body)?;
    match plain_call::decode(&text, limits) {
        Some(call) => Ok(call),
        None => decode_document_call(&text, limits),
    }
}

/// Decodes a `<methodCall>` always through a parsed document: what [`decode_call`] does
/// for requests not in the plain form, and the reference the plain decoder is tested
/// against.
pub fn decode_call_via_document(body: &[u8], limits: &XmlLimits) -> Result<Call, Fault> {
    decode_document_call(&body_text(body)?, limits)
}

/// The request's text, decoded as its XML declaration says.
fn body_text(body: &[u8]) -> Result<std::borrow::Cow<'_, str>, Fault> {
    decode_text(body).map_err(|error| match error {
        DecodeTextError::Unsupported(name) => Fault::new(
            Fault::UNSUPPORTED_ENCODING,
            format!("Unsupported encoding '{name}': use UTF-8, US-ASCII or ISO-8859-1"),
        ),
        DecodeTextError::InvalidBytes(encoding) => Fault::new(
            Fault::PARSE_ERROR,
            format!("Parse error: the body is not valid {encoding}"),
        ),
    })
}

fn decode_document_call(text: &str, limits: &XmlLimits) -> Result<Call, Fault> {
    let document = parse_document(text, limits)?;
    let root = document.root_element();
    if !root.tag_name().name().eq_ignore_ascii_case("methodCall") {
        return Err(invalid(format!(
            "the root element is <{}>, expected <methodCall>",
            truncate(root.tag_name().name())
        )));
    }
    let mut method = None;
    let mut params = Vec::new();
    for child in elements(root) {
        let name = child.tag_name().name();
        if name.eq_ignore_ascii_case("methodName") {
            if method.is_some() {
                return Err(invalid("more than one <methodName>"));
            }
            method = Some(text_of(child).trim().to_owned());
        } else if name.eq_ignore_ascii_case("params") {
            for param in elements(child) {
                if !param.tag_name().name().eq_ignore_ascii_case("param") {
                    return Err(invalid("<params> may only contain <param>"));
                }
                let value = single_value_child(param, "param")?;
                params.push(decode_value(value, 1)?);
            }
        } else {
            return Err(invalid(format!(
                "unexpected <{}> in <methodCall>",
                truncate(name)
            )));
        }
    }
    let method = method.ok_or_else(|| invalid("missing <methodName>"))?;
    if !is_valid_method_name(&method) {
        return Err(invalid(
            "the method name is empty or has characters outside A-Z a-z 0-9 _ . : /",
        ));
    }
    Ok(Call { method, params })
}

/// Parses text into a document after the hardening pre-scan.
pub fn parse_document<'input>(
    text: &'input str,
    limits: &XmlLimits,
) -> Result<Document<'input>, Fault> {
    prescan::scan(text, limits).map_err(parse_fault)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: u32::try_from(limits.max_elements.saturating_mul(4)).unwrap_or(u32::MAX),
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options)
        .map_err(|error| parse_fault(format!("not well-formed XML ({error})")))
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Element children, skipping text, comments and processing instructions.
fn elements<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(Node::is_element)
}

/// The concatenated text (and CDATA) directly inside `node`.
fn text_of(node: Node<'_, '_>) -> String {
    node.children()
        .filter(Node::is_text)
        .filter_map(|child| child.text())
        .collect()
}

fn single_value_child<'a, 'input>(
    node: Node<'a, 'input>,
    what: &str,
) -> Result<Node<'a, 'input>, Fault> {
    let mut children = elements(node);
    let value = children
        .next()
        .filter(|child| child.tag_name().name().eq_ignore_ascii_case("value"))
        .ok_or_else(|| invalid(format!("<{what}> must contain one <value>")))?;
    if children.next().is_some() {
        return Err(invalid(format!(
            "<{what}> must contain exactly one <value>"
        )));
    }
    Ok(value)
}

/// Decodes a `<value>` element.
pub fn decode_value(node: Node<'_, '_>, depth: usize) -> Result<Value, Fault> {
    if depth > MAX_VALUE_DEPTH {
        return Err(parse_fault(format!(
            "values nested deeper than {MAX_VALUE_DEPTH} levels"
        )));
    }
    let mut children = elements(node);
    let Some(typed) = children.next() else {
        return Ok(Value::from(text_of(node)));
    };
    if children.next().is_some() {
        return Err(invalid("a <value> holds more than one typed element"));
    }
    let tag = typed.tag_name().name().to_ascii_lowercase();
    match tag.as_str() {
        "struct" => decode_struct(typed, depth).map(Value::Struct),
        "array" => decode_array(typed, depth).map(Value::Array),
        "serializable" | "dom" => Err(invalid(format!(
            "<{tag}> values are refused: they are never deserialized"
        ))),
        _ => scalar_value(&tag, text_of(typed)),
    }
}

/// The scalar a typed element holds: `tag` is its lower-cased local name, `content` its
/// text. Shared by the document decoder and the plain one ([`super::plain_call`]).
pub(super) fn scalar_value(tag: &str, content: String) -> Result<Value, Fault> {
    match tag {
        "int" | "i4" | "i8" | "i1" | "i2" | "biginteger" => {
            parse_int(&content, tag).map(Value::Int)
        }
        "boolean" => match content.trim() {
            "1" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
            "0" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
            other => Err(bad_value(format!(
                "<boolean> must be 0 or 1, got '{}'",
                truncate(other)
            ))),
        },
        "string" => Ok(Value::from(content)),
        "double" | "float" => parse_double(&content).map(Value::Double),
        "datetime.iso8601" | "datetime" => datetime::parse(&content)
            .map(Value::DateTime)
            .ok_or_else(|| {
                bad_value(format!(
                    "'{}' is not a valid dateTime.iso8601",
                    truncate(&content)
                ))
            }),
        "base64" => decode_base64(&content).map(Value::Base64),
        "nil" | "null" => Ok(Value::Nil),
        other => Err(invalid(format!("unknown value type <{}>", truncate(other)))),
    }
}

fn parse_int(text: &str, tag: &str) -> Result<i64, Fault> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let number: i64 = if digits.is_empty() || digits.starts_with(['+', '-']) && digits.len() == 1 {
        None
    } else {
        digits.parse().ok()
    }
    .ok_or_else(|| {
        bad_value(format!(
            "<{tag}> '{}' is not a 64-bit integer",
            truncate(trimmed)
        ))
    })?;
    let fits = match tag {
        "i1" => i8::try_from(number).is_ok(),
        "i2" => i16::try_from(number).is_ok(),
        _ => true,
    };
    if fits {
        Ok(number)
    } else {
        Err(bad_value(format!("<{tag}> {number} is out of range")))
    }
}

fn parse_double(text: &str) -> Result<f64, Fault> {
    let trimmed = text.trim();
    let valid_chars = !trimmed.is_empty()
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|number| valid_chars && number.is_finite())
        .ok_or_else(|| bad_value(format!("'{}' is not a finite double", truncate(trimmed))))
}

fn decode_base64(text: &str) -> Result<Vec<u8>, Fault> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .map_err(|_| bad_value("<base64> content is not valid base64"))
}

fn decode_struct(node: Node<'_, '_>, depth: usize) -> Result<Struct, Fault> {
    let mut members = Struct::default();
    for member in elements(node) {
        if !member.tag_name().name().eq_ignore_ascii_case("member") {
            return Err(invalid("<struct> may only contain <member>"));
        }
        let mut name = None;
        let mut value = None;
        for part in elements(member) {
            let tag = part.tag_name().name();
            if tag.eq_ignore_ascii_case("name") && name.is_none() {
                name = Some(text_of(part));
            } else if tag.eq_ignore_ascii_case("value") && value.is_none() {
                value = Some(decode_value(part, depth + 1)?);
            } else {
                return Err(invalid(
                    "a <member> holds exactly one <name> and one <value>",
                ));
            }
        }
        match (name, value) {
            (Some(name), Some(value)) => {
                members.insert(name.into(), value);
            }
            _ => return Err(invalid("a <member> lacks its <name> or <value>")),
        }
    }
    Ok(members)
}

fn decode_array(node: Node<'_, '_>, depth: usize) -> Result<Vec<Value>, Fault> {
    let mut items = Vec::new();
    for data in elements(node) {
        if !data.tag_name().name().eq_ignore_ascii_case("data") {
            return Err(invalid("<array> may only contain <data>"));
        }
        for value in elements(data) {
            if !value.tag_name().name().eq_ignore_ascii_case("value") {
                return Err(invalid("<data> may only contain <value>"));
            }
            items.push(decode_value(value, depth + 1)?);
        }
    }
    Ok(items)
}

const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Encodes a successful response.
///
/// Fails only for values the wire cannot carry (NaN, nesting beyond the limit); the caller
/// then sends [`encode_fault`] of the returned fault instead.
pub fn encode_response(value: &Value) -> Result<String, Fault> {
    let mut out = String::with_capacity(encoded_size_hint(value));
    out.push_str(PROLOG);
    out.push_str("<methodResponse><params><param>");
    write_value(&mut out, value, 1)?;
    out.push_str("</param></params></methodResponse>\n");
    Ok(out)
}

/// The reply's buffer size: a listing's string member takes ~80 bytes in XML-RPC; a tenth
/// more, because a guess short of the reply doubles the buffer at the very end.
pub(crate) fn encoded_size_hint(value: &Value) -> usize {
    const PER_VALUE: usize = 88;
    256 + super::values_hint(value) * PER_VALUE
}

/// Encodes a fault response: exactly `faultCode` (int) and `faultString` (string).
pub fn encode_fault(fault: &Fault) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(PROLOG);
    out.push_str(
        "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>",
    );
    out.push_str(&fault.code.to_string());
    out.push_str("</int></value></member><member><name>faultString</name><value><string>");
    escape_into(&mut out, &fault.message);
    out.push_str("</string></value></member></struct></value></fault></methodResponse>\n");
    out
}

/// Writes `<value>…</value>`.
pub fn write_value(out: &mut String, value: &Value, depth: usize) -> Result<(), Fault> {
    if depth > MAX_VALUE_DEPTH * 2 {
        return Err(Fault::new(
            Fault::INTERNAL,
            "Internal server error: result nested too deeply",
        ));
    }
    if let Value::Written(written) = value {
        let mut sink = XmlSink {
            out,
            depth,
            open: Vec::new(),
            error: None,
        };
        written.write(&mut sink);
        return sink.error.map_or(Ok(()), Err);
    }
    out.push_str("<value>");
    match value {
        Value::Int(number) => write_int(out, *number, false),
        Value::Bool(flag) => out.push_str(if *flag {
            "<boolean>1</boolean>"
        } else {
            "<boolean>0</boolean>"
        }),
        Value::String(text) => {
            out.push_str("<string>");
            escape_into(out, text);
            out.push_str("</string>");
        }
        Value::Double(number) => {
            if !number.is_finite() {
                return Err(Fault::new(
                    Fault::INTERNAL,
                    "Internal server error: result holds a non-finite number",
                ));
            }
            out.push_str("<double>");
            out.push_str(&format_double(*number));
            out.push_str("</double>");
        }
        Value::DateTime(moment) => {
            out.push_str("<dateTime.iso8601>");
            datetime::push_compact(out, moment);
            out.push_str("</dateTime.iso8601>");
        }
        Value::Base64(bytes) => {
            out.push_str("<base64>");
            out.push_str(&STANDARD.encode(bytes));
            out.push_str("</base64>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, member) in members {
                out.push_str("<member><name>");
                escape_into(out, name);
                // String members (most of every record) are written with their tags
                // joined, a third of the pushes of the general path.
                if let Value::String(text) = member {
                    out.push_str("</name><value><string>");
                    escape_into(out, text);
                    out.push_str("</string></value></member>");
                    continue;
                }
                out.push_str("</name>");
                write_value(out, member, depth + 1)?;
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                write_value(out, item, depth + 1)?;
            }
            out.push_str("</data></array>");
        }
        Value::Nil => out.push_str("<nil/>"),
        // Handled above.
        Value::Written(_) => {}
    }
    out.push_str("</value>");
    Ok(())
}

/// `<int>` when the number fits in 32 bits, `<i8>` otherwise; inside `<value>` when
/// `in_value` (the tags are written as whole pieces: this runs for every number of a reply).
fn write_int(out: &mut String, number: i64, in_value: bool) {
    let (open, close) = match (i32::try_from(number).is_ok(), in_value) {
        (true, false) => ("<int>", "</int>"),
        (false, false) => ("<i8>", "</i8>"),
        (true, true) => ("<value><int>", "</int></value>"),
        (false, true) => ("<value><i8>", "</i8></value>"),
    };
    out.push_str(open);
    out.push_str(itoa::Buffer::new().format(number));
    out.push_str(close);
}

/// Writes a [`Written`](groupware_api::Written) value straight into the reply, exactly as
/// [`write_value`] writes the tree it stands for (a unit test compares the two).
struct XmlSink<'a> {
    out: &'a mut String,
    /// The nesting level of the written value.
    depth: usize,
    /// The containers open, innermost last: `true` for a struct, whose values each close
    /// a member.
    open: Vec<bool>,
    /// The first value the wire cannot carry; writing goes on, the reply is not sent.
    error: Option<Fault>,
}

impl XmlSink<'_> {
    /// The nesting level of the next value.
    fn level(&self) -> usize {
        self.depth + self.open.len()
    }

    fn open(&mut self, tags: &str, is_struct: bool) {
        if self.level() > MAX_VALUE_DEPTH * 2 {
            self.error.get_or_insert_with(|| {
                Fault::new(
                    Fault::INTERNAL,
                    "Internal server error: result nested too deeply",
                )
            });
        }
        self.out.push_str(tags);
        self.open.push(is_struct);
    }

    fn close(&mut self, tags: &str) {
        self.open.pop();
        self.out.push_str(tags);
        self.value_done();
    }

    fn value_done(&mut self) {
        if self.open.last() == Some(&true) {
            self.out.push_str("</member>");
        }
    }
}

impl ValueSink for XmlSink<'_> {
    fn begin_array(&mut self, _len: usize) {
        self.open("<value><array><data>", false);
    }

    fn end_array(&mut self) {
        self.close("</data></array></value>");
    }

    fn begin_struct(&mut self, _len: usize) {
        self.open("<value><struct>", true);
    }

    fn end_struct(&mut self) {
        self.close("</struct></value>");
    }

    fn member(&mut self, name: &str) {
        self.out.push_str("<member><name>");
        escape_into(self.out, name);
        self.out.push_str("</name>");
    }

    fn plain_member(&mut self, name: &'static str) {
        debug_assert!(
            groupware_api::written::is_plain_name(name),
            "{name:?} is not a plain name"
        );
        self.out.push_str("<member><name>");
        self.out.push_str(name);
        self.out.push_str("</name>");
    }

    fn string(&mut self, text: &str) {
        self.out.push_str("<value><string>");
        escape_into(self.out, text);
        self.out.push_str("</string></value>");
        self.value_done();
    }

    fn string_member(&mut self, name: &'static str, text: &str) {
        debug_assert!(
            groupware_api::written::is_plain_name(name),
            "{name:?} is not a plain name"
        );
        // Members only occur in a struct, where a value closes its member.
        debug_assert_eq!(self.open.last(), Some(&true));
        let out = &mut *self.out;
        out.reserve(name.len() + text.len() + 64);
        out.push_str("<member><name>");
        out.push_str(name);
        out.push_str("</name><value><string>");
        escape_into(out, text);
        out.push_str("</string></value></member>");
    }

    fn int(&mut self, number: i64) {
        write_int(self.out, number, true);
        self.value_done();
    }

    fn value(&mut self, value: &Value) {
        if let Err(fault) = write_value(self.out, value, self.level()) {
            self.error.get_or_insert(fault);
        }
        self.value_done();
    }
}

/// Plain decimal notation (the spec allows no exponent); Rust's `Display` never uses one.
fn format_double(number: f64) -> String {
    let text = number.to_string();
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// Whether `bytes` holds anything [`escape_into`] rewrites: a C0 control (tab and line
/// ends included, so they take the careful path), `&`, `<`, `>` or the lead byte `0xEF` of
/// U+FFFE/U+FFFF. Eight bytes are tested at a time with the classic word tricks
/// (a zero byte in `v ^ repeated(b)` marks `b`; `(v - repeated(n)) & !v` marks a byte
/// below `n`), since this runs over every string of every response; the last few bytes
/// are tested as the string's last eight (overlapping), or, in a string shorter than a
/// word (most member names), padded with a harmless letter into one word.
fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let has_zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let word_needs = |word: &[u8; 8]| {
        let word = u64::from_le_bytes(*word);
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let special = has_zero_byte(word ^ (ONES * u64::from(b'&')))
            | has_zero_byte(word ^ (ONES * u64::from(b'<')))
            | has_zero_byte(word ^ (ONES * u64::from(b'>')))
            | has_zero_byte(word ^ (ONES * 0xEF));
        below_space | special != 0
    };
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        if word_needs(word.try_into().unwrap_or(&[0; 8])) {
            return true;
        }
    }
    if words.remainder().is_empty() {
        return false;
    }
    if let Some(last) = bytes.last_chunk::<8>() {
        // The last eight bytes, overlapping bytes already tested (harmless for "any").
        return word_needs(last);
    }
    let mut padded = [b'a'; 8];
    padded[..bytes.len()].copy_from_slice(bytes);
    word_needs(&padded)
}

/// Escapes text for element content.
///
/// `>` is escaped so `]]>` cannot appear; `\r` is written as a reference so XML's line-end
/// normalisation does not turn it into `\n`. Characters XML 1.0 cannot carry at all (C0
/// controls other than tab, LF, CR) become U+FFFD.
pub fn escape_into(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    // Nearly every value needs no escaping at all and is copied in one piece.
    if !needs_escaping(bytes) {
        out.push_str(text);
        return;
    }
    // Otherwise runs of text that need no escaping are still copied in one piece.
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let (replacement, width) = match byte {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'\r' => ("&#13;", 1),
            b'\t' | b'\n' => continue,
            0..=0x1f => ("\u{FFFD}", 1),
            // U+FFFE and U+FFFF: EF BF BE and EF BF BF in UTF-8.
            0xEF if bytes.get(index + 1) == Some(&0xBF)
                && matches!(bytes.get(index + 2), Some(0xBE | 0xBF)) =>
            {
                ("\u{FFFD}", 3)
            }
            _ => continue,
        };
        out.push_str(&text[start..index]);
        out.push_str(replacement);
        start = index + width;
    }
    out.push_str(&text[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn decode(text: &str) -> Result<Call, Fault> {
        decode_call(text.as_bytes(), &XmlLimits::default())
    }

    fn one(value_xml: &str) -> Result<Value, Fault> {
        let call = decode(&format!(
            "<methodCall><methodName>x</methodName><params><param><value>{value_xml}</value></param></params></methodCall>"
        ))?;
        Ok(call.params.into_iter().next().unwrap_or(Value::Nil))
    }

    #[test]
    fn untyped_values_are_strings_and_keep_whitespace() {
        assert_eq!(one("  abc "), Ok(Value::from("  abc ")));
        assert_eq!(one(""), Ok(Value::from("")));
        assert_eq!(one("\n  <int>1</int>\n"), Ok(Value::Int(1)));
    }

    #[test]
    fn type_tags_match_case_insensitively_and_ignore_prefixes() {
        assert_eq!(one("<I4>7</I4>"), Ok(Value::Int(7)));
        let date = NaiveDate::from_ymd_opt(2024, 1, 2).and_then(|d| d.and_hms_opt(3, 4, 5));
        assert_eq!(
            one("<datetime.iso8601>20240102T03:04:05</datetime.iso8601>"),
            Ok(Value::DateTime(date.unwrap_or_default()))
        );
        let apache = r#"<ex:i8 xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">9000000000</ex:i8>"#;
        assert_eq!(one(apache), Ok(Value::Int(9_000_000_000)));
        let nil = r#"<ex:nil xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"/>"#;
        assert_eq!(one(nil), Ok(Value::Nil));
    }

    #[test]
    fn integers_are_checked() {
        assert_eq!(one("<int> +0042 </int>"), Ok(Value::Int(42)));
        assert_eq!(one("<int>3000000000</int>"), Ok(Value::Int(3_000_000_000)));
        assert_eq!(
            one("<int>99999999999999999999</int>").map_err(|f| f.code),
            Err(Fault::INVALID_PARAMS)
        );
        assert_eq!(
            one("<int>1e3</int>").map_err(|f| f.code),
            Err(Fault::INVALID_PARAMS)
        );
        assert_eq!(
            one("<int></int>").map_err(|f| f.code),
            Err(Fault::INVALID_PARAMS)
        );
    }

    #[test]
    fn doubles_refuse_nan_and_infinity() {
        assert_eq!(one("<double>1e3</double>"), Ok(Value::Double(1000.0)));
        for bad in ["NaN", "inf", "-Infinity", "1e999", ""] {
            assert!(one(&format!("<double>{bad}</double>")).is_err(), "{bad}");
        }
    }

    #[test]
    fn wrapped_base64_decodes() {
        assert_eq!(
            one("<base64>\n aGVs\n bG8=\n</base64>"),
            Ok(Value::Base64(b"hello".to_vec()))
        );
        assert!(one("<base64>!!!</base64>").is_err());
    }

    #[test]
    fn struct_order_is_kept() {
        let value = one(
            "<struct><member><name>b</name><value>1</value></member><member><name>a</name><value><i4>2</i4></value></member></struct>",
        );
        let expected = Value::structure([("b", Value::from("1")), ("a", Value::Int(2))]);
        assert_eq!(value, Ok(expected));
    }

    #[test]
    fn empty_params_and_missing_params_both_work() {
        assert_eq!(
            decode("<methodCall><methodName>a.b</methodName><params/></methodCall>")
                .map(|c| c.params.len()),
            Ok(0)
        );
        assert_eq!(
            decode("<methodCall><methodName> a.b </methodName></methodCall>").map(|c| c.method),
            Ok("a.b".to_owned())
        );
    }

    #[test]
    fn structural_errors_have_the_right_codes() {
        assert_eq!(
            decode("<methodCall>").map_err(|f| f.code),
            Err(Fault::PARSE_ERROR)
        );
        assert_eq!(
            decode("<foo/>").map_err(|f| f.code),
            Err(Fault::INVALID_REQUEST)
        );
        assert_eq!(
            decode("<methodCall><params/></methodCall>").map_err(|f| f.code),
            Err(Fault::INVALID_REQUEST)
        );
        assert_eq!(
            decode("<methodCall><methodName>a b</methodName></methodCall>").map_err(|f| f.code),
            Err(Fault::INVALID_REQUEST)
        );
        assert_eq!(
            decode("<!DOCTYPE x><methodCall/>").map_err(|f| f.code),
            Err(Fault::PARSE_ERROR)
        );
        assert_eq!(
            one("<ex:serializable xmlns:ex='urn:x'>AAAA</ex:serializable>").map_err(|f| f.code),
            Err(Fault::INVALID_REQUEST)
        );
    }

    #[test]
    fn deep_values_fault_instead_of_overflowing() {
        let deep = format!(
            "{}{}",
            "<array><data><value>".repeat(40),
            "</value></data></array>".repeat(40)
        );
        assert!(one(&deep).is_err());
        let very_deep = "<value>".repeat(100_000);
        assert_eq!(
            decode(&very_deep).map_err(|f| f.code),
            Err(Fault::PARSE_ERROR)
        );
    }

    #[test]
    fn response_encoding_is_exact() {
        let value = Value::structure([
            ("small", Value::Int(5)),
            ("big", Value::Int(5_000_000_000)),
            ("text", Value::from("a<b&c]]>\r")),
            ("flag", Value::Bool(true)),
            ("d", Value::Double(2.0)),
        ]);
        let xml = encode_response(&value).unwrap_or_default();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse>"));
        assert!(xml.contains("<int>5</int>"));
        assert!(xml.contains("<i8>5000000000</i8>"));
        assert!(xml.contains("a&lt;b&amp;c]]&gt;&#13;"));
        assert!(xml.contains("<boolean>1</boolean>"));
        assert!(xml.contains("<double>2.0</double>"));
    }

    #[test]
    fn non_finite_results_are_refused() {
        assert!(encode_response(&Value::Double(f64::NAN)).is_err());
    }

    /// Writes every kind of call a listing makes, nested.
    struct Sample;

    impl groupware_api::WriteValue for Sample {
        fn type_name(&self) -> &'static str {
            "array"
        }

        fn write(&self, sink: &mut dyn ValueSink) {
            sink.begin_array(3);
            sink.begin_struct(4);
            sink.plain_member("plain");
            sink.string("text");
            sink.string_member("written_whole", "a & <b>\r");
            sink.member("a<b & \"c\"");
            sink.string("x > y\r\n\té");
            sink.member("small");
            sink.int(-7);
            sink.member("large");
            sink.int(1 << 40);
            sink.member("nested");
            sink.begin_array(1);
            sink.begin_struct(1);
            sink.member("deep");
            sink.int(3);
            sink.end_struct();
            sink.end_array();
            sink.member("categories");
            sink.begin_struct(1);
            sink.member("12");
            sink.string("Work");
            sink.end_struct();
            sink.member("any");
            sink.value(&Value::structure([
                (
                    "when",
                    Value::DateTime(
                        NaiveDate::from_ymd_opt(2024, 2, 29)
                            .unwrap()
                            .and_hms_opt(8, 5, 0)
                            .unwrap(),
                    ),
                ),
                ("flag", Value::Bool(true)),
            ]));
            sink.end_struct();
            sink.string("");
            sink.value(&Value::Nil);
            sink.end_array();
        }
    }

    #[test]
    fn a_written_value_is_written_as_its_tree_would_be() {
        let written = groupware_api::Written::new(Sample);
        let direct = encode_response(&Value::Written(written.clone())).unwrap();
        let tree = encode_response(&written.to_value()).unwrap();
        assert_eq!(direct, tree);
        // And it reads back as that tree.
        let wrapped = direct
            .replace(
                "<methodResponse><params>",
                "<methodCall><methodName>x</methodName><params>",
            )
            .replace("</params></methodResponse>", "</params></methodCall>");
        assert_eq!(decode(&wrapped).unwrap().params, vec![written.to_value()]);
        // Nested in a tree (a multicall result), too.
        let inside = Value::Array(vec![Value::Written(written.clone())]);
        assert_eq!(
            encode_response(&inside).unwrap(),
            encode_response(&Value::Array(vec![written.to_value()])).unwrap()
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "is not a plain name")]
    fn a_plain_member_name_is_checked_in_debug_builds() {
        let mut out = String::new();
        let mut sink = XmlSink {
            out: &mut out,
            depth: 1,
            open: vec![true],
            error: None,
        };
        sink.plain_member("a<b");
    }

    #[test]
    fn a_written_value_nested_too_deeply_is_refused() {
        let mut out = String::new();
        let written = Value::Written(groupware_api::Written::new(Sample));
        assert!(write_value(&mut out, &written, MAX_VALUE_DEPTH * 2 - 1).is_err());
        let mut out = String::new();
        assert!(write_value(&mut out, &written, 1).is_ok());
    }

    #[test]
    fn fault_has_exactly_two_members() {
        let xml = encode_fault(&Fault::new(1004, "bad <thing>"));
        assert!(xml.contains("<name>faultCode</name><value><int>1004</int></value>"));
        assert!(xml.contains("<string>bad &lt;thing&gt;</string>"));
        assert_eq!(xml.matches("<member>").count(), 2);
    }

    #[test]
    fn word_wise_escape_test_agrees_with_the_byte_rule() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .any(|&byte| byte < 0x20 || matches!(byte, b'&' | b'<' | b'>' | 0xEF))
        };
        for filler in [b'a', 0x7F, 0x80, 0xFF, 0x21, 0x20, 0x3D, 0x3F] {
            for length in 0..40 {
                for position in 0..length {
                    for byte in 0..=255_u8 {
                        let mut bytes = vec![filler; length];
                        bytes[position] = byte;
                        assert_eq!(
                            needs_escaping(&bytes),
                            naive(&bytes),
                            "filler {filler:#x}, byte {byte:#x} at {position} of {length}"
                        );
                    }
                }
            }
        }
    }
}
