#![no_main]
// The body and its properties: src/fuzzing/engineio_payload.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::engineio_payload(data));
