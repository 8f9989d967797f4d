//! The per-call CPU path of `addressbook.boaddressbook.read_entries({start: 0, limit: 25})`,
//! stage by stage, without HTTP: decoding the XML-RPC request, the session check (the
//! in-process cache hit every call after the first takes), encoding the 25-contact response,
//! and the whole call through `Service::xmlrpc` on SQLite (decode, auth, one statement,
//! encode).
//!
//! ```text
//! cargo bench --bench call_path                      # every stage, ns per call (median of 7 batches)
//! cargo bench --bench call_path -- --only encode --iters 2000
//! valgrind --tool=callgrind target/release/deps/call_path-HASH --only full --iters 500
//! ```
//!
//! Wall-clock figures on a shared machine are noisy; under callgrind the instruction counts
//! per call (total Ir / iterations, after subtracting a `--iters 0` run for the setup) are
//! exact and comparable between commits. (SQLite's inline-read time budget is lifted
//! here: under callgrind it was passed and the page read twice, which counts from before
//! this was done include.) A measurement, not a test: it asserts nothing
//! about time.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use groupware::accounts::{self, NewAccount};
use groupware::auth::{Auth, AuthConfig};
use groupware::codec::{XmlLimits, xmlrpc};
use groupware::credentials::Credentials;
use groupware::dispatch::{Authenticator, Dispatcher, Request};
use groupware::registry::Registry;
use groupware::service::Service;
use groupware_api::{RequestInfo, Struct, Value};

const CONTACTS: usize = 25;

fn add_body(n: usize) -> String {
    let fields = [
        ("n_given", format!("Given{n}")),
        ("n_family", format!("Family{n:05}")),
        ("n_prefix", "Dr.".to_owned()),
        ("org_name", format!("Organisation {}", n % 17)),
        ("org_unit", "Research &amp; Development".to_owned()),
        ("title", "Engineer".to_owned()),
        ("email", format!("person{n}@example.org")),
        ("tel_work", format!("+49 30 {n:07}")),
        ("tel_cell", format!("+49 170 {n:07}")),
        ("adr_one_street", format!("Hauptstraße {}", n % 200 + 1)),
        ("adr_one_locality", "Berlin".to_owned()),
        ("adr_one_postalcode", format!("{}", 10000 + n)),
    ];
    let members: String = fields
        .iter()
        .map(|(name, value)| {
            format!("<member><name>{name}</name><value><string>{value}</string></value></member>")
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>addressbook.boaddressbook.add\
         </methodName><params><param><value><struct>{members}</struct></value></param>\
         </params></methodCall>"
    )
}

const READ_ENTRIES: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>\
    addressbook.boaddressbook.read_entries</methodName>\n<params>\n<param>\n<value><struct>\n\
    <member>\n<name>start</name>\n<value><int>0</int></value>\n</member>\n<member>\n\
    <name>limit</name>\n<value><int>25</int></value>\n</member>\n</struct></value>\n</param>\n\
    </params>\n</methodCall>\n";

struct Options {
    iters: usize,
    only: Option<String>,
}

fn options() -> Options {
    let mut options = Options {
        iters: 5_000,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iters" => {
                options.iters = args.next().and_then(|n| n.parse().ok()).expect("--iters N");
            }
            "--only" => options.only = Some(args.next().expect("--only STAGE")),
            // `cargo bench` passes --bench; ignore anything else of the harness's.
            _ => {}
        }
    }
    options
}

