//! XML-RPC requests in their plain form, decoded without building a document.
//!
//! Nearly every request is what stock libraries write: an optional `<?xml version=…?>`
//! declaration, lower-case element names without attributes or prefixes, whitespace
//! between elements, and text with the predefined entities and character references.
//! Parsing that into a roxmltree document cost more than half the request's decoding.
//! [`decode`] reads exactly that form in one pass and declines everything else (comments,
//! CDATA, attributes, other spellings, a carriage return, anything it would have to
//! refuse or tidy), and also whatever it reads but the document decoder would refuse or
//! read differently: then the caller decodes through the document as always, which also
//! writes the fault. So a request decodes to the same call, or the same fault, either way;
//! a property test holds the two decoders to that on mutated requests.

use groupware_api::{Struct, Value};

use super::xmlrpc::{MAX_VALUE_DEPTH, scalar_value};
use super::{Call, XmlLimits, is_valid_method_name};

/// Deepest element nesting read here: well inside the pre-scan's limit and the document
/// decoder's value depth, so neither would refuse what this accepts.
const MAX_ELEMENT_DEPTH: usize = 24;

/// The call in `text`, or `None` when `text` is not in the plain form.
pub fn decode(text: &str, limits: &XmlLimits) -> Option<Call> {
    let mut reader = Reader {
        text,
        at: 0,
        depth: 0,
        elements: 0,
        max_elements: limits.max_elements.min(100_000),
        max_depth: MAX_ELEMENT_DEPTH.min(limits.max_depth),
    };
    reader.declaration()?;
    reader.space();
    reader.open("methodCall")?;
    reader.space();
    reader.open("methodName")?;
    let method = reader.text()?.trim().to_owned();
    reader.close("methodName")?;
    reader.space();
    let mut params = Vec::new();
    if reader.at_open("params") {
        reader.open("params")?;
        reader.space();
        while reader.at_open("param") {
            reader.open("param")?;
            reader.space();
            params.push(reader.value(1)?);
            reader.space();
            reader.close("param")?;
            reader.space();
        }
        reader.close("params")?;
        reader.space();
    }
    reader.close("methodCall")?;
    reader.space();
    (reader.at == text.len() && is_valid_method_name(&method)).then_some(Call { method, params })
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
    elements: usize,
    max_elements: usize,
    max_depth: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &[u8] {
        self.text.as_bytes().get(self.at..).unwrap_or(&[])
    }

    /// An optional `<?xml version="1.0"?>`, with an optional `encoding`, at the very start.
    fn declaration(&mut self) -> Option<()> {
        let Some(body) = self.text.strip_prefix("<?xml ") else {
            // A declaration anywhere but at the start is an error for the document parser.
            return (!self.text.trim_start().starts_with("<?")).then_some(());
        };
        let end = body.find("?>")?;
        let mut parts = body[..end].split_ascii_whitespace();
        if !matches!(parts.next(), Some("version=\"1.0\"" | "version='1.0'")) {
            return None;
        }
        match parts.next() {
            None => {}
            Some(encoding) => {
                let value = encoding.strip_prefix("encoding=")?;
                let quote = value.chars().next().filter(|c| matches!(c, '"' | '\''))?;
                let name = value.strip_prefix(quote)?.strip_suffix(quote)?;
                let plain = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
                if !plain || parts.next().is_some() {
                    return None;
                }
            }
        }
        self.at = "<?xml ".len() + end + 2;
        Some(())
    }

    /// Skips spaces, tabs and line feeds (a carriage return is not skipped: the document
    /// parser normalises it, and this reader declines it).
    fn space(&mut self) {
        let skipped = self
            .rest()
            .iter()
            .take_while(|byte| matches!(byte, b' ' | b'\t' | b'\n'))
            .count();
        self.at += skipped;
    }

    /// Whether `<tag>` comes next.
    fn at_open(&self, tag: &str) -> bool {
        let rest = self.rest();
        rest.first() == Some(&b'<')
            && rest.get(1..=tag.len()) == Some(tag.as_bytes())
            && rest.get(tag.len() + 1) == Some(&b'>')
    }

    fn open(&mut self, tag: &str) -> Option<()> {
        if !self.at_open(tag) {
            return None;
        }
        self.elements += 1;
        self.depth += 1;
        if self.elements > self.max_elements || self.depth > self.max_depth {
            return None;
        }
        self.at += tag.len() + 2;
        Some(())
    }

    fn close(&mut self, tag: &str) -> Option<()> {
        let rest = self.rest();
        let matches = rest.starts_with(b"</")
            && rest.get(2..2 + tag.len()) == Some(tag.as_bytes())
            && rest.get(2 + tag.len()) == Some(&b'>');
        if !matches {
            return None;
        }
        self.depth = self.depth.saturating_sub(1);
        self.at += tag.len() + 3;
        Some(())
    }

    /// The name of the start tag that comes next, if one does (`<name>`, letters, digits
    /// and `.` only).
    fn next_open(&self) -> Option<&str> {
        let rest = self.rest().strip_prefix(b"<")?;
        let length = rest
            .iter()
            .take_while(|byte| byte.is_ascii_alphanumeric() || **byte == b'.')
            .count();
        if length == 0 || rest.get(length) != Some(&b'>') {
            return None;
        }
        self.text.get(self.at + 1..self.at + 1 + length)
    }

    /// Character data up to the next `<`, its references resolved.
    fn text(&mut self) -> Option<String> {
        let rest = self.text.get(self.at..)?;
        let length = rest.find('<')?;
        let raw = &rest[..length];
        self.at += length;
        if raw.contains("]]>") || raw.contains(['\u{fffe}', '\u{ffff}']) {
            return None;
        }
        if raw
            .bytes()
            .any(|byte| byte < 0x20 && byte != b'\t' && byte != b'\n')
        {
            return None;
        }
        if !raw.contains('&') {
            return Some(raw.to_owned());
        }
        let mut out = String::with_capacity(raw.len());
        let mut pieces = raw.split('&');
        out.push_str(pieces.next()?);
        for piece in pieces {
            let (reference, after) = piece.split_once(';')?;
            out.push(resolve(reference)?);
            out.push_str(after);
        }
        Some(out)
    }

    /// Whitespace only, up to the next `<`.
    fn only_space_before_tag(&mut self) -> Option<()> {
        self.space();
        (self.rest().first() == Some(&b'<')).then_some(())
    }

    /// A `<value>` element (the reader is at its start tag), nested `depth` values deep.
    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_VALUE_DEPTH {
            return None;
        }
        self.open("value")?;
        let start = self.at;
        let text = self.text()?;
        if self.rest().starts_with(b"</") {
            self.close("value")?;
            return Some(Value::from(text));
        }
        // A typed value: only whitespace may surround its element.
        self.at = start;
        self.only_space_before_tag()?;
        let value = if self.rest().starts_with(b"<nil/>") {
            self.elements += 1;
            if self.elements > self.max_elements {
                return None;
            }
            self.at += "<nil/>".len();
            Value::Nil
        } else {
            let tag = self.next_open()?.to_owned();
            match tag.as_str() {
                "struct" => self.structure(depth)?,
                "array" => self.array(depth)?,
                "string" | "int" | "i4" | "i8" | "boolean" | "double" | "base64" => {
                    self.scalar(&tag, &tag)?
                }
                "dateTime.iso8601" => self.scalar(&tag, "datetime.iso8601")?,
                _ => return None,
            }
        };
        self.only_space_before_tag()?;
        self.close("value")?;
        Some(value)
    }

    /// A scalar element `<tag>text</tag>`, read as the document decoder reads `kind`.
    fn scalar(&mut self, tag: &str, kind: &str) -> Option<Value> {
        self.open(tag)?;
        let content = self.text()?;
        self.close(tag)?;
        scalar_value(kind, content).ok()
    }

    fn structure(&mut self, depth: usize) -> Option<Value> {
        self.open("struct")?;
        self.space();
        let mut members = Struct::default();
        while self.at_open("member") {
            self.open("member")?;
            self.space();
            self.open("name")?;
            let name = self.text()?;
            self.close("name")?;
            self.space();
            let value = self.value(depth + 1)?;
            self.space();
            self.close("member")?;
            self.space();
            members.insert(name.into(), value);
        }
        self.close("struct")?;
        Some(Value::Struct(members))
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.open("array")?;
        self.space();
        self.open("data")?;
        self.space();
        let mut items = Vec::new();
        while self.at_open("value") {
            items.push(self.value(depth + 1)?);
            self.space();
        }
        self.close("data")?;
        self.space();
        self.close("array")?;
        Some(Value::Array(items))
    }
}

