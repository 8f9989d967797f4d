//! The method registry: every application's table merged, checked once at startup.
//!
//! Dispatch looks methods up here by exact full name and nowhere else. The registry also
//! adds the `system.*` methods and, for each `app.class` prefix, the per-class
//! introspection methods eGroupWare (`list_methods`) and phpGroupWare (`listMethods`,
//! `describeMethods`) clients call.

use std::collections::{BTreeMap, HashMap};

use groupware_api::{Account, Flags, Handler, MethodTable, ParamDef, StructDef};

/// What runs when an entry is called.
#[derive(Clone, Copy)]
pub enum Target {
    /// An application's handler.
    App(Handler),
    /// A method the core implements itself because it needs the registry or sessions.
    Builtin(Builtin),
}

/// Core-implemented methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    ListMethods,
    MethodHelp,
    MethodSignature,
    Multicall,
    ListApps,
    Time,
    ApiVersion,
    Capabilities,
    Login,
    Logout,
    /// `app.class.list_methods`: eGroupWare's struct of name → {function, signature, docstring}.
    ClassListMethods,
    /// `app.class.listMethods`: phpGroupWare's array of names.
    ClassListNames,
    /// `app.class.describeMethods`: phpGroupWare's array of {name, description, …}.
    ClassDescribeMethods,
}

/// One callable method.
#[derive(Clone)]
pub struct Entry {
    pub name: String,
    /// The run right that gates it (`addressbook`), or `system`.
    pub app: &'static str,
    pub function: String,
    pub signatures: &'static [&'static [&'static str]],
    pub help: String,
    pub author: &'static str,
    pub flags: Flags,
    pub target: Target,
    /// Named parameters and the result type, for the WSDL (see [`ParamDef`]).
    pub params: &'static [ParamDef],
    pub returns: &'static str,
}

impl Entry {
    /// Whether `count` parameters match some signature.
    pub fn accepts_count(&self, count: usize) -> bool {
        self.signatures.is_empty() || self.signatures.iter().any(|sig| sig.len() == count + 1)
    }

    /// The `app.class` prefix of a per-class introspection method.
    pub fn class_prefix(&self) -> &str {
        self.name
            .rsplit_once('.')
            .map_or(self.name.as_str(), |(prefix, _)| prefix)
    }

    /// Whether `account` (or an anonymous caller) may see and call this method.
    pub fn visible_to(&self, account: Option<&Account>) -> bool {
        !self.flags.requires_session || account.is_some_and(|account| account.may_run(self.app))
    }
}

/// An application as `system.listApps` reports it.
#[derive(Debug, Clone)]
pub struct AppInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub version: &'static str,
}

/// Why the tables could not be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("method {0} is declared twice")]
    Duplicate(String),
    #[error("method name {0:?} is not a valid dotted name")]
    InvalidName(String),
    #[error("methods {0} and {1} have the same SOAP name")]
    SoapNameClash(String, String),
    #[error("struct {0} is declared twice")]
    DuplicateStruct(String),
}

/// All methods, by full name.
pub struct Registry {
    entries: HashMap<String, Entry>,
    /// Names in sorted order, for stable listings.
    sorted: Vec<String>,
    apps: Vec<AppInfo>,
    /// `app_class_method` → `app.class.method`: SOAP element names cannot always carry
    /// dots comfortably, so each name also has its underscore spelling, fixed at build time.
    soap_names: HashMap<String, String>,
    /// Declared structs of every table (and the core's own), by name.
    structs: BTreeMap<&'static str, StructDef>,
}

/// The core's declared structs: what `system.login` and `system.logout` take and return.
const SYSTEM_STRUCTS: &[StructDef] = &[
    StructDef {
        name: "LoginRequest",
        description: "Credentials for system.login.",
        members: &[
            ("username", "string", "The account name."),
            ("password", "string", "The password."),
            (
                "domain",
                "string",
                "The domain (optional; only 'default' exists).",
            ),
            (
                "server_name",
                "string",
                "eGroupWare's old spelling of domain (optional).",
            ),
        ],
    },
    StructDef {
        name: "Session",
        description: "A session: send sessionid:kp3 as HTTP Basic credentials afterwards.",
        members: &[
            ("domain", "string", "The domain logged in to."),
            ("sessionid", "string", "The session id."),
            ("kp3", "string", "The session's second token."),
        ],
    },
    StructDef {
        name: "SessionTokens",
        description: "The tokens of a session, to end it.",
        members: &[
            ("sessionid", "string", "The session id."),
            ("kp3", "string", "The session's second token."),
        ],
    },
    StructDef {
        name: "Goodbye",
        description: "system.logout's answer.",
        members: &[("GOODBYE", "string", "'XOXO' when the session ended.")],
    },
];

