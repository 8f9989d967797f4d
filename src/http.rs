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
use crate::service::{Response, Service, xml_content_type_allowed};

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
                        Target {
                            method,
                            path: path.as_str(),
                            query: &query,
                        },
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

/// What a request asks for: its method, path and raw query string.
struct Target<'a> {
    method: Method,
    path: &'a str,
    query: &'a str,
}

/// Routes one request.
async fn handle<S, B>(
    service: &Service,
    limits: HttpLimits,
    target: Target<'_>,
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let Target {
        method,
        path,
        query,
    } = target;
    let is_xmlrpc = matches!(path, "/xmlrpc" | "/xmlrpc.php" | "/xmlrpc/");
    let is_soap = matches!(path, "/soap" | "/soap.php" | "/soap/");
    if !is_xmlrpc && !is_soap {
        return Response::plain(
            404,
            "Not found. The endpoints are POST /xmlrpc and POST /soap (WSDL: GET /soap?wsdl).\n",
        );
    }
    let credentials = || {
        parse_authorization(
            headers
                .get_all(header::AUTHORIZATION)
                .iter()
                .map(|value| value.as_bytes()),
        )
    };
    let info = RequestInfo {
        remote_addr: remote.map(|address| address.ip()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(200).collect()),
    };
    if is_soap
        && method == Method::GET
        && let Some(binding) = wsdl_query(query)
    {
        {
            let host = headers
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .filter(|host| {
                    host.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'[' | b']')
                    })
                })
                .unwrap_or("localhost");
            let location = format!("http://{host}/soap");
            return service
                .wsdl(
                    binding.eq_ignore_ascii_case("rpc"),
                    location,
                    credentials(),
                    info,
                )
                .await;
        }
    }
    if method != Method::POST {
        let mut response = Response::plain(
            405,
            "Method not allowed: send calls with POST (the WSDL is GET /soap?wsdl).\n",
        );
        response.allow = Some(if is_soap { "GET, POST" } else { "POST" });
        return response;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if !xml_content_type_allowed(content_type) {
        return Response::plain(
            415,
            "Unsupported media type: send text/xml, application/xml or application/soap+xml.\n",
        );
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
    let credentials = credentials();
    let reply = async {
        if is_soap {
            let content_type = content_type.map(str::to_owned);
            service.soap(body, content_type, credentials, info).await
        } else {
            service.xmlrpc(body, credentials, info).await
        }
    };
    match tokio::time::timeout(limits.request_timeout, reply).await {
        Ok(response) => response,
        Err(_) => Response::plain(503, "The request took too long and was abandoned.\n"),
    }
}

/// The WSDL variant a query string asks for: `wsdl` (document/literal, `""`) or
/// `wsdl=rpc`; `None` when the query does not ask for a WSDL.
fn wsdl_query(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        key.eq_ignore_ascii_case("wsdl").then_some(value)
    })
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
        .header(header::CONTENT_TYPE, response.content_type)
        .header(header::CONTENT_LENGTH, length);
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
