//! The protocol pipeline, free of any HTTP framework: request bytes and facts in, a
//! response (status, content type, body) out. `http.rs` only adapts warp to this.

use std::sync::Arc;

use groupware_api::{Fault, RequestInfo};

use crate::codec::{XmlLimits, xmlrpc};
use crate::credentials::Credentials;
use crate::dispatch::{Dispatcher, Request};

mod jsonrpc;
mod pages;

pub use jsonrpc::{JSON_CONTENT_TYPE, json_content_type_allowed};

/// Bodies larger than this are decoded on a blocking thread, off the async workers.
const BLOCKING_DECODE_THRESHOLD: usize = 64 * 1024;

/// A protocol-level response for the HTTP layer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Add `WWW-Authenticate: Basic realm="groupware"`.
    pub challenge: bool,
    /// For 405: the methods the endpoint allows.
    pub allow: Option<&'static str>,
}

impl Response {
    pub fn plain(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            challenge: false,
            allow: None,
        }
    }
}

/// The XML-RPC content type every reply carries.
pub const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Which request content types an XML endpoint accepts.
///
/// The three types a browser may send cross-site without a preflight (`text/plain`,
/// form encodings) are refused: that is what stops a hostile page from posting a call
/// with the browser's cached Basic credentials. A missing type is refused too: `fetch`
/// with an `ArrayBuffer` or untyped `Blob` body sends none, still without a preflight.
/// Every XML-RPC and SOAP client we know sends `text/xml`.
pub fn xml_content_type_allowed(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "text/xml" || essence == "application/xml" || essence.ends_with("+xml")
}

/// Serves the RPC endpoints and the documentation page.
pub struct Service {
    pub dispatcher: Arc<Dispatcher>,
    pub limits: XmlLimits,
    /// Answer JSON-RPC GETs with a `callback` as JSONP (`--jsonp`).
    pub jsonp: bool,
}

impl Service {
    /// Handles one XML-RPC POST body.
    pub async fn xmlrpc(
        &self,
        body: bytes::Bytes,
        credentials: Credentials,
        info: RequestInfo,
    ) -> Response {
        let limits = self.limits;
        let decoded = if body.len() > BLOCKING_DECODE_THRESHOLD {
            match tokio::task::spawn_blocking(move || xmlrpc::decode_call(&body, &limits)).await {
                Ok(decoded) => decoded,
                Err(join_error) => {
                    tracing::error!(%join_error, "decoder task failed");
                    Err(Fault::new(Fault::INTERNAL, "Internal server error"))
                }
            }
        } else {
            xmlrpc::decode_call(&body, &limits)
        };
        let call = match decoded {
            Ok(call) => call,
            Err(fault) => {
                tracing::info!(code = fault.code, "refused request: {}", fault.message);
                return xml_reply(200, xmlrpc::encode_fault(&fault), false);
            }
        };
        let request = Request::new(credentials, info);
        let reply = self.dispatcher.dispatch(call, &request).await;
        let status = if reply.challenge { 401 } else { 200 };
        let body = match reply.result {
            Ok(value) => xmlrpc::encode_response(&value).unwrap_or_else(|fault| {
                tracing::error!("result could not be encoded: {}", fault.message);
                xmlrpc::encode_fault(&fault)
            }),
            Err(fault) => xmlrpc::encode_fault(&fault),
        };
        xml_reply(status, body, reply.challenge)
    }
}

fn xml_reply(status: u16, body: String, challenge: bool) -> Response {
    Response {
        status,
        content_type: XML_CONTENT_TYPE,
        body,
        challenge,
        allow: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for ok in [
            Some("text/xml"),
            Some("text/xml; charset=utf-8"),
            Some("application/xml"),
            Some("application/soap+xml"),
            Some("TEXT/XML"),
        ] {
            assert!(xml_content_type_allowed(ok), "{ok:?}");
        }
        for refused in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/json"),
        ] {
            assert!(!xml_content_type_allowed(refused), "{refused:?}");
        }
    }
}
