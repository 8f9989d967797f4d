//! The contract between the groupware core and its applications.
//!
//! Every application crate (`apps/addressbook`, `apps/interop`, …) depends on this crate
//! and on nothing else of the project. It holds:
//!
//! - [`value`]: the protocol-neutral value model (`Value`, `Struct`) every codec maps to;
//! - [`fault`] and [`error`]: the typed [`Error`] apps return and the one place it becomes
//!   a wire [`Fault`] with a phpGroupWare code;
//! - [`params`]: typed parameter conversion with precise faults;
//! - [`method`]: method tables (`MethodDef`, `MethodTable`) that apps export as data;
//! - [`ctx`]: the request context a handler receives (caller, store, request facts);
//! - [`store`]: the storage handle apps run their SQL through, whatever the backend;
//! - [`categories`], [`grants`]: the category and sharing tables several apps share, keyed
//!   by application (eGroupWare's `egw_categories` and `egw_acl`);
//! - [`zone`]: wire times in the caller's time zone;
//! - [`written`]: results that write themselves to the wire (large listings).
//!
//! Nothing here knows about HTTP, XML or JSON.

pub mod categories;
pub mod ctx;
pub mod error;
pub mod fault;
pub mod grants;
pub mod members;
pub mod method;
pub mod params;
pub mod store;
pub mod stored;
pub mod text;
pub mod tombstone;
pub mod value;
pub mod written;
pub mod zone;

pub use ctx::{Account, Ctx, RequestInfo};
pub use error::Error;
pub use fault::Fault;
pub use method::{Flags, Handler, HandlerFuture, MethodDef, MethodTable, ParamDef, StructDef};
pub use params::{FromValue, Params};
pub use text::Text;
pub use value::{Struct, Value};
pub use written::{ValueSink, WriteValue, Written};
