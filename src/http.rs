//! The HTTP edge: the only module that knows warp.
//!
//! One catch-all filter hands method, path, headers, peer address and the body stream
//! to [`handle`], which enforces the transport rules (body limit, content type, content
//! encoding, timeouts) and calls the framework-free [`Service`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use groupware_api::RequestInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tracing::Instrument as _;
use warp::Filter;
use warp::http::{HeaderMap, Method, Response as HttpResponse, StatusCode, header};

use crate::credentials::parse_authorization;
use crate::service::{Response, Service, json_content_type_allowed, xml_content_type_allowed};
use crate::tls::{HANDSHAKE_TIMEOUT, ReloadableTls};

/// Transport settings.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    /// Bounds the whole request: reading the body (408 when a client sends it too slowly)
    /// and then the call (503).
    pub request_timeout: Duration,
    /// Open connections at most; further ones are closed at once until one ends.
    pub max_connections: usize,
    /// Open connections at most from one client address (IPv6: one /64), so that a single
    /// client cannot take every place under `max_connections`; 0 means no such cap.
    pub max_connections_per_address: usize,
    /// A connection must deliver a request's complete header within this, or it is closed
    /// (the slowloris defence; it also closes idle keep-alive connections).
    pub header_read_timeout: Duration,
}

/// Settings of the operations endpoints (`/healthz`, `/readyz`, `/metrics`).
#[derive(Debug, Clone)]
pub struct Ops {
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    pub metrics_token: Option<Arc<str>>,
    /// Session idle and absolute timeouts in seconds, for counting live sessions.
    pub session_timeouts: (u64, u64),
}

impl Default for Ops {
    /// No metrics token; the default session timeouts (4 hours idle, 24 hours in all).
    fn default() -> Self {
        Ops {
            metrics_token: None,
            session_timeouts: (4 * 3600, 24 * 3600),
        }
    }
}

/// The peer address of a connection this module accepted itself (TLS), handed to the
/// filter as a request extension; warp sets its own only for connections it accepts.
#[derive(Debug, Clone, Copy)]
struct PeerAddr(SocketAddr);

/// Serves plain HTTP until `shutdown` resolves, then finishes in-flight requests, with the
/// operations endpoints open.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    serve_with(listener, service, limits, Ops::default(), None, shutdown).await;
}

