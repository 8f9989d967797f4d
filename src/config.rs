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

    /// Log format. The level comes from `RUST_LOG` (default `info`).
    #[arg(long, env = "GROUPWARE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}
