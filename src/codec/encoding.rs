//! Turning request bytes into text, honouring the XML declaration's `encoding`.
//!
//! roxmltree reads `&str` and ignores the declared encoding, so this is where it is
//! enforced. UTF-8 (the default, BOM tolerated), US-ASCII and ISO-8859-1 are decoded;
//! PHP's phpxmlrpc and old Perl clients send the last two. Anything else is refused with
//! a clear fault rather than mis-decoded.

use std::borrow::Cow;

/// Why bytes could not become text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeTextError {
    /// The declared encoding is not one we decode.
    Unsupported(String),
    /// A byte sequence is invalid in the declared (or default) encoding.
    InvalidBytes(&'static str),
}

/// Decodes `body` into text according to its XML declaration.
pub fn decode_text(body: &[u8]) -> Result<Cow<'_, str>, DecodeTextError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let declared = declared_encoding(body).map(|name| name.to_ascii_lowercase());
    match declared.as_deref() {
        None | Some("utf-8" | "utf8") => std::str::from_utf8(body)
            .map(Cow::Borrowed)
            .map_err(|_| DecodeTextError::InvalidBytes("UTF-8")),
        Some("us-ascii" | "ascii" | "ansi_x3.4-1968") => {
            if body.is_ascii() {
                std::str::from_utf8(body)
                    .map(Cow::Borrowed)
                    .map_err(|_| DecodeTextError::InvalidBytes("US-ASCII"))
            } else {
                Err(DecodeTextError::InvalidBytes("US-ASCII"))
            }
        }
        Some("iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1" | "iso_8859-1") => Ok(
            Cow::Owned(body.iter().map(|&byte| char::from(byte)).collect()),
        ),
        Some(other) => Err(DecodeTextError::Unsupported(
            other.chars().take(40).collect(),
        )),
    }
}

/// Reads the `encoding` pseudo-attribute of a leading `<?xml …?>` declaration.
fn declared_encoding(body: &[u8]) -> Option<String> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &body[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = rest.windows(2).take(512).position(|pair| pair == b"?>")?;
    let declaration = std::str::from_utf8(&rest[..end]).ok()?;
    let after = declaration.split("encoding").nth(1)?;
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    let close = value.find(quote)?;
    Some(value[..close].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_the_default_and_bom_is_skipped() {
        assert_eq!(
            decode_text("\u{feff}<a>é</a>".as_bytes()).as_deref(),
            Ok("<a>é</a>")
        );
        assert_eq!(decode_text(b"<a/>").as_deref(), Ok("<a/>"));
    }

    #[test]
    fn latin1_bytes_become_characters() {
        let body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xE9</a>";
        assert!(decode_text(body).is_ok_and(|text| text.ends_with("<a>é</a>")));
    }

    #[test]
    fn ascii_refuses_high_bytes() {
        let body = b"<?xml version='1.0' encoding='us-ascii'?><a>\xE9</a>";
        assert_eq!(
            decode_text(body),
            Err(DecodeTextError::InvalidBytes("US-ASCII"))
        );
    }

    #[test]
    fn unknown_encodings_are_refused() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>";
        assert_eq!(
            decode_text(body),
            Err(DecodeTextError::Unsupported("utf-16".into()))
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert_eq!(
            decode_text(b"<a>\xff</a>"),
            Err(DecodeTextError::InvalidBytes("UTF-8"))
        );
    }
}
