//! The text of a string value.
//!
//! A reply holds many short strings, and many of them are known at compile time (names,
//! fixed values): a [`Text`] is either owned or a `&'static str`, which costs no
//! allocation. It reads like a `&str` everywhere ([`Deref`]); equality, order and hashing
//! are those of the text.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// An immutable string: owned or static.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Owned(String),
    Static(&'static str),
}

impl Text {
    /// Text borrowed for the life of the program (no allocation).
    #[inline]
    pub const fn from_static(text: &'static str) -> Text {
        Text(Repr::Static(text))
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Owned(text) => text,
            Repr::Static(text) => text,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.as_str().is_empty()
    }

    /// The text as a `String`, without copying when it is owned.
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Owned(text) => text,
            Repr::Static(text) => text.to_owned(),
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

/// Whether two byte strings are equal, compared in place a word at a time.
///
/// For the short names compared on every row of a listing (column names, stock field
/// names) `==` on slices calls the C library's `memcmp`, and the call cost more than the
/// comparison: 4.9 % of the server's profile under the HTTP benchmark. Any length is
/// right; past a few words `==` is as fast.
#[inline]
pub fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |text: &[u8], at: usize| {
        text.get(at..)
            .and_then(|rest| rest.first_chunk::<8>())
            .map(|chunk| u64::from_le_bytes(*chunk))
    };
    let half = |text: &[u8], at: usize| {
        text.get(at..)
            .and_then(|rest| rest.first_chunk::<4>())
            .map(|chunk| u32::from_le_bytes(*chunk))
    };
    match n {
        0 => true,
        // The first, middle and last bytes are every byte.
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        // The first and last four bytes, overlapping, are every byte.
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => {
            let mut at = 0;
            while at + 8 < n {
                if word(a, at) != word(b, at) {
                    return false;
                }
                at += 8;
            }
            // The last eight bytes, overlapping those already compared.
            word(a, n - 8) == word(b, n - 8)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_eq_agrees_with_slice_equality() {
        for n in 0..40_usize {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(super::short_eq(&a, &a.clone()), "length {n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!super::short_eq(&a, &b), "length {n}, difference at {at}");
            }
            let mut longer = a.clone();
            longer.push(b'z');
            assert!(!super::short_eq(&a, &longer) && !super::short_eq(&longer, &a));
        }
    }

    use super::*;

    #[test]
    fn every_kind_reads_compares_and_hashes_as_its_text() {
        let kinds = [Text::from("Jürgen"), Text::from_static("Jürgen")];
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
        assert!(Text::from(String::new()).is_empty() && Text::default().is_empty());
        assert_eq!(Text::default(), "");
    }
}
