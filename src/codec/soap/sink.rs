//! A [`Written`] result written straight into a SOAP response, without its [`Value`] tree.
//!
//! The tree writer ([`super::encode`]) decides some markup from a container's whole
//! content: an encoded array's `arrayType` from all its items, an encoded struct's form
//! from all its member names, a literal struct's member order from the WSDL. Streaming
//! decides at a container's first item or member and checks every later one against that
//! decision. When one disagrees (a shape none of our written results has: an array whose
//! first items are scalars of one type and a later one is not, a struct whose first
//! member is an XML name and a later one is not, members out of the WSDL's order, an
//! array longer or shorter than announced), the sink gives up and the caller writes the
//! tree instead. So the text is always exactly the tree writer's; a property test holds
//! both to that.

use std::borrow::Cow;

use groupware_api::written::{ValueSink, Written};
use groupware_api::{Fault, Value};

use super::encode::{
    MAX_DEPTH, close, is_element_name, open, push_scalar_text, scalar_type, too_deep,
    write_encoded, write_literal,
};
use super::{Style, Version};
use crate::codec::xmlrpc::escape_into;

/// What became of writing a result directly.
pub(super) enum Outcome {
    /// `out` holds the result's element.
    Written,
    /// The result holds something SOAP cannot carry; the reply is this fault.
    Fault(Fault),
    /// The result's shape needs the tree writer; `out` holds a partial element.
    GaveUp,
}

/// Writes `written` as the element `return`.
pub(super) fn write_result(
    out: &mut String,
    version: Version,
    style: Style,
    written: &Written,
    member_order: Option<&[&str]>,
) -> Outcome {
    let mut sink = SoapSink {
        out,
        version,
        style,
        member_order: member_order.unwrap_or(&[]),
        ordered_root: member_order.is_some(),
        frames: Vec::with_capacity(4),
        pending: None,
        root_written: false,
        error: None,
        gave_up: false,
    };
    written.write(&mut sink);
    if sink.gave_up || !sink.root_written || !sink.frames.is_empty() {
        Outcome::GaveUp
    } else if let Some(fault) = sink.error {
        Outcome::Fault(fault)
    } else {
        Outcome::Written
    }
}

struct SoapSink<'a> {
    out: &'a mut String,
    version: Version,
    style: Style,
    /// The declared struct's members; literal style writes them first, in this order.
    member_order: &'a [&'a str],
    /// Whether the result itself is where `member_order` applies (the tree writer's
    /// `member_order` argument is `Some` at the top).
    ordered_root: bool,
    frames: Vec<Frame>,
    /// The element name of the struct member whose value comes next.
    pending: Option<Cow<'static, str>>,
    root_written: bool,
    error: Option<Fault>,
    gave_up: bool,
}

/// An open array or struct.
struct Frame {
    /// Its element name, for the closing tag.
    name: Cow<'static, str>,
    /// Its nesting depth as the tree writer counts it.
    depth: usize,
    /// Whether its items (array) or itself (struct) get the WSDL's member order, as the
    /// tree writer passes `member_order` down through arrays only.
    ordered: bool,
    kind: Kind,
}

enum Kind {
    Array {
        /// The length `begin_array` announced, written into an encoded `arrayType`.
        announced: usize,
        items: usize,
        typing: ItemTyping,
    },
    Struct {
        form: StructForm,
        /// Literal style with the WSDL's order: where the next declared member may be
        /// found, and whether an undeclared one came already.
        next_declared: usize,
        undeclared_seen: bool,
        /// The member being written is an `<item><key/><value/></item>` entry.
        in_entry: bool,
    },
}

/// An encoded array's item type, decided by its first item.
#[derive(Clone, Copy, PartialEq)]
enum ItemTyping {
    /// No item yet: the open tag waits for its attributes.
    Undecided,
    /// `xsd:anyType`: a first item that is not a scalar makes this final.
    Any,
    /// Every item so far is a scalar of this type.
    Scalar(&'static str),
}

/// How an encoded struct writes its members, decided by the first member's name.
#[derive(Clone, Copy, PartialEq)]
enum StructForm {
    /// No member yet: the open tag waits for its attributes.
    Undecided,
    /// Untyped, members as elements.
    Plain,
    /// Typed `SOAP-ENC:Struct`: every member so far is named `item`.
    Items,
    /// `apache:Map`: `<item><key/><value/></item>` entries.
    Map,
    /// Literal style: element members, entries for the others (decided per member).
    Literal,
}

/// What kind of value begins, as far as its enclosing container's markup cares.
#[derive(Clone, Copy)]
enum Begins {
    Scalar(&'static str),
    Other,
}

impl SoapSink<'_> {
    fn give_up(&mut self) {
        self.gave_up = true;
    }

