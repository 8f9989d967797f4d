//! Parsing the `Authorization` header into credentials.
//!
//! Strict on purpose: one header, the `Basic` scheme (any case), standard base64, UTF-8,
//! a bounded length, split on the first colon, both halves non-empty. Every failure is
//! the same `Malformed`, so the reply cannot tell an attacker which rule failed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Longest decoded `user:secret` accepted (a username and a password of sane length).
const MAX_DECODED_LEN: usize = 1024 + 256;

/// What the request carried.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No `Authorization` header at all: the client may be waiting for a challenge.
    #[default]
    Absent,
    /// A header that is not valid Basic credentials (or several headers).
    Malformed,
    /// `user:secret`: either `sessionid:kp3` or `username:password`.
    Basic { user: String, secret: String },
}

impl std::fmt::Debug for Credentials {
    /// Never prints the secret (nor the user half, which may be a session id).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Absent => write!(f, "Absent"),
            Credentials::Malformed => write!(f, "Malformed"),
            Credentials::Basic { .. } => write!(f, "Basic(***)"),
        }
    }
}

/// Parses all `Authorization` header values of a request.
pub fn parse_authorization<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Credentials {
    let mut values = values.into_iter();
    let Some(value) = values.next() else {
        return Credentials::Absent;
    };
    if values.next().is_some() {
        return Credentials::Malformed;
    }
    parse_basic(value).unwrap_or(Credentials::Malformed)
}

fn parse_basic(value: &[u8]) -> Option<Credentials> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let token = token.trim_start();
    if token.len() > MAX_DECODED_LEN * 4 / 3 + 4 {
        return None;
    }
    let decoded = STANDARD.decode(token).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, secret) = decoded.split_once(':')?;
    if user.is_empty() || secret.is_empty() || user.chars().any(char::is_control) {
        return None;
    }
    Some(Credentials::Basic {
        user: user.to_owned(),
        secret: secret.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> Credentials {
        parse_authorization([value.as_bytes()])
    }

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn absent_when_no_header() {
        assert_eq!(parse_authorization(std::iter::empty()), Credentials::Absent);
    }

    #[test]
    fn parses_basic_in_any_case() {
        let expected = Credentials::Basic {
            user: "abc".into(),
            secret: "d:e".into(),
        };
        assert_eq!(header(&basic("abc:d:e")), expected);
        assert_eq!(
            header(&basic("abc:d:e").replace("Basic", "bAsIc")),
            expected
        );
    }

    #[test]
    fn malformed_inputs_are_all_the_same() {
        for bad in [
            "Bearer abc".to_owned(),
            "Basic".to_owned(),
            "Basic !!!notbase64".to_owned(),
            basic("nocolon"),
            basic(":secret"),
            basic("user:"),
            format!("Basic {}", STANDARD.encode([0xff, b':', b'a'])),
            format!("Basic {}", "A".repeat(5000)),
        ] {
            assert_eq!(header(&bad), Credentials::Malformed, "{bad}");
        }
    }

    #[test]
    fn two_headers_are_malformed() {
        let one = basic("a:b");
        assert_eq!(
            parse_authorization([one.as_bytes(), one.as_bytes()]),
            Credentials::Malformed
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        assert_eq!(
            format!("{:?}", header(&basic("sess:kp3secret"))),
            "Basic(***)"
        );
    }
}
