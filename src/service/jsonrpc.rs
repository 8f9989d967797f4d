//! The JSON-RPC endpoint: POST bodies (single requests and batches) and read-only GETs,
//! optionally as JSONP.
//!
//! The codec reads and writes JSON; this module runs each request through the shared
//! dispatcher, resolving named parameters against the registry's signatures.

use groupware_api::{Fault, RequestInfo};

use super::{BLOCKING_DECODE_THRESHOLD, Response, Service};
use crate::codec::Call;
use crate::codec::jsonrpc::{self, Body, RawParams};
use crate::credentials::Credentials;
use crate::dispatch::Request;
use crate::metrics::Protocol;

/// The content type of JSON replies.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// The content type of JSONP replies.
const JSONP_CONTENT_TYPE: &str = "application/javascript; charset=utf-8";

/// Which request content types the JSON-RPC endpoint accepts.
///
/// Only JSON types: `text/plain`, the form encodings and a missing type are what a hostile
/// page can send cross-site without a CORS preflight, so they are refused (415).
pub fn json_content_type_allowed(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/json" | "application/json-rpc" | "application/jsonrequest"
    ) || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// One reply and whether it asks for a Basic challenge.
struct Slot {
    /// The reply's JSON text; `None` for a notification.
    reply: Option<String>,
    challenge: bool,
}

impl Service {
    /// Handles one `POST /jsonrpc` body.
    pub async fn jsonrpc(
        &self,
        body: bytes::Bytes,
        credentials: Credentials,
        info: RequestInfo,
    ) -> Response {
        let decoded = if body.len() > BLOCKING_DECODE_THRESHOLD {
            match tokio::task::spawn_blocking(move || jsonrpc::decode_body(&body)).await {
                Ok(decoded) => decoded,
                Err(join_error) => {
                    tracing::error!(%join_error, "decoder task failed");
                    Err(Fault::new(Fault::INTERNAL_RPC, "Internal error"))
                }
            }
        } else {
            jsonrpc::decode_body(&body)
        };
        let body = match decoded {
            Ok(body) => body,
            Err(fault) => {
                tracing::info!(code = fault.code, "refused request: {}", fault.message);
                self.record_undecoded(Protocol::JsonRpc, fault.code);
                return json_reply(200, jsonrpc::encode_body_error(&fault), false);
            }
        };
        let request = Request::new(credentials, info).over(Protocol::JsonRpc);
        match body {
            Body::Single(single) => {
                let slot = self.run_json(single, &request).await;
                match slot.reply {
                    Some(reply) => {
                        let status = if slot.challenge { 401 } else { 200 };
                        json_reply(status, reply, slot.challenge)
                    }
                    None => no_content(),
                }
            }
            Body::Batch(requests) => {
                // The calls share one request: credentials are checked once, and at most
                // one `system.login` may run, as in `system.multicall`.
                let mut replies = Vec::with_capacity(requests.len());
                let mut challenge = false;
                for single in requests {
                    let slot = self.run_json(single, &request).await;
                    challenge |= slot.challenge;
                    replies.extend(slot.reply);
                }
                if replies.is_empty() {
                    return no_content();
                }
                let status = if challenge { 401 } else { 200 };
                json_reply(status, format!("[{}]", replies.join(",")), challenge)
            }
        }
    }

