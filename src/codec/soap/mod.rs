//! SOAP 1.1 and 1.2: envelopes in ([`decode`]), envelopes and faults out ([`encode`]),
//! WSDL 1.1 rendered from a neutral service description ([`wsdl`]).
//!
//! Like the XML-RPC codec it knows nothing of applications: it yields the method's local
//! name, its namespace and the parameters by name; mapping those onto a registered method
//! and its positional parameters is `crate::soap_binding`'s job.

pub mod decode;
pub mod encode;
mod sink;
pub mod wsdl;

use groupware_api::{Fault, Value};

/// The SOAP 1.1 envelope namespace.
pub const ENV_11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace.
pub const ENV_12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 section 5 encoding.
pub const ENC_11: &str = "http://schemas.xmlsoap.org/soap/encoding/";
/// SOAP 1.2 encoding.
pub const ENC_12: &str = "http://www.w3.org/2003/05/soap-encoding";
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// Apache SOAP's namespace, home of the `Map` type PHP uses for associative arrays.
pub const APACHE: &str = "http://xml.apache.org/xml-soap";
/// The method namespace of the rpc/encoded WSDL (any namespace is accepted on input).
pub const RPC_NAMESPACE: &str = "urn:groupware";
/// The target namespace of the document/literal WSDL: a call in this namespace came
/// through that WSDL and is answered in literal style.
pub const LITERAL_NAMESPACE: &str = "urn:groupware:literal";
/// Where our fault detail entries live.
pub const DETAIL_NAMESPACE: &str = "urn:groupware:fault";

/// The SOAP version of a request, answered in kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Soap11,
    Soap12,
}

impl Version {
    pub fn envelope_namespace(self) -> &'static str {
        match self {
            Version::Soap11 => ENV_11,
            Version::Soap12 => ENV_12,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Version::Soap11 => "text/xml; charset=utf-8",
            Version::Soap12 => "application/soap+xml; charset=utf-8",
        }
    }
}

/// How a response body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// rpc/encoded: every value carries `xsi:type`, arrays are `SOAP-ENC:Array`.
    Encoded,
    /// document/literal wrapped: plain elements in the WSDL's target namespace.
    Literal,
}

/// A decoded SOAP request.
#[derive(Debug, Clone, PartialEq)]
pub struct SoapCall {
    pub version: Version,
    /// The local name of the Body's first child, as sent (`system_login`, `a.b.c`).
    pub method: String,
    /// That element's namespace, `""` when unqualified.
    pub namespace: String,
    /// The parameters by local name, in document order.
    pub params: Vec<(String, Value)>,
    /// `(sessionid, kp3)` from a session header block.
    pub session: Option<(String, String)>,
}

impl SoapCall {
    /// The response style: literal for calls made through the document/literal WSDL.
    pub fn style(&self) -> Style {
        if self.namespace == LITERAL_NAMESPACE {
            Style::Literal
        } else {
            Style::Encoded
        }
    }
}

/// The SOAP fault code class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    VersionMismatch,
    MustUnderstand,
    /// `Client` in SOAP 1.1, `Sender` in 1.2.
    Client,
    /// `Server` in SOAP 1.1, `Receiver` in 1.2.
    Server,
}

/// A fault ready to be encoded: the class, the numeric code and English text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    pub version: Version,
    pub kind: FaultKind,
    pub fault: Fault,
}

impl SoapFault {
    /// A fault classed by its code: client mistakes are `Client`, the rest `Server`.
    pub fn from_fault(version: Version, fault: Fault) -> Self {
        let kind = if fault.is_client_fault() {
            FaultKind::Client
        } else {
            FaultKind::Server
        };
        SoapFault {
            version,
            kind,
            fault,
        }
    }

    /// The HTTP status: 500, except SOAP 1.2 `Sender` faults, which its HTTP binding
    /// answers with 400.
    pub fn http_status(&self) -> u16 {
        match (self.version, self.kind) {
            (Version::Soap12, FaultKind::Client) => 400,
            _ => 500,
        }
    }
}
