//! Method tables: what an application exports, as data.
//!
//! Each application returns one [`MethodTable`] listing its public methods. The core's
//! registry merges the tables, refuses duplicate names at startup, and dispatches by exact
//! full name only: nothing ever splits a method name to find code.

use std::future::Future;
use std::pin::Pin;

use crate::ctx::Ctx;
use crate::error::Error;
use crate::params::Params;
use crate::value::Value;

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

/// A method implementation. A plain function pointer keeps tables cheap to build and copy;
/// write `|ctx, params| Box::pin(my_method(ctx, params))`.
pub type Handler = fn(Ctx, Params) -> HandlerFuture;

/// Behaviour flags of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    /// The method never changes data (JSON-RPC allows such methods over GET).
    pub read_only: bool,
    /// The method needs an authenticated caller with run rights on its application.
    pub requires_session: bool,
}

impl Flags {
    /// Reads data; needs a session.
    pub const READ: Flags = Flags {
        read_only: true,
        requires_session: true,
    };
    /// Changes data; needs a session.
    pub const WRITE: Flags = Flags {
        read_only: false,
        requires_session: true,
    };
    /// Reads nothing private; callable without a session.
    pub const PUBLIC: Flags = Flags {
        read_only: true,
        requires_session: false,
    };
}

/// One exported method.
#[derive(Clone)]
pub struct MethodDef {
    /// Public name, `app.class.method` (or `system.x`, `validator1.x`).
    pub name: &'static str,
    /// The implementing function's name, reported by `list_methods` as eGroupWare did.
    pub function: &'static str,
    /// Accepted signatures, XML-RPC type names, return type first.
    pub signatures: &'static [&'static [&'static str]],
    /// Help text for `system.methodHelp` and the documentation page.
    pub help: &'static str,
    pub author: &'static str,
    pub flags: Flags,
    pub handler: Handler,
    /// Named parameters, for the WSDL and the documentation. Empty: the WSDL names them
    /// `param1`, `param2`, … with the types of the longest signature.
    pub params: &'static [ParamDef],
    /// The result's WSDL type ([`ParamDef::ty`] syntax); `""` takes the first signature's.
    pub returns: &'static str,
}

/// A named parameter of a method (documentation data; dispatch stays positional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamDef {
    pub name: &'static str,
    /// An XML-RPC type name (`int`, `string`, `struct`, …), the name of a [`StructDef`] of
    /// the same table, or either with `[]` for an array of it. `""` takes the type at this
    /// position in the first signature long enough.
    pub ty: &'static str,
    pub description: &'static str,
}

/// A struct whose members an application declares, so that WSDL toolkits can generate
/// classes for it. Members are `(name, type, description)`, the type in [`ParamDef::ty`]
/// syntax; every member is optional on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructDef {
    pub name: &'static str,
    pub description: &'static str,
    pub members: &'static [(&'static str, &'static str, &'static str)],
}

impl MethodDef {
    /// The application segment of the name (`addressbook` in `addressbook.boaddressbook.x`).
    pub fn app(&self) -> &'static str {
        self.name.split('.').next().unwrap_or(self.name)
    }

    /// The `app.class` prefix, if the name has three segments.
    pub fn class(&self) -> Option<&'static str> {
        let last_dot = self.name.rfind('.')?;
        let prefix = &self.name[..last_dot];
        prefix.contains('.').then_some(prefix)
    }

    /// The last segment, the method's short name.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }

    /// Whether some signature takes exactly `count` parameters (or none are declared).
    pub fn accepts_count(&self, count: usize) -> bool {
        self.signatures.is_empty() || self.signatures.iter().any(|sig| sig.len() == count + 1)
    }
}

impl std::fmt::Debug for MethodDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An application's exported methods and its identity.
#[derive(Debug, Clone)]
pub struct MethodTable {
    /// The application name, which is also its run-right name (`addressbook`).
    pub app: &'static str,
    /// A human title for listings (`Addressbook`).
    pub title: &'static str,
    pub version: &'static str,
    pub methods: Vec<MethodDef>,
    /// Structs the methods' [`ParamDef`]s and results refer to by name.
    pub structs: &'static [StructDef],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_ctx: Ctx, _params: Params) -> HandlerFuture {
        Box::pin(async { Ok(Value::Nil) })
    }

    fn def(name: &'static str) -> MethodDef {
        MethodDef {
            name,
            function: "noop",
            signatures: &[&["string", "struct"]],
            help: "",
            author: "",
            flags: Flags::READ,
            handler: noop,
            params: &[],
            returns: "",
        }
    }

    #[test]
    fn name_parts() {
        let method = def("addressbook.boaddressbook.read");
        assert_eq!(method.app(), "addressbook");
        assert_eq!(method.class(), Some("addressbook.boaddressbook"));
        assert_eq!(method.short_name(), "read");
        assert_eq!(def("system.login").class(), None);
    }

    #[test]
    fn counts_come_from_signatures() {
        let method = def("a.b.c");
        assert!(method.accepts_count(1));
        assert!(!method.accepts_count(0));
    }
}
