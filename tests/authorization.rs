//! The authorization matrix, generated from the method tables.
//!
//! The registry is built in-process from every application table the binary registers
//! (plus a small `notes` fixture, so the matrix is never empty), over a real SQLite store
//! and the real [`Auth`]. For every entry that needs a session, every way of not having
//! one is refused: no credentials (a 401 challenge), malformed Basic headers, a wrong
//! kp3, idle- and absolutely-expired sessions, a logged-out session, and a valid session
//! of a user without the entry's application (`Access not permitted`); a user with the
//! application gets past authentication, and only such users see the entry in
//! `system.listMethods`. A last test checks that this list of tables is the binary's.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use groupware::accounts::{self, NewAccount};
use groupware::auth::{Auth, AuthConfig};
use groupware::codec::{Call, XmlLimits};
use groupware::credentials::{Credentials, parse_authorization};
use groupware::dispatch::{Authenticator, Dispatcher, Reply, Request};
use groupware::registry::{Entry, Registry};
use groupware::service::Service;
use groupware::store::Store;
use groupware_api::{
    Ctx, Error, Fault, Flags, HandlerFuture, MethodDef, MethodTable, Params, RequestInfo, Value,
};

const SESSION_EXPIRED: &str = "Session expired";
const ACCESS_NOT_PERMITTED: &str = "Access not permitted";

/// Every application table `src/main.rs` registers, in its order (interop only with
/// `--enable-interop`). [`the_tables_are_the_binarys`] fails when this list falls behind.
fn binary_tables() -> Vec<MethodTable> {
    vec![
        groupware_addressbook::methods(),
        groupware_calendar::methods(),
        groupware_infolog::methods(),
        groupware_interop::methods(),
    ]
}

/// A fixture application with methods that need a session, in one class, plus a public
/// method in another class.
fn notes_fixture() -> MethodTable {
    fn read(ctx: Ctx, params: Params) -> HandlerFuture {
        Box::pin(async move {
            let caller = ctx.caller()?.username.clone();
            let id: i64 = params.single()?;
            Ok(Value::structure([
                ("id", Value::Int(id)),
                ("owner", Value::from(caller)),
            ]))
        })
    }
    fn write(ctx: Ctx, _params: Params) -> HandlerFuture {
        Box::pin(async move {
            ctx.caller()?;
            Ok(Value::Bool(true))
        })
    }
    fn version(_ctx: Ctx, _params: Params) -> HandlerFuture {
        Box::pin(async { Ok(Value::from("1.0")) })
    }
    MethodTable {
        app: "notes",
        title: "Notes (test fixture)",
        version: "1.0",
        structs: &[],
        methods: vec![
            MethodDef {
                name: "notes.fixture.read",
                function: "read",
                signatures: &[&["struct", "int"]],
                help: "Reads a note.",
                author: "test",
                flags: Flags::READ,
                handler: read,
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "notes.fixture.write",
                function: "write",
                signatures: &[&["boolean", "struct"]],
                help: "Writes a note.",
                author: "test",
                flags: Flags::WRITE,
                handler: write,
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "notes.fixturepublic.version",
                function: "version",
                signatures: &[&["string"]],
                help: "The fixture's version.",
                author: "test",
                flags: Flags::PUBLIC,
                handler: version,
                params: &[],
                returns: "",
            },
        ],
    }
}

fn all_tables() -> Vec<MethodTable> {
    let mut tables = binary_tables();
    tables.push(notes_fixture());
    tables
}

/// The registry, a migrated SQLite store, the real authenticator and dispatcher.
struct World {
    _dir: tempfile::TempDir,
    store: Store,
    dispatcher: Dispatcher,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gw.db").display());
    let store = groupware::store::open(&url).await.unwrap();
    groupware::store::migrate::migrate(&store).await.unwrap();
    let registry = Registry::build(&all_tables(), true).unwrap();
    let auth: Arc<dyn Authenticator> = Arc::new(Auth::new(store.clone(), AuthConfig::default()));
    let dispatcher = Dispatcher::new(registry, Some(store.clone()), Some(auth));
    World {
        _dir: dir,
        store,
        dispatcher,
    }
}

