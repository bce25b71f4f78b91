#![no_main]
// The body and its properties: src/fuzzing/asset_path.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::asset_path(data));
