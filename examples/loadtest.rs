//! The load generator of `scripts/load-test.sh`: many concurrent clients, each repeating a
//! session the way groupware clients use the server (log in, a few dozen calls, log out),
//! over XML-RPC for a fixed time. Optionally a slowloris attack runs beside them.
//!
//!     cargo run --release --example loadtest -- --url http://127.0.0.1:8080 \
//!         --clients 200 --duration 60 --users 20 --password secret
//!
//! Users `<prefix>1` … `<prefix>N` must exist with the addressbook and calendar (the script
//! creates them); client `i` logs in as user `i % N + 1`. Each session opens a new
//! connection (a new HTTP client) and keeps it alive for its calls. The calls of a session
//! are drawn from a fixed mix: contact listings (`read_entries`, 25 per page), reads,
//! creates, updates and deletes of the client's own contacts, and calendar events.
//!
//! Prints requests/s and p50/p99/max latency per kind of call, errors by kind and cause,
//! and a `LOADTEST …` summary line; exits with status 1 if any call failed (a transport
//! error, an HTTP status other than 200, a fault, or a reply that is not what the call
//! returns).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[derive(Debug, Parser)]
#[command(about = "Load generator for scripts/load-test.sh")]
struct Args {
    /// Base URL of the server (`http://127.0.0.1:PORT`).
    #[arg(long)]
    url: String,
    /// Concurrent clients, each running one session after another.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Seconds to run; sessions running at the end log out before the clients stop.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Number of users `<prefix>1` … `<prefix>N` the clients share.
    #[arg(long, default_value_t = 20)]
    users: usize,
    #[arg(long, default_value = "load")]
    user_prefix: String,
    #[arg(long, default_value = "load-password-1")]
    password: String,
    /// Calls between login and logout.
    #[arg(long, default_value_t = 40)]
    calls_per_session: usize,
    /// Pause of each client between calls, in milliseconds (0: as fast as replies come),
    /// to offer a fixed load instead of saturating the server.
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    /// Before the run, give each user at least this many contacts (not measured).
    #[arg(long, default_value_t = 0)]
    seed_contacts: usize,
    /// Slowloris connections held open beside the clients for the whole run.
    #[arg(long, default_value_t = 0)]
    slowloris: usize,
    /// Comma-separated local addresses the slowloris connections come from, in turn
    /// (on Linux any 127.x.y.z reaches a server on 127.0.0.1).
    #[arg(long, default_value = "127.0.0.2")]
    slowloris_from: String,
    /// Milliseconds between the header lines a slowloris connection trickles.
    #[arg(long, default_value_t = 1000)]
    slowloris_interval_ms: u64,
}

// ---------------------------------------------------------------------------------------
// XML-RPC on the wire (a small encoder and decoder of our own, so the generator does not
// depend on the server's codec it measures)
// ---------------------------------------------------------------------------------------

