//! The eGroupWare addressbook (`addressbook.boaddressbook.*`): contacts with every stock
//! field, categories, custom fields, sharing between users and sync tombstones.
//!
//! It mirrors eGroupWare's `addressbook` application as XML-RPC clients knew it (KDE
//! Kontact, the Outlook connector, BitPim): `search` / `read_entries` / `read_list`,
//! `read` / `read_entry`, `add` / `add_entry` / `save` / `write` / `update_entry`,
//! `delete` / `delete_entry`, `categories` and `customfields`, plus three extensions:
//! `deleted` (tombstones since a time), `get_grants` and `set_grants` (sharing rights).
//!
//! - [`methods`]: the method table and the thin adapters between wire values and the model;
//! - [`model`]: contacts, listing requests, filters and validation, free of any protocol;
//! - [`repo`]: every SQL statement of the app, run through the request's store.
//! - [`fields_json`]: the one column listings read the stock fields from;
//! - [`name_order`]: SQLite's `order_key`, which keys the text index by the name order.

pub mod fields_json;
pub mod methods;
pub mod model;
pub mod name_order;
pub mod repo;

pub use methods::methods;

/// Seeds a few sample contacts into `owner`'s empty addressbook (the `--demo` account).
pub use repo::seed_demo as seed_demo_contacts;