/// The character an entity or character reference (without `&` and `;`) stands for, if it
/// is one the document parser resolves to a character XML allows.
fn resolve(reference: &str) -> Option<char> {
    let code = match reference {
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "amp" => return Some('&'),
        "quot" => return Some('"'),
        "apos" => return Some('\''),
        _ => {
            let number = reference.strip_prefix('#')?;
            let (digits, radix) = match number.strip_prefix('x') {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(digits, radix).ok()?
        }
    };
    let allowed =
        matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10_FFFF);
    allowed.then(|| char::from_u32(code)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> XmlLimits {
        XmlLimits::default()
    }

    #[test]
    fn reads_what_python_writes() {
        let text = "<?xml version='1.0'?>\n<methodCall>\n<methodName>addressbook.boaddressbook.read_entries</methodName>\n<params>\n<param>\n<value><struct>\n<member>\n<name>start</name>\n<value><int>0</int></value>\n</member>\n<member>\n<name>query</name>\n<value><string>M&#252;ller &amp; S&lt;hne&gt;</string></value>\n</member>\n<member>\n<name>list</name>\n<value><array><data>\n<value><boolean>1</boolean></value>\n<value><double>1.5</double></value>\n<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>\n<value><base64>\naGVsbG8=\n</base64></value>\n<value><nil/></value>\n<value>untyped </value>\n</data></array></value>\n</member>\n</struct></value>\n</param>\n</params>\n</methodCall>\n";
        let Some(call) = decode(text, &limits()) else {
            panic!("declined");
        };
        assert_eq!(call.method, "addressbook.boaddressbook.read_entries");
        let Some(Value::Struct(members)) = call.params.first() else {
            panic!("{call:?}");
        };
        assert_eq!(members.get("start"), Some(&Value::Int(0)));
        assert_eq!(members.get("query"), Some(&Value::from("Müller & S<hne>")));
        let Some(Value::Array(items)) = members.get("list") else {
            panic!("{members:?}");
        };
        assert_eq!(items.len(), 6);
        assert_eq!(items[3], Value::Base64(b"hello".to_vec()));
        assert_eq!(items[4], Value::Nil);
        assert_eq!(items[5], Value::from("untyped "));
    }

    #[test]
    fn declines_what_it_does_not_read_exactly() {
        for text in [
            "<methodCall><methodName>a</methodName><!-- c --></methodCall>",
            "<methodCall xmlns=\"x\"><methodName>a</methodName></methodCall>",
            "<methodcall><methodName>a</methodName></methodcall>",
            "<methodCall><methodName>a</methodName><params><param><value><ex:i8>1</ex:i8></value></param></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><I4>1</I4></value></param></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><string><![CDATA[x]]></string></value></param></params></methodCall>",
            "<methodCall>\r\n<methodName>a</methodName></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><int>x</int></value></param></params></methodCall>",
            "<methodCall><methodName>a b</methodName></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><string>&unknown;</string></value></param></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value><string>&#0;</string></value></param></params></methodCall>",
            "<methodCall><methodName>a</methodName><params><param><value>x<int>1</int></value></param></params></methodCall>",
            " <?xml version='1.0'?><methodCall><methodName>a</methodName></methodCall>",
            "<?xml version='1.1'?><methodCall><methodName>a</methodName></methodCall>",
            "<methodCall><methodName>a</methodName></methodCall><x/>",
            "<methodCall><methodName>a</methodName><params><param><value><string/></value></param></params></methodCall>",
        ] {
            assert!(decode(text, &limits()).is_none(), "{text}");
        }
    }

    #[test]
    fn declines_deeper_nesting_than_its_bound() {
        let mut text = String::from("<methodCall><methodName>a</methodName><params><param>");
        for _ in 0..12 {
            text.push_str("<value><array><data>");
        }
        for _ in 0..12 {
            text.push_str("</data></array></value>");
        }
        text.push_str("</param></params></methodCall>");
        assert!(decode(&text, &limits()).is_none());
    }
}
