//! The methods the core implements itself: `system.*` and per-class introspection.

use chrono::Utc;
use groupware_api::params::StructExt;
use groupware_api::{Account, Error, Fault, Params, Struct, Value};

use crate::dispatch::{Dispatcher, MAX_MULTICALL, Request};
use crate::registry::{API_VERSION, Builtin, Entry};

/// A builtin's failure: a typed error, or a protocol fault decided here (multicall).
pub enum BuiltinError {
    Failed(Error),
    Fault(Fault),
}

impl From<Error> for BuiltinError {
    fn from(error: Error) -> Self {
        BuiltinError::Failed(error)
    }
}

/// Runs a builtin method.
pub(crate) async fn run(
    dispatcher: &Dispatcher,
    builtin: Builtin,
    entry: &Entry,
    params: Params,
    request: &Request,
    account: Option<&Account>,
    nested: bool,
) -> Result<Value, BuiltinError> {
    let registry = &dispatcher.registry;
    let value = match builtin {
        Builtin::ListMethods => Value::Array(
            registry
                .entries()
                .filter(|entry| entry.visible_to(account))
                .map(|entry| Value::from(entry.name.as_str()))
                .collect(),
        ),
        Builtin::MethodHelp => {
            Value::from(visible_entry(dispatcher, &params, account)?.help.as_str())
        }
        Builtin::MethodSignature => signatures(visible_entry(dispatcher, &params, account)?),
        Builtin::Multicall => return multicall(dispatcher, params, request, nested).await,
        Builtin::ListApps => Value::Struct(
            registry
                .apps()
                .iter()
                .filter(|app| {
                    account.is_some_and(|account| account.may_run(app.name))
                        || !app_needs_session(dispatcher, app.name)
                })
                .map(|app| {
                    (
                        app.name.into(),
                        Value::structure([
                            ("title", Value::from(app.title)),
                            ("name", Value::from(app.name)),
                            ("status", Value::from("enabled")),
                            ("version", Value::from(app.version)),
                        ]),
                    )
                })
                .collect(),
        ),
        Builtin::Time => time(account),
        Builtin::ApiVersion => Value::from(API_VERSION),
        Builtin::Capabilities => capabilities(),
        Builtin::Login => {
            let auth = dispatcher
                .auth
                .as_ref()
                .ok_or_else(|| Error::Internal("no session storage".into()))?;
            if nested || !request.first_login() {
                // A multicall must not become a password-guessing loop.
                return Err(Error::LoginFailed.into());
            }
            let members: Struct = params.single()?;
            auth.login(&members, &request.info).await?
        }
        Builtin::Logout => logout(dispatcher, &params, request).await?,
        Builtin::ClassListMethods => class_list_methods(dispatcher, entry, &params)?,
        Builtin::ClassListNames => {
            let class = entry.class_prefix();
            let mut names = vec![
                Value::from("system.login"),
                Value::from("system.logout"),
                Value::from(format!("{class}.listMethods")),
                Value::from(format!("{class}.describeMethods")),
            ];
            names.extend(
                registry
                    .class_members(class)
                    .map(|member| Value::from(short_name(&member.name))),
            );
            Value::Array(names)
        }
        Builtin::ClassDescribeMethods => Value::Array(
            registry
                .class_members(entry.class_prefix())
                .map(|member| {
                    Value::structure([
                        ("name", Value::from(short_name(&member.name))),
                        ("description", Value::from(member.help.as_str())),
                        ("author", Value::from(member.author)),
                        ("signature", signatures(member)),
                    ])
                })
                .collect(),
        ),
    };
    Ok(value)
}

fn app_needs_session(dispatcher: &Dispatcher, app: &str) -> bool {
    dispatcher
        .registry
        .entries()
        .any(|entry| entry.app == app && entry.flags.requires_session)
}

fn short_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The entry named by the single string parameter, if the caller may see it.
fn visible_entry<'a>(
    dispatcher: &'a Dispatcher,
    params: &Params,
    account: Option<&Account>,
) -> Result<&'a Entry, Error> {
    let name: String = params.single()?;
    dispatcher
        .registry
        .get(&name)
        .filter(|entry| entry.visible_to(account))
        .ok_or(Error::UnknownMethod(name))
}

fn signatures(entry: &Entry) -> Value {
    if entry.signatures.is_empty() {
        return Value::from("undef");
    }
    Value::Array(
        entry
            .signatures
            .iter()
            .map(|signature| {
                Value::Array(signature.iter().map(|name| Value::from(*name)).collect())
            })
            .collect(),
    )
}

fn time(account: Option<&Account>) -> Value {
    let now = Utc::now().naive_utc();
    let mut members = Struct::default();
    members.insert("system".into(), Value::DateTime(now));
    members.insert("system_tz_offset".into(), Value::Int(0));
    if account.is_some() {
        // Per-user time zones arrive with the applications; until then users are on UTC.
        members.insert("user".into(), Value::DateTime(now));
        members.insert("user_tz_offset".into(), Value::Int(0));
    }
    Value::Struct(members)
}

fn capabilities() -> Value {
    let spec = |url: &str, version: i64| {
        Value::structure([
            ("specUrl", Value::from(url)),
            ("specVersion", Value::Int(version)),
        ])
    };
    Value::structure([
        ("xmlrpc", spec("http://www.xmlrpc.com/spec", 1)),
        (
            "system.multicall",
            spec("http://www.xmlrpc.com/discuss/msgReader$1208", 1),
        ),
        (
            "introspect",
            spec(
                "http://xmlrpc-c.sourceforge.net/xmlrpc-c/introspection.html",
                1,
            ),
        ),
        (
            "faultcode_interop",
            spec(
                "http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php",
                20_010_516,
            ),
        ),
        (
            "nil",
            spec("http://www.ontosys.com/xml-rpc/extensions.php", 20_010_516),
        ),
    ])
}