/// Parameter names and types of the core methods that have them.
fn system_doc(name: &str) -> (&'static [ParamDef], &'static str) {
    match name {
        "system.login" => (
            &[ParamDef {
                name: "params",
                ty: "LoginRequest",
                description: "The credentials.",
            }],
            "Session",
        ),
        "system.logout" => (
            &[ParamDef {
                name: "params",
                ty: "SessionTokens",
                description: "The session to end (optional: the request's own).",
            }],
            "Goodbye",
        ),
        "system.methodHelp" | "system.methodSignature" => (
            &[ParamDef {
                name: "method",
                ty: "string",
                description: "A method name.",
            }],
            "",
        ),
        _ => (&[], ""),
    }
}

/// The API version `system.phpgw_api_version` reports: the eGroupWare release whose
/// remote API this server reproduces.
pub const API_VERSION: &str = "1.8.007";

const SYSTEM_METHODS: &[(&str, Builtin, &[&[&str]], &str)] = &[
    (
        "system.listMethods",
        Builtin::ListMethods,
        &[&["array"], &["array", "string"]],
        "Lists the methods the caller may call (all applications' methods when authenticated with their run rights).",
    ),
    (
        "system.methodHelp",
        Builtin::MethodHelp,
        &[&["string", "string"]],
        "Returns the help text of a method.",
    ),
    (
        "system.methodSignature",
        Builtin::MethodSignature,
        &[&["array", "string"]],
        "Returns a method's signatures: an array of arrays of type names, return type first.",
    ),
    (
        "system.multicall",
        Builtin::Multicall,
        &[&["array", "array"]],
        "Runs several calls in one request. Takes an array of {methodName, params}; returns one slot per call: a one-element array with the result, or a fault struct. At most 50 calls; no nesting.",
    ),
    (
        "system.listApps",
        Builtin::ListApps,
        &[&["struct"]],
        "Lists the applications the caller may use, keyed by name: {title, name, status, version}.",
    ),
    (
        "system.time",
        Builtin::Time,
        &[&["struct"]],
        "Returns the server time (UTC) and, when authenticated, the time in the caller's time zone with its offset in seconds.",
    ),
    (
        "system.phpgw_api_version",
        Builtin::ApiVersion,
        &[&["string"]],
        "Returns the eGroupWare API version this server is compatible with.",
    ),
    (
        "system.getCapabilities",
        Builtin::Capabilities,
        &[&["struct"]],
        "Lists the XML-RPC specifications and extensions this server implements.",
    ),
];

/// Login and logout, registered only when the server has session storage.
pub const SESSION_METHODS: &[(&str, Builtin, &[&[&str]], &str)] = &[
    (
        "system.login",
        Builtin::Login,
        &[&["struct", "struct"]],
        "Logs in. Takes {username, password, domain?, server_name?}; returns {domain, sessionid, kp3}. Send later requests with HTTP Basic auth sessionid:kp3. A failure is fault 1001 'Login failed'.",
    ),
    (
        "system.logout",
        Builtin::Logout,
        &[&["struct", "struct"], &["struct"]],
        "Ends a session. Takes {sessionid, kp3} (or uses the request's own Basic credentials); returns {GOODBYE: 'XOXO'}.",
    ),
];

/// Builtins need no session; all but login, logout and multicall (which may run anything)
/// only read, so JSON-RPC may offer them over GET.
fn builtin_flags(builtin: Builtin) -> Flags {
    match builtin {
        Builtin::Login | Builtin::Logout | Builtin::Multicall => Flags {
            read_only: false,
            requires_session: false,
        },
        _ => Flags::PUBLIC,
    }
}

