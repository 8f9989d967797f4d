//! The command line: every flag also an environment variable, all documented in `--help`.

use std::net::SocketAddr;

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
    /// Apply pending database migrations and exit (the server also does this at start).
    Migrate(DatabaseArgs),
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

    /// Seconds a request may take before it is abandoned with HTTP 503.
    #[arg(long, env = "GROUPWARE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

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
}
