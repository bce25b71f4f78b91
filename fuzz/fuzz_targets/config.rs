#![no_main]
// The body and its properties: src/fuzzing/config.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::config(data));