impl Registry {
    /// Merges the tables. `with_sessions` adds `system.login`/`system.logout`.
    pub fn build(tables: &[MethodTable], with_sessions: bool) -> Result<Registry, RegistryError> {
        let mut registry = Registry {
            entries: HashMap::new(),
            sorted: Vec::new(),
            apps: Vec::new(),
            soap_names: HashMap::new(),
            structs: BTreeMap::new(),
        };
        for def in SYSTEM_STRUCTS {
            registry.add_struct(*def)?;
        }
        let session_methods: &[_] = if with_sessions { SESSION_METHODS } else { &[] };
        for (name, builtin, signatures, help) in SYSTEM_METHODS.iter().chain(session_methods) {
            let (params, returns) = system_doc(name);
            registry.insert(Entry {
                name: (*name).to_owned(),
                app: "system",
                function: (*name).to_owned(),
                signatures,
                help: (*help).to_owned(),
                author: "groupware",
                flags: builtin_flags(*builtin),
                target: Target::Builtin(*builtin),
                params,
                returns,
            })?;
        }
        for table in tables {
            registry.apps.push(AppInfo {
                name: table.app,
                title: table.title,
                version: table.version,
            });
            for def in table.structs {
                registry.add_struct(*def)?;
            }
            let mut classes: BTreeMap<&str, Flags> = BTreeMap::new();
            for method in &table.methods {
                let dots = method.name.matches('.').count();
                if dots == 0 || method.name.split('.').any(str::is_empty) {
                    return Err(RegistryError::InvalidName(method.name.to_owned()));
                }
                if let Some(class) = method.class() {
                    classes.entry(class).or_insert(method.flags);
                }
                registry.insert(Entry {
                    name: method.name.to_owned(),
                    app: table.app,
                    function: method.function.to_owned(),
                    signatures: method.signatures,
                    help: method.help.to_owned(),
                    author: method.author,
                    flags: method.flags,
                    target: Target::App(method.handler),
                    params: method.params,
                    returns: method.returns,
                })?;
            }
            for (class, method_flags) in classes {
                registry.add_class_introspection(table.app, class, method_flags)?;
            }
        }
        registry.sorted = registry.entries.keys().cloned().collect();
        registry.sorted.sort();
        Ok(registry)
    }