async fn multicall(
    dispatcher: &Dispatcher,
    params: Params,
    request: &Request,
    nested: bool,
) -> Result<Value, BuiltinError> {
    if nested {
        return Err(BuiltinError::Fault(Fault::new(
            Fault::INVALID_REQUEST,
            "Recursive system.multicall is forbidden",
        )));
    }
    let calls: Vec<Value> = params.single()?;
    if calls.len() > MAX_MULTICALL {
        return Err(Error::invalid(format!(
            "system.multicall takes at most {MAX_MULTICALL} calls, got {}",
            calls.len()
        ))
        .into());
    }
    let mut slots = Vec::with_capacity(calls.len());
    for call in calls {
        let result = match slot_call(call) {
            Ok((method, call_params)) => {
                Box::pin(dispatcher.dispatch_nested(&method, call_params, request)).await
            }
            Err(fault) => Err(fault),
        };
        slots.push(match result {
            Ok(value) => Value::Array(vec![value]),
            Err(fault) => Value::structure([
                ("faultCode", Value::Int(i64::from(fault.code))),
                ("faultString", Value::from(fault.message)),
            ]),
        });
    }
    Ok(Value::Array(slots))
}

/// Reads one multicall slot: `{methodName: string, params: array}`.
fn slot_call(call: Value) -> Result<(String, Vec<Value>), Fault> {
    let slot_fault = |message: &str| {
        Fault::new(
            Fault::INVALID_REQUEST,
            format!("system.multicall: {message}"),
        )
    };
    let Value::Struct(mut members) = call else {
        return Err(slot_fault(
            "each call must be a struct {methodName, params}",
        ));
    };
    let method = match members.shift_remove("methodName") {
        Some(Value::String(name)) => name.into_string(),
        Some(_) => return Err(slot_fault("methodName must be a string")),
        None => return Err(slot_fault("a call lacks methodName")),
    };
    let params = match members.shift_remove("params") {
        Some(Value::Array(items)) => items,
        None => Vec::new(),
        Some(_) => return Err(slot_fault("params must be an array")),
    };
    Ok((method, params))
}

async fn logout(
    dispatcher: &Dispatcher,
    params: &Params,
    request: &Request,
) -> Result<Value, Error> {
    let auth = dispatcher
        .auth
        .as_ref()
        .ok_or_else(|| Error::Internal("no session storage".into()))?;
    let from_params = match params.optional::<Struct>(0)? {
        Some(members) => match (
            members.optional_member::<String>("sessionid")?,
            members.optional_member::<String>("kp3")?,
        ) {
            (Some(sessionid), Some(kp3)) => Some((sessionid, kp3)),
            _ => None,
        },
        None => None,
    };
    let tokens = from_params.or_else(|| match &request.credentials {
        crate::credentials::Credentials::Basic { user, secret } => {
            Some((user.clone(), secret.clone()))
        }
        _ => None,
    });
    let Some((sessionid, kp3)) = tokens else {
        return Err(Error::invalid(
            "system.logout needs {sessionid, kp3} or the session's Basic credentials",
        ));
    };
    if auth.logout(&sessionid, &kp3).await? {
        Ok(Value::structure([("GOODBYE", Value::from("XOXO"))]))
    } else {
        Err(Error::SessionExpired)
    }
}

fn class_list_methods(
    dispatcher: &Dispatcher,
    entry: &Entry,
    params: &Params,
) -> Result<Value, Error> {
    let kind = match params.optional::<Value>(0)? {
        None => "xmlrpc".to_owned(),
        Some(Value::String(kind)) => kind.into_string(),
        Some(Value::Struct(members)) => members
            .optional_member::<String>("type")?
            .unwrap_or_else(|| "xmlrpc".into()),
        Some(Value::Array(items)) => items
            .first()
            .and_then(Value::as_str)
            .unwrap_or("xmlrpc")
            .to_owned(),
        Some(other) => {
            return Err(Error::invalid(format!(
                "parameter 1: wanted string, got {}",
                other.type_name()
            )));
        }
    };
    let soap = match kind.as_str() {
        "xmlrpc" => false,
        "soap" => true,
        other => {
            return Err(Error::invalid(format!(
                "unknown interface '{other}': use 'xmlrpc' or 'soap'"
            )));
        }
    };
    let mut methods = Struct::default();
    for member in dispatcher.registry.class_members(entry.class_prefix()) {
        let description = if soap {
            let first = member.signatures.first().copied().unwrap_or(&[]);
            let types = |names: &[&str]| {
                Value::Array(names.iter().map(|name| Value::from(*name)).collect())
            };
            Value::structure([
                ("in", types(first.get(1..).unwrap_or(&[]))),
                ("out", types(first.get(..1).unwrap_or(&[]))),
            ])
        } else {
            Value::structure([
                ("function", Value::from(member.function.as_str())),
                ("signature", signatures(member)),
                ("docstring", Value::from(member.help.as_str())),
            ])
        };
        methods.insert(short_name(&member.name).to_owned().into(), description);
    }
    Ok(Value::Struct(methods))
}
