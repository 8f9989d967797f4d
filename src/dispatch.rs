//! Dispatch: a decoded [`Call`] in, a result or fault out, for every protocol.
//!
//! The order of checks is fixed here and nowhere else: look the name up, authenticate if
//! the method needs a session, check the run right on its application, check the
//! parameter count against the signatures, run it, and map any error to a fault once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use groupware_api::store::{BoxFuture, Store};
use groupware_api::{Account, Ctx, Error, Fault, Params, RequestInfo, Struct, Value};
use tokio::sync::OnceCell;

use crate::codec::Call;
use crate::credentials::Credentials;
use crate::metrics::{self, Metrics, Protocol};
use crate::registry::{Builtin, Entry, Registry, Target};
use crate::system;

/// Most calls one `system.multicall` may carry.
pub const MAX_MULTICALL: usize = 50;

/// Resolves credentials and manages sessions. Implemented over storage in [`crate::auth`];
/// dispatch only sees this interface.
pub trait Authenticator: Send + Sync + 'static {
    /// Turns Basic credentials (`sessionid:kp3`, or `username:password`) into the caller.
    /// Any failure is `Error::SessionExpired`.
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        secret: &'a str,
        request: &'a RequestInfo,
    ) -> BoxFuture<'a, Result<Arc<Account>, Error>>;

    /// `system.login`: returns `{domain, sessionid, kp3}` or `Error::LoginFailed`.
    fn login<'a>(
        &'a self,
        params: &'a Struct,
        request: &'a RequestInfo,
    ) -> BoxFuture<'a, Result<Value, Error>>;

    /// `system.logout` of the session with these tokens; false if there was none.
    fn logout<'a>(&'a self, sessionid: &'a str, kp3: &'a str)
    -> BoxFuture<'a, Result<bool, Error>>;
}

/// One HTTP request's worth of calling context (a multicall shares it among its calls).
pub struct Request {
    pub credentials: Credentials,
    pub info: RequestInfo,
    /// The protocol the request came in over (metrics and logs); XML-RPC unless set.
    pub protocol: Protocol,
    /// The caller once authenticated: `Ok(None)` for refused credentials, `Err(())` when
    /// the backend could not tell (database down), which is not the caller's fault.
    account: OnceCell<Result<Option<Arc<Account>>, ()>>,
    logins: AtomicU32,
}

impl Request {
    pub fn new(credentials: Credentials, info: RequestInfo) -> Self {
        Request {
            credentials,
            info,
            protocol: Protocol::XmlRpc,
            account: OnceCell::new(),
            logins: AtomicU32::new(0),
        }
    }

    /// The same request, marked as having come in over `protocol`.
    #[must_use]
    pub fn over(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The username of the authenticated caller, once dispatch has authenticated it.
    pub fn username(&self) -> Option<&str> {
        self.account
            .get()
            .and_then(|outcome| outcome.as_ref().ok())
            .and_then(Option::as_ref)
            .map(|account| account.username.as_str())
    }

    /// Counts a `system.login` attempt; true if this is the first of the request.
    pub fn first_login(&self) -> bool {
        self.logins.fetch_add(1, Ordering::Relaxed) == 0
    }
}

/// The outcome of dispatching one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub result: Result<Value, Fault>,
    /// The call needed a session and the request carried no credentials at all: the HTTP
    /// layer answers 401 with a Basic challenge (KDE only sends its tokens after one).
    pub challenge: bool,
}

/// Why a single call failed before or while running.
enum CallError {
    /// No credentials at all for a method that needs a session.
    Unauthenticated,
    Failed(Error),
    Fault(Fault),
}

impl From<Error> for CallError {
    fn from(error: Error) -> Self {
        CallError::Failed(error)
    }
}

/// The shared dispatcher.
pub struct Dispatcher {
    pub registry: Registry,
    pub store: Option<Store>,
    pub auth: Option<Arc<dyn Authenticator>>,
    /// Call counts, faults and latencies for `GET /metrics`.
    pub metrics: Arc<Metrics>,
}