fn request_info() -> RequestInfo {
    RequestInfo {
        remote_addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        user_agent: Some("authorization-test".into()),
    }
}

fn basic(user: &str, secret: &str) -> Credentials {
    parse_authorization([common::basic_authorization(user, secret).as_bytes()])
}

impl World {
    async fn call(&self, method: &str, params: Vec<Value>, credentials: &Credentials) -> Reply {
        let call = Call {
            method: method.to_owned(),
            params,
        };
        let request = Request::new(credentials.clone(), request_info());
        self.dispatcher.dispatch(call, &request).await
    }

    async fn create_user(&self, username: &str, apps: &[&str]) {
        accounts::create_account(
            &self.store,
            NewAccount {
                username: username.into(),
                password: Some(format!("{username}-password")),
                full_name: username.into(),
                email: String::new(),
                timezone: "UTC".into(),
                is_admin: false,
                apps: apps.iter().map(|app| (*app).to_owned()).collect(),
            },
        )
        .await
        .unwrap();
    }

    /// Logs in through `system.login` and returns `(sessionid, kp3)`.
    async fn login(&self, username: &str) -> (String, String) {
        let params = Value::structure([
            ("username", Value::from(username)),
            ("password", Value::from(format!("{username}-password"))),
        ]);
        let reply = self
            .call("system.login", vec![params], &Credentials::Absent)
            .await;
        let Ok(Value::Struct(members)) = reply.result else {
            panic!("login as {username}: {reply:?}")
        };
        let text = |name: &str| match members.get(name) {
            Some(Value::String(text)) => text.to_string(),
            other => panic!("{name}: {other:?}"),
        };
        (text("sessionid"), text("kp3"))
    }

    /// The method names `system.listMethods` shows these credentials.
    async fn listed(&self, credentials: &Credentials) -> BTreeSet<String> {
        let reply = self.call("system.listMethods", vec![], credentials).await;
        let Ok(Value::Array(items)) = reply.result else {
            panic!("system.listMethods: {reply:?}")
        };
        items
            .iter()
            .map(|item| item.as_str().unwrap().to_owned())
            .collect()
    }

    /// The application names `system.listApps` shows these credentials.
    async fn listed_apps(&self, credentials: &Credentials) -> BTreeSet<String> {
        let reply = self.call("system.listApps", vec![], credentials).await;
        let Ok(Value::Struct(members)) = reply.result else {
            panic!("system.listApps: {reply:?}")
        };
        members.keys().map(ToString::to_string).collect()
    }

    /// Moves a session's timestamps into the past (seconds).
    async fn backdate(&self, sessionid: &str, created_by: i64, last_seen_by: i64) {
        let changed = self
            .store
            .execute(
                "UPDATE sessions SET created_at = created_at - $1, last_seen = last_seen - $2 \
                 WHERE sessionid_hash = $3",
                vec![
                    created_by.into(),
                    last_seen_by.into(),
                    groupware::crypto::sha256_hex(sessionid).into(),
                ],
            )
            .await
            .unwrap();
        assert_eq!(changed, 1);
    }
}

/// Parameters matching an entry's first signature, so a permitted call reaches the
/// handler where it can.
fn sample_params(entry: &Entry) -> Vec<Value> {
    let Some(signature) = entry.signatures.first() else {
        return Vec::new();
    };
    signature
        .iter()
        .skip(1)
        .map(|kind| match *kind {
            "int" | "i4" | "i8" => Value::Int(1),
            "boolean" => Value::Bool(false),
            "double" => Value::Double(1.5),
            "dateTime.iso8601" => Value::DateTime(
                chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
                    .unwrap()
                    .and_hms_opt(3, 4, 5)
                    .unwrap(),
            ),
            "base64" => Value::Base64(b"x".to_vec()),
            "struct" => Value::Struct(Default::default()),
            "array" => Value::Array(Vec::new()),
            _ => Value::from("x"),
        })
        .collect()
}

