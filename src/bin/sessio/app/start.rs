//! Starting and stopping the server: the data directory, the secret, the
//! store, the listener, the background tasks, and a clean stop on SIGTERM or
//! SIGINT.

use std::sync::Arc;
use std::time::Duration;

use async_signal::{Signal, Signals};
use sessio::accounts::ThrottleConfig;
use sessio::assets::Assets;
use sessio::engineio::EngineConfig;
use sessio::http::{serve, Limits, OriginPolicy};
use sessio::session::{CookieKeys, Secret, SessionConfig, Sessions};
use sessio::socket_session;
use sessio::socketio::admin::{instrument, AdminOptions};
use sessio::socketio::{Io, RecoveryConfig};
use smol::stream::StreamExt;

use super::admin_ui::AccountLogin;
use super::data_dir::{open_accounts, open_db_for_serving, open_session_store};
use super::error::StartError;
use super::metrics::AccountCounters;
use super::{admin, events, App, AppInner};
#[cfg(feature = "redis")]
use crate::config::CookieFormat;
use crate::config::{AccountStoreKind, Config, SessionStoreKind};
use crate::control::ControlListener;

/// The cookie keys in the format the options choose.
fn cookie_keys(config: &Config, secret: &Secret, previous: &[Secret]) -> CookieKeys {
    match config.cookie_format {
        #[cfg(feature = "redis")]
        CookieFormat::Express => CookieKeys::express(secret, previous),
        // Config::load refuses express without the redis feature.
        _ => CookieKeys::new(secret, previous),
    }
}

fn load_secret(config: &Config) -> Result<Secret, StartError> {
    let secret = if let Some(text) = &config.secret {
        Secret::from_text(text)
    } else if let Some(file) = &config.secret_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| StartError::Secret(format!("{}: {e}", file.display())))?;
        Secret::from_text(text.trim())
    } else {
        Secret::load_or_create(&config.data_dir)
    };
    secret.map_err(|e| StartError::Secret(e.to_string()))
}

/// Builds the application from its configuration.
pub fn build(config: Config) -> Result<App, StartError> {
    let db = open_db_for_serving(&config)?;
    let secret = load_secret(&config)?;
    let previous = config
        .previous_secrets
        .iter()
        .map(|s| Secret::from_text(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartError::Secret(format!("previous secret: {e}")))?;
    let store = open_session_store(&config, &db)?;
    let sessions = Sessions::new(
        store,
        cookie_keys(&config, &secret, &previous),
        SessionConfig {
            cookie_name: config.cookie_name().to_owned(),
            max_age: config.session_max_age,
            secure: config.secure_cookie(),
            rolling: config.session_rolling,
        },
    );
    let accounts = open_accounts(&config, &db)?;
    let assets = match &config.www {
        Some(dir) => {
            Assets::from_dir(dir).map_err(|e| StartError::Www(dir.clone(), e.to_string()))?
        }
        None => Assets::embedded(),
    };
    let origins = OriginPolicy::new(&config.allowed_origins, config.trust_proxy);
    #[cfg(feature = "redis")]
    let (directory, forwarder) = forwarding(&config, &secret)?;
    let engine = EngineConfig {
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
        max_payload: config.max_payload,
        max_sessions: config.max_connections,
        max_queued_bytes: config.max_queued_bytes,
        max_pending_sessions: config.max_pending_sessions,
        trust_proxy: config.trust_proxy,
        allow_eio3: config.allow_eio3,
        #[cfg(feature = "redis")]
        sid_prefix: directory
            .as_ref()
            .and_then(|d| d.tag())
            .map(|tag| tag.to_string())
            .unwrap_or_default(),
        ..EngineConfig::default()
    };
    let caps = sessio::socketio::Limits {
        max_pending_acks: config.max_pending_acks,
        max_attachments: config.max_attachments,
        max_rooms: config.max_rooms,
        max_json_depth: config.max_json_depth,
    };
    let check = origins.clone();
    let recovery = RecoveryConfig {
        window: config.recovery_window,
        max_buffered_bytes: config.recovery_buffer,
        max_disconnected: config.recovery_max_disconnected,
    };
    let builder = Io::builder()
        .config(engine)
        .limits(caps)
        .recovery(recovery)
        .check_request(move |req| check.check(req).map_err(|e| e.to_string()))
        .namespace(events::namespace(sessions.clone()));
    let (builder, admin_ui) = match &config.admin_user {
        Some(user) => {
            log::info!("admin UI: namespace /admin, logins as {user:?}");
            if !matches!(accounts.get(user), Ok(Some(_))) {
                log::warn!("admin UI: there is no account {user:?} yet (sessio user add {user})");
            }
            let login = AccountLogin::new(user.clone(), accounts.clone(), config.trust_proxy);
            let (builder, admin) = instrument(builder, AdminOptions::new(login));
            (builder, Some(admin))
        }
        None => (builder, None),
    };
    #[cfg(feature = "redis")]
    let (builder, cluster) = with_cluster(builder, &config)?;
    let io = builder.build();
    // Its namespaces attached, the link runs in a task of its own.
    #[cfg(feature = "redis")]
    if let Some(cluster) = cluster.clone() {
        smol::spawn(async move { cluster.run().await }).detach();
    }
    Ok(App {
        inner: Arc::new(AppInner {
            config,
            db,
            sessions,
            throttle: accounts.throttle(ThrottleConfig::default()),
            accounts,
            hashing: smol::lock::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            ),
            origins,
            assets,
            io,
            admin_ui,
            #[cfg(feature = "redis")]
            cluster,
            #[cfg(feature = "redis")]
            forwarder,
            #[cfg(feature = "redis")]
            directory,
            counters: AccountCounters::default(),
        }),
    })
}

