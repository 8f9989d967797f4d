//! Any bytes posted to `/soap`, as SOAP 1.1 and 1.2: an envelope or a SOAP fault, never a
//! panic, abort or runaway (href cycles and fan-out included).
#![no_main]

use groupware::codec::XmlLimits;
use groupware::codec::soap::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = XmlLimits::default();
    let _ = decode::decode_request(data, Some("text/xml"), &limits);
    let _ = decode::decode_request(data, Some("application/soap+xml"), &limits);
});
