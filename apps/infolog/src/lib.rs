//! The eGroupWare InfoLog (`infolog.boinfolog.*`): tasks, notes and phone calls with
//! sub-entries, responsible users, links to contacts and events, categories, sharing
//! between users and sync tombstones.
//!
//! It mirrors eGroupWare's `infolog` application as XML-RPC clients knew it: KDE's todo
//! resource (`col_filter: {type: 'task'}`) and notes resource (`{type: 'note'}`), the
//! Outlook connector. Methods: `search`, `read`, `write`, `delete` (with the children
//! options), `categories`, plus the extensions `deleted` (tombstones since a time),
//! `get_grants` and `set_grants`. Field names are accepted with and without the `info_`
//! prefix on input and sent without it.
//!
//! - [`ical`]: entries as iCalendar VTODO/VJOURNAL and back (`groupware export --infolog`);
//! - [`methods`]: the method table and the thin adapters between wire values and the model;
//! - [`model`]: entries, the search filter grammar, status rules and defaults;
//! - [`repo`]: every SQL statement of the app, run through the request's store.

pub mod ical;
pub mod methods;
pub mod model;
pub mod repo;

pub use methods::methods;

/// Seeds a few sample tasks and notes for `owner` (the `--demo` account).
pub use repo::seed_demo as seed_demo_entries;