/// With `--redis`, this node's entry in the cluster's directory (its node tag
/// and the address the others reach it on) and the forwarder of requests for
/// other nodes' sessions; says where it is reached.
#[cfg(feature = "redis")]
fn forwarding(
    config: &Config,
    secret: &Secret,
) -> Result<
    (
        Option<sessio::cluster::Directory>,
        Option<sessio::cluster::Forwarder>,
    ),
    StartError,
> {
    use sessio::cluster::{Directory, ForwardConfig, Forwarder};
    let Some(url) = &config.redis else {
        return Ok((None, None));
    };
    let advertised = config.advertised();
    let directory = Directory::open(url, &config.redis_channel_prefix, advertised.as_deref())
        .map_err(|e| StartError::Adapter(e.to_string()))?;
    match (directory.tag(), &advertised) {
        (Some(tag), Some(address)) => log::info!(
            "forwarding: node {tag}, reached by the other nodes on {address}; requests for their sessions go to them"
        ),
        _ => log::warn!(
            "forwarding: --listen {} is a wildcard and no --advertise is given, so the other nodes cannot forward to this one: its clients need sticky sessions in front (give --advertise HOST:PORT)",
            config.listen
        ),
    }
    let forward = ForwardConfig {
        trust_proxy: config.trust_proxy,
        connect_timeout: Duration::from_secs(2),
        // A long-polling GET is held a ping interval at most.
        answer_timeout: config.ping_interval + config.ping_timeout + Duration::from_secs(10),
        max_answer_bytes: config.max_queued_bytes.saturating_mul(2).max(1 << 20),
    };
    let forwarder = Forwarder::new(directory.clone(), secret, forward);
    Ok((Some(directory), Some(forwarder)))
}

/// The link to the cluster's Redis, in the wire `--redis-adapter` names.
#[cfg(feature = "redis")]
#[derive(Clone)]
pub enum ClusterLink {
    Classic(sessio::socketio::RedisCluster),
    Streams(sessio::socketio::StreamsCluster),
}

#[cfg(feature = "redis")]
impl ClusterLink {
    pub fn connected(&self) -> bool {
        match self {
            ClusterLink::Classic(c) => c.connected(),
            ClusterLink::Streams(c) => c.connected(),
        }
    }

    pub fn dropped(&self) -> u64 {
        match self {
            ClusterLink::Classic(c) => c.dropped(),
            ClusterLink::Streams(c) => c.dropped(),
        }
    }

    async fn run(&self) {
        match self {
            ClusterLink::Classic(c) => c.run().await,
            ClusterLink::Streams(c) => c.run().await,
        }
    }
}