/// Runs `work` `iters` times in 7 batches and prints the median ns per call.
async fn measure<F, Fut>(name: &str, options: &Options, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    if options.only.as_deref().is_some_and(|only| only != name) {
        return;
    }
    let batches = if options.only.is_some() { 1 } else { 7 };
    let per_batch = (options.iters / batches).max(usize::from(options.iters > 0));
    let mut samples = Vec::new();
    for _ in 0..batches {
        let started = Instant::now();
        for _ in 0..per_batch {
            work().await;
        }
        samples.push(started.elapsed().as_nanos() / per_batch.max(1) as u128);
    }
    samples.sort_unstable();
    println!(
        "{name:<8} {:>9} ns/call (median of {batches} batches of {per_batch})",
        samples[samples.len() / 2]
    );
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    // Under callgrind the clock runs far slower than the work, and the page would pass
    // the inline read's time budget and run twice; lifted, the counts are production's.
    groupware::store::set_inline_budget(std::time::Duration::from_secs(3600));
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = groupware::store::open(&url).await.expect("store");
    groupware::store::migrate::migrate(&store)
        .await
        .expect("migrations");
    accounts::create_account(
        &store,
        NewAccount {
            username: "bench".into(),
            password: Some("bench-password-1".into()),
            full_name: String::new(),
            email: String::new(),
            timezone: "UTC".into(),
            is_admin: false,
            apps: vec!["addressbook".into()],
        },
    )
    .await
    .expect("account");
    let auth = Arc::new(Auth::new(store.clone(), AuthConfig::default()));
    let info = RequestInfo {
        remote_addr: Some([127, 0, 0, 1].into()),
        user_agent: Some("call_path bench".into()),
    };
    let mut login = Struct::default();
    login.insert("username".into(), Value::from("bench"));
    login.insert("password".into(), Value::from("bench-password-1"));
    let Ok(Value::Struct(tokens)) = auth.login(&login, &info).await else {
        panic!("login failed");
    };
    let token = |name: &str| match tokens.get(name) {
        Some(Value::String(text)) => text.to_string(),
        _ => panic!("no {name} in the login reply"),
    };
    let (sessionid, kp3) = (token("sessionid"), token("kp3"));
    let registry = Registry::build(&[groupware_addressbook::methods()], true).expect("registry");
    let authenticator: Arc<dyn Authenticator> = auth.clone();
    let dispatcher = Arc::new(Dispatcher::new(
        registry,
        Some(store.clone()),
        Some(authenticator),
    ));
    let service = Service {
        dispatcher,
        limits: XmlLimits::default(),
        jsonp: false,
    };
    let credentials = Credentials::Basic {
        user: sessionid.clone(),
        secret: kp3.clone(),
    };
    for n in 0..CONTACTS {
        let reply = service
            .xmlrpc(Bytes::from(add_body(n)), credentials.clone(), info.clone())
            .await;
        assert!(
            !reply.body.contains("<fault>"),
            "add failed: {}",
            reply.body
        );
    }
    let request = Bytes::from_static(READ_ENTRIES.as_bytes());
    let limits = XmlLimits::default();
    let call = xmlrpc::decode_call(&request, &limits).expect("decodes");
    let reply = service
        .dispatcher
        .dispatch(call, &Request::new(credentials.clone(), info.clone()))
        .await;
    // The listing as the handler returns it (written straight into the reply).
    let listed = |value: &Value| matches!(value, Value::Array(items) if items.len() == CONTACTS);
    let listing = match reply.result {
        Ok(Value::Written(written)) if listed(&written.to_value()) => Value::Written(written),
        Ok(value) if listed(&value) => value,
        other => panic!("read_entries failed: {other:?}"),
    };

    measure("decode", &options, || {
        let call = xmlrpc::decode_call(&request, &limits).expect("decodes");
        std::hint::black_box(call);
        std::future::ready(())
    })
    .await;
    measure("auth", &options, || async {
        let account = auth
            .authenticate(&sessionid, &kp3, &info)
            .await
            .expect("session");
        std::hint::black_box(account);
    })
    .await;
    measure("encode", &options, || {
        let body = xmlrpc::encode_response(&listing).expect("encodes");
        std::hint::black_box(body);
        std::future::ready(())
    })
    .await;
    measure("full", &options, || async {
        let reply = service
            .xmlrpc(request.clone(), credentials.clone(), info.clone())
            .await;
        std::hint::black_box(reply);
    })
    .await;
}
