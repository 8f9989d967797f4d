//! Any bytes posted to `/xmlrpc`: decoding returns a call or a fault, never panics,
//! aborts or runs away; a decoded call encodes back.
#![no_main]

use groupware::codec::{XmlLimits, xmlrpc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(call) = xmlrpc::decode_call(data, &XmlLimits::default()) {
        for param in &call.params {
            let _ = xmlrpc::encode_response(param);
        }
    }
});
