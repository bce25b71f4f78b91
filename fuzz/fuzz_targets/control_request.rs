#![no_main]
// The binary's control messages (src/bin/sessio/control/protocol.rs), at the path the
// binary has them; the body and its properties: src/bin/sessio/fuzzing/control_request.rs.

#[path = "../../src/bin/sessio/control/protocol.rs"]
mod protocol;
mod control {
    pub(crate) use super::protocol;
}
#[path = "../../src/bin/sessio/fuzzing/control_request.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::control_request(data));
