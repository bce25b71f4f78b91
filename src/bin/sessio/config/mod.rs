//! The server's configuration: defaults for a board, then a TOML file, then
//! `SESSIO_*` environment variables, then command-line flags, each option
//! known by one name in all four places.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;
use sessio::engineio::EngineConfig;
use sessio::session::SessionConfig;
use sessio::socketio::RecoveryConfig;

/// Everything `sessio serve` can be told.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub www: Option<PathBuf>,
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub previous_secrets: Vec<String>,
    /// Whether the cookie is `Secure`; unset: when serving HTTPS ([`Config::secure_cookie`]).
    pub cookie_secure: Option<bool>,
    pub trust_proxy: bool,
    /// Who may read `/metrics` (loopback by default).
    pub metrics_allow: sessio::metrics::AllowList,
    pub allowed_origins: Vec<String>,
    /// The account the Socket.IO Admin UI logs in as; none turns it off.
    pub admin_user: Option<String>,
    pub registration: bool,
    pub session_max_age: Duration,
    pub session_rolling: bool,
    pub session_check_interval: Duration,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub max_payload: usize,
    pub allow_eio3: bool,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub request_timeout: Duration,
    pub max_queued_bytes: usize,
    pub max_pending_sessions: usize,
    pub max_pending_acks: usize,
    pub max_attachments: usize,
    pub max_rooms: usize,
    pub max_json_depth: usize,
    /// Connection state recovery's window; zero turns it off.
    pub recovery_window: Duration,
    pub recovery_buffer: usize,
    pub recovery_max_disconnected: usize,
    pub threads: usize,
    pub blocking_threads: usize,
    pub cache_mb: u64,
    pub log_level: LevelFilter,
    /// HTTPS (the `tls` feature): a PEM certificate chain and its key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// HTTPS with a certificate made and kept in the data directory.
    pub tls_self_signed: bool,
    /// The Redis server (the `redis` feature) that carries broadcasts and room
    /// operations between nodes, and keeps sessions with `--session-store redis`.
    pub redis: Option<String>,
    pub session_store: SessionStoreKind,
    /// Where the user accounts are kept (`--account-store`).
    pub account_store: AccountStoreKind,
    /// The prefix of session keys in Redis (connect-redis's `prefix`).
    pub redis_session_prefix: String,
    /// The prefix of the adapter's channels (@socket.io/redis-adapter's `key`).
    pub redis_channel_prefix: String,
    /// The `HOST:PORT` the other nodes reach this one on (`--advertise`);
    /// unset: `listen`, unless that is a wildcard ([`Config::advertised`]).
    pub advertise: Option<String>,
    /// Which Node adapter's wire the cluster speaks (`--redis-adapter`).
    pub redis_adapter: RedisAdapterKind,
    pub cookie_format: CookieFormat,
    /// The session cookie's name; unset: [`CookieFormat::default_name`].
    pub cookie_name: Option<String>,
}

/// Where sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionStoreKind {
    /// The embedded sled database in the data directory.
    Sled,
    /// Redis (`--redis`), in connect-redis's layout.
    Redis,
}

/// Where the user accounts are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountStoreKind {
    /// The embedded sled database in the data directory: this node's own.
    Sled,
    /// Redis (`--redis`): one set of accounts for every node on it.
    Redis,
}

/// Which Node adapter's wire the cluster on Redis speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisAdapterKind {
    /// `@socket.io/redis-adapter`'s classic adapter: pub/sub only.
    Classic,
    /// `@socket.io/redis-streams-adapter`: a stream, so that a socket
    /// recovers on any node.
    Streams,
}

/// How the session cookie's value is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieFormat {
    /// `<id>.<blake3 keyed MAC>`.
    Sessio,
    /// express-session's `s:<id>.<HMAC-SHA256>`, URL-encoded, so an Express app
    /// with the same secret and store shares the logins.
    Express,
}

impl CookieFormat {
    /// The cookie name each format uses unless `--cookie-name` says otherwise.
    pub fn default_name(self) -> &'static str {
        match self {
            CookieFormat::Sessio => sessio::session::DEFAULT_COOKIE_NAME,
            CookieFormat::Express => "connect.sid",
        }
    }
}

