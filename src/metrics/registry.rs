//! Counters: named atomics bumped where things happen (one relaxed add, no
//! lock, no allocation) and read only when scraped. Each Socket.IO server
//! ([`crate::socketio::Io`]) has its own [`Metrics`]; other parts (the store,
//! an application) keep [`Counter`]s and [`Histogram`]s of their own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::encode::{Family, Kind, Sample};

/// A number that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at 0 (`const`, for statics).
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    /// Adds 1.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: usize) {
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The count now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the latency histogram's buckets, in microseconds
/// (0.5 ms to 5 s; a board's SD card syncs in a few ms to a few hundred).
const BOUNDS_US: [u64; 12] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    5_000_000,
];

/// Durations counted in fixed buckets, with their sum.
#[derive(Debug)]
pub struct Histogram {
    /// Per bucket, not cumulative; the last is above every bound.
    buckets: [Counter; BOUNDS_US.len() + 1],
    sum_us: Counter,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl Histogram {
    /// A histogram with nothing in it (`const`, for statics).
    pub const fn new() -> Histogram {
        Histogram {
            buckets: [const { Counter::new() }; BOUNDS_US.len() + 1],
            sum_us: Counter::new(),
        }
    }

    /// Counts one duration in its bucket and adds it to the sum.
    pub fn observe(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_US.partition_point(|&bound| bound < us);
        self.buckets[bucket].inc();
        self.sum_us.0.fetch_add(us, Ordering::Relaxed);
    }

    /// `_bucket` (cumulative, `le` in seconds), `_sum` (seconds) and `_count`.
    pub fn samples(&self) -> Vec<Sample> {
        let mut samples = Vec::with_capacity(self.buckets.len() + 2);
        let mut total = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            total += bucket.get();
            let le = BOUNDS_US
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |&us| (us as f64 / 1e6).to_string());
            samples.push(Sample {
                suffix: "_bucket",
                labels: vec![("le", le)],
                value: total as f64,
            });
        }
        samples.push(Sample {
            suffix: "_sum",
            labels: Vec::new(),
            value: self.sum_us.get() as f64 / 1e6,
        });
        samples.push(Sample {
            suffix: "_count",
            labels: Vec::new(),
            value: total as f64,
        });
        samples
    }
}

/// Why a handshake was refused: an Engine.IO one (the protocol's errors, the
/// server's limits) or a Socket.IO one (a namespace's `CONNECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An Engine.IO request named no known transport.
    UnknownTransport,
    /// A polling handshake came by another method than GET.
    BadHandshakeMethod,
    /// A malformed Engine.IO request.
    BadRequest,
    /// The application refused the request ([`crate::engineio::Handler::allow_request`]).
    Forbidden,
    /// The client asked for Engine.IO 3 where it is off.
    UnsupportedProtocolVersion,
    /// The session limit was reached.
    ServerFull,
    /// The client's address held as many sessions not yet established as it may.
    TooManyPending,
    /// A Socket.IO `CONNECT` to a namespace that does not exist.
    UnknownNamespace,
    /// A namespace's middleware refused a `CONNECT`.
    NamespaceMiddleware,
}

impl Refusal {
    const ALL: [Refusal; 9] = [
        Refusal::UnknownTransport,
        Refusal::BadHandshakeMethod,
        Refusal::BadRequest,
        Refusal::Forbidden,
        Refusal::UnsupportedProtocolVersion,
        Refusal::ServerFull,
        Refusal::TooManyPending,
        Refusal::UnknownNamespace,
        Refusal::NamespaceMiddleware,
    ];

    /// The reason as the `reason` label of `sessio_handshakes_refused_total` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownTransport => "unknown_transport",
            Refusal::BadHandshakeMethod => "bad_handshake_method",
            Refusal::BadRequest => "bad_request",
            Refusal::Forbidden => "forbidden",
            Refusal::UnsupportedProtocolVersion => "unsupported_protocol_version",
            Refusal::ServerFull => "server_full",
            Refusal::TooManyPending => "too_many_pending",
            Refusal::UnknownNamespace => "unknown_namespace",
            Refusal::NamespaceMiddleware => "namespace_middleware",
        }
    }
}

