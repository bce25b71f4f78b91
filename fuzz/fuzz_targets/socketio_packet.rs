#![no_main]
// The body and its properties: src/fuzzing/socketio_packet.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessio::fuzzing::socketio_packet(data));