/// The app's own defaults, here; the rest are those of the layer that owns
/// the setting, read from it.
impl Default for Config {
    fn default() -> Self {
        let engine = EngineConfig::default();
        let http = sessio::http::Limits::default();
        let caps = sessio::socketio::Limits::default();
        let recovery = RecoveryConfig::default();
        let session = SessionConfig::default();
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 3000)),
            data_dir: PathBuf::from("sessio-data"),
            www: None,
            secret: None,
            secret_file: None,
            previous_secrets: Vec::new(),
            cookie_secure: None,
            trust_proxy: engine.trust_proxy,
            metrics_allow: sessio::metrics::AllowList::default(),
            allowed_origins: Vec::new(),
            admin_user: None,
            registration: true,
            session_max_age: session.max_age,
            session_rolling: session.rolling,
            session_check_interval: Duration::from_secs(30),
            ping_interval: engine.ping_interval,
            ping_timeout: engine.ping_timeout,
            max_payload: engine.max_payload,
            allow_eio3: engine.allow_eio3,
            max_connections: http.max_connections,
            max_connections_per_address: http.max_connections_per_address,
            request_timeout: http.request_timeout,
            max_queued_bytes: engine.max_queued_bytes,
            max_pending_sessions: engine.max_pending_sessions,
            max_pending_acks: caps.max_pending_acks,
            max_attachments: caps.max_attachments,
            max_rooms: caps.max_rooms,
            max_json_depth: caps.max_json_depth,
            recovery_window: recovery.window,
            recovery_buffer: recovery.max_buffered_bytes,
            recovery_max_disconnected: recovery.max_disconnected,
            threads: 1,
            blocking_threads: sessio::blocking::DEFAULT_THREADS,
            cache_mb: sessio::store::DEFAULT_CACHE_BYTES >> 20,
            log_level: LevelFilter::Info,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            redis: None,
            session_store: SessionStoreKind::Sled,
            account_store: AccountStoreKind::Sled,
            redis_session_prefix: "sess:".to_owned(),
            redis_channel_prefix: "socket.io".to_owned(),
            advertise: None,
            redis_adapter: RedisAdapterKind::Classic,
            cookie_format: CookieFormat::Sessio,
            cookie_name: None,
        }
    }
}

/// A configuration value that cannot be used, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    UnknownOption(String),
    MissingValue(String),
    BadValue {
        option: String,
        value: String,
        expected: &'static str,
    },
    File {
        path: PathBuf,
        reason: String,
    },
    /// The TLS options cannot be used as given (or this build has no TLS).
    Tls(&'static str),
    /// The Redis or Express options cannot be used as given (or this build has
    /// no Redis).
    Redis(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownOption(name) => write!(f, "unknown option {name} (see --help)"),
            ConfigError::MissingValue(name) => write!(f, "{name} needs a value"),
            ConfigError::BadValue {
                option,
                value,
                expected,
            } => {
                write!(f, "{option}: {value:?} is not {expected}")
            }
            ConfigError::File { path, reason } => {
                write!(f, "config file {}: {reason}", path.display())
            }
            ConfigError::Tls(reason) | ConfigError::Redis(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for ConfigError {}

type Setter = fn(&mut Config, &str) -> Result<(), &'static str>;
type Getter = fn(&Config) -> Option<String>;

/// One option: its name (`--name`, `SESSIO_NAME`, `name` in TOML with `_`),
/// the kind of value it takes, its help text, and how it is read and set.
pub struct OptionSpec {
    pub name: &'static str,
    pub value: &'static str,
    /// What it does; for an option unset by default, what unset means.
    pub help: &'static str,
    /// Its value written as it is given; none while unset.
    get: Getter,
    set: Setter,
}

impl OptionSpec {
    pub fn env_var(&self) -> String {
        format!(
            "SESSIO_{}",
            self.name.replace('-', "_").to_ascii_uppercase()
        )
    }

    fn is_switch(&self) -> bool {
        self.value == "BOOL"
    }

    /// Its default as `--help` shows it, read from [`Config::default`].
    pub fn default_value(&self) -> Option<String> {
        (self.get)(&Config::default())
    }
}

fn parse_bool(v: &str) -> Result<bool, &'static str> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("true or false"),
    }
}

fn parse_millis(v: &str) -> Result<Duration, &'static str> {
    match v.parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err("a positive number of milliseconds"),
    }
}

fn parse_count(v: &str) -> Result<usize, &'static str> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("a positive whole number"),
    }
}

fn some(value: impl fmt::Display) -> Option<String> {
    Some(value.to_string())
}

fn path(path: &Option<PathBuf>) -> Option<String> {
    path.as_ref().map(|p| p.display().to_string())
}