/// With `--redis`, makes the namespaces part of the cluster on that Redis,
/// whose link is to run once the server is built; says which adapter. With
/// `--redis-adapter streams` the cluster keeps connection state recovery.
#[cfg(feature = "redis")]
fn with_cluster(
    builder: sessio::socketio::IoBuilder,
    config: &Config,
) -> Result<(sessio::socketio::IoBuilder, Option<ClusterLink>), StartError> {
    use crate::config::RedisAdapterKind;
    use sessio::socketio::{RedisCluster, StreamsCluster};
    let Some(url) = &config.redis else {
        log::info!("adapter: local (no --redis)");
        return Ok((builder, None));
    };
    let prefix = &config.redis_channel_prefix;
    // The URL without its password.
    let shown = match url.rsplit_once('@') {
        Some((_, host)) => format!("redis://***@{host}"),
        None => url.clone(),
    };
    let (builder, link) = match config.redis_adapter {
        RedisAdapterKind::Classic => {
            let cluster =
                RedisCluster::new(url, prefix).map_err(|e| StartError::Adapter(e.to_string()))?;
            log::info!(
                "adapter: redis at {shown}, channels {prefix}#<nsp>#, server id {}",
                cluster.uid()
            );
            let attach = cluster.clone();
            let builder = builder.cluster(move |nsp| attach.attach(nsp));
            (builder, ClusterLink::Classic(cluster))
        }
        RedisAdapterKind::Streams => {
            let window = config.recovery_window;
            let cluster = StreamsCluster::new(url, prefix, window)
                .map_err(|e| StartError::Adapter(e.to_string()))?;
            log::info!(
                "adapter: redis streams at {shown}, stream {prefix}, channels {prefix}#<nsp>#, server id {}, recovery on any node {}",
                cluster.uid(),
                if window.is_zero() { "off" } else { "on" }
            );
            let attach = cluster.clone();
            // The cluster keeps recovery: no server keeps its own.
            let builder = builder
                .recovery(RecoveryConfig {
                    window: Duration::ZERO,
                    ..RecoveryConfig::default()
                })
                .cluster(move |nsp| attach.attach(nsp));
            (builder, ClusterLink::Streams(cluster))
        }
    };
    Ok((builder, Some(link)))
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), StartError> {
    let listen = config.listen;
    // Opening the store and hashing the dummy password block: off the executor.
    let app = sessio::blocking::unblock(move || build(config)).await?;
    let listener = smol::net::TcpListener::bind(listen)
        .await
        .map_err(|e| StartError::Listen(listen, e))?;
    let mut signals =
        Signals::new([Signal::Term, Signal::Int]).map_err(|e| StartError::Listen(listen, e))?;
    let local = listener.local_addr().unwrap_or(listen);
    #[cfg(feature = "tls")]
    let tls = tls_config(&app.config)?;
    let control = bind_control(&app);
    if app.config.account_store == AccountStoreKind::Redis {
        log::info!("accounts in redis, shared by every node on it");
        if app.config.session_store != SessionStoreKind::Redis {
            log::warn!("accounts in redis but sessions in sled: deleting a user or changing their password ends their sessions on this node only (--session-store redis ends them on every node)");
        }
    }
    log::info!(
        "sessions in {}, cookie {} in {} format",
        match app.config.session_store {
            SessionStoreKind::Redis => "redis",
            _ => "sled",
        },
        app.config.cookie_name(),
        app.sessions.cookie_format()
    );
    log::info!(
        "sessio {} ready on {}://{local} (data in {})",
        env!("CARGO_PKG_VERSION"),
        if app.config.tls_enabled() {
            "https"
        } else {
            "http"
        },
        app.config.data_dir.display()
    );

    let background = [
        smol::spawn({
            let io = app.io.clone();
            async move { io.run_heartbeat().await }
        }),
        smol::spawn({
            let nsp = app.io.of("/").map(|nsp| (nsp, app.sessions.clone()));
            let interval = app.config.session_check_interval;
            async move {
                if let Some((nsp, sessions)) = nsp {
                    socket_session::watch_expiry(nsp, sessions, interval).await
                }
            }
        }),
        smol::spawn({
            let (admin, io) = (app.admin_ui.clone(), app.io.clone());
            async move {
                if let Some(admin) = admin {
                    admin.run(io).await
                }
            }
        }),
        smol::spawn(purge_expired(app.clone())),
        #[cfg(feature = "redis")]
        smol::spawn({
            let directory = app.directory.clone();
            async move {
                if let Some(directory) = directory {
                    directory.run().await
                }
            }
        }),
        smol::spawn(serve_control(app.clone(), control)),
    ];
    let limits = Limits {
        max_connections: app.config.max_connections,
        max_connections_per_address: app.config.max_connections_per_address,
        max_body_bytes: app.config.max_payload.max(64 * 1024),
        request_timeout: app.config.request_timeout,
        json_errors_under: Some("/api/"),
        ..Limits::default()
    };
    let handler = {
        let app = app.clone();
        move |req| app.clone().handle(req)
    };
    #[cfg(feature = "tls")]
    let server = match tls {
        Some(tls) => smol::spawn(sessio::http::serve_tls(listener, limits, tls, handler)),
        None => smol::spawn(serve(listener, limits, handler)),
    };
    #[cfg(not(feature = "tls"))]
    let server = smol::spawn(serve(listener, limits, handler));

    let signal = signals.next().await;
    let signal = match signal {
        Some(Ok(Signal::Term)) => "SIGTERM",
        Some(Ok(Signal::Int)) => "SIGINT",
        _ => "a signal",
    };
    log::info!("stopping on {signal}");
    drop(server);
    app.io.close_all();
    // Give the transports a moment to write their close packets.
    let drained = async {
        while app.io.connection_count() > 0 {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
    };
    smol::future::or(drained, async {
        smol::Timer::after(Duration::from_millis(500)).await;
    })
    .await;
    smol::Timer::after(Duration::from_millis(50)).await;
    drop(background);
    #[cfg(feature = "redis")]
    if let Some(directory) = app.directory.clone() {
        sessio::blocking::unblock(move || directory.leave()).await;
    }
    let db = app.db.clone();
    if let Err(err) = sessio::blocking::unblock(move || db.sync()).await {
        log::error!("final store flush failed: {err}");
    }
    log::info!("stopped");
    Ok(())
}

/// The TLS configuration the options ask for, if any; a self-signed
/// certificate is made (and kept in the data directory) on first use.
#[cfg(feature = "tls")]
fn tls_config(config: &Config) -> Result<Option<Arc<rustls::ServerConfig>>, StartError> {
    let (cert, key) = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ if config.tls_self_signed => {
            let (cert, key, made) = sessio::tls::self_signed::load_or_create(&config.data_dir)
                .map_err(StartError::Tls)?;
            if made {
                log::info!(
                    "made a self-signed certificate for {} in {}; browsers warn until it is trusted",
                    sessio::tls::self_signed::names().join(", "),
                    cert.display()
                );
            }
            (cert, key)
        }
        _ => return Ok(None),
    };
    sessio::tls::server_config(&cert, &key)
        .map(Some)
        .map_err(StartError::Tls)
}

