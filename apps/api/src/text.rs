//! The text of a string value.
//!
//! A listing answers with thousands of short strings, most of them read out of one
//! database column per record (`fields_json` in the addressbook). Giving each its own
//! allocation cost more than anything else in building the reply, so a [`Text`] can also
//! be a slice of a shared, reference-counted buffer, or a `&'static str`. It reads like a
//! `&str` everywhere ([`Deref`]); equality, order and hashing are those of the text.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, Range};
use std::sync::Arc;

/// An immutable string: owned, static, or a slice of a shared buffer.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Owned(String),
    Static(&'static str),
    Shared {
        buffer: Arc<str>,
        start: usize,
        end: usize,
    },
}

impl Text {
    /// Text borrowed for the life of the program (no allocation).
    #[inline]
    pub const fn from_static(text: &'static str) -> Text {
        Text(Repr::Static(text))
    }

    /// `buffer[range]`, sharing the buffer; `None` when `range` is out of bounds or does
    /// not fall on character boundaries.
    pub fn shared(buffer: &Arc<str>, range: Range<usize>) -> Option<Text> {
        buffer.get(range.clone())?;
        Some(Text(Repr::Shared {
            buffer: Arc::clone(buffer),
            start: range.start,
            end: range.end,
        }))
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Owned(text) => text,
            Repr::Static(text) => text,
            // In bounds and on boundaries: checked when the slice was made.
            Repr::Shared { buffer, start, end } => buffer.get(*start..*end).unwrap_or_default(),
        }
    }

    /// Whether the text is empty, without slicing a shared buffer.
    #[inline]
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Owned(text) => text.is_empty(),
            Repr::Static(text) => text.is_empty(),
            Repr::Shared { start, end, .. } => start == end,
        }
    }

    /// The text as a `String`, without copying when it is owned.
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Owned(text) => text,
            _ => self.as_str().to_owned(),
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::from_static("")
    }
}

impl Deref for Text {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), formatter)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), formatter)
    }
}

impl PartialEq for Text {
    #[inline]
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    #[inline]
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    #[inline]
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl From<String> for Text {
    #[inline]
    fn from(text: String) -> Self {
        Text(Repr::Owned(text))
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text(Repr::Owned(text.to_owned()))
    }
}

impl From<Text> for String {
    fn from(text: Text) -> Self {
        text.into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_compares_and_hashes_as_its_text() {
        let buffer: Arc<str> = Arc::from("{\"n_given\":\"Jürgen\"}");
        let shared = Text::shared(&buffer, 12..19).unwrap();
        let kinds = [shared, Text::from("Jürgen"), Text::from_static("Jürgen")];
        let hash = |text: &Text| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut hasher);
            hasher.finish()
        };
        for text in &kinds {
            assert_eq!(text.as_str(), "Jürgen");
            assert_eq!(text, &kinds[0]);
            assert_eq!(*text, "Jürgen");
            assert_eq!(hash(text), hash(&kinds[1]));
            assert_eq!(format!("{text:?}"), "\"Jürgen\"");
            assert_eq!(text.clone().into_string(), "Jürgen");
        }
        assert!(Text::from_static("a").cmp(&Text::from("b")).is_lt());
        assert!(!kinds.iter().any(Text::is_empty));
        assert!(Text::shared(&buffer, 4..4).unwrap().is_empty() && Text::default().is_empty());
        assert_eq!(Text::default(), "");
    }

    #[test]
    fn shared_slices_must_be_in_bounds_and_on_character_boundaries() {
        let buffer: Arc<str> = Arc::from("Jürgen");
        assert!(Text::shared(&buffer, 0..2).is_none(), "inside ü");
        assert!(Text::shared(&buffer, 3..99).is_none(), "past the end");
        assert_eq!(Text::shared(&buffer, 0..3).unwrap(), "Jü");
        assert_eq!(Text::shared(&buffer, 7..7).unwrap(), "");
    }
}