fn joined(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.join(","))
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every option, in the order `--help` lists them.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec { name: "listen", value: "ADDR:PORT", help: "address and port to serve on",
        get: |c| some(c.listen),
        set: |c, v| { c.listen = v.parse().map_err(|_| "an address like 127.0.0.1:3000")?; Ok(()) } },
    OptionSpec { name: "data-dir", value: "DIR", help: "where sessions, users and the generated secret live",
        get: |c| some(c.data_dir.display()),
        set: |c, v| { c.data_dir = PathBuf::from(v); Ok(()) } },
    OptionSpec { name: "www", value: "DIR", help: "serve this folder instead of the built-in page",
        get: |c| path(&c.www),
        set: |c, v| { c.www = Some(PathBuf::from(v)); Ok(()) } },
    OptionSpec { name: "secret", value: "TEXT", help: "cookie signing secret, at least 16 characters [generated and kept in the data dir]",
        get: |c| c.secret.clone(),
        set: |c, v| { c.secret = Some(v.to_owned()); Ok(()) } },
    OptionSpec { name: "secret-file", value: "FILE", help: "read the cookie secret from this file",
        get: |c| path(&c.secret_file),
        set: |c, v| { c.secret_file = Some(PathBuf::from(v)); Ok(()) } },
    OptionSpec { name: "previous-secrets", value: "LIST", help: "comma-separated old secrets still accepted (rotation)",
        get: |c| joined(&c.previous_secrets),
        set: |c, v| { c.previous_secrets = list(v); Ok(()) } },
    OptionSpec { name: "cookie-secure", value: "BOOL", help: "mark the cookie Secure (serving over HTTPS or behind a TLS proxy) [true with --tls-*, else false]",
        get: |c| c.cookie_secure.map(|b| b.to_string()),
        set: |c, v| { c.cookie_secure = Some(parse_bool(v)?); Ok(()) } },
    OptionSpec { name: "trust-proxy", value: "BOOL", help: "trust X-Forwarded-For/-Proto/-Host from a reverse proxy",
        get: |c| some(c.trust_proxy),
        set: |c, v| { c.trust_proxy = parse_bool(v)?; Ok(()) } },
    OptionSpec { name: "metrics-allow", value: "LIST", help: "addresses and networks (10.0.0.0/8) that may read /metrics; others get 403",
        get: |c| some(&c.metrics_allow),
        set: |c, v| { c.metrics_allow = sessio::metrics::AllowList::parse(v).map_err(|_| "a comma list of addresses and networks like 10.0.0.0/8")?; Ok(()) } },
    OptionSpec { name: "allowed-origin", value: "ORIGIN", help: "an extra origin allowed to use the API and sockets (repeatable, or a comma list) [the server's own]",
        get: |c| joined(&c.allowed_origins),
        set: |c, v| { c.allowed_origins.extend(list(v)); Ok(()) } },
    OptionSpec { name: "admin-user", value: "NAME", help: "serve the Socket.IO Admin UI (namespace /admin), its login checked against this account's password (see `sessio user add`) [off]",
        get: |c| c.admin_user.clone(),
        set: |c, v| { if v.is_empty() { return Err("a user name") } c.admin_user = Some(v.to_owned()); Ok(()) } },
    OptionSpec { name: "registration", value: "open|closed", help: "whether anyone may register",
        get: |c| some(if c.registration { "open" } else { "closed" }),
        set: |c, v| { c.registration = match v { "open" => true, "closed" => false, _ => return Err("open or closed") }; Ok(()) } },
    OptionSpec { name: "session-max-age", value: "SECONDS", help: "how long a session lasts",
        get: |c| some(c.session_max_age.as_secs()),
        set: |c, v| { c.session_max_age = Duration::from_secs(parse_count(v)? as u64); Ok(()) } },
    OptionSpec { name: "session-rolling", value: "BOOL", help: "renew the session's expiry on every request",
        get: |c| some(c.session_rolling),
        set: |c, v| { c.session_rolling = parse_bool(v)?; Ok(()) } },
    OptionSpec { name: "session-check-interval", value: "MS", help: "how often sockets of ended sessions are looked for",
        get: |c| some(c.session_check_interval.as_millis()),
        set: |c, v| { c.session_check_interval = parse_millis(v)?; Ok(()) } },
    OptionSpec { name: "ping-interval", value: "MS", help: "Engine.IO heartbeat interval",
        get: |c| some(c.ping_interval.as_millis()),
        set: |c, v| { c.ping_interval = parse_millis(v)?; Ok(()) } },
    OptionSpec { name: "ping-timeout", value: "MS", help: "how long a client has to answer a ping",
        get: |c| some(c.ping_timeout.as_millis()),
        set: |c, v| { c.ping_timeout = parse_millis(v)?; Ok(()) } },
    OptionSpec { name: "max-payload", value: "BYTES", help: "largest message or polling request a client may send",
        get: |c| some(c.max_payload),
        set: |c, v| { c.max_payload = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "allow-eio3", value: "BOOL", help: "also serve Engine.IO 3 / Socket.IO 2 clients (socket.io-client 2.x, microcontroller libraries)",
        get: |c| some(c.allow_eio3),
        set: |c, v| { c.allow_eio3 = parse_bool(v)?; Ok(()) } },
    OptionSpec { name: "max-connections", value: "N", help: "most connections served at once",
        get: |c| some(c.max_connections),
        set: |c, v| { c.max_connections = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "max-connections-per-address", value: "N", help: "most connections from one client address at once; 0 for no limit",
        get: |c| some(c.max_connections_per_address),
        set: |c, v| { c.max_connections_per_address = v.parse().map_err(|_| "a whole number")?; Ok(()) } },
    OptionSpec { name: "request-timeout", value: "MS", help: "how long an HTTP request may take to arrive, head and body",
        get: |c| some(c.request_timeout.as_millis()),
        set: |c, v| { c.request_timeout = parse_millis(v)?; Ok(()) } },
    OptionSpec { name: "max-queued-bytes", value: "BYTES", help: "memory queued for one client that does not read before it is disconnected, per-frame overhead included",
        get: |c| some(c.max_queued_bytes),
        set: |c, v| { c.max_queued_bytes = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "max-pending-sessions", value: "N", help: "sessions one address may hold before they join a namespace; more handshakes get 429",
        get: |c| some(c.max_pending_sessions),
        set: |c, v| { c.max_pending_sessions = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "max-pending-acks", value: "N", help: "acknowledgements waiting per socket, each way, and events waiting behind its async handler, before it is disconnected",
        get: |c| some(c.max_pending_acks),
        set: |c, v| { c.max_pending_acks = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "max-attachments", value: "N", help: "binary attachments one packet may carry",
        get: |c| some(c.max_attachments),
        set: |c, v| { c.max_attachments = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "max-rooms", value: "N", help: "rooms one socket may be in",
        get: |c| some(c.max_rooms),
        set: |c, v| { c.max_rooms = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "max-json-depth", value: "N", help: "deepest nesting of arrays and objects in a packet's JSON",
        get: |c| some(c.max_json_depth),
        set: |c, v| { c.max_json_depth = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "recovery-window", value: "SECONDS", help: "how long a dropped socket may stay away and still come back with its id, rooms and missed events; 0 turns recovery off",
        get: |c| some(c.recovery_window.as_secs()),
        set: |c, v| { c.recovery_window = Duration::from_secs(v.parse().map_err(|_| "a whole number of seconds")?); Ok(()) } },
    OptionSpec { name: "recovery-buffer", value: "BYTES", help: "memory for the events kept for recovery, per namespace; past it the oldest go",
        get: |c| some(c.recovery_buffer),
        set: |c, v| { c.recovery_buffer = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "recovery-max-disconnected", value: "N", help: "dropped sockets kept for recovery, per namespace; past it the first dropped cannot come back",
        get: |c| some(c.recovery_max_disconnected),
        set: |c, v| { c.recovery_max_disconnected = parse_count(v)?; Ok(()) } },
    OptionSpec { name: "threads", value: "N", help: "executor threads",
        get: |c| some(c.threads),
        set: |c, v| { c.threads = parse_count(v)?.min(64); Ok(()) } },
    OptionSpec { name: "blocking-threads", value: "N", help: "threads for store calls and password hashing; more calls wait",
        get: |c| some(c.blocking_threads),
        set: |c, v| { c.blocking_threads = parse_count(v)?.clamp(1, 64); Ok(()) } },
    OptionSpec { name: "cache-mb", value: "MB", help: "the store's page cache; more is faster on large stores",
        get: |c| some(c.cache_mb),
        set: |c, v| { c.cache_mb = parse_count(v)? as u64; Ok(()) } },
    OptionSpec { name: "tls-cert", value: "FILE", help: "serve HTTPS with this PEM certificate chain (with --tls-key; needs the tls build feature)",
        get: |c| path(&c.tls_cert),
        set: |c, v| { c.tls_cert = Some(PathBuf::from(v)); Ok(()) } },
    OptionSpec { name: "tls-key", value: "FILE", help: "the PEM private key of --tls-cert",
        get: |c| path(&c.tls_key),
        set: |c, v| { c.tls_key = Some(PathBuf::from(v)); Ok(()) } },
    OptionSpec { name: "tls-self-signed", value: "BOOL", help: "serve HTTPS with a certificate made on first start and kept in the data dir",
        get: |c| some(c.tls_self_signed),
        set: |c, v| { c.tls_self_signed = parse_bool(v)?; Ok(()) } },
    OptionSpec { name: "redis", value: "URL", help: "a Redis server (redis://host:6379/0) that carries broadcasts and rooms between nodes, as @socket.io/redis-adapter does (needs the redis build feature) [off]",
        get: |c| c.redis.clone(),
        set: |c, v| { c.redis = Some(v.to_owned()); Ok(()) } },
    OptionSpec { name: "session-store", value: "sled|redis", help: "where sessions live: the data dir, or --redis in connect-redis's layout",
        get: |c| some(match c.session_store { SessionStoreKind::Sled => "sled", SessionStoreKind::Redis => "redis" }),
        set: |c, v| { c.session_store = match v { "sled" => SessionStoreKind::Sled, "redis" => SessionStoreKind::Redis, _ => return Err("sled or redis") }; Ok(()) } },
    OptionSpec { name: "account-store", value: "sled|redis", help: "where user accounts live: the data dir, or --redis, shared by every node on it",
        get: |c| some(match c.account_store { AccountStoreKind::Sled => "sled", AccountStoreKind::Redis => "redis" }),
        set: |c, v| { c.account_store = match v { "sled" => AccountStoreKind::Sled, "redis" => AccountStoreKind::Redis, _ => return Err("sled or redis") }; Ok(()) } },
    OptionSpec { name: "redis-session-prefix", value: "TEXT", help: "the prefix of session keys in Redis (connect-redis's prefix)",
        get: |c| some(&c.redis_session_prefix),
        set: |c, v| { c.redis_session_prefix = v.to_owned(); Ok(()) } },
    OptionSpec { name: "redis-channel-prefix", value: "TEXT", help: "the prefix of the adapter's Redis channels (the redis adapter's key)",
        get: |c| some(&c.redis_channel_prefix),
        set: |c, v| { if v.is_empty() { return Err("a non-empty prefix"); } c.redis_channel_prefix = v.to_owned(); Ok(()) } },
    OptionSpec { name: "advertise", value: "HOST:PORT", help: "the address the other nodes of a --redis cluster reach this one on, to forward requests for its sessions [--listen, unless a wildcard]",
        get: |c| c.advertise.clone(),
        set: |c, v| { c.advertise = Some(parse_host_port(v)?); Ok(()) } },
    OptionSpec { name: "redis-adapter", value: "classic|streams", help: "the Node adapter whose wire --redis speaks: @socket.io/redis-adapter, or @socket.io/redis-streams-adapter (a socket recovers on any node)",
        get: |c| some(match c.redis_adapter { RedisAdapterKind::Classic => "classic", RedisAdapterKind::Streams => "streams" }),
        set: |c, v| { c.redis_adapter = match v { "classic" => RedisAdapterKind::Classic, "streams" => RedisAdapterKind::Streams, _ => return Err("classic or streams") }; Ok(()) } },
    OptionSpec { name: "cookie-format", value: "sessio|express", help: "sign the session cookie as sessio does, or as express-session does to share logins with an Express app (needs the redis build feature)",
        get: |c| some(match c.cookie_format { CookieFormat::Sessio => "sessio", CookieFormat::Express => "express" }),
        set: |c, v| { c.cookie_format = match v { "sessio" => CookieFormat::Sessio, "express" => CookieFormat::Express, _ => return Err("sessio or express") }; Ok(()) } },
    OptionSpec { name: "cookie-name", value: "NAME", help: "the session cookie's name [sessio.sid, or connect.sid with --cookie-format express]",
        get: |c| c.cookie_name.clone(),
        set: |c, v| { if v.is_empty() || !v.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)) { return Err("a cookie name (letters, digits and !#$%&'*+-.^_`|~)"); } c.cookie_name = Some(v.to_owned()); Ok(()) } },
    OptionSpec { name: "log-level", value: "LEVEL", help: "off, error, warn, info, debug or trace",
        get: |c| some(c.log_level.to_string().to_ascii_lowercase()),
        set: |c, v| { c.log_level = crate::logger::parse_level(v).ok_or("off, error, warn, info, debug or trace")?; Ok(()) } },
];

/// `HOST:PORT` as given, once it looks like one.
fn parse_host_port(text: &str) -> Result<String, &'static str> {
    const EXPECTED: &str = "HOST:PORT, like 10.0.0.2:3000 or node1.lan:3000";
    let (host, port) = text.rsplit_once(':').ok_or(EXPECTED)?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_[]:".contains(&b));
    match (host_ok, port.parse::<u16>()) {
        (true, Ok(1..)) => Ok(text.to_owned()),
        _ => Err(EXPECTED),
    }
}

fn find(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.name == name)
}

impl Config {
    fn set(&mut self, spec: &OptionSpec, shown_as: &str, value: &str) -> Result<(), ConfigError> {
        (spec.set)(self, value).map_err(|expected| ConfigError::BadValue {
            option: shown_as.to_owned(),
            value: value.to_owned(),
            expected,
        })
    }

    /// Builds the configuration from defaults, the file named by `--config`
    /// or `SESSIO_CONFIG`, the environment and `args` (the flags after `serve`).
    pub fn load(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let flags = parse_flags(args)?;
        let file = flags
            .iter()
            .rev()
            .find(|(name, _)| name == "config")
            .map(|(_, v)| v.clone())
            .or_else(|| env("SESSIO_CONFIG"));
        if let Some(path) = file {
            config.apply_file(&PathBuf::from(path))?;
        }
        for spec in OPTIONS {
            let var = spec.env_var();
            if let Some(value) = env(&var) {
                config.set(spec, &var, &value)?;
            }
        }
        for (name, value) in &flags {
            if name != "config" {
                let spec =
                    find(name).ok_or_else(|| ConfigError::UnknownOption(format!("--{name}")))?;
                config.set(spec, &format!("--{name}"), value)?;
            }
        }
        config.check()?;
        Ok(config)
    }

    /// Whether the server speaks HTTPS.
    pub fn tls_enabled(&self) -> bool {
        self.tls_self_signed || self.tls_cert.is_some()
    }

    /// Whether the session cookie is `Secure`: as set, else when serving HTTPS.
    pub fn secure_cookie(&self) -> bool {
        self.cookie_secure.unwrap_or(self.tls_enabled())
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        self.cookie_name
            .as_deref()
            .unwrap_or(self.cookie_format.default_name())
    }

    /// The address the other nodes reach this one on: `--advertise`, else
    /// `--listen` unless it is a wildcard (which names no one address).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub fn advertised(&self) -> Option<String> {
        self.advertise
            .clone()
            .or_else(|| (!self.listen.ip().is_unspecified()).then(|| self.listen.to_string()))
    }

    /// The checks across options, once every source is applied.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        self.check_tls()?;
        self.check_redis()
    }

    fn check_redis(&self) -> Result<(), ConfigError> {
        let wanted = self.redis.is_some()
            || self.session_store == SessionStoreKind::Redis
            || self.account_store == AccountStoreKind::Redis
            || self.cookie_format == CookieFormat::Express
            || self.redis_adapter == RedisAdapterKind::Streams;
        if wanted && !cfg!(feature = "redis") {
            return Err(ConfigError::Redis(
                "--redis, --redis-adapter streams, --session-store redis, --account-store redis and --cookie-format express need sessio built with the redis feature (cargo build --release --features redis)",
            ));
        }
        if self.session_store == SessionStoreKind::Redis && self.redis.is_none() {
            return Err(ConfigError::Redis(
                "--session-store redis needs --redis URL",
            ));
        }
        if self.advertise.is_some() && self.redis.is_none() {
            return Err(ConfigError::Redis("--advertise needs --redis URL"));
        }
        if self.redis_adapter == RedisAdapterKind::Streams && self.redis.is_none() {
            return Err(ConfigError::Redis(
                "--redis-adapter streams needs --redis URL",
            ));
        }
        if self.account_store == AccountStoreKind::Redis && self.redis.is_none() {
            return Err(ConfigError::Redis(
                "--account-store redis needs --redis URL",
            ));
        }
        Ok(())
    }

    fn check_tls(&self) -> Result<(), ConfigError> {
        let given = self.tls_enabled() || self.tls_key.is_some();
        if given && !cfg!(feature = "tls") {
            return Err(ConfigError::Tls(
                "the --tls-* options need sessio built with the tls feature (cargo build --release --features tls)",
            ));
        }
        match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(_), None, _) => Err(ConfigError::Tls("--tls-cert needs --tls-key")),
            (None, Some(_), _) => Err(ConfigError::Tls("--tls-key needs --tls-cert")),
            (Some(_), Some(_), true) => Err(ConfigError::Tls(
                "--tls-self-signed and --tls-cert exclude each other",
            )),
            _ => Ok(()),
        }
    }

    fn apply_file(&mut self, path: &PathBuf) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        self.apply_toml(&text, path)
    }

    /// Applies the options of a TOML file's text; `path` is only for errors.
    pub(crate) fn apply_toml(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_owned(),
            reason,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
        for (key, value) in table {
            let name = key.replace('_', "-");
            let spec = find(&name).ok_or_else(|| file_error(format!("unknown key {key}")))?;
            let text = match value {
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(scalar)
                    .collect::<Option<Vec<_>>>()
                    .map(|items| items.join(",")),
                value => scalar(value),
            };
            let text = text.ok_or_else(|| file_error(format!("{key}: unsupported value")))?;
            self.set(spec, &key, &text)?;
        }
        Ok(())
    }
}

