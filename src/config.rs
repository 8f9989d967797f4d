//! The command line: every flag also an environment variable, all documented in `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser, Subcommand, ValueEnum};

/// groupware: an eGroupWare-compatible XML-RPC server for contacts, calendar, tasks and notes.
#[derive(Debug, Parser)]
#[command(name = "groupware", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Without a command, the server runs with these options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
    /// Print the effective server configuration (flags, environment, defaults) with
    /// secrets masked, and exit.
    Config(ServeArgs),
    /// Apply pending database migrations and exit (the server also does this at start).
    Migrate(DatabaseArgs),
    /// Write a user's own contacts to standard output as vCard 4.0 (with --events: their
    /// own calendar events, with --infolog: their own InfoLog tasks, calls and notes, as
    /// iCalendar).
    Export {
        #[command(flatten)]
        database: GlobalDatabaseArgs,
        /// Whose data.
        #[arg(long)]
        user: String,
        /// Export calendar events (iCalendar VEVENTs) instead of contacts.
        #[arg(long, conflicts_with = "infolog")]
        events: bool,
        /// Export InfoLog entries instead of contacts: tasks and phone calls as VTODO,
        /// notes as VJOURNAL, with parents, categories and responsible users.
        #[arg(long)]
        infolog: bool,
    },
    /// Read vCards (3.0 or 4.0) from standard input (or --file) into a user's addressbook
    /// as new contacts (with --events: iCalendar events into their calendar; with
    /// --infolog: VTODOs and VJOURNALs into their InfoLog). Calendar and InfoLog imports
    /// update what the user already has by UID.
    Import {
        #[command(flatten)]
        database: GlobalDatabaseArgs,
        /// Whose addressbook, calendar or InfoLog.
        #[arg(long)]
        user: String,
        /// Import calendar events (iCalendar; a known UID updates) instead of contacts.
        #[arg(long, conflicts_with = "infolog")]
        events: bool,
        /// Import InfoLog entries (iCalendar VTODO/VJOURNAL; a known UID updates; one
        /// transaction, so a document that fails anywhere writes nothing).
        #[arg(long)]
        infolog: bool,
        /// Read this file instead of standard input.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Manage user accounts.
    User {
        #[command(flatten)]
        database: GlobalDatabaseArgs,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Inspect and end login sessions.
    Session {
        #[command(flatten)]
        database: GlobalDatabaseArgs,
        #[command(subcommand)]
        command: SessionCommand,
    },
}

/// Where the data lives.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (the default; the file and its folder are created on first start)
    /// or `postgres://USER@HOST:PORT/DB` (add `?schema=NAME` to use a schema).
    #[arg(long, env = "GROUPWARE_DATABASE_URL", default_value = crate::store::DEFAULT_URL)]
    pub database: String,
}

/// [`DatabaseArgs`] for command groups: `--database` may follow the subcommand too
/// (`groupware user add alice --database …`).
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalDatabaseArgs {
    /// `sqlite://PATH` (the default) or `postgres://USER@HOST:PORT/DB[?schema=NAME]`.
    #[arg(long, global = true, env = "GROUPWARE_DATABASE_URL", default_value = crate::store::DEFAULT_URL)]
    pub database: String,
}

