//! Prometheus metrics: counters ([`Metrics`], one per Socket.IO server, bumped
//! by its layers where things happen), the text format they are served in,
//! the process's own figures from `/proc/self`, and who may read them.

mod allow;
mod encode;
mod process;
mod registry;

pub use allow::{AllowList, BadNet};
pub use encode::{encode, Family, Kind, Sample, CONTENT_TYPE};
pub use process::families as process_families;
pub use registry::{counter_family, labelled_family, Counter, Histogram, Metrics, Refusal};
