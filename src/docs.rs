//! The browsable API documentation page, generated from the registry.
//!
//! One self-contained HTML document (inline CSS, no scripts, no external assets, a viewport
//! meta for phones): per application, each method with its signatures, help text, flags,
//! the protocols that reach it and copy-paste examples for Python `xmlrpc.client`, curl with
//! XML-RPC, JSON-RPC and SOAP. Every piece of text is HTML-escaped.
//!
//! What a visitor sees follows what they may call: with valid credentials, exactly the
//! methods `system.listMethods` lists for them; anonymously, the public methods in full and
//! the names of the methods that need a session, with a note that logging in shows them.
//! The module knows nothing of HTTP; the service hands it the caller and the base URL.

use std::fmt::Write as _;

use groupware_api::{Account, Struct, Value};

use crate::codec::{jsonrpc, xmlrpc};
use crate::registry::{Entry, Registry};

/// Who is looking and how they reached the server.
pub struct PageContext<'a> {
    /// The authenticated caller, if any.
    pub account: Option<&'a Account>,
    /// Credentials were sent but not accepted (the page then shows the anonymous view).
    pub credentials_refused: bool,
    /// `http://host:port` as the client addressed the server, used in the examples.
    pub base_url: &'a str,
    /// Whether JSONP is enabled (`--jsonp`).
    pub jsonp: bool,
}

const STYLE: &str = "\
body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;\
max-width:60rem;padding:0 1rem 3rem;color:#1b1b1b;background:#fff}\
h1{font-size:1.6rem;margin:1.2rem 0 .4rem}h2{font-size:1.3rem;margin-top:2rem;\
border-bottom:2px solid #ddd}h3{font-size:1.05rem;margin:0;word-break:break-all}\
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88rem}\
pre{background:#f4f4f4;padding:.6rem;overflow-x:auto;white-space:pre;border-radius:4px}\
.method{border:1px solid #ddd;border-radius:6px;padding:.7rem .9rem;margin:.8rem 0}\
.tag{display:inline-block;font-size:.75rem;padding:0 .4rem;border-radius:3px;\
margin-right:.3rem;background:#e8eef8;color:#1d3d6e}.tag.session{background:#fdecd2;\
color:#6a3d00}.tag.write{background:#fbe1e1;color:#7a1b1b}\
.note{background:#fffbe6;border-left:4px solid #e0b400;padding:.5rem .8rem}\
summary{cursor:pointer;color:#1d3d6e}ul.names{columns:18rem}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}\
nav a{margin-right:.8rem}";

