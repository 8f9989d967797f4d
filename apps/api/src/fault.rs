//! Wire faults: a numeric code and an English message.
//!
//! Codes 1001–1005 are phpGroupWare's application codes; the negative codes are the
//! XML-RPC "fault code interoperability" ones (JSON-RPC 2.0 reuses them). Each codec renders
//! a `Fault` in its own form; the numbers and texts are decided here and in [`crate::error`].

/// A fault as sent to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: i32,
    pub message: String,
}

impl Fault {
    /// State change: login failed, session expired, access not permitted.
    pub const STATE_CHANGE: i32 = 1001;
    /// Notice: something should be fixed, but the call did its work.
    pub const NOTICE: i32 = 1002;
    /// Warning: e.g. database trouble; the result cannot be trusted.
    pub const WARNING: i32 = 1003;
    /// Error: invalid parameters (count, type, value) or an entry that does not exist.
    pub const ERROR: i32 = 1004;
    /// Internal error: a bug or an unexpected condition in the server.
    pub const INTERNAL: i32 = 1005;
    /// The request is not well-formed XML/JSON, or was refused by the input limits.
    pub const PARSE_ERROR: i32 = -32700;
    /// The request declares an encoding the server does not support.
    pub const UNSUPPORTED_ENCODING: i32 = -32701;
    /// The request is well-formed but is not a valid call.
    pub const INVALID_REQUEST: i32 = -32600;
    /// No method of that name exists.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Invalid parameters at the protocol level (JSON-RPC uses it; XML-RPC uses 1004).
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal protocol-level error.
    pub const INTERNAL_RPC: i32 = -32603;

    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Fault {
            code,
            message: message.into(),
        }
    }

    /// True for faults caused by the caller (as opposed to the server), which SOAP reports
    /// as `Client`/`Sender` and the rest as `Server`/`Receiver`.
    pub fn is_client_fault(&self) -> bool {
        !matches!(
            self.code,
            Fault::WARNING | Fault::INTERNAL | Fault::INTERNAL_RPC
        )
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fault {}: {}", self.code, self.message)
    }
}