/// The counters of one Socket.IO server: its Engine.IO transports and its
/// namespaces bump them, `/metrics` reads them ([`Metrics::families`]).
#[derive(Debug, Default)]
pub struct Metrics {
    refused: [Counter; Refusal::ALL.len()],
    /// Engine.IO packets received and sent (a broadcast counts once per recipient).
    pub packets_in: Counter,
    /// Engine.IO packets sent (a broadcast counts once per recipient).
    pub packets_out: Counter,
    /// Engine.IO payload bytes: WebSocket messages and polling bodies, without
    /// the HTTP and WebSocket framing.
    pub bytes_in: Counter,
    /// Engine.IO payload bytes sent, framing not counted.
    pub bytes_out: Counter,
    /// Events emitted to a namespace or rooms.
    pub broadcasts: Counter,
    /// Acknowledgements the server waited for in vain.
    pub acks_timed_out: Counter,
}

impl Metrics {
    /// Counts a refused handshake.
    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].inc();
    }

    /// The counters as metric families.
    pub fn families(&self) -> Vec<Family> {
        let counter = counter_family;
        vec![
            labelled_family(
                "sessio_handshakes_refused_total",
                "Engine.IO handshakes and Socket.IO namespace connections refused, by reason.",
                "reason",
                Refusal::ALL.iter().map(|&r| (r.as_str(), &self.refused[r as usize])),
            ),
            counter("sessio_packets_received_total", "Engine.IO packets received.", &self.packets_in),
            counter("sessio_packets_sent_total", "Engine.IO packets sent; a broadcast counts once per recipient.", &self.packets_out),
            counter("sessio_bytes_received_total", "Engine.IO payload bytes received (WebSocket messages, polling bodies; no HTTP or WebSocket framing).", &self.bytes_in),
            counter("sessio_bytes_sent_total", "Engine.IO payload bytes sent (WebSocket messages, polling bodies; no HTTP or WebSocket framing).", &self.bytes_out),
            counter("sessio_broadcasts_total", "Events emitted to a namespace or rooms.", &self.broadcasts),
            counter("sessio_acks_timed_out_total", "Acknowledgements the server waited for in vain.", &self.acks_timed_out),
        ]
    }
}

/// A counter as a family of one sample.
pub fn counter_family(name: &'static str, help: &'static str, counter: &Counter) -> Family {
    Family {
        name,
        help,
        kind: Kind::Counter,
        samples: vec![Sample::plain(counter.get() as f64)],
    }
}

/// Counters that differ by one label's value, as one family.
pub fn labelled_family<'a>(
    name: &'static str,
    help: &'static str,
    label: &'static str,
    counters: impl Iterator<Item = (&'static str, &'a Counter)>,
) -> Family {
    Family {
        name,
        help,
        kind: Kind::Counter,
        samples: counters
            .map(|(value, counter)| Sample::labelled(label, value, counter.get() as f64))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_duration_in_its_bucket_cumulatively() {
        let h = Histogram::new();
        for us in [100, 500, 501, 7_000, 9_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let samples = h.samples();
        let bucket = |le: &str| {
            samples
                .iter()
                .find(|s| s.suffix == "_bucket" && s.labels[0].1 == le)
                .map(|s| s.value)
        };
        assert_eq!(bucket("0.0005"), Some(2.0), "the bound is inclusive");
        assert_eq!(bucket("0.001"), Some(3.0));
        assert_eq!(bucket("0.005"), Some(3.0));
        assert_eq!(bucket("0.01"), Some(4.0));
        assert_eq!(bucket("5"), Some(4.0));
        assert_eq!(bucket("+Inf"), Some(5.0));
        let last = &samples[samples.len() - 2..];
        assert_eq!(last[0].suffix, "_sum");
        assert!((last[0].value - 9.008101).abs() < 1e-9);
        assert_eq!((last[1].suffix, last[1].value), ("_count", 5.0));
    }

    #[test]
    fn labelled_counters_keep_apart() {
        let metrics = Metrics::default();
        metrics.refused(Refusal::NamespaceMiddleware);
        metrics.refused(Refusal::NamespaceMiddleware);
        metrics.refused(Refusal::ServerFull);
        let families = metrics.families();
        let refused: Vec<(String, f64)> = families
            .iter()
            .find(|f| f.name == "sessio_handshakes_refused_total")
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| (s.labels[0].1.clone(), s.value))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(refused.len(), Refusal::ALL.len());
        assert!(refused.contains(&("namespace_middleware".into(), 2.0)));
        assert!(refused.contains(&("server_full".into(), 1.0)));
        assert_eq!(refused.iter().map(|r| r.1).sum::<f64>(), 3.0);
    }
}