    /// Handles `GET /jsonrpc?method=…&params=…&id=…[&callback=…]`.
    ///
    /// GET never changes data (Bugzilla's rule): only methods flagged read-only run. With
    /// `callback` (JSONP, only when enabled) the call is anonymous whatever credentials the
    /// browser attaches, so a foreign page can never read a user's data through it.
    pub async fn jsonrpc_get(
        &self,
        query: &[(String, String)],
        credentials: Credentials,
        info: RequestInfo,
    ) -> Response {
        let mut fields: [Option<&str>; 4] = [None; 4];
        for (name, value) in query {
            let index = match name.as_str() {
                "method" => 0,
                "params" => 1,
                "id" => 2,
                "callback" => 3,
                _ => continue,
            };
            if fields[index].is_some() {
                return json_error(Fault::new(
                    Fault::INVALID_REQUEST,
                    format!("Invalid request: the query names {name} twice"),
                ));
            }
            fields[index] = Some(value.as_str());
        }
        let [method, params, id, callback] = fields;
        if let Some(callback) = callback {
            if !self.jsonp {
                return json_error(Fault::new(
                    Fault::INVALID_REQUEST,
                    "Invalid request: JSONP (callback=) is disabled on this server; it is enabled with --jsonp",
                ));
            }
            if !jsonrpc::is_valid_callback(callback) {
                return json_error(Fault::new(
                    Fault::INVALID_REQUEST,
                    "Invalid request: a JSONP callback may only contain A-Z a-z 0-9 _ . [ ] (at most 128)",
                ));
            }
        }
        let mut single = jsonrpc::decode_get(method, params, id);
        if let Ok((name, _)) = &single.call
            && let Some(entry) = self.dispatcher.registry.get(name)
        {
            if !entry.flags.read_only {
                single.call = Err(Fault::new(
                    Fault::INVALID_REQUEST,
                    format!(
                        "Invalid request: GET never changes data, so only read-only methods may be called with GET; send {name} with POST"
                    ),
                ));
            } else if callback.is_some() && entry.flags.requires_session {
                single.call = Err(Fault::new(
                    Fault::STATE_CHANGE,
                    format!(
                        "JSONP calls are anonymous (no cookies or Authorization are honoured); {name} needs a session, call it with POST"
                    ),
                ));
            }
        }
        let credentials = if callback.is_some() {
            Credentials::Absent
        } else {
            credentials
        };
        let request = Request::new(credentials, info).over(Protocol::JsonRpc);
        let slot = self.run_json(single, &request).await;
        let reply = slot.reply.unwrap_or_else(|| "null".to_owned());
        match callback {
            Some(callback) => Response {
                status: 200,
                content_type: JSONP_CONTENT_TYPE,
                body: jsonrpc::wrap_jsonp(callback, &reply),
                challenge: false,
                allow: None,
            },
            None => {
                let status = if slot.challenge { 401 } else { 200 };
                json_reply(status, reply, slot.challenge)
            }
        }
    }

    /// Runs one request of a body; notifications run but get no reply.
    async fn run_json(&self, single: jsonrpc::Request, request: &Request) -> Slot {
        let jsonrpc::Request { version, id, call } = single;
        let (result, challenge) = match call {
            Err(fault) => (Err(fault), false),
            Ok((method, params)) => match self.resolve(&method, params) {
                Err(fault) => (Err(fault), false),
                Ok(params) => {
                    let reply = self
                        .dispatcher
                        .dispatch(Call { method, params }, request)
                        .await;
                    (reply.result, reply.challenge)
                }
            },
        };
        match id {
            None => Slot {
                reply: None,
                challenge: false,
            },
            Some(id) => Slot {
                reply: Some(jsonrpc::encode_reply(version, &id, &result)),
                challenge,
            },
        }
    }

    fn resolve(&self, method: &str, params: RawParams) -> Result<Vec<groupware_api::Value>, Fault> {
        let signatures = self
            .dispatcher
            .registry
            .get(method)
            .map(|entry| entry.signatures);
        jsonrpc::resolve_params(method, params, signatures)
    }
}

fn json_reply(status: u16, body: String, challenge: bool) -> Response {
    Response {
        status,
        content_type: JSON_CONTENT_TYPE,
        body,
        challenge,
        allow: None,
    }
}

fn json_error(fault: Fault) -> Response {
    json_reply(200, jsonrpc::encode_body_error(&fault), false)
}

fn no_content() -> Response {
    Response {
        status: 204,
        content_type: JSON_CONTENT_TYPE,
        body: String::new(),
        challenge: false,
        allow: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/json-rpc",
            "application/jsonrequest",
            "application/vnd.api+json",
        ] {
            assert!(json_content_type_allowed(Some(ok)), "{ok}");
        }
        for refused in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("text/xml"),
            Some("text/json+json"),
        ] {
            assert!(!json_content_type_allowed(refused), "{refused:?}");
        }
    }
}