    fn fail(&mut self, fault: Fault) {
        self.error.get_or_insert(fault);
    }

    /// Prepares for a value: settles the enclosing container's pending markup and returns
    /// the value's element name, its depth and whether it gets the member order; `None`
    /// after giving up.
    fn begin_value(&mut self, begins: Begins) -> Option<(Cow<'static, str>, usize, bool)> {
        if self.gave_up {
            return None;
        }
        let version = self.version;
        let style = self.style;
        let slot = match self.frames.last_mut() {
            None => {
                if self.root_written {
                    self.give_up();
                    return None;
                }
                self.root_written = true;
                Some((Cow::Borrowed("return"), 0, self.ordered_root))
            }
            Some(Frame {
                depth,
                ordered,
                kind:
                    Kind::Array {
                        announced,
                        items,
                        typing,
                    },
                ..
            }) => {
                *items += 1;
                match (*typing, begins) {
                    (ItemTyping::Undecided, _) if style == Style::Encoded => {
                        let (decided, item_type) = match begins {
                            Begins::Scalar(xsd_type) => (ItemTyping::Scalar(xsd_type), xsd_type),
                            Begins::Other => (ItemTyping::Any, "xsd:anyType"),
                        };
                        *typing = decided;
                        write_array_type(self.out, version, item_type, *announced);
                    }
                    (ItemTyping::Scalar(seen), Begins::Scalar(xsd_type)) if seen == xsd_type => {}
                    (ItemTyping::Scalar(_), _) => {
                        self.gave_up = true;
                        return None;
                    }
                    _ => {}
                }
                Some((Cow::Borrowed("item"), *depth + 1, *ordered))
            }
            Some(Frame {
                depth,
                kind: Kind::Struct { in_entry, .. },
                ..
            }) => {
                let step = if *in_entry { 2 } else { 1 };
                let child_depth = *depth + step;
                self.pending.take().map(|name| (name, child_depth, false))
            }
        };
        let Some((name, depth, ordered)) = slot else {
            // A value in a struct without a member name before it.
            self.give_up();
            return None;
        };
        if depth > MAX_DEPTH {
            self.fail(too_deep());
        }
        Some((name, depth, ordered))
    }

    /// After a whole value: closes a map entry around it.
    fn value_done(&mut self) {
        if let Some(Frame {
            kind: Kind::Struct { in_entry, .. },
            ..
        }) = self.frames.last_mut()
            && *in_entry
        {
            *in_entry = false;
            self.out.push_str("</item>");
        }
    }

    fn scalar(&mut self, value: &Value) {
        let xsd_type = match scalar_type(value) {
            Ok(Some(xsd_type)) => xsd_type,
            Ok(None) => return self.whole(value),
            Err(fault) => {
                self.fail(fault);
                return;
            }
        };
        let Some((name, _, _)) = self.begin_value(Begins::Scalar(xsd_type)) else {
            return;
        };
        open(self.out, &name);
        if self.style == Style::Encoded {
            self.out.push_str(" xsi:type=\"");
            self.out.push_str(xsd_type);
            self.out.push_str("\">");
        } else {
            self.out.push('>');
        }
        push_scalar_text(self.out, value);
        close(self.out, &name);
        self.value_done();
    }

    /// A value that is not a plain scalar, written by the tree writer.
    fn whole(&mut self, value: &Value) {
        let begins = match scalar_type(value) {
            Ok(Some(xsd_type)) => Begins::Scalar(xsd_type),
            Ok(None) => Begins::Other,
            Err(fault) => {
                self.fail(fault);
                return;
            }
        };
        let Some((name, depth, ordered)) = self.begin_value(begins) else {
            return;
        };
        let written = match self.style {
            Style::Encoded => write_encoded(self.out, self.version, &name, value, depth),
            Style::Literal => {
                let order = ordered.then_some(self.member_order);
                write_literal(self.out, &name, value, order, depth)
            }
        };
        if let Err(fault) = written {
            self.fail(fault);
        }
        self.value_done();
    }

