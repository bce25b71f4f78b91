//! The bodies of the fuzz targets: one `fn(&[u8])` per parser, checking properties
//! (round trips, limits) and not only that nothing panics. `fuzz/fuzz_targets/*.rs`
//! (run with `cargo fuzz`, see fuzz/README.md) calls them, and so does the stable
//! property test in `tests.rs`, over the seeds in `fuzz/corpus/` and seeded mutations
//! of them. Compiled only for tests and for `cargo fuzz` (which sets `--cfg fuzzing`);
//! not part of the library's API.

mod asset_path;
#[cfg(feature = "redis")]
mod cluster_answer;
mod engineio_payload;
mod engineio_payload_v3;
#[cfg(feature = "redis")]
mod express_cookie;
mod http_chunked;
mod http_head;
#[cfg(feature = "redis")]
mod redis_adapter;
#[cfg(feature = "redis")]
mod redis_streams;
mod session_cookie;
mod socketio_packet;
mod socketio_receive;
#[cfg(test)]
mod tests;

pub use asset_path::asset_path;
#[cfg(feature = "redis")]
pub use cluster_answer::cluster_answer;
pub use engineio_payload::engineio_payload;
pub use engineio_payload_v3::engineio_payload_v3;
#[cfg(feature = "redis")]
pub use express_cookie::express_cookie;
pub use http_chunked::http_chunked;
pub use http_head::http_head;
#[cfg(feature = "redis")]
pub use redis_adapter::redis_adapter;
#[cfg(feature = "redis")]
pub use redis_streams::redis_streams;
pub use session_cookie::session_cookie;
pub use socketio_packet::socketio_packet;
pub use socketio_receive::socketio_receive;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name: the name is its file in `fuzz/fuzz_targets/` and its folder
/// in `fuzz/corpus/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("asset_path", asset_path),
    #[cfg(feature = "redis")]
    ("cluster_answer", cluster_answer),
    ("engineio_payload", engineio_payload),
    ("engineio_payload_v3", engineio_payload_v3),
    #[cfg(feature = "redis")]
    ("express_cookie", express_cookie),
    ("http_chunked", http_chunked),
    ("http_head", http_head),
    #[cfg(feature = "redis")]
    ("redis_adapter", redis_adapter),
    #[cfg(feature = "redis")]
    ("redis_streams", redis_streams),
    ("session_cookie", session_cookie),
    ("socketio_packet", socketio_packet),
    ("socketio_receive", socketio_receive),
];