impl From<GlobalDatabaseArgs> for DatabaseArgs {
    fn from(args: GlobalDatabaseArgs) -> Self {
        DatabaseArgs {
            database: args.database,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. Without --password-stdin a random password is generated and
    /// printed once.
    Add {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Applications the account may use, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        apps: Option<Vec<String>>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        #[arg(long, default_value = "")]
        full_name: String,
        #[arg(long, default_value = "")]
        email: String,
        /// IANA time zone, e.g. Europe/Berlin.
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
    /// Set an account's password (ends its sessions).
    Passwd {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set the applications an account may use.
    Apps {
        name: String,
        /// The complete new list, comma-separated (empty for none).
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        set: Vec<String>,
    },
    /// List accounts.
    List,
    /// Disable an account (ends its sessions).
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List live sessions (never their tokens).
    List,
    /// End a session by its number from `session list`, or all of one user's sessions.
    Revoke {
        /// Session number from `session list`.
        id: Option<i64>,
        /// End every session of this user instead.
        #[arg(long, conflicts_with = "id")]
        user: Option<String>,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Port 0 picks a free port; the bound address is
    /// printed on standard output as `groupware listening on http://ADDR`.
    #[arg(long, env = "GROUPWARE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Also create the user `demo` with password `guest` and access to every application,
    /// for trying the server out. Never use this on a server others can reach.
    #[arg(long, env = "GROUPWARE_DEMO", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub demo: bool,

    /// Seconds a session may stay unused before it expires.
    #[arg(long, env = "GROUPWARE_SESSION_IDLE_SECS", default_value_t = 4 * 3600)]
    pub session_idle_secs: u64,

    /// Seconds after login when a session expires however busy it is.
    #[arg(long, env = "GROUPWARE_SESSION_MAX_SECS", default_value_t = 24 * 3600)]
    pub session_max_secs: u64,

    /// Refuse a session used from another IP address than the one that logged in.
    #[arg(long, env = "GROUPWARE_SESSION_PIN_IP", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub session_pin_ip: bool,

    /// Seconds a verified session is trusted without asking the database again. A logout
    /// or revocation made through another server process takes effect within this bound.
    #[arg(long, env = "GROUPWARE_SESSION_CACHE_SECS", default_value_t = 5)]
    pub session_cache_secs: u64,

    /// Largest accepted request body in bytes; larger bodies get HTTP 413.
    #[arg(long, env = "GROUPWARE_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a request may take before it is abandoned: HTTP 408 while its body is still
    /// arriving, HTTP 503 once the call runs.
    #[arg(long, env = "GROUPWARE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Open connections at most; connections beyond it are closed at once.
    #[arg(long, env = "GROUPWARE_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Open connections at most from one client address (IPv6: one /64); connections
    /// beyond it are closed at once. 0 turns this cap off.
    #[arg(
        long,
        env = "GROUPWARE_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub max_connections_per_address: usize,

    /// Seconds a connection has to send a complete request header (slow clients and idle
    /// keep-alive connections are closed after it).
    #[arg(long, env = "GROUPWARE_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// Serve the interop application (validator1.* and interop.echo), for checking XML-RPC
    /// clients against this server. Its methods need no login.
    #[arg(long, env = "GROUPWARE_ENABLE_INTEROP", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub enable_interop: bool,

    /// Answer `GET /jsonrpc?…&callback=NAME` as JSONP. Such calls are always anonymous
    /// (no Authorization header or cookie is honoured), so only public methods answer.
    #[arg(long, env = "GROUPWARE_JSONP", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub jsonp: bool,

    /// Log format. The level comes from `RUST_LOG` (default `info`).
    #[arg(long, env = "GROUPWARE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    /// `SIGHUP` reloads both files.
    #[arg(long, env = "GROUPWARE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) for --tls-cert.
    #[arg(long, env = "GROUPWARE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require `Authorization: Bearer TOKEN` on `GET /metrics` (default: open, like
    /// `/healthz` and `/readyz`).
    #[arg(long, env = "GROUPWARE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

impl ServeArgs {
    /// Every setting as `(environment variable, value)`, secrets masked: the database
    /// URL's password and the metrics token. What `groupware config` prints.
    pub fn effective(&self) -> Vec<(&'static str, String)> {
        let path = |value: &Option<PathBuf>| {
            value
                .as_ref()
                .map_or_else(String::new, |path| path.display().to_string())
        };
        let log_format = match self.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        vec![
            ("GROUPWARE_LISTEN", self.listen.to_string()),
            (
                "GROUPWARE_DATABASE_URL",
                mask_url_password(&self.database.database),
            ),
            ("GROUPWARE_DEMO", self.demo.to_string()),
            (
                "GROUPWARE_SESSION_IDLE_SECS",
                self.session_idle_secs.to_string(),
            ),
            (
                "GROUPWARE_SESSION_MAX_SECS",
                self.session_max_secs.to_string(),
            ),
            ("GROUPWARE_SESSION_PIN_IP", self.session_pin_ip.to_string()),
            (
                "GROUPWARE_SESSION_CACHE_SECS",
                self.session_cache_secs.to_string(),
            ),
            ("GROUPWARE_MAX_BODY_BYTES", self.max_body_bytes.to_string()),
            (
                "GROUPWARE_REQUEST_TIMEOUT_SECS",
                self.request_timeout_secs.to_string(),
            ),
            (
                "GROUPWARE_MAX_CONNECTIONS",
                self.max_connections.to_string(),
            ),
            (
                "GROUPWARE_MAX_CONNECTIONS_PER_ADDRESS",
                self.max_connections_per_address.to_string(),
            ),
            (
                "GROUPWARE_HEADER_READ_TIMEOUT_SECS",
                self.header_read_timeout_secs.to_string(),
            ),
            ("GROUPWARE_ENABLE_INTEROP", self.enable_interop.to_string()),
            ("GROUPWARE_JSONP", self.jsonp.to_string()),
            ("GROUPWARE_LOG_FORMAT", log_format.to_owned()),
            ("GROUPWARE_TLS_CERT", path(&self.tls_cert)),
            ("GROUPWARE_TLS_KEY", path(&self.tls_key)),
            (
                "GROUPWARE_METRICS_TOKEN",
                self.metrics_token
                    .as_ref()
                    .filter(|token| !token.is_empty())
                    .map_or_else(String::new, |_| MASK.to_owned()),
            ),
        ]
    }
}

/// What stands in for a secret in printed configuration.
pub const MASK: &str = "********";

/// `scheme://user:secret@host…` with the secret replaced by [`MASK`]; a `password=`
/// query parameter is masked too. Other URLs come back unchanged.
pub fn mask_url_password(url: &str) -> String {
    let masked = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:{MASK}@{host}{tail}"),
                    None => url.to_owned(),
                },
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    match masked.split_once('?') {
        Some((base, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}={MASK}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", pairs.join("&"))
        }
        None => masked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_database_passwords() {
        assert_eq!(
            mask_url_password("postgres://gw:s3cr%40t@db:5432/gw?schema=a"),
            "postgres://gw:********@db:5432/gw?schema=a"
        );
        assert_eq!(
            mask_url_password("postgres://gw@db/gw?password=x&sslmode=disable"),
            "postgres://gw@db/gw?password=********&sslmode=disable"
        );
        assert_eq!(
            mask_url_password("sqlite://data/groupware.db"),
            "sqlite://data/groupware.db"
        );
    }
}
