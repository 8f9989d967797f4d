//! The protocol pipeline, free of any HTTP framework: request bytes and facts in, a
//! response (status, content type, body) out. `http.rs` only adapts warp to this.

use std::sync::Arc;

use groupware_api::{Fault, RequestInfo};

use crate::codec::soap::{self, SoapFault, wsdl};
use crate::codec::{Call, XmlLimits, xmlrpc};
use crate::credentials::Credentials;
use crate::dispatch::{Dispatcher, Request};
use crate::metrics::{self, Gauges, PoolUse, Protocol};
use crate::soap_binding;

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
                self.record_undecoded(Protocol::XmlRpc, fault.code);
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

impl Service {
    /// Handles one SOAP POST body. `content_type` tells SOAP 1.2 (`application/soap+xml`)
    /// from 1.1 before the envelope is read.
    pub async fn soap(
        &self,
        body: bytes::Bytes,
        content_type: Option<String>,
        credentials: Credentials,
        info: RequestInfo,
    ) -> Response {
        let limits = self.limits;
        let large = body.len() > BLOCKING_DECODE_THRESHOLD;
        let decode = move || soap::decode::decode_request(&body, content_type.as_deref(), &limits);
        let decoded = if large {
            match tokio::task::spawn_blocking(decode).await {
                Ok(decoded) => decoded,
                Err(join_error) => {
                    tracing::error!(%join_error, "decoder task failed");
                    return soap_fault_reply(&SoapFault::from_fault(
                        soap::Version::Soap11,
                        Fault::new(Fault::INTERNAL, "Internal server error"),
                    ));
                }
            }
        } else {
            decode()
        };
        let mut call = match decoded {
            Ok(call) => call,
            Err(fault) => {
                tracing::info!(
                    code = fault.fault.code,
                    "refused SOAP request: {}",
                    fault.fault.message
                );
                self.record_undecoded(Protocol::Soap, fault.fault.code);
                return soap_fault_reply(&fault);
            }
        };
        let version = call.version;
        let registry = &self.dispatcher.registry;
        let Some(entry) = soap_binding::resolve(registry, &call.method, &call.namespace) else {
            let fault = Fault::from(groupware_api::Error::UnknownMethod(call.method.clone()));
            tracing::info!(
                protocol = "soap",
                method = metrics::UNKNOWN_METHOD,
                fault = fault.code,
                "call"
            );
            self.dispatcher.metrics.record_call(
                Protocol::Soap,
                metrics::UNKNOWN_METHOD,
                std::time::Duration::ZERO,
                Some(fault.code),
            );
            return soap_fault_reply(&SoapFault::from_fault(version, fault));
        };
        // A session header block stands in for Basic auth (never overrides it).
        let credentials = match (credentials, call.session.take()) {
            (Credentials::Absent, Some((user, secret))) => Credentials::Basic { user, secret },
            (credentials, _) => credentials,
        };
        let style = call.style();
        let member_order = soap_binding::result_members(registry, entry);
        let method = entry.name.clone();
        let params = soap_binding::arrange(entry, std::mem::take(&mut call.params));
        let request = Request::new(credentials, info).over(Protocol::Soap);
        let reply = self
            .dispatcher
            .dispatch(Call { method, params }, &request)
            .await;
        let namespace = if call.namespace.is_empty() {
            soap::RPC_NAMESPACE
        } else {
            call.namespace.as_str()
        };
        let encoded = reply.result.and_then(|value| {
            soap::encode::encode_response(
                version,
                style,
                namespace,
                &call.method,
                &value,
                member_order.as_deref(),
            )
        });
        match encoded {
            Ok(body) => Response {
                status: 200,
                content_type: version.content_type(),
                body,
                challenge: false,
                allow: None,
            },
            Err(fault) => {
                let mut response = soap_fault_reply(&SoapFault::from_fault(version, fault));
                if reply.challenge {
                    response.status = 401;
                    response.challenge = true;
                }
                response
            }
        }
    }

