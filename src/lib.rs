//! groupware: an eGroupWare / phpGroupWare remote API server.
//!
//! A request flows through three stages with three vocabularies:
//!
//! - [`http`] (the only module that knows warp) enforces transport rules and hands bytes
//!   to [`service`], which picks the codec;
//! - [`codec`] turns bytes into a protocol-neutral [`codec::Call`] and results back into
//!   bytes, after the hardening [`codec::prescan`];
//! - [`dispatch`] authenticates, checks run rights and parameter counts, and runs the
//!   method found in the [`registry`]: an application's handler or a [`system`] builtin.
//!
//! [`credentials`] parses the `Authorization` header and [`auth`] checks it against the
//! sessions of [`session`] and the accounts of [`accounts`], all stored through [`store`].
//! [`docs`] renders the browsable documentation page from the registry.
//! [`config`] is the command line; [`admin`] the `user`/`session` commands.
//! [`transfer`] exports and imports contacts as vCard.
//! [`metrics`] counts calls for `GET /metrics`; [`tls`] holds the reloadable rustls
//! configuration.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod codec;
pub mod config;
pub mod credentials;
pub mod crypto;
pub mod dispatch;
pub mod docs;
pub mod http;
pub mod metrics;
pub mod registry;
pub mod revocation;
pub mod service;
pub mod session;
pub mod soap_binding;
pub mod store;
pub mod system;
pub mod tls;
pub mod transfer;
