#![no_main]
// The body and its properties: src/fuzzing/engineio_payload_v3.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::engineio_payload_v3(data));