/// Serves until `shutdown` resolves, then finishes in-flight requests. With `tls`, every
/// connection is TLS (handshake bounded by [`HANDSHAKE_TIMEOUT`]) using the configuration
/// current when it was accepted.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    limits: HttpLimits,
    ops: Ops,
    tls: Option<Arc<ReloadableTls>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::body::stream())
        .and_then(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  remote: Option<SocketAddr>,
                  peer: Option<PeerAddr>,
                  body| {
                let service = Arc::clone(&service);
                let ops = ops.clone();
                let id = request_id();
                let span = tracing::info_span!("request", id = %id);
                async move {
                    let started = Instant::now();
                    let http_method = method.clone();
                    let response = handle(
                        &service,
                        limits,
                        &ops,
                        method,
                        path.as_str(),
                        &query,
                        &headers,
                        remote.or(peer.map(|peer| peer.0)),
                        body,
                    )
                    .await;
                    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
                    let shown_path: String = path.as_str().chars().take(100).collect();
                    if matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics")
                        && response.status == 200
                    {
                        // Probes and scrapes come every few seconds: keep them out of
                        // the info log unless they fail.
                        tracing::debug!(http_method = %http_method, path = %shown_path, status = response.status, duration_ms, "request");
                    } else {
                        tracing::info!(http_method = %http_method, path = %shown_path, status = response.status, duration_ms, "request");
                    }
                    Ok::<_, Infallible>(into_http(response, &id))
                }
                .instrument(span)
            },
        );
    // One accept loop for HTTP and HTTPS, so both get the connection cap and the header
    // read timeout (warp's own `serve` has neither).
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let per_address = Arc::new(AddressSlots::new(limits.max_connections_per_address));
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refusing = false;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            if !refusing {
                tracing::warn!(
                    limit = limits.max_connections,
                    "connection limit reached; closing new connections"
                );
                refusing = true;
            }
            drop(tcp);
            continue;
        };
        refusing = false;
        let Some(slot) = AddressSlots::take(&per_address, peer.ip()) else {
            // Logged at debug: one greedy address would otherwise flood the log.
            tracing::debug!(%peer, "connection limit per address reached; closing");
            drop(tcp);
            continue;
        };
        let filtered = warp::service(routes.clone());
        let watcher = graceful.watcher();
        let tls = tls.as_ref().map(|tls| tls.current());
        tokio::spawn(async move {
            let _permit = (permit, slot);
            let hyper_service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    let mut filtered = filtered.clone();
                    tower_service::Service::call(&mut filtered, request)
                },
            );
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let Some(config) = tls else {
                let connection =
                    builder.serve_connection_with_upgrades(TokioIo::new(tcp), hyper_service);
                if let Err(error) = watcher.watch(connection).await {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let connection =
                builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Open connections per client address, for [`HttpLimits::max_connections_per_address`].
///
/// Without it a slowloris client on one address could hold every place under the global
/// cap for as long as it keeps reconnecting, and new connections of everyone else would be
/// closed at once.
struct AddressSlots {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place in [`AddressSlots`], given back when the connection ends.
struct AddressSlot {
    slots: Arc<AddressSlots>,
    key: IpAddr,
}

impl AddressSlots {
    fn new(limit: usize) -> Self {
        AddressSlots {
            limit,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The key an address counts under: IPv4 (also when mapped into IPv6) as it is, IPv6
    /// by its /64 prefix, since one client usually holds a whole /64.
    fn key(address: IpAddr) -> IpAddr {
        match address {
            IpAddr::V4(_) => address,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & !((1_u128 << 64) - 1);
                    IpAddr::V6(Ipv6Addr::from(prefix))
                }
            },
        }
    }

    /// A place for one more connection from `address`, or `None` when it already has
    /// `limit` open (never `None` without a limit; the count is kept anyway, it is cheap).
    fn take(slots: &Arc<AddressSlots>, address: IpAddr) -> Option<AddressSlot> {
        let key = Self::key(address);
        let mut open = slots.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if slots.limit > 0 && *count >= slots.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            slots: Arc::clone(slots),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A short random id that ties a request's log lines together (and is sent back as
/// `X-Request-Id`).
fn request_id() -> String {
    hex_id(rand::random())
}

/// `bits` as 16 lower-case hex digits, written by hand: the formatting machinery cost more
/// than drawing the random number.
fn hex_id(bits: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    (0..16)
        .rev()
        .map(|nibble| char::from(DIGITS[((bits >> (nibble * 4)) & 0xF) as usize]))
        .collect()
}

/// Routes one request.
#[allow(clippy::too_many_arguments)]
async fn handle<S, B>(
    service: &Service,
    limits: HttpLimits,
    ops: &Ops,
    method: Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    match path {
        "/healthz" | "/readyz" | "/metrics" if method != Method::GET => {
            let mut response = Response::plain(405, "Method not allowed: use GET.\n");
            response.allow = Some("GET");
            return response;
        }
        "/healthz" => return service.health(),
        "/readyz" => return service.ready().await,
        "/metrics" => {
            if let Some(token) = &ops.metrics_token
                && !bearer_matches(headers, token)
            {
                return Response::plain(
                    401,
                    "/metrics needs Authorization: Bearer with the metrics token.\n",
                );
            }
            return service.metrics(ops.session_timeouts).await;
        }
        _ => {}
    }
    let endpoint = match path {
        "/xmlrpc" | "/xmlrpc.php" | "/xmlrpc/" => Endpoint::XmlRpc,
        "/jsonrpc" | "/jsonrpc/" => Endpoint::JsonRpc,
        "/soap" | "/soap.php" | "/soap/" => Endpoint::Soap,
        "/" => Endpoint::Docs,
        _ => {
            return Response::plain(
                404,
                "Not found. The endpoints are POST /xmlrpc, POST /jsonrpc and POST /soap \
                 (WSDL: GET /soap?wsdl); GET / documents them.\n",
            );
        }
    };
    let credentials = parse_authorization(
        headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(|value| value.as_bytes()),
    );
    let info = RequestInfo {
        remote_addr: remote.map(|address| address.ip()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(200).collect()),
    };
    if method == Method::GET
        && endpoint == Endpoint::Soap
        && let Some(binding) = wsdl_query(query)
    {
        let location = format!("{}/soap", base_url(headers));
        let rpc = binding.eq_ignore_ascii_case("rpc");
        return with_timeout(limits, service.wsdl(rpc, location, credentials, info)).await;
    }
    if method == Method::GET {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let call = endpoint == Endpoint::JsonRpc && pairs.iter().any(|(name, _)| name == "method");
        let work = async {
            if call {
                service.jsonrpc_get(&pairs, credentials, info).await
            } else {
                service
                    .docs_page(credentials, info, &base_url(headers))
                    .await
            }
        };
        return with_timeout(limits, work).await;
    }
    if method != Method::POST || endpoint == Endpoint::Docs {
        let allow = if endpoint == Endpoint::Docs {
            "GET"
        } else {
            "GET, POST"
        };
        let mut response = Response::plain(
            405,
            "Method not allowed: send calls with POST; GET shows the documentation.\n",
        );
        response.allow = Some(allow);
        return response;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    match endpoint {
        Endpoint::XmlRpc | Endpoint::Soap if !xml_content_type_allowed(content_type) => {
            return Response::plain(
                415,
                "Unsupported media type: send text/xml, application/xml or application/soap+xml.\n",
            );
        }
        Endpoint::JsonRpc if !json_content_type_allowed(content_type) => {
            return Response::plain(415, "Unsupported media type: send application/json.\n");
        }
        _ => {}
    }
    if headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|value| !value.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        return Response::plain(
            415,
            "Unsupported content encoding: send the body uncompressed.\n",
        );
    }
    let reading = read_body(headers, body, limits.max_body_bytes);
    let body = match tokio::time::timeout(limits.request_timeout, reading).await {
        Ok(Ok(body)) => body,
        Ok(Err(response)) => return response,
        Err(_) => {
            return Response::plain(
                408,
                "The request body arrived too slowly and was abandoned.\n",
            );
        }
    };
    match endpoint {
        Endpoint::JsonRpc => with_timeout(limits, service.jsonrpc(body, credentials, info)).await,
        Endpoint::Soap => {
            let content_type = content_type.map(str::to_owned);
            with_timeout(limits, service.soap(body, content_type, credentials, info)).await
        }
        Endpoint::XmlRpc | Endpoint::Docs => {
            with_timeout(limits, service.xmlrpc(body, credentials, info)).await
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    XmlRpc,
    JsonRpc,
    Soap,
    Docs,
}

/// The WSDL variant a query string asks for: `wsdl` (document/literal, `""`) or
/// `wsdl=rpc`; `None` when the query does not ask for a WSDL.
fn wsdl_query(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        key.eq_ignore_ascii_case("wsdl").then_some(value)
    })
}

async fn with_timeout(limits: HttpLimits, work: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(limits.request_timeout, work).await {
        Ok(response) => response,
        Err(_) => Response::plain(503, "The request took too long and was abandoned.\n"),
    }
}

/// `http://HOST` from the `Host` header for the documentation's examples, if it looks like
/// a host name or address with a port; a fixed placeholder otherwise.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        })
        .unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

/// Reads the body, refusing (413) anything over `max` whether it declares a length or not.
async fn read_body<S, B>(headers: &HeaderMap, body: S, max: usize) -> Result<Bytes, Response>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let too_large = || {
        Response::plain(
            413,
            format!("Request body too large: the limit is {max} bytes.\n"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    let mut body = std::pin::pin!(body);
    let mut buffer = BytesMut::with_capacity(declared.map_or(8 * 1024, |length| length as usize));
    while let Some(chunk) = body.next().await {
        let mut chunk =
            chunk.map_err(|_| Response::plain(400, "The request body could not be read.\n"))?;
        if buffer.len() + chunk.remaining() > max {
            return Err(too_large());
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buffer.extend_from_slice(part);
            let read = part.len();
            chunk.advance(read);
        }
    }
    Ok(buffer.freeze())
}

/// Whether the request carries `Authorization: Bearer <token>` (compared in constant time).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| {
            let (scheme, rest) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
        })
        .any(|offered| crate::crypto::ct_eq(offered, token))
}

/// Whether a response with this status may be sent before the request body was read (a
/// refused method, content type or size, or a body that arrived too slowly). The rest of
/// such a body is never read, so the connection cannot carry another request; saying so
/// keeps a client from sending its next request on a connection that is being closed.
fn leaves_body_unread(status: u16) -> bool {
    matches!(status, 405 | 408 | 413 | 415)
}

fn into_http(response: Response, request_id: &str) -> HttpResponse<Bytes> {
    let length = response.body.len();
    let mut builder = HttpResponse::builder()
        .status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header("x-request-id", request_id);
    if response.status != 204 {
        builder = builder
            .header(header::CONTENT_TYPE, response.content_type)
            .header(header::CONTENT_LENGTH, length);
    }
    if response.content_type.starts_with("text/html") {
        // The documentation page needs nothing but its inline style.
        builder = builder.header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        );
    }
    if response.challenge {
        builder = builder.header(header::WWW_AUTHENTICATE, "Basic realm=\"groupware\"");
    }

    if let Some(allow) = response.allow {
        builder = builder.header(header::ALLOW, allow);
    }
    if leaves_body_unread(response.status) {
        builder = builder.header(header::CONNECTION, "close");
    }
    builder
        .body(Bytes::from(response.body))
        .unwrap_or_else(|_| {
            let mut fallback = HttpResponse::new(Bytes::new());
            *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_sixteen_hex_digits() {
        for bits in [0, 1, 0xF, 0x0123_4567_89ab_cdef, u64::MAX, 1 << 63] {
            assert_eq!(hex_id(bits), format!("{bits:016x}"));
        }
        assert_eq!(request_id().len(), 16);
    }

    #[test]
    fn addresses_count_per_ipv4_address_and_per_ipv6_64() {
        let key = |text: &str| AddressSlots::key(text.parse().unwrap());
        assert_eq!(key("192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    #[test]
    fn an_address_gets_its_places_back_when_connections_end() {
        let slots = Arc::new(AddressSlots::new(2));
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        let first = AddressSlots::take(&slots, address).unwrap();
        let _second = AddressSlots::take(&slots, address).unwrap();
        assert!(AddressSlots::take(&slots, address).is_none());
        assert!(AddressSlots::take(&slots, "192.0.2.8".parse().unwrap()).is_some());
        drop(first);
        assert!(AddressSlots::take(&slots, address).is_some());
        let unlimited = Arc::new(AddressSlots::new(0));
        let held: Vec<_> = (0..100)
            .map(|_| AddressSlots::take(&unlimited, address))
            .collect();
        assert!(held.iter().all(Option::is_some));
    }
}