/// A TOML string, integer or boolean as the text a flag would give.
fn scalar(value: toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Splits `--name value`, `--name=value` and bare switches into pairs.
pub(crate) fn parse_flags(args: &[String]) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    let mut args = args.iter().peekable();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(ConfigError::UnknownOption(arg.clone()));
        };
        if let Some((name, value)) = flag.split_once('=') {
            pairs.push((name.to_owned(), value.to_owned()));
            continue;
        }
        let switch = find(flag).is_some_and(OptionSpec::is_switch);
        let next_is_value = args.peek().is_some_and(|next| !next.starts_with("--"));
        if switch && !(next_is_value && args.peek().is_some_and(|v| parse_bool(v).is_ok())) {
            pairs.push((flag.to_owned(), "true".to_owned()));
        } else if next_is_value {
            pairs.push((flag.to_owned(), args.next().cloned().unwrap_or_default()));
        } else {
            return Err(ConfigError::MissingValue(arg.clone()));
        }
    }
    Ok(pairs)
}

/// The `--help` text of `sessio serve`.
pub fn help() -> String {
    let mut out = String::from("Options (each also SESSIO_<NAME> in the environment, or <name> in the --config TOML file; flags win):\n");
    out.push_str(
        "  --config FILE                   read options from a TOML file (SESSIO_CONFIG) [/etc/sessio/sessio.toml if it exists]\n",
    );
    for spec in OPTIONS {
        let left = format!("--{} {}", spec.name, spec.value);
        match spec.default_value() {
            Some(value) => out.push_str(&format!("  {left:<31} {} [{value}]\n", spec.help)),
            None => out.push_str(&format!("  {left:<31} {}\n", spec.help)),
        }
    }
    out
}

