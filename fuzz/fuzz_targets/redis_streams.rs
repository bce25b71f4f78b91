#![no_main]
// The body and its properties: src/fuzzing/redis_streams.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::redis_streams(data));