/// Renders the page.
pub fn render(registry: &Registry, context: &PageContext<'_>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>groupware remote API</title><style>",
    );
    out.push_str(STYLE);
    out.push_str("</style></head><body>\n<h1>groupware remote API</h1>\n");
    write_intro(&mut out, context);

    let groups = groups(registry);
    out.push_str("<nav id=\"contents\"><strong>Applications:</strong> ");
    for (name, title, _) in &groups {
        let _ = write!(
            out,
            "<a href=\"#app-{}\">{}</a>",
            escape(name),
            escape(title)
        );
    }
    out.push_str("</nav>\n<main id=\"methods\">\n");
    for (name, title, entries) in &groups {
        let (visible, locked): (Vec<&Entry>, Vec<&Entry>) = entries
            .iter()
            .partition(|entry| entry.visible_to(context.account));
        if visible.is_empty() && locked.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<section class=\"app\" id=\"app-{}\"><h2>{} <code>{}</code></h2>",
            escape(name),
            escape(title),
            escape(name)
        );
        for entry in &visible {
            write_method(&mut out, entry, context);
        }
        write_structs(&mut out, registry, &visible);
        if !locked.is_empty() {
            let why = if context.account.is_some() {
                "Your account has no run right on this application; these methods are not available to you:"
            } else {
                "These methods need a session. Log in (see above) to see their signatures, help and examples:"
            };
            let _ = write!(
                out,
                "<p class=\"note\">{}</p><ul class=\"names locked\">",
                escape(why)
            );
            for entry in &locked {
                let _ = write!(out, "<li><code>{}</code></li>", escape(&entry.name));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n</body></html>\n");
    out
}

/// Applications in registry order, `system` first, each with its entries in name order.
fn groups(registry: &Registry) -> Vec<(&str, &str, Vec<&Entry>)> {
    let mut groups: Vec<(&str, &str, Vec<&Entry>)> = vec![("system", "System", Vec::new())];
    groups.extend(
        registry
            .apps()
            .iter()
            .map(|app| (app.name, app.title, Vec::new())),
    );
    for entry in registry.entries() {
        if let Some(group) = groups.iter_mut().find(|(name, _, _)| *name == entry.app) {
            group.2.push(entry);
        }
    }
    groups
}

fn write_intro(out: &mut String, context: &PageContext<'_>) {
    let base = context.base_url;
    match context.account {
        Some(account) => {
            let _ = writeln!(
                out,
                "<p>Signed in as <strong>{}</strong>: this page lists exactly the methods you may call.</p>",
                escape(&account.username)
            );
        }
        None => {
            if context.credentials_refused {
                out.push_str(
                    "<p class=\"note\">The credentials sent with this request were not accepted; showing the anonymous view.</p>\n",
                );
            }
            out.push_str(
                "<p>You are not signed in: public methods are documented in full, and the \
                 methods that need a session are listed by name. Open this page with HTTP \
                 Basic credentials (<code>username:password</code> or \
                 <code>sessionid:kp3</code>) to see everything your account may call.</p>\n",
            );
        }
    }
    let _ = write!(
        out,
        "<table><tr><th>Protocol</th><th>Endpoint</th></tr>\
         <tr><td>XML-RPC</td><td><code>POST {base}/xmlrpc</code> (<code>text/xml</code>)</td></tr>\
         <tr><td>JSON-RPC 2.0 and 1.0</td><td><code>POST {base}/jsonrpc</code> (<code>application/json</code>); \
         read-only methods also <code>GET {base}/jsonrpc?method=…&amp;params=[…]&amp;id=1</code>{jsonp}</td></tr>\
         <tr><td>SOAP</td><td><code>POST {base}/soap</code></td></tr></table>\n\
         <p>Sessions: call <code>system.login</code> with <code>{{username, password}}</code>; it \
         returns <code>{{domain, sessionid, kp3}}</code>. Send later calls with HTTP Basic \
         authentication <code>sessionid:kp3</code> and end with <code>system.logout</code>. \
         In JSON, a dateTime is <code>{{\"__jsonclass__\": [\"datetime\", \"2024-01-02T03:04:05\"]}}</code> \
         and base64 is <code>{{\"__jsonclass__\": [\"binary\", \"…\"]}}</code>.</p>\n",
        base = escape(base),
        jsonp = if context.jsonp {
            "; JSONP with <code>callback=</code> (anonymous, public methods only)"
        } else {
            ""
        },
    );
}

fn write_method(out: &mut String, entry: &Entry, context: &PageContext<'_>) {
    let name = escape(&entry.name);
    let _ = write!(
        out,
        "<article class=\"method\" id=\"m-{name}\" data-method=\"{name}\"><h3><code>{name}</code></h3><p>"
    );
    if entry.flags.requires_session {
        out.push_str("<span class=\"tag session\">needs a session</span>");
    } else {
        out.push_str("<span class=\"tag\">public</span>");
    }
    if entry.flags.read_only {
        out.push_str("<span class=\"tag\">read-only</span>");
    } else {
        out.push_str("<span class=\"tag write\">may change data</span>");
    }
    out.push_str("</p>\n");
    if entry.signatures.is_empty() {
        out.push_str("<p>Signature: not declared.</p>\n");
    } else {
        out.push_str("<p>Signatures:</p><ul>");
        for signature in entry.signatures {
            let (returns, params) = signature.split_first().unwrap_or((&"", &[]));
            let _ = write!(
                out,
                "<li><code>{} {}({})</code></li>",
                escape(returns),
                name,
                escape(&params.join(", "))
            );
        }
        out.push_str("</ul>\n");
    }
    if !entry.help.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", escape(&entry.help));
    }
    if !entry.params.is_empty() {
        out.push_str("<p>Parameters:</p><ul class=\"params\">");
        for param in entry.params {
            let _ = write!(
                out,
                "<li><code>{}</code> {}",
                escape(param.name),
                type_link(param.ty)
            );
            if !param.description.is_empty() {
                let _ = write!(out, ": {}", escape(param.description));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul>\n");
    }
    if !entry.returns.is_empty() {
        let _ = writeln!(out, "<p>Returns {}.</p>", type_link(entry.returns));
    }
    let mut protocols = vec!["XML-RPC", "JSON-RPC"];
    if entry.flags.read_only {
        protocols.push("JSON-RPC GET");
        if context.jsonp && !entry.flags.requires_session {
            protocols.push("JSONP");
        }
    }
    protocols.push("SOAP");
    let _ = writeln!(out, "<p>Reached by: {}.</p>", protocols.join(", "));
    write_examples(out, entry, context.base_url);
    out.push_str("</article>\n");
}

/// A declared type in [`groupware_api::ParamDef::ty`] syntax, linked to its struct's
/// description when it names one (`Contact`, `Contact[]`).
fn type_link(ty: &str) -> String {
    let (base, array) = ty.strip_suffix("[]").map_or((ty, ""), |base| (base, "[]"));
    if base.starts_with(|c: char| c.is_ascii_uppercase()) {
        format!(
            "(<a href=\"#t-{0}\"><code>{0}</code></a>{1})",
            escape(base),
            array
        )
    } else {
        format!("(<code>{}{array}</code>)", escape(base))
    }
}

/// The declared structs the `visible` methods name, with their members, once each.
fn write_structs(out: &mut String, registry: &Registry, visible: &[&Entry]) {
    let mut names: Vec<&str> = Vec::new();
    for entry in visible {
        let types = entry
            .params
            .iter()
            .map(|param| param.ty)
            .chain(std::iter::once(entry.returns));
        for ty in types {
            let base = ty.strip_suffix("[]").unwrap_or(ty);
            if registry.struct_def(base).is_some() && !names.contains(&base) {
                names.push(base);
            }
        }
    }
    // Structs named by members of those structs (a contact's categories, …).
    let mut index = 0;
    while index < names.len() {
        if let Some(def) = registry.struct_def(names[index]) {
            for (_, ty, _) in def.members {
                let base = ty.strip_suffix("[]").unwrap_or(ty);
                if registry.struct_def(base).is_some() && !names.contains(&base) {
                    names.push(base);
                }
            }
        }
        index += 1;
    }
    for name in names {
        let Some(def) = registry.struct_def(name) else {
            continue;
        };
        let _ = write!(
            out,
            "<article class=\"struct\" id=\"t-{0}\"><h3>struct <code>{0}</code></h3>",
            escape(def.name)
        );
        if !def.description.is_empty() {
            let _ = write!(out, "<p>{}</p>", escape(def.description));
        }
        out.push_str("<table><tr><th>member</th><th>type</th><th>meaning</th></tr>");
        for (member, ty, description) in def.members {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(member),
                type_link(ty),
                escape(description)
            );
        }
        out.push_str("</table></article>\n");
    }
}

fn write_examples(out: &mut String, entry: &Entry, base: &str) {
    let params = example_params(entry);
    let session = entry.flags.requires_session;
    let credentials = if session { "SESSIONID:KP3@" } else { "" };
    let host = base.strip_prefix("http://").unwrap_or(base);
    let scheme = if base.starts_with("https://") {
        "https://"
    } else {
        "http://"
    };
    let host = host.strip_prefix("https://").unwrap_or(host);
    let curl_auth = if session { "-u SESSIONID:KP3 " } else { "" };

    let python_args = params
        .iter()
        .map(python_literal)
        .collect::<Vec<_>>()
        .join(", ");
    let python_call = if entry.name.split('.').all(is_python_identifier) {
        format!("api.{}({python_args})", entry.name)
    } else {
        format!(
            "getattr(api, {})({python_args})",
            python_string(&entry.name)
        )
    };
    let python = format!(
        "import xmlrpc.client\n\napi = xmlrpc.client.ServerProxy(\"{scheme}{credentials}{host}/xmlrpc\",\n    allow_none=True, use_builtin_types=True)\nprint({python_call})"
    );

    let mut xml_params = String::new();
    for param in &params {
        xml_params.push_str("<param>");
        if xmlrpc::write_value(&mut xml_params, param, 1).is_err() {
            xml_params.push_str("<value/>");
        }
        xml_params.push_str("</param>");
    }
    let xml = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>{}</methodName><params>{xml_params}</params></methodCall>",
        entry.name
    );
    let curl_xml = format!(
        "curl {curl_auth}-H 'Content-Type: text/xml' \\\n  --data-binary {} \\\n  {base}/xmlrpc",
        shell_quote(&xml)
    );

    let json_params: Vec<serde_json::Value> = params
        .iter()
        .map(|param| jsonrpc::value_to_json(param, 1).unwrap_or(serde_json::Value::Null))
        .collect();
    let json = serde_json::json!({
        "jsonrpc": "2.0",
        "method": entry.name,
        "params": json_params,
        "id": 1,
    });
    let curl_json = format!(
        "curl {curl_auth}-H 'Content-Type: application/json' \\\n  -d {} \\\n  {base}/jsonrpc",
        shell_quote(&json.to_string())
    );

    let mut soap_params = String::new();
    for (index, param) in params.iter().enumerate() {
        // Declared names where the table has them (the WSDL's part names), else the
        // positional `paramN` the SOAP decoder maps through the signature.
        let element = entry
            .params
            .get(index)
            .map_or_else(|| format!("param{}", index + 1), |def| def.name.to_owned());
        let _ = write!(soap_params, "<{element}>");
        soap_value(&mut soap_params, param);
        let _ = write!(soap_params, "</{element}>");
    }
    let envelope = format!(
        "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><m:{name} xmlns:m=\"urn:groupware\">{soap_params}</m:{name}></soap:Body></soap:Envelope>",
        name = entry.name
    );
    let curl_soap = format!(
        "curl {curl_auth}-H 'Content-Type: text/xml; charset=utf-8' \\\n  -H 'SOAPAction: \"urn:groupware#{}\"' \\\n  --data-binary {} \\\n  {base}/soap",
        entry.name,
        shell_quote(&envelope)
    );

    out.push_str("<details><summary>Examples</summary>\n");
    for (label, code) in [
        ("Python xmlrpc.client", python),
        ("curl, XML-RPC", curl_xml),
        ("curl, JSON-RPC", curl_json),
        ("curl, SOAP", curl_soap),
    ] {
        let _ = writeln!(
            out,
            "<p>{}</p><pre><code>{}</code></pre>",
            escape(label),
            escape(&code)
        );
    }
    out.push_str("</details>\n");
}

