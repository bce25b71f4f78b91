//! The bodies of the fuzz targets for the binary's own parsers (the configuration
//! and the control socket's messages), as `src/fuzzing/` holds the library's: each
//! `fn(&[u8])` checks properties. `fuzz/fuzz_targets/{config,control_request}.rs`
//! mount these files with the modules they test; here they run as the same bounded
//! property test as the library's (`src/fuzzing/tests.rs`, mounted). Test only.

mod config;
mod control_request;
#[path = "../../../fuzzing/tests.rs"]
mod tests;

pub use config::config;
pub use control_request::control_request;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name: the name is its file in `fuzz/fuzz_targets/` and its folder
/// in `fuzz/corpus/`.
pub const TARGETS: &[(&str, Target)] = &[("config", config), ("control_request", control_request)];