    fn begin_container(&mut self, kind: Kind) {
        let Some((name, depth, ordered)) = self.begin_value(Begins::Other) else {
            return;
        };
        open(self.out, &name);
        if self.style == Style::Literal {
            self.out.push('>');
        }
        self.frames.push(Frame {
            name,
            depth,
            ordered,
            kind,
        });
    }

    /// Checks a literal struct's member against the WSDL's order: declared members must
    /// come first, each after the one before it.
    fn check_order(&mut self, name: &str) {
        let order = self.member_order;
        let Some(Frame {
            ordered: true,
            kind:
                Kind::Struct {
                    next_declared,
                    undeclared_seen,
                    ..
                },
            ..
        }) = self.frames.last_mut()
        else {
            return;
        };
        let ahead = order.get(*next_declared..).unwrap_or(&[]);
        if let Some(offset) = ahead.iter().position(|declared| *declared == name) {
            if *undeclared_seen {
                self.gave_up = true;
            } else {
                *next_declared += offset + 1;
            }
        } else if order.contains(&name) {
            self.gave_up = true;
        } else {
            *undeclared_seen = true;
        }
    }

    fn begin_member(&mut self, name: Cow<'static, str>) {
        if self.gave_up {
            return;
        }
        if self.style == Style::Literal {
            self.check_order(&name);
        }
        let Some(Frame {
            kind: Kind::Struct { form, in_entry, .. },
            ..
        }) = self.frames.last_mut()
        else {
            self.gave_up = true;
            return;
        };
        let element = is_element_name(&name);
        let settled = match *form {
            StructForm::Undecided => {
                let (decided, attributes) = if !element {
                    (StructForm::Map, " xsi:type=\"apache:Map\">")
                } else if name == "item" {
                    (StructForm::Items, " xsi:type=\"SOAP-ENC:Struct\">")
                } else {
                    (StructForm::Plain, ">")
                };
                *form = decided;
                self.out.push_str(attributes);
                decided
            }
            StructForm::Items if name != "item" => {
                self.gave_up = true;
                return;
            }
            StructForm::Plain | StructForm::Items if !element => {
                self.gave_up = true;
                return;
            }
            settled => settled,
        };
        let entry = match settled {
            StructForm::Map => true,
            StructForm::Literal => !element,
            _ => false,
        };
        if entry {
            *in_entry = true;
            self.out.push_str(if settled == StructForm::Map {
                "<item><key xsi:type=\"xsd:string\">"
            } else {
                "<item><key>"
            });
            escape_into(self.out, &name);
            self.out.push_str("</key>");
            self.pending = Some(Cow::Borrowed("value"));
        } else {
            self.pending = Some(name);
        }
    }

    /// Closes the open container, which must be an array when `array` is set and a
    /// struct otherwise (anything else gives up).
    fn end_container(&mut self, array: bool) {
        if self.gave_up {
            return;
        }
        let Some(frame) = self.frames.pop() else {
            self.give_up();
            return;
        };
        if matches!(frame.kind, Kind::Array { .. }) != array {
            self.give_up();
            return;
        }
        match frame.kind {
            Kind::Array {
                announced,
                items,
                typing,
            } => {
                if typing == ItemTyping::Undecided {
                    if self.style == Style::Encoded {
                        write_array_type(self.out, self.version, "xsd:anyType", items);
                    }
                } else if self.style == Style::Encoded && items != announced {
                    self.give_up();
                    return;
                }
            }
            Kind::Struct { form, .. } => {
                if form == StructForm::Undecided {
                    self.out.push_str(" xsi:type=\"SOAP-ENC:Struct\">");
                }
            }
        }
        close(self.out, &frame.name);
        self.value_done();
    }
}

/// Completes an encoded array's open tag with its item type and length.
fn write_array_type(out: &mut String, version: Version, item_type: &str, len: usize) {
    let mut digits = itoa::Buffer::new();
    let len = digits.format(len);
    match version {
        Version::Soap11 => {
            out.push_str(" xsi:type=\"SOAP-ENC:Array\" SOAP-ENC:arrayType=\"");
            out.push_str(item_type);
            out.push('[');
            out.push_str(len);
            out.push_str("]\">");
        }
        Version::Soap12 => {
            out.push_str(" SOAP-ENC:itemType=\"");
            out.push_str(item_type);
            out.push_str("\" SOAP-ENC:arraySize=\"");
            out.push_str(len);
            out.push_str("\">");
        }
    }
}

impl ValueSink for SoapSink<'_> {
    fn begin_array(&mut self, len: usize) {
        let typing = if self.style == Style::Encoded {
            ItemTyping::Undecided
        } else {
            ItemTyping::Any
        };
        self.begin_container(Kind::Array {
            announced: len,
            items: 0,
            typing,
        });
    }

