#![no_main]
// The body and its properties: src/fuzzing/cluster_answer.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::cluster_answer(data));
