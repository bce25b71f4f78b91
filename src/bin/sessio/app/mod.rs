//! The seed's application on sessio's library: the HTTP API, the Socket.IO
//! events and the web page, wired to one store in the data directory.

pub mod admin;
mod admin_ui;
mod api;
mod data_dir;
mod error;
mod events;
mod metrics;
mod start;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use http_types::{Request, Response};
use sessio::accounts::{Accounts, LoginThrottle};
use sessio::assets::Assets;
use sessio::http::OriginPolicy;
use sessio::session::Sessions;
use sessio::socketio::admin::Admin;
use sessio::socketio::Io;
use sessio::store::DurableDb;

use crate::config::Config;

// Named by tests/footprint/server.rs, which mounts this module to run the app.
#[allow(unused_imports)]
pub use error::StartError;
pub use start::run;

/// Everything a request may need. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

pub struct AppInner {
    pub config: Config,
    pub db: DurableDb,
    pub sessions: Sessions,
    pub accounts: Accounts,
    pub throttle: LoginThrottle,
    /// Password hashes running at once: each takes a core and 10 MiB.
    pub hashing: smol::lock::Semaphore,
    pub origins: OriginPolicy,
    pub assets: Assets,
    pub io: Io,
    /// The Socket.IO Admin UI's task, with `--admin-user`.
    pub admin_ui: Option<Admin>,
    /// The link to the cluster, with `--redis`.
    #[cfg(feature = "redis")]
    pub cluster: Option<start::ClusterLink>,
    /// Routes transport requests to the node holding their session, with `--redis`.
    #[cfg(feature = "redis")]
    pub forwarder: Option<sessio::cluster::Forwarder>,
    /// This node's entry in the cluster's directory, refreshed while it runs.
    #[cfg(feature = "redis")]
    pub directory: Option<sessio::cluster::Directory>,
    /// Logins and registrations, for `/metrics`.
    pub counters: metrics::AccountCounters,
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.inner
    }
}

impl App {
    /// Answers one HTTP request. Takes its own handle on the app (a clone),
    /// so that the server's handler is this future alone, with no wrapper
    /// holding a second copy of the request.
    pub async fn handle(self, req: Request) -> Response {
        if self.io.matches(req.url().path()) {
            #[cfg(feature = "redis")]
            let req = match &self.forwarder {
                // Boxed: a cluster's forwarding is a feature of its own, and
                // its future would take room in every connection's task.
                Some(forwarder) => match Box::pin(forwarder.route(req)).await {
                    sessio::cluster::Routed::Here(req) => req,
                    sessio::cluster::Routed::There(res) => return res,
                },
                None => req,
            };
            let cors = self.origins.cors_origin(&req);
            return match cors {
                Some(origin) if req.method() == http_types::Method::Options => {
                    sessio::http::preflight(&req, &origin)
                }
                Some(origin) => {
                    let mut res = self.io.handle(req).await;
                    sessio::http::allow_credentials(&mut res, &origin);
                    res
                }
                None => self.io.handle(req).await,
            };
        }
        let path = req.url().path();
        if path.starts_with("/api/") {
            // Boxed: the API's future (a password hash's wait and all) is
            // three times the transport's, and every connection's task
            // would hold its room.
            return Box::pin(api::handle(&self, req)).await;
        }
        if path == metrics::PATH {
            return metrics::handle(&self, &req).await;
        }
        self.assets
            .serve(&req)
            .unwrap_or_else(|| Response::new(http_types::StatusCode::MethodNotAllowed))
    }

    /// The client's address: with a trusted proxy, the last `X-Forwarded-For`
    /// entry (the one the proxy added).
    pub fn client_ip(&self, req: &Request) -> IpAddr {
        let forwarded = req.header("x-forwarded-for").map(|v| v.as_str());
        sessio::http::client_ip(req.peer_addr(), forwarded, self.config.trust_proxy)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}