/// Placeholder arguments for the first signature (login and logout get realistic ones).
fn example_params(entry: &Entry) -> Vec<Value> {
    match entry.name.as_str() {
        "system.login" => {
            return vec![Value::structure([
                ("username", Value::from("USERNAME")),
                ("password", Value::from("PASSWORD")),
            ])];
        }
        "system.logout" => {
            return vec![Value::structure([
                ("sessionid", Value::from("SESSIONID")),
                ("kp3", Value::from("KP3")),
            ])];
        }
        "system.methodHelp" | "system.methodSignature" => {
            return vec![Value::from("system.login")];
        }
        _ => {}
    }
    let Some(signature) = entry.signatures.first() else {
        return Vec::new();
    };
    signature
        .iter()
        .skip(1)
        .map(|type_name| match *type_name {
            "int" | "i4" | "i8" => Value::Int(1),
            "boolean" => Value::Bool(true),
            "double" => Value::Double(1.5),
            "dateTime.iso8601" => chrono::DateTime::from_timestamp(1_704_164_645, 0)
                .map_or(Value::Nil, |moment| Value::DateTime(moment.naive_utc())),
            "base64" => Value::Base64(b"data".to_vec()),
            "struct" => Value::Struct(Struct::default()),
            "array" => Value::Array(Vec::new()),
            "nil" => Value::Nil,
            _ => Value::from("text"),
        })
        .collect()
}