    fn end_array(&mut self) {
        self.end_container(true);
    }

    fn begin_struct(&mut self, _len: usize) {
        let form = if self.style == Style::Encoded {
            StructForm::Undecided
        } else {
            StructForm::Literal
        };
        self.begin_container(Kind::Struct {
            form,
            next_declared: 0,
            undeclared_seen: false,
            in_entry: false,
        });
    }

    fn end_struct(&mut self) {
        self.end_container(false);
    }

    fn member(&mut self, name: &str) {
        self.begin_member(Cow::Owned(name.to_owned()));
    }

    fn plain_member(&mut self, name: &'static str) {
        self.begin_member(Cow::Borrowed(name));
    }

    fn string(&mut self, text: &str) {
        let Some((name, _, _)) = self.begin_value(Begins::Scalar("xsd:string")) else {
            return;
        };
        open(self.out, &name);
        self.out.push_str(if self.style == Style::Encoded {
            " xsi:type=\"xsd:string\">"
        } else {
            ">"
        });
        escape_into(self.out, text);
        close(self.out, &name);
        self.value_done();
    }

    fn int(&mut self, number: i64) {
        self.scalar(&Value::Int(number));
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Struct(_) | Value::Array(_) | Value::Nil | Value::Written(_) => {
                self.whole(value);
            }
            scalar => self.scalar(scalar),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::soap::encode::encode_response;
    use groupware_api::written::WriteValue;

    /// Writes through the sink as a listing does: plain members, a category map, custom
    /// fields after the declared ones, an account added whole.
    struct Listing {
        records: usize,
        categories: bool,
    }

    impl WriteValue for Listing {
        fn type_name(&self) -> &'static str {
            "array"
        }

        fn write(&self, sink: &mut dyn ValueSink) {
            sink.begin_array(self.records + 1);
            for id in 0..self.records {
                sink.begin_struct(6);
                sink.plain_member("id");
                sink.int(i64::try_from(id).unwrap_or_default());
                sink.string_member("n_family", "Müller & <Söhne>");
                sink.plain_member("cat_id");
                sink.begin_struct(1);
                if self.categories {
                    sink.member("17");
                    sink.string("Friends");
                }
                sink.end_struct();
                sink.plain_member("last_mod");
                sink.value(&Value::DateTime(chrono::NaiveDateTime::default()));
                sink.member("custom_field");
                sink.string("x");
                sink.end_struct();
            }
            sink.value(&Value::structure([("id", Value::Int(-1))]));
            sink.end_array();
        }
    }

    const ORDER: &[&str] = &["id", "lid", "n_family", "cat_id", "last_mod", "bday"];

    fn direct(style: Style, version: Version, written: &Written) -> (bool, String) {
        let mut out = String::new();
        let outcome = write_result(&mut out, version, style, written, Some(ORDER));
        (matches!(outcome, Outcome::Written), out)
    }

    fn tree_text(style: Style, version: Version, value: &Value) -> String {
        let mut out = String::new();
        let result = match style {
            Style::Encoded => write_encoded(&mut out, version, "return", value, 0),
            Style::Literal => write_literal(&mut out, "return", value, Some(ORDER), 0),
        };
        assert!(result.is_ok(), "{result:?}");
        out
    }

