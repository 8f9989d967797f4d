//! The eGroupWare calendar (`calendar.bocalendar.*`): events with participants, recurrence,
//! alarms and categories, sharing between users, iCalendar export and sync tombstones.
//!
//! It mirrors eGroupWare's `calendar` application as XML-RPC clients knew it (KOrganizer,
//! the Outlook connector, BitPim): `search` / `store_to_cache`, `read` / `read_entry`,
//! `write` / `add_entry` / `update_entry`, `delete` / `delete_entry`, `categories`,
//! `export_event`, plus the extensions `import_event` (an iCalendar VEVENT in), `deleted`
//! (tombstones since a time), `get_grants` and `set_grants`.
//!
//! - [`methods`]: the method table and the thin adapters between wire values and the model;
//! - [`model`]: events, participants, search requests, validation;
//! - [`recur`]: the recurrence expansion engine (pure functions);
//! - [`ical`]: iCalendar (RFC 5545) export and import through the `icalendar` crate;
//! - [`repo`]: every SQL statement of the app, run through the request's store.

pub mod ical;
pub mod methods;
pub mod model;
pub mod recur;
pub mod repo;

pub use methods::methods;

/// Seeds a few sample events into `owner`'s empty calendar (the `--demo` account).
pub use repo::seed_demo as seed_demo_events;
