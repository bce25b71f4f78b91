#![no_main]
// The body and its properties: src/fuzzing/control_request.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::control_request(data));
