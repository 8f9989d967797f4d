//! The HTTP ceiling for `scripts/bench-http.sh`: a minimal warp server that answers every
//! POST with the same precomputed body (a real 25-contact `read_entries` response), with
//! no parsing, no authentication and no database. Our server's throughput is reported as
//! a share of this one's, measured in the same run on the same core.
//!
//!     cargo run --release --example ceiling -- 127.0.0.1:8091 response.xml

use std::net::SocketAddr;

use bytes::Bytes;
use warp::Filter;
use warp::http::{Response, header};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(path)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: ceiling LISTEN_ADDR RESPONSE_FILE");
    };
    let listen: SocketAddr = listen.parse()?;
    let canned = Bytes::from(std::fs::read(&path)?);
    let routes = warp::post()
        .and(warp::body::bytes())
        .map(move |_body: Bytes| {
            Response::builder()
                .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
                .body(canned.clone())
                .unwrap_or_default()
        });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    warp::serve(routes).incoming(listener).run().await;
    Ok(())
}
