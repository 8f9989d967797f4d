//! Small security primitives, in one place so every caller uses the same ones.
//!
//! Session tokens come from the operating system's CSPRNG, are shaped like legacy
//! eGroupWare ids (32 lowercase hex characters, 128 bits), and are stored only as SHA-256
//! digests. Secrets are compared with [`ct_eq`], never with `==`.

use groupware_api::Error;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a token: 128 bits, the OWASP-recommended minimum for session ids.
pub const TOKEN_BYTES: usize = 16;

/// Length of a token once hex-encoded.
pub const TOKEN_HEX_LEN: usize = TOKEN_BYTES * 2;

/// Fills `buffer` from the OS CSPRNG.
///
/// Fails (rather than falling back to something weaker) when the OS source is unavailable,
/// so a broken RNG can never mint guessable credentials.
pub fn fill_random(buffer: &mut [u8]) -> Result<(), Error> {
    OsRng
        .try_fill_bytes(buffer)
        .map_err(|error| Error::Internal(format!("OS random number generator failed: {error}")))
}

/// A fresh session token (`sessionid` or `kp3`): 16 OS-random bytes as 32 lowercase hex
/// characters, the shape old clients expect.
pub fn generate_token() -> Result<String, Error> {
    let mut bytes = [0_u8; TOKEN_BYTES];
    fill_random(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Whether `text` has the shape of a token we issue (32 lowercase hex characters).
///
/// Checked before any database work so malformed credentials cost nothing.
pub fn is_token(text: &str) -> bool {
    text.len() == TOKEN_HEX_LEN
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// SHA-256 of `data`, lowercase hex: how tokens are stored, so a database dump yields no
/// usable session.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(data.as_ref()))
}

/// A short, non-secret handle for a token, for log correlation (first 8 hex characters of
/// its SHA-256). Never log the token itself.
pub fn log_handle(token: &str) -> String {
    let mut digest = sha256_hex(token);
    digest.truncate(8);
    digest
}

/// Constant-time equality of two byte strings (length is not secret).
///
/// The one comparison function for secrets, so no `==` on a token slips in.
pub fn ct_eq(left: impl AsRef<[u8]>, right: impl AsRef<[u8]>) -> bool {
    let (left, right) = (left.as_ref(), right.as_ref());
    left.len() == right.len() && bool::from(left.ct_eq(right))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_lowercase_hex_and_distinct() {
        let first = generate_token().unwrap();
        let second = generate_token().unwrap();
        assert_eq!(first.len(), 32);
        assert!(is_token(&first), "{first}");
        assert!(is_token(&second), "{second}");
        assert_ne!(first, second);
    }

    #[test]
    fn token_shape_is_strict() {
        assert!(is_token("0123456789abcdef0123456789abcdef"));
        assert!(!is_token("0123456789ABCDEF0123456789abcdef"));
        assert!(!is_token("0123456789abcdef0123456789abcde"));
        assert!(!is_token("0123456789abcdef0123456789abcdef0"));
        assert!(!is_token("0123456789abcdef0123456789abcdeg"));
        assert!(!is_token(""));
        assert!(!is_token("é123456789abcdef0123456789abcde"));
    }

    #[test]
    fn sha256_hex_matches_known_vectors() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn log_handle_is_a_digest_prefix_not_the_token() {
        let token = "0123456789abcdef0123456789abcdef";
        let handle = log_handle(token);
        assert_eq!(handle.len(), 8);
        assert!(sha256_hex(token).starts_with(&handle));
        assert!(!token.contains(&handle));
    }

    #[test]
    fn ct_eq_compares_bytes() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "abcd"));
        assert!(ct_eq("", ""));
        assert!(ct_eq([1_u8, 2], vec![1_u8, 2]));
    }
}
