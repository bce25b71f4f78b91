#![no_main]
// The body and its properties: src/fuzzing/session_cookie.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::session_cookie(data));