    fn add_class_introspection(
        &mut self,
        app: &'static str,
        class: &str,
        method_flags: Flags,
    ) -> Result<(), RegistryError> {
        let flags = Flags {
            read_only: true,
            requires_session: method_flags.requires_session,
        };
        let generated: [(&str, Builtin, &'static [&'static [&'static str]], &str); 3] = [
            (
                "list_methods",
                Builtin::ClassListMethods,
                &[&["struct", "string"], &["struct"]],
                "Describes this class's methods (eGroupWare style): a struct keyed by method name, each {function, signature, docstring}. Pass 'xmlrpc' (default) or 'soap'.",
            ),
            (
                "listMethods",
                Builtin::ClassListNames,
                &[&["array"]],
                "Lists this class's method names (phpGroupWare style).",
            ),
            (
                "describeMethods",
                Builtin::ClassDescribeMethods,
                &[&["array"]],
                "Describes this class's methods (phpGroupWare style): an array of {name, description, author, signature}.",
            ),
        ];
        for (short, builtin, signatures, help) in generated {
            let name = format!("{class}.{short}");
            if self.entries.contains_key(&name) {
                continue;
            }
            self.insert(Entry {
                name,
                app,
                function: short.to_owned(),
                signatures,
                help: help.to_owned(),
                author: "groupware",
                flags,
                target: Target::Builtin(builtin),
                params: &[],
                returns: "",
            })?;
        }
        Ok(())
    }

    fn insert(&mut self, entry: Entry) -> Result<(), RegistryError> {
        if self.entries.contains_key(&entry.name) {
            return Err(RegistryError::Duplicate(entry.name));
        }
        let soap_name = entry.name.replace('.', "_");
        if let Some(other) = self.soap_names.get(&soap_name) {
            return Err(RegistryError::SoapNameClash(other.clone(), entry.name));
        }
        self.soap_names.insert(soap_name, entry.name.clone());
        self.entries.insert(entry.name.clone(), entry);
        Ok(())
    }

    fn add_struct(&mut self, def: StructDef) -> Result<(), RegistryError> {
        if self.structs.insert(def.name, def).is_some() {
            return Err(RegistryError::DuplicateStruct(def.name.to_owned()));
        }
        Ok(())
    }

    /// The full name of a method from its SOAP spelling: the dotted name itself, or the
    /// underscore spelling (`system_login`).
    pub fn resolve_soap_name(&self, name: &str) -> Option<&str> {
        if let Some(entry) = self.entries.get(name) {
            return Some(&entry.name);
        }
        self.soap_names.get(name).map(String::as_str)
    }

    /// A declared struct by name.
    pub fn struct_def(&self, name: &str) -> Option<&StructDef> {
        self.structs.get(name)
    }

    /// Every declared struct, by name.
    pub fn structs(&self) -> impl Iterator<Item = &StructDef> {
        self.structs.values()
    }

    /// The entry of that exact name.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// All entries in name order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.sorted.iter().filter_map(|name| self.entries.get(name))
    }

    /// The entries of one `app.class`, in name order, without the generated introspection.
    pub fn class_members<'a>(&'a self, class: &'a str) -> impl Iterator<Item = &'a Entry> {
        self.entries().filter(move |entry| {
            entry.class_prefix() == class && matches!(entry.target, Target::App(_))
        })
    }

    pub fn apps(&self) -> &[AppInfo] {
        &self.apps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use groupware_api::{Ctx, HandlerFuture, MethodDef, Params, Value};

    fn noop(_ctx: Ctx, _params: Params) -> HandlerFuture {
        Box::pin(async { Ok(Value::Nil) })
    }

    fn table(names: &[&'static str]) -> MethodTable {
        MethodTable {
            app: "addressbook",
            title: "Addressbook",
            version: "1.0",
            structs: &[],
            methods: names
                .iter()
                .map(|name| MethodDef {
                    name,
                    function: "noop",
                    signatures: &[&["struct", "struct"]],
                    help: "help",
                    author: "me",
                    flags: Flags::READ,
                    handler: noop,
                    params: &[],
                    returns: "",
                })
                .collect(),
        }
    }

    #[test]
    fn duplicates_are_refused() {
        let result = Registry::build(&[table(&["a.b.c"]), table(&["a.b.c"])], false);
        assert_eq!(result.err(), Some(RegistryError::Duplicate("a.b.c".into())));
    }

    #[test]
    fn system_names_cannot_be_taken_by_apps() {
        let result = Registry::build(&[table(&["system.listMethods"])], false);
        assert!(matches!(result, Err(RegistryError::Duplicate(_))));
    }

    #[test]
    fn class_introspection_is_generated() {
        let Ok(registry) = Registry::build(&[table(&["addressbook.boaddressbook.read"])], true)
        else {
            panic!("build failed");
        };
        for name in ["list_methods", "listMethods", "describeMethods"] {
            let entry = registry.get(&format!("addressbook.boaddressbook.{name}"));
            assert!(
                entry.is_some_and(|e| e.app == "addressbook" && e.flags.requires_session),
                "{name}"
            );
        }
        assert!(registry.get("system.login").is_some());
        let members: Vec<_> = registry
            .class_members("addressbook.boaddressbook")
            .map(|e| e.name.clone())
            .collect();
        assert_eq!(members, ["addressbook.boaddressbook.read"]);
    }

    #[test]
    fn app_methods_are_hidden_from_callers_without_the_right() {
        let Ok(registry) = Registry::build(&[table(&["addressbook.boaddressbook.read"])], false)
        else {
            panic!("build failed");
        };
        let Some(entry) = registry.get("addressbook.boaddressbook.read") else {
            panic!("missing")
        };
        let mut account = Account {
            id: 1,
            username: "u".into(),
            full_name: String::new(),
            email: String::new(),
            timezone: "UTC".into(),
            is_admin: false,
            apps: vec![],
        };
        assert!(!entry.visible_to(None));
        assert!(!entry.visible_to(Some(&account)));
        account.apps.push("addressbook".into());
        assert!(entry.visible_to(Some(&account)));
    }

    #[test]
    fn only_reading_builtins_are_read_only() {
        let Ok(registry) = Registry::build(&[table(&["addressbook.boaddressbook.read"])], true)
        else {
            panic!("build failed");
        };
        let read_only = |name: &str| registry.get(name).map(|entry| entry.flags.read_only);
        for name in ["system.login", "system.logout", "system.multicall"] {
            assert_eq!(read_only(name), Some(false), "{name}");
        }
        for name in [
            "system.listMethods",
            "system.time",
            "addressbook.boaddressbook.listMethods",
        ] {
            assert_eq!(read_only(name), Some(true), "{name}");
        }
    }

    #[test]
    fn soap_names_resolve_both_spellings() {
        let Ok(registry) = Registry::build(&[table(&["addressbook.boaddressbook.read"])], true)
        else {
            panic!("build failed");
        };
        for name in [
            "addressbook.boaddressbook.read",
            "addressbook_boaddressbook_read",
        ] {
            assert_eq!(
                registry.resolve_soap_name(name),
                Some("addressbook.boaddressbook.read")
            );
        }
        assert_eq!(
            registry.resolve_soap_name("system_login"),
            Some("system.login")
        );
        assert_eq!(registry.resolve_soap_name("addressbook_read"), None);
        assert!(registry.struct_def("Session").is_some());
    }

    #[test]
    fn soap_name_clashes_are_refused() {
        let result = Registry::build(&[table(&["a.b_c.d", "a.b.c_d"])], false);
        assert!(matches!(result, Err(RegistryError::SoapNameClash(_, _))));
    }

    #[test]
    fn malformed_names_are_refused() {
        assert!(matches!(
            Registry::build(&[table(&["nodots"])], false),
            Err(RegistryError::InvalidName(_))
        ));
        assert!(matches!(
            Registry::build(&[table(&["a..b"])], false),
            Err(RegistryError::InvalidName(_))
        ));
    }
}
