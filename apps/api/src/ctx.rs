//! The request context a handler receives.

use std::net::IpAddr;
use std::sync::Arc;

use crate::error::Error;
use crate::store::Store;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    /// Login name (`lid` in eGroupWare).
    pub username: String,
    pub full_name: String,
    pub email: String,
    /// IANA time zone name; dates on the wire are in this zone.
    pub timezone: String,
    pub is_admin: bool,
    /// Applications the account may run (`addressbook`, `calendar`, …).
    pub apps: Vec<String>,
}

impl Account {
    pub fn may_run(&self, app: &str) -> bool {
        self.apps.iter().any(|granted| granted == app)
    }
}

/// Facts about the HTTP request that some methods need, protocol-neutral.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub remote_addr: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// Everything a handler may use. Cheap to clone.
#[derive(Clone, Default)]
pub struct Ctx {
    /// The caller, when the request carried valid credentials.
    pub account: Option<Arc<Account>>,
    store: Option<Store>,
    pub request: Arc<RequestInfo>,
}

impl Ctx {
    pub fn new(account: Option<Arc<Account>>, store: Option<Store>, request: RequestInfo) -> Self {
        Ctx {
            account,
            store,
            request: Arc::new(request),
        }
    }

    /// The storage handle. Only a server built without storage (some unit tests) lacks one.
    pub fn store(&self) -> Result<&Store, Error> {
        self.store
            .as_ref()
            .ok_or_else(|| Error::Internal("no storage configured".into()))
    }

    /// The caller, or `SessionExpired` when the request is anonymous.
    pub fn caller(&self) -> Result<&Account, Error> {
        self.account.as_deref().ok_or(Error::SessionExpired)
    }
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("account", &self.account.as_ref().map(|a| a.id))
            .finish_non_exhaustive()
    }
}
