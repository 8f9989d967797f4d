//! Slow and greedy clients: the header read timeout closes a connection that trickles its
//! header (slowloris) while normal clients are served, the connection cap closes
//! connections beyond it, one address cannot take every place under that cap, and a body
//! that arrives too slowly gets 408.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;
use groupware_api::Value;

fn address(server: &Server) -> String {
    server
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// Reads until the server closes the connection (or `limit` passes); true if it closed.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    let started = Instant::now();
    let mut buffer = [0_u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn a_trickled_header_is_cut_off_while_others_are_served() {
    let server = Server::start(&["--header-read-timeout-secs", "1"]);
    let mut slow = TcpStream::connect(address(&server)).expect("connect");
    slow.write_all(b"POST /xmlrpc HTTP/1.1\r\nHost: x\r\n")
        .expect("first header bytes");
    // Normal clients are served while the slow one hangs on.
    for _ in 0..3 {
        server
            .call("system.time", &[])
            .expect("a normal call during the slow header");
    }
    assert!(
        closed_within(&mut slow, Duration::from_secs(10)),
        "the server keeps a connection whose header never completes"
    );
}

#[test]
fn connections_beyond_the_cap_are_closed() {
    let server = Server::start(&["--max-connections", "2"]);
    // Two idle connections take both places.
    let _first = TcpStream::connect(address(&server)).expect("connect 1");
    let _second = TcpStream::connect(address(&server)).expect("connect 2");
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(address(&server)).expect("connect 3");
    assert!(
        closed_within(&mut third, Duration::from_secs(5)),
        "a third connection is closed at once"
    );
    drop(_first);
    drop(_second);
    // Places free up when connections end.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(address(&server)).expect("connect again");
        let body = common::encode_call("system.time", &[]);
        let request = format!(
            "POST /xmlrpc HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("request");
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        if reply.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed up: {reply:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A connection to `server` from the loopback address `source` (any 127.x.y.z works on
/// Linux), so one test can play several clients.
fn connect_from(source: &str, server: &Server) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{source}:0").parse().expect("source address"))
            .expect("bind the source address");
        socket
            .connect(address(server).parse().expect("server address"))
            .await
            .expect("connect")
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking mode");
    stream
}

#[test]
fn one_address_cannot_take_every_place() {
    let server = Server::start(&[
        "--max-connections",
        "8",
        "--max-connections-per-address",
        "4",
    ]);
    // A slowloris client on 127.0.0.2 opens more connections than the whole cap and
    // trickles a header on each.
    let mut held = Vec::new();
    for _ in 0..12 {
        let mut stream = connect_from("127.0.0.2", &server);
        let _ = stream.write_all(b"POST /xmlrpc HTTP/1.1\r\nHost: x\r\n");
        held.push(stream);
    }
    std::thread::sleep(Duration::from_millis(300));
    // Only four of them are kept; the others were closed at once.
    let mut closed = 0;
    for stream in &mut held {
        if closed_within(stream, Duration::from_millis(500)) {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 8,
        "connections beyond the per-address cap are closed"
    );
    // Clients on another address still get places, on new connections.
    for _ in 0..3 {
        let mut stream = connect_from("127.0.0.1", &server);
        let body = common::encode_call("system.time", &[]);
        let request = format!(
            "POST /xmlrpc HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("request");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply:?}");
    }
    drop(held);
}

#[test]
fn a_body_that_arrives_too_slowly_gets_408() {
    let server = Server::start(&["--request-timeout-secs", "1"]);
    let mut stream = TcpStream::connect(address(&server)).expect("connect");
    stream
        .write_all(
            b"POST /xmlrpc HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<?xml",
        )
        .expect("partial body");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut reply = [0_u8; 64];
    let read = stream
        .read(&mut reply)
        .expect("a reply before the body is complete");
    let reply = String::from_utf8_lossy(&reply[..read]).into_owned();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    // The server is fine afterwards.
    assert!(matches!(
        server.call("system.time", &[]),
        Ok(Value::Struct(_))
    ));
}