    #[test]
    fn a_listing_is_written_directly_as_its_tree_would_be() {
        for categories in [true, false] {
            let written = Written::new(Listing {
                records: 3,
                categories,
            });
            for style in [Style::Encoded, Style::Literal] {
                for version in [Version::Soap11, Version::Soap12] {
                    let (taken, text) = direct(style, version, &written);
                    assert!(taken, "{style:?} {version:?} gave up");
                    assert_eq!(text, tree_text(style, version, &written.to_value()));
                }
            }
        }
    }

    /// Writes the calls it is given, whatever they are.
    struct Calls(fn(&mut dyn ValueSink));

    impl WriteValue for Calls {
        fn type_name(&self) -> &'static str {
            "struct"
        }

        fn write(&self, sink: &mut dyn ValueSink) {
            (self.0)(sink);
        }
    }

    fn gives_up(style: Style, calls: fn(&mut dyn ValueSink)) -> bool {
        let mut out = String::new();
        let written = Written::new(Calls(calls));
        matches!(
            write_result(&mut out, Version::Soap11, style, &written, Some(ORDER)),
            Outcome::GaveUp
        )
    }

    #[test]
    fn shapes_decided_too_early_give_up() {
        // An array whose first item is an int and a later one a string: `anyType`.
        assert!(gives_up(Style::Encoded, |sink| {
            sink.begin_array(2);
            sink.int(1);
            sink.string("x");
            sink.end_array();
        }));
        // Announced two items, wrote one.
        assert!(gives_up(Style::Encoded, |sink| {
            sink.begin_array(2);
            sink.int(1);
            sink.end_array();
        }));
        // An XML name first, then one that is not: the whole struct is a Map.
        assert!(gives_up(Style::Encoded, |sink| {
            sink.begin_struct(2);
            sink.member("a");
            sink.int(1);
            sink.member("7");
            sink.int(2);
            sink.end_struct();
        }));
        // `item` first, then another name: untyped after all.
        assert!(gives_up(Style::Encoded, |sink| {
            sink.begin_struct(2);
            sink.member("item");
            sink.int(1);
            sink.member("a");
            sink.int(2);
            sink.end_struct();
        }));
        // Declared members out of the WSDL's order, or after an undeclared one.
        assert!(gives_up(Style::Literal, |sink| {
            sink.begin_struct(2);
            sink.member("n_family");
            sink.string("x");
            sink.member("id");
            sink.int(1);
            sink.end_struct();
        }));
        assert!(gives_up(Style::Literal, |sink| {
            sink.begin_struct(2);
            sink.member("custom");
            sink.string("x");
            sink.member("id");
            sink.int(1);
            sink.end_struct();
        }));
        // Unbalanced or empty writes.
        assert!(gives_up(Style::Encoded, |_| {}));
        assert!(gives_up(Style::Encoded, |sink| sink.begin_struct(0)));
        assert!(gives_up(Style::Literal, |sink| {
            sink.begin_array(0);
            sink.end_struct();
        }));
        assert!(gives_up(Style::Encoded, |sink| {
            sink.begin_struct(1);
            sink.int(1);
            sink.end_struct();
        }));
        assert!(gives_up(Style::Encoded, |sink| {
            sink.int(1);
            sink.int(2);
        }));
    }

    #[test]
    fn what_soap_cannot_carry_is_the_tree_writers_fault() {
        for style in [Style::Encoded, Style::Literal] {
            let non_finite = Written::new(Calls(|sink| {
                sink.begin_array(1);
                sink.value(&Value::Double(f64::NAN));
                sink.end_array();
            }));
            let deep = Written::new(Calls(|sink| {
                for _ in 0..=MAX_DEPTH {
                    sink.begin_array(1);
                }
                sink.int(1);
                for _ in 0..=MAX_DEPTH {
                    sink.end_array();
                }
            }));
            for written in [non_finite, deep] {
                let direct = encode_response(
                    Version::Soap11,
                    style,
                    "urn:x",
                    "f",
                    &Value::Written(written.clone()),
                    None,
                );
                let tree = encode_response(
                    Version::Soap11,
                    style,
                    "urn:x",
                    "f",
                    &written.to_value(),
                    None,
                );
                assert!(direct.is_err(), "{direct:?}");
                assert_eq!(direct, tree);
            }
        }
    }
}