#[track_caller]
fn assert_refused(reply: &Reply, message: &str, context: &str) {
    assert_eq!(
        reply.result,
        Err(Fault::new(1001, message)),
        "{context}: wanted fault 1001 {message:?}"
    );
    assert!(
        !reply.challenge,
        "{context}: only absent credentials get a challenge"
    );
}

/// Malformed `Authorization` header sets, parsed by the real parser.
fn malformed_credentials(sessionid: &str, kp3: &str) -> Vec<(&'static str, Credentials)> {
    use base64::Engine as _;
    let encode = |text: String| base64::engine::general_purpose::STANDARD.encode(text);
    let valid = common::basic_authorization(sessionid, kp3);
    let cases: Vec<(&'static str, Vec<String>)> = vec![
        ("bad base64", vec!["Basic %%%not-base64%%%".into()]),
        (
            "no colon",
            vec![format!("Basic {}", encode(format!("{sessionid}{kp3}")))],
        ),
        ("wrong scheme", vec![valid.replacen("Basic", "Digest", 1)]),
        ("scheme only", vec!["Basic".into()]),
        (
            "empty secret",
            vec![common::basic_authorization(sessionid, "")],
        ),
        ("two headers", vec![valid.clone(), valid]),
    ];
    cases
        .into_iter()
        .map(|(what, headers)| {
            let credentials = parse_authorization(headers.iter().map(String::as_bytes));
            assert_eq!(credentials, Credentials::Malformed, "{what}");
            (what, credentials)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_method_refuses_every_way_of_not_having_a_session() {
    let world = world().await;
    let registry = &world.dispatcher.registry;
    let guarded: Vec<&Entry> = registry
        .entries()
        .filter(|entry| entry.flags.requires_session)
        .collect();
    let guarded_names: BTreeSet<&str> = guarded.iter().map(|entry| entry.name.as_str()).collect();
    // Never vacuous: the fixture's methods and its class introspection are in the matrix.
    for name in [
        "notes.fixture.read",
        "notes.fixture.write",
        "notes.fixture.list_methods",
        "notes.fixture.listMethods",
        "notes.fixture.describeMethods",
    ] {
        assert!(guarded_names.contains(name), "{name} must need a session");
    }
    assert!(!guarded_names.contains("notes.fixturepublic.version"));

    // One user per application holding only that application, one holding every
    // application, and one holding none.
    let apps: Vec<&'static str> = registry.apps().iter().map(|app| app.name).collect();
    let mut users: Vec<(String, Vec<&'static str>)> = apps
        .iter()
        .map(|app| (format!("only-{app}"), vec![*app]))
        .collect();
    users.push(("everything".into(), apps.clone()));
    users.push(("nothing".into(), Vec::new()));
    let mut sessions = Vec::new();
    for (username, granted) in &users {
        world.create_user(username, granted).await;
        let (sessionid, kp3) = world.login(username).await;
        sessions.push((username.clone(), granted.clone(), basic(&sessionid, &kp3)));
    }

    // Sessions that must not work: wrong kp3, idle-expired, absolutely expired, logged
    // out (after being verified, so a cache must not keep it alive).
    let (sessionid, kp3) = world.login("everything").await;
    let stranger = groupware::crypto::generate_token().unwrap();
    let mut dead: Vec<(&str, Credentials)> = vec![
        ("wrong kp3", basic(&sessionid, &stranger)),
        ("unknown sessionid", basic(&stranger, &kp3)),
        ("swapped tokens", basic(&kp3, &sessionid)),
    ];
    let idle = AuthConfig::default().idle_timeout.as_secs() as i64;
    let absolute = AuthConfig::default().absolute_timeout.as_secs() as i64;
    let (idle_sessionid, idle_kp3) = world.login("everything").await;
    world.backdate(&idle_sessionid, idle + 5, idle + 5).await;
    dead.push(("idle-expired session", basic(&idle_sessionid, &idle_kp3)));
    let (old_sessionid, old_kp3) = world.login("everything").await;
    world.backdate(&old_sessionid, absolute + 5, 0).await;
    dead.push((
        "absolutely expired session",
        basic(&old_sessionid, &old_kp3),
    ));
    let (gone_sessionid, gone_kp3) = world.login("everything").await;
    let gone = basic(&gone_sessionid, &gone_kp3);
    let first = &guarded[0];
    let reply = world.call(&first.name, sample_params(first), &gone).await;
    assert!(
        !matches!(&reply.result, Err(fault) if fault.code == 1001),
        "the session works before logout: {reply:?}"
    );
    let logout = Value::structure([
        ("sessionid", Value::from(gone_sessionid.as_str())),
        ("kp3", Value::from(gone_kp3.as_str())),
    ]);
    let reply = world
        .call("system.logout", vec![logout], &Credentials::Absent)
        .await;
    assert_eq!(
        reply.result,
        Ok(Value::structure([("GOODBYE", Value::from("XOXO"))]))
    );
    dead.push(("logged-out session", gone));
    let malformed = malformed_credentials(&sessionid, &kp3);

    for entry in &guarded {
        let name = entry.name.as_str();
        let params = sample_params(entry);

        let reply = world.call(name, params.clone(), &Credentials::Absent).await;
        assert_eq!(
            reply.result,
            Err(Fault::new(1001, SESSION_EXPIRED)),
            "{name} without credentials"
        );
        assert!(reply.challenge, "{name} without credentials: challenge");
        // The parameter count does not matter: authentication comes first.
        let reply = world.call(name, Vec::new(), &Credentials::Absent).await;
        assert!(reply.challenge, "{name} without credentials or parameters");

        for (what, credentials) in malformed.iter().chain(dead.iter()) {
            let reply = world.call(name, params.clone(), credentials).await;
            assert_refused(&reply, SESSION_EXPIRED, &format!("{name} with {what}"));
        }

        for (username, granted, credentials) in &sessions {
            let reply = world.call(name, params.clone(), credentials).await;
            if granted.contains(&entry.app) {
                assert!(
                    !matches!(&reply.result, Err(fault) if fault.code == 1001),
                    "{name} as {username}, who has {}: {reply:?}",
                    entry.app
                );
                assert!(!reply.challenge);
            } else {
                assert_refused(
                    &reply,
                    ACCESS_NOT_PERMITTED,
                    &format!("{name} as {username}, without {}", entry.app),
                );
            }
        }
    }

    // Methods that need no session serve anonymous callers, but credentials that do not
    // work are refused there too (the client must learn its session is gone), except by
    // system.login, so that a client holding a stale session can log in again.
    for entry in registry.entries().filter(|e| !e.flags.requires_session) {
        let name = entry.name.as_str();
        let params = sample_params(entry);
        let reply = world.call(name, params.clone(), &Credentials::Absent).await;
        assert!(!reply.challenge, "{name} anonymously: {reply:?}");
        if name != "system.logout" {
            assert!(
                !matches!(&reply.result, Err(fault) if fault.code == 1001),
                "{name} anonymously: {reply:?}"
            );
        }
        for (what, credentials) in malformed.iter().chain(dead.iter()) {
            let reply = world.call(name, params.clone(), credentials).await;
            if name == "system.login" {
                assert_ne!(
                    reply.result,
                    Err(Fault::new(1001, SESSION_EXPIRED)),
                    "{name} with {what}"
                );
            } else {
                assert_refused(&reply, SESSION_EXPIRED, &format!("{name} with {what}"));
            }
        }
    }

    // The fixture's handler really ran for a permitted caller.
    let everything = &sessions.iter().find(|s| s.0 == "everything").unwrap().2;
    let reply = world
        .call("notes.fixture.read", vec![Value::Int(7)], everything)
        .await;
    assert_eq!(
        reply.result,
        Ok(Value::structure([
            ("id", Value::Int(7)),
            ("owner", Value::from("everything")),
        ]))
    );

    // Listings: a guarded method is listed exactly to the users holding its application,
    // and never to anonymous or failed callers.
    let anonymous = world.listed(&Credentials::Absent).await;
    for name in &guarded_names {
        assert!(!anonymous.contains(*name), "{name} listed anonymously");
    }
    for entry in registry.entries().filter(|e| !e.flags.requires_session) {
        assert!(anonymous.contains(&entry.name), "{} public", entry.name);
    }
    for (username, granted, credentials) in &sessions {
        let listed = world.listed(credentials).await;
        let apps_listed = world.listed_apps(credentials).await;
        for entry in &guarded {
            assert_eq!(
                listed.contains(&entry.name),
                granted.contains(&entry.app),
                "{} in {username}'s system.listMethods",
                entry.name
            );
            assert_eq!(
                apps_listed.contains(entry.app),
                granted.contains(&entry.app),
                "{} in {username}'s system.listApps",
                entry.app
            );
            if !granted.contains(&entry.app) {
                for (introspection, params) in [
                    ("system.methodHelp", vec![Value::from(entry.name.as_str())]),
                    (
                        "system.methodSignature",
                        vec![Value::from(entry.name.as_str())],
                    ),
                ] {
                    let reply = world.call(introspection, params, credentials).await;
                    assert_eq!(
                        reply.result,
                        Err(Fault::from(Error::UnknownMethod(entry.name.clone()))),
                        "{introspection}({}) as {username}",
                        entry.name
                    );
                }
            }
        }
    }

    // Inside system.multicall the same checks hold per slot (in batches: a multicall
    // takes at most 50 calls).
    for batch in guarded.chunks(50) {
        let slots: Vec<Value> = batch
            .iter()
            .map(|entry| {
                Value::structure([
                    ("methodName", Value::from(entry.name.as_str())),
                    ("params", Value::Array(sample_params(entry))),
                ])
            })
            .collect();
        let nothing = &sessions.iter().find(|s| s.0 == "nothing").unwrap().2;
        for (credentials, message) in [
            (&Credentials::Absent, SESSION_EXPIRED),
            (nothing, ACCESS_NOT_PERMITTED),
        ] {
            let reply = world
                .call(
                    "system.multicall",
                    vec![Value::Array(slots.clone())],
                    credentials,
                )
                .await;
            let Ok(Value::Array(results)) = &reply.result else {
                panic!("multicall: {reply:?}")
            };
            assert_eq!(results.len(), batch.len());
            for (entry, result) in batch.iter().zip(results) {
                assert_eq!(
                    result,
                    &Value::structure([
                        ("faultCode", Value::Int(1001)),
                        ("faultString", Value::from(message)),
                    ]),
                    "{} in a multicall",
                    entry.name
                );
            }
        }
    }
}

/// The 401 challenge through the real HTTP layer (`groupware::http::serve`), for the
/// fixture's session methods: the binary itself may not register any yet.
#[test]
fn http_challenges_calls_without_credentials() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (world, listener) = runtime.block_on(async {
        let world = world().await;
        world.create_user("holder", &["notes"]).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        (world, listener)
    });
    let url = format!("http://{}/xmlrpc", listener.local_addr().unwrap());
    let World {
        _dir: dir,
        store,
        dispatcher,
    } = world;
    let service = Arc::new(Service {
        dispatcher: Arc::new(dispatcher),
        limits: XmlLimits::default(),
        jsonp: false,
    });
    let limits = groupware::http::HttpLimits {
        max_body_bytes: 1 << 20,
        request_timeout: Duration::from_secs(30),
        max_connections: 64,
        max_connections_per_address: 0,
        header_read_timeout: Duration::from_secs(10),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(groupware::http::serve(listener, service, limits, async {
        let _ = stopped.await;
    }));

    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let post = |method: &str, params: &[Value], authorization: Option<&str>| {
        let mut request = client
            .post(&url)
            .header("Content-Type", "text/xml")
            .body(common::encode_call(method, params));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().unwrap();
        let decoded = common::parse_response(&text)
            .unwrap_or_else(|error| panic!("not an XML-RPC response: {error}\n{text}"));
        (status, headers, decoded)
    };

    for method in ["notes.fixture.read", "notes.fixture.listMethods"] {
        let (status, headers, result) = post(method, &[Value::Int(1)], None);
        assert_eq!(status.as_u16(), 401, "{method}");
        assert_eq!(
            headers
                .get("www-authenticate")
                .and_then(|value| value.to_str().ok()),
            Some("Basic realm=\"groupware\""),
            "{method}"
        );
        assert_eq!(
            headers
                .get("content-type")
                .and_then(|value| value.to_str().ok()),
            Some("text/xml; charset=utf-8")
        );
        assert_eq!(result, Err(Fault::new(1001, SESSION_EXPIRED)), "{method}");

        // Credentials that do not work are a plain fault, without a challenge.
        let bad = common::basic_authorization(&"0".repeat(32), &"1".repeat(32));
        for authorization in [bad.as_str(), "Basic ***", "Bearer abc"] {
            let (status, headers, result) = post(method, &[Value::Int(1)], Some(authorization));
            assert_eq!(status.as_u16(), 200, "{method} with {authorization}");
            assert!(headers.get("www-authenticate").is_none());
            assert_eq!(result, Err(Fault::new(1001, SESSION_EXPIRED)));
        }
    }
    // Public methods never challenge; a holder of the application gets through.
    let (status, _, result) = post("notes.fixturepublic.version", &[], None);
    assert_eq!((status.as_u16(), result), (200, Ok(Value::from("1.0"))));
    let password = common::basic_authorization("holder", "holder-password");
    let (status, _, result) = post("notes.fixture.read", &[Value::Int(3)], Some(&password));
    assert_eq!(status.as_u16(), 200);
    assert_eq!(
        result,
        Ok(Value::structure([
            ("id", Value::Int(3)),
            ("owner", Value::from("holder")),
        ]))
    );

    let _ = stop.send(());
    runtime.block_on(server).unwrap();
    // The SQLite pool must be dropped inside the runtime.
    runtime.block_on(async move { drop(store) });
    drop(dir);
}

/// The tables above are the binary's: a user with every application sees in the running
/// server's `system.listMethods` exactly the entries the in-process registry (without the
/// fixture) shows such a user.
#[test]
fn the_tables_are_the_binarys() {
    let registry = Registry::build(&binary_tables(), true).unwrap();
    let account = groupware_api::Account {
        id: 1,
        username: "demo".into(),
        full_name: String::new(),
        email: String::new(),
        timezone: "UTC".into(),
        is_admin: false,
        apps: groupware::admin::KNOWN_APPS
            .iter()
            .map(|app| (*app).to_owned())
            .chain(registry.apps().iter().map(|app| app.name.to_owned()))
            .collect(),
    };
    let expected: BTreeSet<String> = registry
        .entries()
        .filter(|entry| entry.visible_to(Some(&account)))
        .map(|entry| entry.name.clone())
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("gw.db").display());
    let (server, _) = common::Server::launch(&database, &["--demo", "--enable-interop"], &[]);
    let (sessionid, kp3) = server.login("demo", "guest");
    let listed = server
        .call_as(&sessionid, &kp3, "system.listMethods", &[])
        .unwrap();
    let Value::Array(items) = listed else {
        panic!("{listed:?}")
    };
    let listed: BTreeSet<String> = items
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<_> = listed.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "the binary serves methods this test's binary_tables() lacks (add the application's \
         table): {missing:?}"
    );
    let extra: Vec<_> = expected.difference(&listed).collect();
    assert!(
        extra.is_empty(),
        "binary_tables() has methods the binary does not serve: {extra:?}"
    );
}