impl Dispatcher {
    pub fn new(
        registry: Registry,
        store: Option<Store>,
        auth: Option<Arc<dyn Authenticator>>,
    ) -> Self {
        Dispatcher {
            registry,
            store,
            auth,
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// Runs one decoded call, then logs it (one line: protocol, method, user, duration,
    /// fault code; never parameters) and counts it in the metrics. This is the one place
    /// calls are recorded.
    pub async fn dispatch(&self, call: Call, request: &Request) -> Reply {
        let started = Instant::now();
        let label = self.method_label(&call.method);
        let reply = self.dispatch_unrecorded(call, request).await;
        let elapsed = started.elapsed();
        let fault = reply.result.as_ref().err().map(|fault| fault.code);
        tracing::info!(
            protocol = request.protocol.as_str(),
            method = label,
            user = request.username(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            fault,
            "call"
        );
        self.metrics
            .record_call(request.protocol, label, elapsed, fault);
        if fault.is_some() && matches!(label, "system.login") {
            self.metrics.record_login_failure();
        }
        reply
    }

    /// The method's name as metrics and logs show it: a registry name, or
    /// [`metrics::UNKNOWN_METHOD`] so unknown names cannot grow the label set.
    pub fn method_label<'a>(&'a self, method: &str) -> &'a str {
        self.registry
            .get(method)
            .map_or(metrics::UNKNOWN_METHOD, |entry| entry.name.as_str())
    }

    async fn dispatch_unrecorded(&self, call: Call, request: &Request) -> Reply {
        match self.run(&call.method, call.params, request, false).await {
            Ok(value) => Reply {
                result: Ok(value),
                challenge: false,
            },
            Err(CallError::Unauthenticated) => Reply {
                result: Err(Fault::from(Error::SessionExpired)),
                challenge: true,
            },
            Err(error) => Reply {
                result: Err(self.to_fault(&call.method, error)),
                challenge: false,
            },
        }
    }

    /// Runs a call inside `system.multicall`: each slot gets its own result or fault.
    pub(crate) async fn dispatch_nested(
        &self,
        method: &str,
        params: Vec<Value>,
        request: &Request,
    ) -> Result<Value, Fault> {
        match self.run(method, params, request, true).await {
            Ok(value) => Ok(value),
            Err(CallError::Unauthenticated) => Err(Fault::from(Error::SessionExpired)),
            Err(error) => Err(self.to_fault(method, error)),
        }
    }

    fn to_fault(&self, method: &str, error: CallError) -> Fault {
        match error {
            CallError::Fault(fault) => fault,
            CallError::Unauthenticated => Fault::from(Error::SessionExpired),
            CallError::Failed(error) => {
                if let Some(detail) = error.log_detail() {
                    tracing::error!(method, detail, "call failed");
                }
                Fault::from(error)
            }
        }
    }

    async fn run(
        &self,
        method: &str,
        params: Vec<Value>,
        request: &Request,
        nested: bool,
    ) -> Result<Value, CallError> {
        let Some(entry) = self.registry.get(method) else {
            return Err(CallError::Failed(Error::UnknownMethod(method.to_owned())));
        };
        let account = if entry.flags.requires_session {
            let account = self.require_account(request).await?;
            if !account.may_run(entry.app) {
                return Err(CallError::Failed(Error::AccessNotPermitted));
            }
            Some(account)
        } else if matches!(request.credentials, Credentials::Absent)
            || matches!(entry.target, Target::Builtin(Builtin::Login))
        {
            None
        } else {
            // Credentials that do not work are refused even where none are needed: a
            // client that believes it holds a session must learn that it is gone
            // (`system.login` alone ignores stale credentials, so a client can log in again).
            Some(self.require_account(request).await?)
        };
        if !entry.accepts_count(params.len()) {
            return Err(CallError::Failed(Error::ParamCount(format!(
                "{method} takes {}, got {}",
                describe_counts(entry),
                params.len()
            ))));
        }
        tracing::debug!(method, account = account.as_ref().map(|a| a.id), "call");
        match entry.target {
            Target::App(handler) => {
                let ctx = Ctx::new(account, self.store.clone(), request.info.clone());
                Ok(handler(ctx, Params::new(params)).await?)
            }
            Target::Builtin(builtin) => system::run(
                self,
                builtin,
                entry,
                Params::new(params),
                request,
                account.as_deref(),
                nested,
            )
            .await
            .map_err(|error| match error {
                system::BuiltinError::Failed(error) => CallError::Failed(error),
                system::BuiltinError::Fault(fault) => CallError::Fault(fault),
            }),
        }
    }

    /// The caller, authenticating once per request.
    async fn require_account(&self, request: &Request) -> Result<Arc<Account>, CallError> {
        match &request.credentials {
            Credentials::Absent => Err(CallError::Unauthenticated),
            Credentials::Malformed => Err(CallError::Failed(Error::SessionExpired)),
            Credentials::Basic { .. } => match self.authenticated(request).await {
                Ok(Some(account)) => Ok(account),
                Ok(None) => Err(CallError::Failed(Error::SessionExpired)),
                // A database outage must not look like a logout (clients would drop their
                // session and log in again): it is fault 1003 like any other call's.
                Err(()) => Err(CallError::Failed(Error::Storage(
                    "authentication backend unavailable".into(),
                ))),
            },
        }
    }

    /// The caller if the request carries valid credentials, else anonymous.
    pub(crate) async fn optional_account(&self, request: &Request) -> Option<Arc<Account>> {
        self.authenticated(request).await.ok().flatten()
    }

    /// Authenticates once per request: `Ok(None)` when there are no usable credentials,
    /// `Err(())` when the backend failed (logged here).
    async fn authenticated(&self, request: &Request) -> Result<Option<Arc<Account>>, ()> {
        let Credentials::Basic { user, secret } = &request.credentials else {
            return Ok(None);
        };
        let Some(auth) = self.auth.as_ref() else {
            return Ok(None);
        };
        request
            .account
            .get_or_init(|| async {
                match auth.authenticate(user, secret, &request.info).await {
                    Ok(account) => Ok(Some(account)),
                    Err(error) => match error.log_detail() {
                        Some(detail) => {
                            tracing::error!(detail, "authentication failed on the backend");
                            Err(())
                        }
                        None => Ok(None),
                    },
                }
            })
            .await
            .clone()
    }
}

/// "1 parameter", "0 or 1 parameters", … from the signatures.
fn describe_counts(entry: &Entry) -> String {
    let mut counts: Vec<usize> = entry
        .signatures
        .iter()
        .map(|sig| sig.len().saturating_sub(1))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    let list = counts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    let plural = if counts == [1] {
        "parameter"
    } else {
        "parameters"
    };
    format!("{list} {plural}")
}
