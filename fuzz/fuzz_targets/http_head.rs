#![no_main]
// The body and its properties: src/fuzzing/http_head.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::http_head(data));