/// The control socket for the operator's commands, in the data directory.
/// Without it the server runs on, and the commands need it stopped.
fn bind_control(app: &App) -> Option<ControlListener> {
    // The store's lock is held: a socket file there is a killed server's.
    match ControlListener::bind(&app.config.data_dir) {
        Ok(listener) => Some(listener),
        Err(err) => {
            log::warn!(
                "no control socket in {} ({err}): operator commands need the server stopped",
                app.config.data_dir.display()
            );
            None
        }
    }
}

/// Answers the operator's commands until dropped (which removes the socket).
async fn serve_control(app: App, listener: Option<ControlListener>) {
    if let Some(listener) = listener {
        listener
            .serve(move |request| admin::answer(app.clone(), request))
            .await
    }
}

/// Removes expired sessions from the store now and then.
async fn purge_expired(app: App) {
    let every = (app.config.session_check_interval * 10).max(Duration::from_secs(60));
    loop {
        smol::Timer::after(every).await;
        let sessions = app.sessions.clone();
        match sessio::blocking::unblock(move || sessions.purge_expired()).await {
            Ok(0) => {}
            Ok(n) => log::debug!("purged {n} expired sessions"),
            // The store logs going down and coming back up.
            Err(err) if err.is_disk_fault() => {}
            Err(err) => log::warn!("purging expired sessions failed: {err}"),
        }
    }
}
