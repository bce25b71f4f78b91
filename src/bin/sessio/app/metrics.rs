//! `GET /metrics`: the counters of the server that serves it (its Socket.IO
//! server's, its store's, its accounts') and its state now, in the
//! Prometheus text format, for the clients `--metrics-allow` names (loopback
//! by default; others get 403). Behind a trusted proxy the client is the
//! address the proxy forwarded, never the proxy.

use http_types::{Method, Request, Response, StatusCode};
use sessio::metrics::{self, counter_family, labelled_family, Counter, Family, Kind, Sample};

use super::App;

/// The path it is served on.
pub const PATH: &str = "/metrics";

/// How a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Ok,
    Failed,
    Throttled,
}

impl Login {
    const ALL: [Login; 3] = [Login::Ok, Login::Failed, Login::Throttled];

    fn as_str(self) -> &'static str {
        match self {
            Login::Ok => "ok",
            Login::Failed => "failed",
            Login::Throttled => "throttled",
        }
    }
}

/// The app's own counters: logins by result, and registrations.
#[derive(Debug, Default)]
pub struct AccountCounters {
    logins: [Counter; Login::ALL.len()],
    pub registrations: Counter,
}

impl AccountCounters {
    pub fn login(&self, how: Login) {
        self.logins[how as usize].inc();
    }

    fn families(&self) -> [Family; 2] {
        [
            labelled_family(
                "sessio_logins_total",
                "Logins, by result.",
                "result",
                Login::ALL
                    .iter()
                    .map(|&l| (l.as_str(), &self.logins[l as usize])),
            ),
            counter_family(
                "sessio_registrations_total",
                "Users registered.",
                &self.registrations,
            ),
        ]
    }
}

/// Answers a request for [`PATH`].
pub async fn handle(app: &App, req: &Request) -> Response {
    if req.method() != Method::Get && req.method() != Method::Head {
        let mut res = Response::new(StatusCode::MethodNotAllowed);
        res.insert_header("allow", "GET, HEAD");
        return res;
    }
    let ip = app.client_ip(req);
    if !app.config.metrics_allow.allows(ip) {
        log::debug!("refused /metrics to {ip} (not in --metrics-allow)");
        let mut res = Response::new(StatusCode::Forbidden);
        res.set_body("metrics are not served to this address (see --metrics-allow)\n");
        return res;
    }
    // Counting the store's records reads it: off the executor.
    let app = app.clone();
    let text = sessio::blocking::unblock(move || scrape(&app)).await;
    let mut res = Response::new(StatusCode::Ok);
    res.insert_header("content-type", metrics::CONTENT_TYPE);
    res.insert_header("cache-control", "no-store");
    res.set_body(text);
    res
}

/// Every family, as exposition text.
fn scrape(app: &App) -> String {
    let gauge = |name, help, samples| Family {
        name,
        help,
        kind: Kind::Gauge,
        samples,
    };
    let (polling, websocket) = app.io.transport_counts();
    let mut namespaces: Vec<_> = app
        .io
        .namespaces()
        .iter()
        .map(|nsp| (nsp.name().to_owned(), nsp.socket_count()))
        .collect();
    namespaces.sort();
    let mut families = vec![
        gauge(
            "sessio_connections",
            "Engine.IO connections open now, by transport.",
            vec![
                Sample::labelled("transport", "polling", polling as f64),
                Sample::labelled("transport", "websocket", websocket as f64),
            ],
        ),
        gauge(
            "sessio_sockets",
            "Socket.IO sockets connected now, by namespace.",
            namespaces
                .into_iter()
                .map(|(name, n)| Sample::labelled("namespace", name, n as f64))
                .collect(),
        ),
    ];
    families.extend(app.io.metrics().families());
    families.extend(app.counters.families());
    families.push(Family {
        name: "sessio_store_sync_seconds",
        help: "The store's group-commit syncs (flush and fsync, shared by the writers waiting) and how long each took.",
        kind: Kind::Histogram,
        samples: app.db.sync_times().samples(),
    });
    match app.sessions.store().count() {
        Ok(n) => families.push(gauge(
            "sessio_store_sessions",
            "Session records in the store (expired ones are purged now and then).",
            vec![Sample::plain(n as f64)],
        )),
        Err(err) => log::warn!("/metrics: cannot count the sessions: {err}"),
    }
    families.push(gauge(
        "sessio_store_up",
        "Whether the store takes writes (1), or refuses them until its disk takes them again (0).",
        vec![Sample::plain(f64::from(u8::from(app.db.is_up())))],
    ));
    match app.db.size_on_disk() {
        Ok(bytes) => families.push(gauge(
            "sessio_store_size_bytes",
            "The store's size on disk, in bytes.",
            vec![Sample::plain(bytes as f64)],
        )),
        Err(err) => log::warn!("/metrics: cannot size the store: {err}"),
    }
    #[cfg(feature = "redis")]
    if let Some(cluster) = &app.cluster {
        families.push(gauge(
            "sessio_redis_adapter_up",
            "Whether the link to the cluster's Redis is up (1) or being retried (0).",
            vec![Sample::plain(f64::from(u8::from(cluster.connected())))],
        ));
        families.push(Family {
            name: "sessio_redis_adapter_dropped_total",
            help: "Messages for the other nodes dropped: Redis was unreachable or the queue to it full.",
            kind: Kind::Counter,
            samples: vec![Sample::plain(cluster.dropped() as f64)],
        });
    }
    families.extend(metrics::process_families());
    metrics::encode(&families)
}
