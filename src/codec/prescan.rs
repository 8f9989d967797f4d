//! A cheap, iterative scan of untrusted XML before roxmltree sees it.
//!
//! roxmltree recurses once per nesting level and a stack overflow aborts the whole
//! process; its duplicate-attribute check is quadratic; it accepts any number of
//! elements. This scan walks the text once, without recursion, and refuses documents
//! that are deeper, larger or more attribute-heavy than the limits, and any DOCTYPE.
//! It may over-count (refusing odd but valid XML); it must never under-count.

use super::XmlLimits;

/// Why a document was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    Doctype,
    TooDeep(usize),
    TooManyElements(usize),
    TooManyAttributes(usize),
    Unterminated(&'static str),
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Doctype => write!(f, "document type declarations are not allowed"),
            ScanError::TooDeep(limit) => write!(f, "elements nested deeper than {limit} levels"),
            ScanError::TooManyElements(limit) => write!(f, "more than {limit} elements"),
            ScanError::TooManyAttributes(limit) => {
                write!(f, "an element with more than {limit} attributes")
            }
            ScanError::Unterminated(what) => write!(f, "unterminated {what}"),
        }
    }
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Scans `text`; `Ok` means roxmltree may safely parse it.
pub fn scan(text: &str, limits: &XmlLimits) -> Result<(), ScanError> {
    let bytes = text.as_bytes();
    let mut position = 0;
    let mut depth = 0usize;
    let mut elements = 0usize;
    while let Some(offset) = bytes
        .get(position..)
        .and_then(|rest| rest.iter().position(|&b| b == b'<'))
    {
        let start = position + offset;
        let rest = &bytes[start..];
        if rest.starts_with(b"<!--") {
            position =
                find(bytes, start + 4, b"-->").ok_or(ScanError::Unterminated("comment"))? + 3;
        } else if rest.starts_with(b"<![CDATA[") {
            position =
                find(bytes, start + 9, b"]]>").ok_or(ScanError::Unterminated("CDATA section"))? + 3;
        } else if rest.starts_with(b"<?") {
            position = find(bytes, start + 2, b"?>")
                .ok_or(ScanError::Unterminated("processing instruction"))?
                + 2;
        } else if rest.starts_with(b"<!") {
            // DOCTYPE, ENTITY and every other markup declaration.
            return Err(ScanError::Doctype);
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            position = find(bytes, start + 2, b">").ok_or(ScanError::Unterminated("end tag"))? + 1;
        } else {
            let (end, attributes, self_closing) = scan_start_tag(bytes, start + 1)?;
            if attributes > limits.max_attributes {
                return Err(ScanError::TooManyAttributes(limits.max_attributes));
            }
            elements += 1;
            if elements > limits.max_elements {
                return Err(ScanError::TooManyElements(limits.max_elements));
            }
            if !self_closing {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(ScanError::TooDeep(limits.max_depth));
                }
            }
            position = end;
        }
    }
    Ok(())
}

/// Walks a start tag from just after `<`; returns (position after `>`, attribute count,
/// whether it closed with `/>`). Quoted attribute values are skipped whole.
fn scan_start_tag(bytes: &[u8], mut position: usize) -> Result<(usize, usize, bool), ScanError> {
    let mut attributes = 0;
    while let Some(&byte) = bytes.get(position) {
        match byte {
            b'"' | b'\'' => {
                position = bytes[position + 1..]
                    .iter()
                    .position(|&b| b == byte)
                    .map(|i| position + 1 + i + 1)
                    .ok_or(ScanError::Unterminated("attribute value"))?;
            }
            b'=' => {
                attributes += 1;
                position += 1;
            }
            b'>' => {
                let self_closing = position > 0 && bytes[position - 1] == b'/';
                return Ok((position + 1, attributes, self_closing));
            }
            _ => position += 1,
        }
    }
    Err(ScanError::Unterminated("start tag"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> XmlLimits {
        XmlLimits {
            max_depth: 8,
            max_elements: 20,
            max_attributes: 3,
        }
    }

    #[test]
    fn accepts_ordinary_documents() {
        let text = r#"<?xml version="1.0"?><!-- hi --><a x="1>2"><b/><c><![CDATA[<<<]]></c></a>"#;
        assert_eq!(scan(text, &limits()), Ok(()));
    }

    #[test]
    fn refuses_doctype() {
        assert_eq!(scan("<!DOCTYPE a><a/>", &limits()), Err(ScanError::Doctype));
        assert_eq!(
            scan("<a><!ENTITY x 'y'></a>", &limits()),
            Err(ScanError::Doctype)
        );
    }

    #[test]
    fn refuses_deep_nesting_without_recursion() {
        let deep = "<a>".repeat(100_000);
        assert_eq!(scan(&deep, &limits()), Err(ScanError::TooDeep(8)));
    }

    #[test]
    fn self_closing_tags_do_not_nest() {
        let flat = format!("<r>{}</r>", "<a/>".repeat(15));
        assert_eq!(scan(&flat, &limits()), Ok(()));
    }

    #[test]
    fn counts_elements_and_attributes() {
        let many = format!("<r>{}</r>", "<a/>".repeat(25));
        assert_eq!(scan(&many, &limits()), Err(ScanError::TooManyElements(20)));
        assert_eq!(
            scan(r#"<a p="1" q="2" r="3" s="4"/>"#, &limits()),
            Err(ScanError::TooManyAttributes(3))
        );
    }

    #[test]
    fn markup_inside_comments_and_cdata_is_ignored() {
        let text = format!(
            "<a><!--{}--><![CDATA[{}]]></a>",
            "<b>".repeat(50),
            "<c>".repeat(50)
        );
        assert_eq!(scan(&text, &limits()), Ok(()));
    }

    #[test]
    fn unterminated_constructs_are_refused() {
        assert!(scan("<a><!-- never", &limits()).is_err());
        assert!(scan("<a x=\"never", &limits()).is_err());
    }
}
