//! The typed error every handler returns, and its single mapping to wire faults.

use crate::fault::Fault;

/// What can go wrong while serving a call.
///
/// Variants that carry internal detail (`Storage`, `Internal`) keep it for the log only:
/// the fault a client sees is a fixed English sentence.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `system.login` refused the credentials, for whatever reason (unknown user, wrong
    /// password, disabled, throttled). One message for all, so nothing can be enumerated.
    #[error("Login failed")]
    LoginFailed,
    /// No usable session: wrong, expired or logged-out credentials.
    #[error("Session expired")]
    SessionExpired,
    /// The caller has a session but no run right on the method's application.
    #[error("Access not permitted")]
    AccessNotPermitted,
    /// The caller may not do this to that entry (ACL on a record, admin-only action).
    #[error("Permission denied: {0}")]
    PermissionDenied(String),
    /// Wrong number of parameters.
    #[error("Wrong number of parameters: {0}")]
    ParamCount(String),
    /// A parameter has the wrong type, lacks a member or has an invalid value.
    #[error("Invalid parameter: {0}")]
    InvalidParams(String),
    /// The entry does not exist (or no longer exists).
    #[error("Entry does not exist: {0}")]
    NotFound(String),
    /// An optimistic-concurrency check failed: the entry changed since the client read it
    /// (the `last_mod` it sent back no longer matches). Nothing was written.
    #[error("Entry was changed by someone else")]
    Conflict,
    /// The method name is not in the registry (or not visible to this caller).
    #[error("Unknown method: {0}")]
    UnknownMethod(String),
    /// The database failed; the detail is for the log.
    #[error("Database error")]
    Storage(String),
    /// A server bug or unexpected condition; the detail is for the log.
    #[error("Internal server error")]
    Internal(String),
}

impl Error {
    /// Detail that must go to the server log but never to the client.
    pub fn log_detail(&self) -> Option<&str> {
        match self {
            Error::Storage(detail) | Error::Internal(detail) => Some(detail),
            _ => None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidParams(message.into())
    }
}

impl From<Error> for Fault {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::LoginFailed | Error::SessionExpired | Error::AccessNotPermitted => {
                Fault::STATE_CHANGE
            }
            Error::PermissionDenied(_)
            | Error::ParamCount(_)
            | Error::InvalidParams(_)
            | Error::NotFound(_)
            | Error::Conflict => Fault::ERROR,
            Error::UnknownMethod(_) => Fault::METHOD_NOT_FOUND,
            Error::Storage(_) => Fault::WARNING,
            Error::Internal(_) => Fault::INTERNAL,
        };
        Fault::new(code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_never_reaches_the_fault() {
        let fault = Fault::from(Error::Storage("relation \"x\" does not exist".into()));
        assert_eq!(fault, Fault::new(1003, "Database error"));
        let fault = Fault::from(Error::Internal("/src/thing.rs:12".into()));
        assert_eq!(fault, Fault::new(1005, "Internal server error"));
    }

    #[test]
    fn state_changes_are_1001() {
        for error in [
            Error::LoginFailed,
            Error::SessionExpired,
            Error::AccessNotPermitted,
        ] {
            assert_eq!(Fault::from(error).code, 1001);
        }
    }
}