#[cfg(test)]
mod documented;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_win_over_environment() {
        let env = |name: &str| match name {
            "SESSIO_LISTEN" => Some("127.0.0.1:4000".to_owned()),
            "SESSIO_DATA_DIR" => Some("/tmp/env".to_owned()),
            _ => None,
        };
        let config = Config::load(&args(&["--listen", "127.0.0.1:5000"]), env).unwrap();
        assert_eq!(config.listen.port(), 5000);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/env"));
    }

    #[test]
    fn switches_and_lists() {
        let config = Config::load(
            &args(&[
                "--cookie-secure",
                "--allowed-origin=https://a.example",
                "--allowed-origin",
                "https://b.example",
                "--trust-proxy",
                "false",
            ]),
            |_| None,
        )
        .unwrap();
        assert_eq!(config.cookie_secure, Some(true));
        assert!(!config.trust_proxy);
        assert!(!config.allow_eio3);
        assert_eq!(
            config.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn the_admin_ui_is_off_unless_an_account_is_named() {
        assert_eq!(Config::load(&[], |_| None).unwrap().admin_user, None);
        let env = |n: &str| (n == "SESSIO_ADMIN_USER").then(|| "root".to_owned());
        assert_eq!(
            Config::load(&[], env).unwrap().admin_user.as_deref(),
            Some("root")
        );
        let mut config = Config::default();
        config
            .apply_toml("admin_user = \"ops\"", Path::new("x.toml"))
            .unwrap();
        assert_eq!(config.admin_user.as_deref(), Some("ops"));
        assert!(matches!(
            Config::load(&args(&["--admin-user="]), |_| None),
            Err(ConfigError::BadValue { .. })
        ));
    }

    #[test]
    fn engine_io_3_is_off_unless_asked_for() {
        assert!(!Config::load(&[], |_| None).unwrap().allow_eio3);
        assert!(
            Config::load(&args(&["--allow-eio3"]), |_| None)
                .unwrap()
                .allow_eio3
        );
        let env = |n: &str| (n == "SESSIO_ALLOW_EIO3").then(|| "1".to_owned());
        assert!(Config::load(&[], env).unwrap().allow_eio3);
        let mut config = Config::default();
        config
            .apply_toml("allow_eio3 = true", Path::new("t.toml"))
            .unwrap();
        assert!(config.allow_eio3);
    }

    #[test]
    fn bad_values_say_why() {
        let err = Config::load(&args(&["--ping-interval", "soon"]), |_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--ping-interval: \"soon\" is not a positive number of milliseconds"
        );
        let err = Config::load(&args(&["--nope", "1"]), |_| None).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownOption(_)));
        let err = Config::load(&args(&["--listen"]), |_| None).unwrap_err();
        assert_eq!(err, ConfigError::MissingValue("--listen".into()));
        let err = Config::load(&[], |n| {
            (n == "SESSIO_REGISTRATION").then(|| "maybe".into())
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("SESSIO_REGISTRATION"));
    }

    #[test]
    fn reads_a_toml_file() {
        let path = std::env::temp_dir().join(format!("sessio-config-{}.toml", std::process::id()));
        std::fs::write(&path, "listen = \"127.0.0.1:7000\"\nregistration = \"closed\"\nmax_payload = 5000\nallowed_origin = [\"https://x.example\"]\n").unwrap();
        let config = Config::load(&args(&["--config", path.to_str().unwrap()]), |_| None).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(config.listen.port(), 7000);
        assert!(!config.registration);
        assert_eq!(config.max_payload, 5000);
        assert_eq!(config.allowed_origins, ["https://x.example"]);
    }

    #[test]
    fn caps_have_their_defaults_and_names() {
        let config = Config::load(&args(&["--max-rooms", "3"]), |n| {
            (n == "SESSIO_MAX_PENDING_SESSIONS").then(|| "5".into())
        })
        .unwrap();
        assert_eq!(config.max_rooms, 3);
        assert_eq!(config.max_pending_sessions, 5);
        assert_eq!(config.max_queued_bytes, Config::default().max_queued_bytes);
        let err = Config::load(&args(&["--max-json-depth", "0"]), |_| None).unwrap_err();
        assert!(err.to_string().starts_with("--max-json-depth"));
    }

    #[test]
    fn metrics_are_for_loopback_unless_listed() {
        let loopback = "127.0.0.1".parse().unwrap();
        let lan = "10.1.2.3".parse().unwrap();
        let config = Config::default();
        assert!(config.metrics_allow.allows(loopback) && !config.metrics_allow.allows(lan));
        let mut config = Config::default();
        config
            .apply_toml(
                "metrics_allow = [\"10.0.0.0/8\", \"::1\"]",
                Path::new("t.toml"),
            )
            .unwrap();
        assert!(config.metrics_allow.allows(lan) && !config.metrics_allow.allows(loopback));
        let err = Config::load(&args(&["--metrics-allow", "10.0.0.0/40"]), |_| None).unwrap_err();
        assert!(err.to_string().starts_with("--metrics-allow"));
    }

    #[test]
    fn recovery_is_on_unless_its_window_is_zero() {
        assert_eq!(Config::default().recovery_window, Duration::from_secs(120));
        let config = Config::load(&args(&["--recovery-window", "0"]), |n| {
            (n == "SESSIO_RECOVERY_BUFFER").then(|| "1000".into())
        })
        .unwrap();
        assert_eq!(config.recovery_window, Duration::ZERO);
        assert_eq!(config.recovery_buffer, 1000);
        let err = Config::load(&args(&["--recovery-window", "-1"]), |_| None).unwrap_err();
        assert!(err.to_string().starts_with("--recovery-window"));
    }

    #[test]
    fn redis_and_cookie_options() {
        let load = |list: &[&str]| Config::load(&args(list), |_| None);
        let plain = load(&[]).unwrap();
        assert_eq!(plain.cookie_name(), "sessio.sid");
        assert_eq!(plain.session_store, SessionStoreKind::Sled);
        assert_eq!(plain.account_store, AccountStoreKind::Sled);
        assert_eq!(
            load(&["--cookie-name", "app.sid"]).unwrap().cookie_name(),
            "app.sid"
        );
        for bad in ["", "a b", "a;b", "a=b", "é"] {
            assert!(load(&["--cookie-name", bad]).is_err(), "{bad:?}");
        }
        assert!(load(&["--session-store", "memory"]).is_err());
        assert!(load(&["--account-store", "memory"]).is_err());
        assert!(load(&["--cookie-format", "rails"]).is_err());
        let redis = ["--redis", "redis://127.0.0.1:6379"];
        let express = ["--cookie-format", "express"];
        let redis_store = ["--session-store", "redis"];
        let redis_accounts = ["--account-store", "redis"];
        if cfg!(feature = "redis") {
            let shared = load(&[&redis[..], &redis_store, &express].concat()).unwrap();
            assert_eq!(shared.session_store, SessionStoreKind::Redis);
            assert_eq!(shared.account_store, AccountStoreKind::Sled);
            assert_eq!(shared.cookie_name(), "connect.sid");
            assert_eq!(shared.redis_session_prefix, "sess:");
            let err = load(&redis_store).unwrap_err();
            assert!(matches!(err, ConfigError::Redis(_)), "{err}");
            let accounts = load(&[&redis[..], &redis_accounts].concat()).unwrap();
            assert_eq!(accounts.account_store, AccountStoreKind::Redis);
            assert_eq!(accounts.session_store, SessionStoreKind::Sled);
            let err = load(&redis_accounts).unwrap_err();
            assert_eq!(err.to_string(), "--account-store redis needs --redis URL");
            let advertise = ["--advertise", "node1.lan:3000"];
            let node = load(&[&redis[..], &advertise].concat()).unwrap();
            assert_eq!(node.advertised().as_deref(), Some("node1.lan:3000"));
            assert_eq!(
                load(&redis).unwrap().advertised(),
                None,
                "a wildcard listen"
            );
            let listen = ["--listen", "10.0.0.2:3001"];
            let on = load(&[&redis[..], &listen].concat()).unwrap();
            assert_eq!(on.advertised().as_deref(), Some("10.0.0.2:3001"));
            let ipv6 = load(&[&redis[..], &["--advertise", "[fd00::2]:3000"]].concat());
            assert_eq!(
                ipv6.unwrap().advertised().as_deref(),
                Some("[fd00::2]:3000")
            );
            for bad in [
                "node1",
                "node1:",
                ":3000",
                "node1:0",
                "node1:http",
                "a/b:1",
                "a b:1",
            ] {
                let err = load(&[&redis[..], &["--advertise", bad]].concat()).unwrap_err();
                assert!(err.to_string().starts_with("--advertise"), "{bad}: {err}");
            }
            let err = load(&advertise).unwrap_err();
            assert_eq!(err.to_string(), "--advertise needs --redis URL");
        } else {
            for given in [&redis[..], &express, &redis_store, &redis_accounts] {
                let err = load(given).unwrap_err();
                assert!(err.to_string().contains("redis feature"), "{err}");
            }
        }
    }

    #[test]
    fn tls_options() {
        let load = |list: &[&str]| Config::load(&args(list), |_| None);
        let plain = load(&[]).unwrap();
        assert!(!plain.tls_enabled() && !plain.secure_cookie());
        let pair = ["--tls-cert", "c.pem", "--tls-key", "k.pem"];
        if cfg!(feature = "tls") {
            let tls = load(&pair).unwrap();
            assert!(
                tls.tls_enabled() && tls.secure_cookie(),
                "Secure by default over HTTPS"
            );
            let opted_out = load(&[&pair[..], &["--cookie-secure", "false"]].concat()).unwrap();
            assert!(!opted_out.secure_cookie());
            assert!(load(&["--tls-self-signed"]).unwrap().secure_cookie());
            for bad in [
                &pair[..2],
                &pair[2..],
                &[&pair[..], &["--tls-self-signed"]].concat(),
            ] {
                assert!(matches!(load(bad), Err(ConfigError::Tls(_))), "{bad:?}");
            }
        } else {
            for given in [&pair[..], &["--tls-self-signed"], &pair[2..]] {
                let err = load(given).unwrap_err();
                assert!(err.to_string().contains("tls feature"), "{err}");
            }
        }
    }
}