fn python_literal(value: &Value) -> String {
    match value {
        Value::Int(number) => number.to_string(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Double(number) => format!("{number:?}"),
        Value::String(text) => python_string(text),
        Value::DateTime(moment) => format!(
            "datetime.datetime({})",
            moment.format("%Y, %-m, %-d, %-H, %-M, %-S")
        ),
        Value::Base64(bytes) => format!("b{}", python_string(&String::from_utf8_lossy(bytes))),
        Value::Struct(members) => format!(
            "{{{}}}",
            members
                .iter()
                .map(|(name, member)| format!(
                    "{}: {}",
                    python_string(name),
                    python_literal(member)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(python_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Nil => "None".into(),
        Value::Written(written) => python_literal(&written.to_value()),
    }
}

fn python_string(text: &str) -> String {
    format!("{text:?}")
}

fn is_python_identifier(segment: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let mut bytes = segment.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !KEYWORDS.contains(&segment)
}

/// A SOAP-encoded value, typed with `xsi:type` the way eGroupWare's SOAP clients send them.
fn soap_value(out: &mut String, value: &Value) {
    match value {
        Value::Struct(members) => {
            for (name, member) in members {
                let _ = write!(out, "<{name}>");
                soap_value(out, member);
                let _ = write!(out, "</{name}>");
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str("<item>");
                soap_value(out, item);
                out.push_str("</item>");
            }
        }
        other => {
            let text = match jsonrpc::value_to_json(other, 1) {
                Ok(serde_json::Value::String(text)) => text,
                Ok(serde_json::Value::Null) | Err(_) => String::new(),
                Ok(json) => match other {
                    Value::DateTime(moment) => moment.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    Value::Base64(bytes) => {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD.encode(bytes)
                    }
                    _ => json.to_string(),
                },
            };
            xmlrpc::escape_into(out, &text);
        }
    }
}

/// Single-quotes text for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use groupware_api::{Ctx, Flags, HandlerFuture, MethodDef, MethodTable, Params};

    fn noop(_ctx: Ctx, _params: Params) -> HandlerFuture {
        Box::pin(async { Ok(Value::Nil) })
    }

    fn registry() -> Registry {
        let table = MethodTable {
            app: "notes",
            title: "Notes <&>",
            version: "1",
            methods: vec![
                MethodDef {
                    name: "notes.bonotes.read",
                    function: "read",
                    signatures: &[&["struct", "struct"], &["struct", "int"]],
                    help: "Reads a note. <script>alert(1)</script>",
                    author: "me",
                    flags: Flags::READ,
                    handler: noop,
                    params: &[],
                    returns: "",
                },
                MethodDef {
                    name: "notes.bonotes.write",
                    function: "write",
                    signatures: &[&["int", "struct"]],
                    help: "Writes a note.",
                    author: "me",
                    flags: Flags::WRITE,
                    handler: noop,
                    params: &[],
                    returns: "",
                },
            ],
            structs: &[],
        };
        Registry::build(&[table], true).expect("registry")
    }

    fn account(apps: &[&str]) -> Account {
        Account {
            id: 1,
            username: "alice<b>".into(),
            full_name: String::new(),
            email: String::new(),
            timezone: "UTC".into(),
            is_admin: false,
            apps: apps.iter().map(|app| (*app).to_owned()).collect(),
        }
    }

    fn page(account: Option<&Account>) -> String {
        render(
            &registry(),
            &PageContext {
                account,
                credentials_refused: false,
                base_url: "http://example.test:8080",
                jsonp: false,
            },
        )
    }

    #[test]
    fn anonymous_sees_public_methods_and_names_of_the_rest() {
        let html = page(None);
        assert!(html.contains("data-method=\"system.login\""));
        assert!(html.contains("data-method=\"system.listMethods\""));
        assert!(!html.contains("data-method=\"notes.bonotes.read\""));
        assert!(html.contains("<li><code>notes.bonotes.read</code></li>"));
        assert!(html.contains("need a session"));
    }

    #[test]
    fn signed_in_sees_what_they_may_call() {
        let alice = account(&["notes"]);
        let html = page(Some(&alice));
        assert!(html.contains("data-method=\"notes.bonotes.read\""));
        assert!(html.contains("data-method=\"notes.bonotes.write\""));
        assert!(html.contains("Signed in as <strong>alice&lt;b&gt;</strong>"));
        assert!(html.contains("struct notes.bonotes.read(int)"));
        let bob = account(&[]);
        let html = page(Some(&bob));
        assert!(!html.contains("data-method=\"notes.bonotes.read\""));
        assert!(html.contains("no run right"));
    }

    #[test]
    fn parameters_and_declared_structs_are_described() {
        const NOTE: &[groupware_api::StructDef] = &[groupware_api::StructDef {
            name: "Note",
            description: "A note <b>.",
            members: &[
                ("id", "int", "The note's id."),
                ("text", "string", "What it says."),
            ],
        }];
        let table = MethodTable {
            app: "notes",
            title: "Notes",
            version: "1",
            methods: vec![MethodDef {
                name: "notes.bonotes.read",
                function: "read",
                signatures: &[&["struct", "int"]],
                help: "Reads a note.",
                author: "me",
                flags: Flags::READ,
                handler: noop,
                params: &[groupware_api::ParamDef {
                    name: "id",
                    ty: "int",
                    description: "Which note & why.",
                }],
                returns: "Note",
            }],
            structs: NOTE,
        };
        let registry = Registry::build(&[table], true).expect("registry");
        let account = account(&["notes"]);
        let context = PageContext {
            account: Some(&account),
            credentials_refused: false,
            base_url: "http://127.0.0.1:8080",
            jsonp: false,
        };
        let page = render(&registry, &context);
        assert!(page.contains("<code>id</code> (<code>int</code>): Which note &amp; why."));
        assert!(page.contains("Returns (<a href=\"#t-Note\"><code>Note</code></a>)."));
        assert!(page.contains("id=\"t-Note\""));
        assert!(page.contains("A note &lt;b&gt;."));
        assert!(page.contains("<td><code>text</code></td>"));
        // Anonymous visitors see no struct of a method they cannot call.
        let anonymous = PageContext {
            account: None,
            ..context
        };
        assert!(!render(&registry, &anonymous).contains("t-Note"));
    }

    #[test]
    fn everything_is_escaped() {
        let alice = account(&["notes"]);
        let html = page(Some(&alice));
        assert!(!html.contains("<script>"), "help text is escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Notes &lt;&amp;&gt;"));
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn examples_cover_every_protocol() {
        let alice = account(&["notes"]);
        let html = page(Some(&alice));
        let start = html
            .find("data-method=\"notes.bonotes.read\"")
            .expect("method");
        let article = &html[start..];
        let article = &article[..article.find("</article>").expect("end")];
        assert!(article.contains("api.notes.bonotes.read({})"));
        assert!(article.contains("http://SESSIONID:KP3@example.test:8080/xmlrpc"));
        assert!(article.contains("-u SESSIONID:KP3 -H &#39;Content-Type: text/xml&#39;"));
        assert!(article.contains("&quot;jsonrpc&quot;:&quot;2.0&quot;"));
        assert!(article.contains("example.test:8080/soap"));
        assert!(article.contains("JSON-RPC GET"));
        assert!(html.contains("<meta name=\"viewport\""));
    }

    #[test]
    fn python_call_falls_back_to_getattr() {
        assert!(is_python_identifier("boaddressbook"));
        assert!(!is_python_identifier("class"));
        assert!(!is_python_identifier("1x"));
    }
}
