#![no_main]
// The body and its properties: src/fuzzing/socketio_receive.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::socketio_receive(data));
