//! Protocol codecs: bytes in, a protocol-neutral [`Call`] out; a result or fault in, bytes out.
//!
//! Codecs know nothing about applications, sessions or storage. Each one decodes into the
//! same [`Call`] and encodes the same `Value`/`Fault`, so dispatch is shared by all.

pub mod datetime;
pub mod encoding;
pub mod json_writer;
pub mod jsonrpc;
pub mod prescan;
pub mod soap;
pub mod xmlrpc;

use groupware_api::Value;

/// A decoded method call, whatever protocol carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Value>,
}

/// Limits applied to untrusted XML before and while it is parsed.
///
/// The defaults admit any real client's request (an XML-RPC value costs about three levels
/// of nesting per struct or array) and refuse what only an attacker sends.
#[derive(Debug, Clone, Copy)]
pub struct XmlLimits {
    /// Deepest element nesting. roxmltree recurses per level and a stack overflow aborts
    /// the process, so this must stay far below its limit (about 200 in debug builds).
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
    /// Most attributes on one element (roxmltree's duplicate check is quadratic).
    pub max_attributes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        XmlLimits {
            max_depth: 64,
            max_elements: 200_000,
            max_attributes: 32,
        }
    }
}

/// Checks a method name against the XML-RPC alphabet (`A-Z a-z 0-9 _ . : /`).
///
/// Anything else can never name a registered method; refusing it early keeps odd bytes
/// out of logs and lookups.
pub fn is_valid_method_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/'))
}
