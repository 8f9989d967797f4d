//! Bounds on the text applications store, one rule for every application.
//!
//! Every text is checked before it is written: PostgreSQL cannot store a NUL character
//! (SQLite could, and the backends must agree), and each field is bounded so that one call
//! cannot fill the disk. Texts that are keys of a database index (UIDs, the names listings
//! sort by, category names) are bounded more tightly: a PostgreSQL B-tree entry holds at
//! most 2,704 bytes, and a longer key was refused with a database fault on PostgreSQL
//! while SQLite took it.

use crate::Error;

/// The longest text stored in one field, in bytes. Generous (a PGP key or a long note
/// fits).
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The longest text that is a key of an index, in bytes. Up to three such keys share one
/// entry (an addressbook's family name, given name and e-mail), which then stays under
/// PostgreSQL's limit. eGroupWare's own columns for them hold 64 to 255 characters.
pub const MAX_KEY_BYTES: usize = 512;

/// Checks a text for storage: no NUL and at most [`MAX_FIELD_BYTES`]. `member` names it
/// in the message.
pub fn validate_text(member: &str, text: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::invalid(format!(
            "member '{member}' contains a NUL character"
        )));
    }
    if text.len() > MAX_FIELD_BYTES {
        return Err(Error::invalid(format!(
            "member '{member}' is longer than {MAX_FIELD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Checks a text that is an index key: [`validate_text`] and at most [`MAX_KEY_BYTES`].
pub fn validate_key(member: &str, text: &str) -> Result<(), Error> {
    validate_text(member, text)?;
    if text.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(format!(
            "member '{member}' is longer than {MAX_KEY_BYTES} bytes (it is a key the \
             server looks things up or sorts by, and is kept short)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_keys_are_bounded_and_free_of_nul() {
        assert!(validate_text("note", "'; DROP TABLE contacts; --").is_ok());
        assert!(validate_text("note", "a\0b").is_err());
        assert!(validate_text("note", &"x".repeat(MAX_FIELD_BYTES)).is_ok());
        assert!(validate_text("note", &"x".repeat(MAX_FIELD_BYTES + 1)).is_err());
        assert!(validate_key("uid", &"x".repeat(MAX_KEY_BYTES)).is_ok());
        let long = validate_key("uid", &"x".repeat(MAX_KEY_BYTES + 1));
        assert!(matches!(long, Err(Error::InvalidParams(message)) if message.contains("'uid'")));
        assert!(validate_key("uid", "a\0b").is_err());
    }
}