    /// Serves the WSDL: `rpc` picks the rpc/encoded binding, anything else the
    /// document/literal one. With valid credentials it lists what the caller may call,
    /// otherwise the public methods.
    pub async fn wsdl(
        &self,
        rpc: bool,
        location: String,
        credentials: Credentials,
        info: RequestInfo,
    ) -> Response {
        let request = Request::new(credentials, info);
        let account = self.dispatcher.optional_account(&request).await;
        let description =
            soap_binding::describe(&self.dispatcher.registry, account.as_deref(), location);
        let binding = if rpc {
            wsdl::Binding::RpcEncoded
        } else {
            wsdl::Binding::DocumentLiteral
        };
        xml_reply(200, wsdl::render(&description, binding), false)
    }
}

/// How long `GET /readyz` waits for the database.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a counted number of sessions is shown before it is counted again.
const SESSION_COUNT_MAX_AGE_SECS: i64 = 15;

impl Service {
    /// Counts a request refused before its method name was read.
    pub(crate) fn record_undecoded(&self, protocol: Protocol, code: i32) {
        self.dispatcher.metrics.record_call(
            protocol,
            metrics::UNDECODED,
            std::time::Duration::ZERO,
            Some(code),
        );
    }

    /// `GET /healthz`: the process is up and serving.
    pub fn health(&self) -> Response {
        Response::plain(200, "ok\n")
    }

    /// `GET /readyz`: 200 when the database answers `SELECT 1` within [`READY_TIMEOUT`],
    /// 503 otherwise.
    pub async fn ready(&self) -> Response {
        let Some(store) = &self.dispatcher.store else {
            return Response::plain(200, "ready (no database)\n");
        };
        match tokio::time::timeout(READY_TIMEOUT, store.query("SELECT 1 AS one", Vec::new())).await
        {
            Ok(Ok(_)) => Response::plain(200, "ready\n"),
            Ok(Err(error)) => {
                tracing::warn!(
                    detail = error.log_detail().unwrap_or(""),
                    "readiness check: database unavailable"
                );
                Response::plain(503, "not ready: the database is unavailable\n")
            }
            Err(_) => {
                tracing::warn!("readiness check: database did not answer in time");
                Response::plain(503, "not ready: the database did not answer in time\n")
            }
        }
    }

    /// `GET /metrics` in the Prometheus text format. The session count is taken at most
    /// every 15 seconds; `session_timeouts` are the idle and absolute timeouts in seconds.
    pub async fn metrics(&self, session_timeouts: (u64, u64)) -> Response {
        let metrics = &self.dispatcher.metrics;
        let mut gauges = Gauges::default();
        if let Some(store) = &self.dispatcher.store {
            let now = chrono::Utc::now().timestamp();
            gauges.active_sessions = match metrics.cached_sessions(now, SESSION_COUNT_MAX_AGE_SECS)
            {
                Some(count) => Some(count),
                None => {
                    let idle = i64::try_from(session_timeouts.0).unwrap_or(i64::MAX);
                    let max = i64::try_from(session_timeouts.1).unwrap_or(i64::MAX);
                    let counted = tokio::time::timeout(
                        READY_TIMEOUT,
                        crate::session::count_active(store, idle, max, now),
                    )
                    .await;
                    match counted {
                        Ok(Ok(count)) => {
                            metrics.store_sessions(now, count);
                            Some(count)
                        }
                        _ => None,
                    }
                }
            };
            gauges.pool = store.pool_status().map(|status| PoolUse {
                max_size: status.max_size,
                size: status.size,
                available: status.available,
                shared: status.shared,
            });
        }
        Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: metrics.render(gauges),
            challenge: false,
            allow: None,
        }
    }
}

fn soap_fault_reply(fault: &SoapFault) -> Response {
    Response {
        status: fault.http_status(),
        content_type: fault.version.content_type(),
        body: soap::encode::encode_fault(fault),
        challenge: false,
        allow: None,
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
