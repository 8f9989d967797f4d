//! The HTTP edge: the only module that knows warp.
//!
//! One catch-all filter hands method, path, headers, peer address and the body stream
//! to [`handle`], which enforces the transport rules (body limit, content type, content
//! encoding, timeouts) and calls the framework-free [`Service`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use groupware_api::RequestInfo;
use warp::Filter;
use warp::http::{HeaderMap, Method, Response as HttpResponse, StatusCode, header};

use crate::credentials::parse_authorization;
use crate::service::{Response, Service, json_content_type_allowed, xml_content_type_allowed};

/// Transport settings.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::body::stream())
        .and_then(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  remote: Option<SocketAddr>,
                  body| {
                let service = Arc::clone(&service);
                async move {
                    let response = handle(
                        &service,
                        limits,
                        method,
                        path.as_str(),
                        &query,
                        &headers,
                        remote,
                        body,
                    )
                    .await;
                    Ok::<_, Infallible>(into_http(response))
                }
            },
        );
    warp::serve(routes)
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}

/// Routes one request.
#[allow(clippy::too_many_arguments)]
async fn handle<S, B>(
    service: &Service,
    limits: HttpLimits,
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
    let body = match read_body(headers, body, limits.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => return response,
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

fn into_http(response: Response) -> HttpResponse<Bytes> {
    let length = response.body.len();
    let mut builder = HttpResponse::builder()
        .status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
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
    builder
        .body(Bytes::from(response.body))
        .unwrap_or_else(|_| {
            let mut fallback = HttpResponse::new(Bytes::new());
            *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
}
