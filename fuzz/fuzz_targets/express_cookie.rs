#![no_main]
// The body and its properties: src/fuzzing/express_cookie.rs (needs the redis feature).
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::express_cookie(data));