/// A parameter of a call.
enum Param {
    Int(i64),
    Str(String),
    /// `dateTime.iso8601`, already in the compact form.
    Date(String),
    Struct(Vec<(&'static str, Param)>),
}

fn escape_into(out: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
}

fn encode_param(out: &mut String, param: &Param) {
    out.push_str("<value>");
    match param {
        Param::Int(number) => {
            let _ = write!(out, "<int>{number}</int>");
        }
        Param::Str(text) => {
            out.push_str("<string>");
            escape_into(out, text);
            out.push_str("</string>");
        }
        Param::Date(text) => {
            let _ = write!(out, "<dateTime.iso8601>{text}</dateTime.iso8601>");
        }
        Param::Struct(members) => {
            out.push_str("<struct>");
            for (name, value) in members {
                let _ = write!(out, "<member><name>{name}</name>");
                encode_param(out, value);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

fn encode_call(method: &str, params: &[Param]) -> String {
    let mut out = String::with_capacity(512);
    let _ = write!(
        out,
        "<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>"
    );
    for param in params {
        out.push_str("<param>");
        encode_param(&mut out, param);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>");
    out
}

/// The parts of a reply the generator looks at.
#[derive(Debug)]
enum Reply {
    Int(i64),
    Bool(bool),
    Str(String),
    Struct(Vec<(String, Reply)>),
    Array(usize),
    Other,
}

impl Reply {
    fn member(&self, name: &str) -> Option<&Reply> {
        match self {
            Reply::Struct(members) => members
                .iter()
                .find(|(member, _)| member == name)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Reply::Str(text) => Some(text),
            _ => None,
        }
    }
}

fn element<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children()
        .find(|child| child.is_element() && child.tag_name().name() == name)
}

fn decode_value(value: roxmltree::Node<'_, '_>) -> Reply {
    let Some(typed) = value.children().find(roxmltree::Node::is_element) else {
        return Reply::Str(value.text().unwrap_or_default().to_owned());
    };
    let text = typed.text().unwrap_or_default();
    match typed.tag_name().name() {
        "int" | "i4" | "i8" => text.trim().parse().map_or(Reply::Other, Reply::Int),
        "boolean" => Reply::Bool(text.trim() == "1"),
        "string" => Reply::Str(text.to_owned()),
        "array" => Reply::Array(
            element(typed, "data")
                .map_or(0, |data| data.children().filter(|c| c.is_element()).count()),
        ),
        "struct" => Reply::Struct(
            typed
                .children()
                .filter(|member| member.is_element())
                .filter_map(|member| {
                    let name = element(member, "name")?.text().unwrap_or_default();
                    Some((name.to_owned(), decode_value(element(member, "value")?)))
                })
                .collect(),
        ),
        _ => Reply::Other,
    }
}

/// Why a call failed; the text is the error class counted in the report.
type Failure = String;

/// Decodes a `methodResponse`: the result, or the fault as a failure.
fn decode_response(body: &str) -> Result<Reply, Failure> {
    let document =
        roxmltree::Document::parse(body).map_err(|error| format!("reply is not XML: {error}"))?;
    let root = document.root_element();
    if root.tag_name().name() != "methodResponse" {
        return Err("reply is not a methodResponse".to_owned());
    }
    if let Some(fault) = element(root, "fault") {
        let members = element(fault, "value").map(decode_value);
        let code = members
            .as_ref()
            .and_then(|value| value.member("faultCode"))
            .map_or(String::from("?"), |code| format!("{code:?}"));
        let message: String = members
            .as_ref()
            .and_then(|value| value.member("faultString"))
            .and_then(Reply::text)
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect();
        return Err(format!("fault {code} {message}"));
    }
    element(root, "params")
        .and_then(|params| element(params, "param"))
        .and_then(|param| element(param, "value"))
        .map(decode_value)
        .ok_or_else(|| "reply without a value".to_owned())
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Login,
    List,
    Read,
    Create,
    Update,
    Delete,
    Event,
    Logout,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Login,
        Kind::List,
        Kind::Read,
        Kind::Create,
        Kind::Update,
        Kind::Delete,
        Kind::Event,
        Kind::Logout,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Login => "login",
            Kind::List => "list (read_entries)",
            Kind::Read => "read",
            Kind::Create => "create contact",
            Kind::Update => "update contact",
            Kind::Delete => "delete contact",
            Kind::Event => "create event",
            Kind::Logout => "logout",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one client saw: latencies in microseconds per kind, failures by kind and cause.
#[derive(Default)]
struct Tally {
    latencies: [Vec<u32>; 8],
    failures: BTreeMap<(Kind, Failure), u64>,
    sessions: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (mine, theirs) in self.latencies.iter_mut().zip(other.latencies) {
            mine.extend(theirs);
        }
        for (key, count) in other.failures {
            *self.failures.entry(key).or_insert(0) += count;
        }
        self.sessions += other.sessions;
    }
}

/// A small xorshift generator: the mix needs no cryptographic randomness.
struct Dice(u64);

impl Dice {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % bound.max(1) as u64).unwrap_or(0)
    }
}

struct Session {
    http: reqwest::Client,
    authorization: String,
}

struct Client {
    index: usize,
    url: String,
    username: String,
    password: String,
    /// Contacts this client created and has not deleted (its user's, so no other client
    /// deletes them under it).
    owned: Vec<i64>,
    seeded: usize,
    created: u64,
    dice: Dice,
    tally: Tally,
}

fn basic(user: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

fn new_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1)
        .build()
        .unwrap_or_default()
}

impl Client {
    /// Posts one call and records its latency or failure under `kind`.
    async fn call(
        &mut self,
        http: &reqwest::Client,
        authorization: Option<&str>,
        kind: Kind,
        body: String,
    ) -> Option<Reply> {
        let started = Instant::now();
        let result = post(http, &self.url, authorization, body).await;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        match result {
            Ok(reply) => {
                self.tally.latencies[kind.index()].push(micros);
                Some(reply)
            }
            Err(failure) => {
                *self.tally.failures.entry((kind, failure)).or_insert(0) += 1;
                None
            }
        }
    }

    async fn login(&mut self) -> Option<Session> {
        let http = new_http_client();
        let body = encode_call(
            "system.login",
            &[Param::Struct(vec![
                ("username", Param::Str(self.username.clone())),
                ("password", Param::Str(self.password.clone())),
            ])],
        );
        let reply = self.call(&http, None, Kind::Login, body).await?;
        let tokens = reply
            .member("sessionid")
            .and_then(Reply::text)
            .zip(reply.member("kp3").and_then(Reply::text));
        let Some((sessionid, kp3)) = tokens else {
            self.fail(Kind::Login, "login reply without sessionid and kp3");
            return None;
        };
        let authorization = basic(sessionid, kp3);
        Some(Session {
            http,
            authorization,
        })
    }

    fn fail(&mut self, kind: Kind, why: &str) {
        *self
            .tally
            .failures
            .entry((kind, why.to_owned()))
            .or_insert(0) += 1;
    }

    /// One call of the mix.
    async fn step(&mut self, session: &Session) {
        let roll = self.dice.below(100);
        // Keep the set of own contacts between a few and a few dozen.
        let kind = match roll {
            0..50 => Kind::List,
            50..65 if !self.owned.is_empty() => Kind::Read,
            65..77 if self.owned.len() < 30 => Kind::Create,
            77..89 if !self.owned.is_empty() => Kind::Update,
            89..97 if self.owned.len() > 3 => Kind::Delete,
            97.. => Kind::Event,
            _ => Kind::Create,
        };
        let auth = Some(session.authorization.as_str());
        match kind {
            Kind::List => {
                let start = self.dice.below(self.seeded.saturating_sub(25).max(1));
                let body = encode_call(
                    "addressbook.boaddressbook.read_entries",
                    &[Param::Struct(vec![
                        ("start", Param::Int(start as i64)),
                        ("limit", Param::Int(25)),
                    ])],
                );
                if let Some(reply) = self.call(&session.http, auth, kind, body).await {
                    let want = self.seeded.min(25);
                    if !matches!(reply, Reply::Array(count) if count >= want) {
                        self.fail(kind, "listing shorter than the seeded contacts");
                    }
                }
            }
            Kind::Read => {
                let id = self.owned[self.dice.below(self.owned.len())];
                let body = encode_call(
                    "addressbook.boaddressbook.read",
                    &[Param::Struct(vec![("id", Param::Int(id))])],
                );
                if let Some(reply) = self.call(&session.http, auth, kind, body).await
                    && reply.member("id").is_none()
                {
                    self.fail(kind, "read reply without an id");
                }
            }
            Kind::Create => {
                self.created += 1;
                let n = self.created;
                let body = encode_call(
                    "addressbook.boaddressbook.write",
                    &[contact(&format!("Load{}x{n}", self.index), n)],
                );
                match self.call(&session.http, auth, kind, body).await {
                    Some(Reply::Int(id)) => self.owned.push(id),
                    Some(_) => self.fail(kind, "create did not return an id"),
                    None => {}
                }
            }
            Kind::Update => {
                let id = self.owned[self.dice.below(self.owned.len())];
                let body = encode_call(
                    "addressbook.boaddressbook.write",
                    &[Param::Struct(vec![
                        ("id", Param::Int(id)),
                        ("org_unit", Param::Str(format!("Unit {}", self.created))),
                        ("note", Param::Str("updated by the load test".to_owned())),
                    ])],
                );
                if let Some(reply) = self.call(&session.http, auth, kind, body).await
                    && !matches!(reply, Reply::Int(returned) if returned == id)
                {
                    self.fail(kind, "update did not return the id");
                }
            }
            Kind::Delete => {
                let id = self.owned.swap_remove(self.dice.below(self.owned.len()));
                let body = encode_call("addressbook.boaddressbook.delete", &[Param::Int(id)]);
                if let Some(reply) = self.call(&session.http, auth, kind, body).await
                    && !matches!(reply, Reply::Bool(true))
                {
                    self.fail(kind, "delete did not return true");
                }
            }
            Kind::Event => {
                let day = 1 + self.dice.below(28);
                let hour = 8 + self.dice.below(9);
                let body = encode_call(
                    "calendar.bocalendar.write",
                    &[Param::Struct(vec![
                        ("title", Param::Str(format!("Load meeting {}", self.index))),
                        (
                            "start",
                            Param::Date(format!("202607{day:02}T{hour:02}:00:00")),
                        ),
                        (
                            "end",
                            Param::Date(format!("202607{day:02}T{hour:02}:30:00")),
                        ),
                        ("location", Param::Str("Room 1".to_owned())),
                    ])],
                );
                if let Some(reply) = self.call(&session.http, auth, kind, body).await
                    && !matches!(reply, Reply::Int(_))
                {
                    self.fail(kind, "event write did not return an id");
                }
            }
            Kind::Login | Kind::Logout => {}
        }
    }

    async fn logout(&mut self, session: &Session) {
        let Some((sessionid, kp3)) = session_tokens(&session.authorization) else {
            return;
        };
        let body = encode_call(
            "system.logout",
            &[Param::Struct(vec![
                ("sessionid", Param::Str(sessionid)),
                ("kp3", Param::Str(kp3)),
            ])],
        );
        if let Some(reply) = self
            .call(
                &session.http,
                Some(&session.authorization),
                Kind::Logout,
                body,
            )
            .await
            && reply.member("GOODBYE").is_none()
        {
            self.fail(Kind::Logout, "logout reply without GOODBYE");
        }
    }

    async fn run(mut self, deadline: Instant, think: Duration, calls: usize) -> Tally {
        while Instant::now() < deadline {
            let Some(session) = self.login().await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            self.tally.sessions += 1;
            for _ in 0..calls {
                if Instant::now() >= deadline {
                    break;
                }
                if !think.is_zero() {
                    tokio::time::sleep(think).await;
                }
                self.step(&session).await;
            }
            self.logout(&session).await;
        }
        self.tally
    }
}

/// The sessionid and kp3 back out of a Basic header value.
fn session_tokens(authorization: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let encoded = authorization.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (sessionid, kp3) = text.split_once(':')?;
    Some((sessionid.to_owned(), kp3.to_owned()))
}

fn contact(family: &str, n: u64) -> Param {
    Param::Struct(vec![
        ("n_given", Param::Str(format!("Given{n}"))),
        ("n_family", Param::Str(family.to_owned())),
        ("org_name", Param::Str(format!("Organisation {}", n % 17))),
        (
            "email",
            Param::Str(format!("{}@example.org", family.to_lowercase())),
        ),
        ("tel_work", Param::Str(format!("+49 30 {n:07}"))),
        ("adr_one_locality", Param::Str("Berlin".to_owned())),
    ])
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    body: String,
) -> Result<Reply, Failure> {
    let mut request = http
        .post(format!("{url}/xmlrpc"))
        .header("Content-Type", "text/xml")
        .body(body);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    let response = request.send().await.map_err(|error| transport(&error))?;
    let status = response.status();
    let text = response.text().await.map_err(|error| transport(&error))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    decode_response(&text)
}

/// A transport error reduced to its kind, so errors group in the report.
fn transport(error: &reqwest::Error) -> Failure {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else if error.is_request() {
        "request"
    } else {
        "other"
    };
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    format!("transport {kind}: {source}")
}

/// Gives every user at least `args.seed_contacts` contacts (before the measured run),
/// one task per user.
async fn seed(args: &Args) -> Result<(), String> {
    let mut tasks = tokio::task::JoinSet::new();
    for user in 1..=args.users {
        let url = args.url.trim_end_matches('/').to_owned();
        let username = format!("{}{user}", args.user_prefix);
        let password = args.password.clone();
        let wanted = args.seed_contacts;
        tasks.spawn(async move { seed_user(&url, &username, &password, wanted).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|error| format!("seed task: {error}"))??;
    }
    Ok(())
}

async fn seed_user(url: &str, username: &str, password: &str, wanted: usize) -> Result<(), String> {
    let http = new_http_client();
    let login = encode_call(
        "system.login",
        &[Param::Struct(vec![
            ("username", Param::Str(username.to_owned())),
            ("password", Param::Str(password.to_owned())),
        ])],
    );
    let reply = post(&http, url, None, login)
        .await
        .map_err(|failure| format!("seed login {username}: {failure}"))?;
    let (Some(sessionid), Some(kp3)) = (
        reply.member("sessionid").and_then(Reply::text),
        reply.member("kp3").and_then(Reply::text),
    ) else {
        return Err(format!("seed login {username}: no session"));
    };
    let authorization = basic(sessionid, kp3);
    let listing = encode_call(
        "addressbook.boaddressbook.read_entries",
        &[Param::Struct(vec![
            ("start", Param::Int(0)),
            ("limit", Param::Int(0)),
        ])],
    );
    let have = match post(&http, url, Some(&authorization), listing).await? {
        Reply::Array(count) => count,
        other => return Err(format!("seed listing: {other:?}")),
    };
    for n in have..wanted {
        let body = encode_call(
            "addressbook.boaddressbook.write",
            &[contact(&format!("Seed{n:05}"), n as u64)],
        );
        post(&http, url, Some(&authorization), body)
            .await
            .map_err(|failure| format!("seed write: {failure}"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Slowloris
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct SlowlorisCounts {
    connected: AtomicU64,
    refused: AtomicU64,
    closed_by_server: AtomicU64,
    open_now: AtomicUsize,
    open_peak: AtomicUsize,
}

/// Holds one connection that trickles a header line every `interval`; reconnects a second
/// after the server closes it, until `deadline`.
async fn slowloris(
    server: SocketAddr,
    source: IpAddr,
    interval: Duration,
    deadline: Instant,
    counts: Arc<SlowlorisCounts>,
) {
    while Instant::now() < deadline {
        let socket = match server {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        };
        let stream = match socket {
            Ok(socket) => match socket.bind(SocketAddr::new(source, 0)) {
                Ok(()) => socket.connect(server).await,
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        let Ok(mut stream) = stream else {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        counts.connected.fetch_add(1, Ordering::Relaxed);
        let open = counts.open_now.fetch_add(1, Ordering::Relaxed) + 1;
        counts.open_peak.fetch_max(open, Ordering::Relaxed);
        let mut line = 0_u64;
        let mut buffer = [0_u8; 256];
        let mut written = stream
            .write_all(b"POST /xmlrpc HTTP/1.1\r\nHost: slow\r\n")
            .await;
        while written.is_ok() && Instant::now() < deadline {
            tokio::select! {
                read = stream.read(&mut buffer) => {
                    // Zero bytes or an error: the server closed the connection; any
                    // bytes are a reply (a 408 or 400), after which it closes too.
                    if !matches!(read, Ok(n) if n > 0) {
                        break;
                    }
                }
                () = tokio::time::sleep(interval) => {
                    line += 1;
                    written = stream
                        .write_all(format!("X-Slow-{line}: a\r\n").as_bytes())
                        .await;
                }
            }
        }
        counts.open_now.fetch_sub(1, Ordering::Relaxed);
        if Instant::now() < deadline {
            counts.closed_by_server.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

fn percentile(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let url = args.url.trim_end_matches('/').to_owned();
    if args.users == 0 || args.clients == 0 {
        eprintln!("--users and --clients must be at least 1");
        return ExitCode::from(2);
    }
    if args.seed_contacts > 0 {
        if let Err(error) = seed(&args).await {
            eprintln!("seeding failed: {error}");
            return ExitCode::FAILURE;
        }
        println!(
            "seeded: {} users with at least {} contacts each",
            args.users, args.seed_contacts
        );
    }

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let slow_counts = Arc::new(SlowlorisCounts::default());
    let mut slow_tasks = Vec::new();
    if args.slowloris > 0 {
        let server: SocketAddr = match url.trim_start_matches("http://").parse() {
            Ok(address) => address,
            Err(error) => {
                eprintln!("--slowloris needs a URL of the form http://IP:PORT: {error}");
                return ExitCode::from(2);
            }
        };
        let sources: Vec<IpAddr> = match args
            .slowloris_from
            .split(',')
            .map(|text| text.trim().parse())
            .collect()
        {
            Ok(sources) => sources,
            Err(error) => {
                eprintln!("--slowloris-from: {error}");
                return ExitCode::from(2);
            }
        };
        let interval = Duration::from_millis(args.slowloris_interval_ms.max(1));
        for n in 0..args.slowloris {
            slow_tasks.push(tokio::spawn(slowloris(
                server,
                sources[n % sources.len()],
                interval,
                deadline,
                Arc::clone(&slow_counts),
            )));
        }
        // Let the attack take its places before the clients start.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let think = Duration::from_millis(args.think_ms);
    let clients: Vec<_> = (0..args.clients)
        .map(|index| {
            let client = Client {
                index,
                url: url.clone(),
                username: format!("{}{}", args.user_prefix, index % args.users + 1),
                password: args.password.clone(),
                owned: Vec::new(),
                seeded: args.seed_contacts,
                created: 0,
                dice: Dice(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0x2545_F491)),
                tally: Tally::default(),
            };
            tokio::spawn(client.run(deadline, think, args.calls_per_session))
        })
        .collect();
    let measured_from = Instant::now();
    let mut tally = Tally::default();
    for client in clients {
        match client.await {
            Ok(client_tally) => tally.merge(client_tally),
            Err(error) => {
                eprintln!("a client task failed: {error}");
                *tally
                    .failures
                    .entry((Kind::Login, "client task panicked".to_owned()))
                    .or_insert(0) += 1;
            }
        }
    }
    let elapsed = measured_from.elapsed().as_secs_f64();
    for task in slow_tasks {
        task.abort();
    }

    let mut all: Vec<u32> = Vec::new();
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "kind", "requests", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for kind in Kind::ALL {
        let latencies = &mut tally.latencies[kind.index()];
        latencies.sort_unstable();
        println!(
            "{:<22} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            kind.name(),
            latencies.len(),
            latencies.len() as f64 / elapsed,
            percentile(latencies, 0.50),
            percentile(latencies, 0.99),
            percentile(latencies, 1.0),
        );
        all.extend_from_slice(latencies);
    }
    // Logins wait for an Argon2id hash by design; the other calls are what clients
    // feel between logins, so they get a line of their own.
    let mut calls: Vec<u32> = Kind::ALL
        .iter()
        .filter(|kind| **kind != Kind::Login)
        .flat_map(|kind| tally.latencies[kind.index()].iter().copied())
        .collect();
    calls.sort_unstable();
    println!(
        "{:<22} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        "all but login",
        calls.len(),
        calls.len() as f64 / elapsed,
        percentile(&calls, 0.50),
        percentile(&calls, 0.99),
        percentile(&calls, 1.0),
    );
    all.sort_unstable();
    let errors: u64 = tally.failures.values().sum();
    println!(
        "{:<22} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        "all",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
    );
    for ((kind, failure), count) in &tally.failures {
        println!("ERROR {count} x {}: {failure}", kind.name());
    }
    if args.slowloris > 0 {
        println!(
            "SLOWLORIS connections={} connects={} closed_by_server={} refused={} peak_open={}",
            args.slowloris,
            slow_counts.connected.load(Ordering::Relaxed),
            slow_counts.closed_by_server.load(Ordering::Relaxed),
            slow_counts.refused.load(Ordering::Relaxed),
            slow_counts.open_peak.load(Ordering::Relaxed),
        );
    }
    println!(
        "LOADTEST clients={} seconds={elapsed:.1} sessions={} requests={} rps={:.1} \
         p50_ms={:.1} p99_ms={:.1} max_ms={:.1} calls_p50_ms={:.1} calls_p99_ms={:.1} \
         login_p99_ms={:.1} errors={errors}",
        args.clients,
        tally.sessions,
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
        percentile(&calls, 0.50),
        percentile(&calls, 0.99),
        percentile(&tally.latencies[Kind::Login.index()], 0.99),
    );
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
