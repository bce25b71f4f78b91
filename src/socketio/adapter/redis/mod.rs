//! A [`Cluster`] over Redis pub/sub, wire-compatible with
//! `@socket.io/redis-adapter` 8.x's classic adapter (`createAdapter`): sessio
//! servers and Node servers using it on one Redis are one cluster.
//!
//! Per namespace, as the Node adapter: broadcasts on `<key>#<nsp>#` and
//! `<key>#<nsp>#<room>#` (one pattern subscription), requests on
//! `<key>-request#<nsp>#` (subscribed once, so `PUBSUB NUMSUB` counts the
//! servers), responses on `<key>-response#<nsp>#` and this server's own
//! `<key>-response#<nsp>#<uid>#`. The encodings are in [`wire`].
//!
//! Nothing waits on Redis in a socket's task: every message to publish goes
//! through one queue bounded in bytes ([`outbox`]) to the publisher, which
//! sends what has queued up in one pipeline; a message that does not fit is
//! dropped (counted). While Redis is unreachable, delivery is local only,
//! the queue is drained and counted, one warning is logged, and the
//! connection is retried with a backoff from 100 ms doubling to 5 s. The
//! subscription is pinged every few seconds, so a link lost without a reset
//! is noticed even when there is nothing to publish.

pub(crate) mod outbox;
pub(crate) mod requests;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use smol::future::FutureExt;
use smol::stream::StreamExt;

use self::outbox::Outbox;
use self::wire::{Answer, Incoming, Request, Response};
use super::{Cluster, ClusterError, ClusterFuture, LocalSide, SocketInfo, Target};
use crate::socketio::payload::Payload;

/// Bytes waiting for the publisher, at most.
const QUEUE_BYTES: usize = 8 << 20;
/// Messages published in one round trip, at most.
const BATCH: usize = 64;
/// How long a `fetchSockets` waits for every server (Node's `requestsTimeout`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long connecting, and any one command, may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the subscription is pinged: a link lost without a reset (a
/// network path gone, a NAT that forgot it) is given up within this and
/// [`COMMAND_TIMEOUT`], even when this server has nothing to publish.
const HEARTBEAT: Duration = Duration::from_secs(3);

/// The Redis link of one server: shared by its namespaces. Run
/// [`RedisCluster::run`] once; [`RedisCluster::attach`] each namespace
/// (through [`crate::socketio::IoBuilder::cluster`]) before it starts.
#[derive(Clone)]
pub struct RedisCluster {
    shared: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    uid: String,
    prefix: String,
    outbox: Arc<Outbox>,
    links: Mutex<Vec<Arc<Link>>>,
    /// Requests of ours waiting for answers, by request id.
    pending: requests::Pending<Answer>,
    /// The publishing connection while connected (for `PUBSUB NUMSUB`).
    conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

/// One namespace's channels.
struct Link {
    nsp: Box<dyn LocalSide>,
    name: String,
    broadcast: String,
    request: String,
    response: String,
    own_response: String,
}

/// Why the Redis link could not start.
#[derive(Debug)]
pub struct BadUrl(pub redis::RedisError);

impl std::fmt::Display for BadUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis URL: {}", self.0)
    }
}

impl std::error::Error for BadUrl {}

impl RedisCluster {
    /// A link to the Redis at `url` (`redis://host:port/db`), with channels
    /// under `prefix` (the Node adapter's `key`). Connects in [`Self::run`].
    pub fn new(url: &str, prefix: &str) -> Result<RedisCluster, BadUrl> {
        let client = redis::Client::open(url).map_err(BadUrl)?;
        Ok(RedisCluster {
            shared: Arc::new(Shared {
                client,
                uid: random_id(),
                prefix: prefix.to_owned(),
                outbox: Arc::new(Outbox::new(QUEUE_BYTES)),
                links: Mutex::new(Vec::new()),
                pending: Mutex::new(HashMap::new()),
                conn: Mutex::new(None),
            }),
        })
    }

    /// This server's id in the cluster.
    pub fn uid(&self) -> &str {
        &self.shared.uid
    }

    /// Messages dropped so far: the queue was full or Redis unreachable.
    pub fn dropped(&self) -> u64 {
        self.shared.outbox.dropped()
    }

    /// Whether the link to Redis is up now.
    pub fn connected(&self) -> bool {
        lock(&self.shared.conn).is_some()
    }

    /// The cluster of one namespace, which reaches this server's side of
    /// it through `nsp`.
    pub fn attach(&self, nsp: impl LocalSide) -> Arc<dyn Cluster> {
        let name = nsp.name().unwrap_or_default();
        let prefix = &self.shared.prefix;
        let response = format!("{prefix}-response#{name}#");
        let link = Arc::new(Link {
            broadcast: format!("{prefix}#{name}#"),
            request: format!("{prefix}-request#{name}#"),
            own_response: format!("{response}{}#", self.shared.uid),
            response,
            name,
            nsp: Box::new(nsp),
        });
        lock(&self.shared.links).push(link.clone());
        Arc::new(NspCluster {
            shared: self.shared.clone(),
            link,
        })
    }

    /// Keeps the link up: connects, subscribes, publishes and dispatches
    /// until the connection fails, then waits and connects again. Never
    /// returns. Start it once every namespace is attached (after
    /// [`crate::socketio::IoBuilder::build`]): it subscribes to theirs.
    pub async fn run(&self) {
        let shared = &self.shared;
        let mut backoff = FIRST_BACKOFF;
        let mut down = false;
        loop {
            // Every namespace is attached before the server runs.
            let links = lock(&shared.links).clone();
            let failure = match shared.connect(&links).await {
                Ok((conn, pubsub)) => {
                    let dropped = shared.outbox.dropped();
                    if down {
                        log::info!(
                            "redis adapter: reconnected ({dropped} messages dropped so far)"
                        );
                    } else {
                        log::info!("redis adapter: connected as {}", shared.uid);
                    }
                    (down, backoff) = (false, FIRST_BACKOFF);
                    *lock(&shared.conn) = Some(conn.clone());
                    let (sink, messages) = pubsub.split();
                    let failure = shared
                        .publish_all(conn)
                        .or(shared.dispatch(&links, messages))
                        .or(heartbeat(sink))
                        .await;
                    *lock(&shared.conn) = None;
                    failure
                }
                Err(err) => err.to_string(),
            };
            if !down {
                log::warn!(
                    "redis adapter: Redis unreachable ({failure}); delivering to local sockets only, reconnecting"
                );
                down = true;
            }
            let drain = async {
                while shared.outbox.pop().await.is_some() {
                    shared.outbox.lost(1);
                }
            };
            FutureExt::or(
                async {
                    smol::Timer::after(backoff).await;
                },
                drain,
            )
            .await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

impl Shared {
    async fn connect(
        &self,
        links: &[Arc<Link>],
    ) -> redis::RedisResult<(redis::aio::MultiplexedConnection, redis::aio::PubSub)> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        // The pub/sub connection takes no timeouts of its own.
        let subscribing = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            for link in links {
                pubsub.psubscribe(format!("{}*", link.broadcast)).await?;
                pubsub
                    .subscribe(&[&link.request, &link.response, &link.own_response])
                    .await?;
            }
            redis::RedisResult::Ok(pubsub)
        };
        let unanswered = async {
            smol::Timer::after(COMMAND_TIMEOUT).await;
            Err(redis::RedisError::from(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            )))
        };
        Ok((conn, subscribing.or(unanswered).await?))
    }

    /// Publishes what the queue holds until a publish fails: what has
    /// queued up meanwhile goes in one pipeline (one round trip).
    async fn publish_all(&self, mut conn: redis::aio::MultiplexedConnection) -> String {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(first) = self.outbox.pop().await {
            batch.push(first);
            while batch.len() < BATCH {
                match self.outbox.try_pop() {
                    Some(message) => batch.push(message),
                    None => break,
                }
            }
            let mut pipe = redis::pipe();
            let count = batch.len() as u64;
            for (channel, message) in batch.drain(..) {
                pipe.cmd("PUBLISH").arg(channel).arg(message).ignore();
            }
            if let Err(err) = pipe.exec_async(&mut conn).await {
                self.outbox.lost(count);
                return err.to_string();
            }
        }
        "the queue closed".to_owned()
    }

    /// Handles what comes in until the subscription ends.
    async fn dispatch(
        &self,
        links: &[Arc<Link>],
        mut messages: redis::aio::PubSubStream,
    ) -> String {
        while let Some(message) = messages.next().await {
            let channel = message.get_channel_name();
            let bytes = message.get_payload_bytes();
            for link in links {
                let nsp = &*link.nsp;
                if !nsp.alive() {
                    continue;
                }
                let handled = if channel == link.request {
                    wire::decode_request(bytes).map(|r| self.on_request(link, nsp, r))
                } else if channel == link.response || channel == link.own_response {
                    wire::decode_response(bytes).map(|r| self.on_response(r))
                } else if channel.starts_with(&link.broadcast) {
                    wire::decode_broadcast(bytes).map(|b| self.on_broadcast(link, nsp, b))
                } else {
                    continue;
                };
                if let Err(err) = handled {
                    log::debug!("redis adapter: ignored a message on {channel}: {err}");
                }
                break;
            }
        }
        "the subscription ended".to_owned()
    }

    fn on_broadcast(&self, link: &Link, nsp: &dyn LocalSide, message: wire::Broadcast) {
        if message.uid == self.uid || message.nsp != link.name {
            return;
        }
        nsp.emit(&message.event, message.payload, &message.target);
    }

    fn on_request(&self, link: &Link, nsp: &dyn LocalSide, incoming: Incoming) {
        if incoming.uid.as_deref() == Some(self.uid.as_str()) {
            return;
        }
        let id = incoming.request_id;
        let answer = match incoming.request {
            Request::Sockets { rooms } => {
                let target = Target {
                    rooms,
                    except: Vec::new(),
                };
                let ids = nsp.socket_ids(&target);
                Some(Answer::Sockets(ids.iter().map(|id| json!(&**id)).collect()))
            }
            Request::AllRooms => Some(Answer::Rooms(nsp.rooms())),
            Request::Rooms {
                target,
                rooms,
                join,
            } => {
                let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
                nsp.change_rooms(&target, &rooms, join);
                None
            }
            Request::Room { sid, room, join } => {
                nsp.change_room(&sid, &room, join).then_some(Answer::Done)
            }
            Request::Disconnect { target, close } => {
                nsp.disconnect(&target, close);
                None
            }
            Request::DisconnectOne { sid, close } => {
                nsp.disconnect_one(&sid, close).then_some(Answer::Done)
            }
            Request::Fetch { target } => {
                let sockets = nsp.fetch_sockets(&target);
                let sockets = sockets.iter().map(SocketInfo::to_json).collect();
                Some(Answer::Sockets(sockets))
            }
            Request::ServerSideEmit { event, args } => {
                let answer = nsp.server_event(&event, &args);
                answer.filter(|_| id.is_some()).map(Answer::ServerSideEmit)
            }
            Request::BroadcastWithAck {
                event,
                payload,
                target,
                timeout,
            } => {
                if let Some(id) = &id {
                    self.broadcast_with_ack(link, nsp, id, &event, payload, &target, timeout);
                }
                None
            }
        };
        if let (Some(request_id), Some(answer)) = (id, answer) {
            let response = Response { request_id, answer };
            self.publish(link.response.clone(), wire::encode_response(&response));
        }
    }

    /// A Node server's broadcast that waits for acknowledgements: how many
    /// sockets here got it, then each one's answer.
    #[allow(clippy::too_many_arguments)]
    fn broadcast_with_ack(
        &self,
        link: &Link,
        nsp: &dyn LocalSide,
        id: &str,
        event: &str,
        payload: Payload,
        target: &Target,
        timeout: Duration,
    ) {
        let answers = nsp.emit_with_ack(event, payload, target, timeout);
        let count = Response {
            request_id: id.to_owned(),
            answer: Answer::ClientCount(answers.len() as u64),
        };
        self.publish(link.response.clone(), wire::encode_response(&count));
        for answer in answers {
            let (outbox, channel, id) = (self.outbox.clone(), link.response.clone(), id.to_owned());
            smol::spawn(async move {
                if let Some(payload) = answer.await {
                    let response = Response {
                        request_id: id,
                        answer: Answer::BroadcastAck(payload),
                    };
                    outbox.push(channel, wire::encode_response(&response));
                }
            })
            .detach();
        }
    }

    fn on_response(&self, response: Response) {
        let pending = lock(&self.pending);
        if let Some(waiting) = pending.get(&response.request_id) {
            let _ = waiting.try_send(response.answer);
        }
    }

    /// Queues a message; drops it (counted) when the queue is full.
    fn publish(&self, channel: String, message: Vec<u8>) {
        self.outbox.push(channel, message);
    }

    /// How many servers subscribe to `link`'s requests, this one included.
    async fn server_count(&self, link: &Link) -> Result<usize, ClusterError> {
        let conn = lock(&self.conn).clone();
        requests::subscribers(conn, &link.request).await
    }

    /// Publishes `request` and collects an answer from every other server,
    /// or what came within `timeout`.
    async fn ask(
        self: Arc<Self>,
        link: Arc<Link>,
        request: Request,
        timeout: Duration,
    ) -> Result<Vec<Answer>, ClusterError> {
        let expected = self.server_count(&link).await?.saturating_sub(1);
        if expected == 0 {
            return Ok(Vec::new());
        }
        let id = random_id();
        let text = wire::encode_request(&self.uid, Some(&id), &request);
        let send = || self.publish(link.request.clone(), text.into_bytes());
        requests::gather(&self.pending, id, expected, timeout, send)
            .await
            .map_err(|answers| ClusterError::Timeout {
                answers: answers.into_iter().map(answer_json).collect(),
                expected,
            })
    }
}

/// Pings over the subscription's connection every [`HEARTBEAT`]; returns
/// why once a ping fails or goes unanswered for [`COMMAND_TIMEOUT`].
pub(crate) async fn heartbeat(mut sink: redis::aio::PubSubSink) -> String {
    loop {
        smol::Timer::after(HEARTBEAT).await;
        let ping = async {
            let pong = sink.ping::<redis::Value>().await;
            pong.map(drop).map_err(|e| e.to_string())
        };
        let unanswered = async {
            smol::Timer::after(COMMAND_TIMEOUT).await;
            Err("no answer to a ping".to_owned())
        };
        if let Err(failure) = ping.or(unanswered).await {
            return failure;
        }
    }
}

fn answer_json(answer: Answer) -> Value {
    match answer {
        Answer::Sockets(sockets) => Value::Array(sockets),
        Answer::ServerSideEmit(value) => value,
        _ => Value::Null,
    }
}

/// A namespace's cluster: its channels on the shared link.
struct NspCluster {
    shared: Arc<Shared>,
    link: Arc<Link>,
}

impl Cluster for NspCluster {
    fn broadcast(&self, event: &str, payload: &Payload, target: &Target) {
        let link = &self.link;
        let message = wire::encode_broadcast(&self.shared.uid, &link.name, event, payload, target);
        let channel = wire::broadcast_channel(&self.shared.prefix, &link.name, target);
        self.shared.publish(channel, message);
    }

    fn change_rooms(&self, target: &Target, rooms: &[String], join: bool) {
        let request = Request::Rooms {
            target: target.clone(),
            rooms: rooms.to_vec(),
            join,
        };
        self.request(&request);
    }

    fn disconnect(&self, target: &Target, close: bool) {
        let request = Request::Disconnect {
            target: target.clone(),
            close,
        };
        self.request(&request);
    }

    fn fetch_sockets(&self, target: &Target) -> ClusterFuture<Vec<SocketInfo>> {
        let request = Request::Fetch {
            target: target.clone(),
        };
        let asked = self
            .shared
            .clone()
            .ask(self.link.clone(), request, REQUEST_TIMEOUT);
        Box::pin(async move {
            let answers = asked.await?;
            let sockets = answers.iter().flat_map(|answer| match answer {
                Answer::Sockets(sockets) => sockets.as_slice(),
                _ => &[],
            });
            Ok(sockets.filter_map(SocketInfo::from_json).collect())
        })
    }

    fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
        ack: Option<Duration>,
    ) -> ClusterFuture<Vec<Value>> {
        let request = Request::ServerSideEmit {
            event: event.to_owned(),
            args,
        };
        let Some(timeout) = ack else {
            self.request(&request);
            return Box::pin(async { Ok(Vec::new()) });
        };
        let asked = self.shared.clone().ask(self.link.clone(), request, timeout);
        Box::pin(async move { Ok(asked.await?.into_iter().map(answer_json).collect()) })
    }
}

impl NspCluster {
    /// Publishes a request that waits for no answer.
    fn request(&self, request: &Request) {
        let text = wire::encode_request(&self.shared.uid, None, request);
        self.shared
            .publish(self.link.request.clone(), text.into_bytes());
    }
}

/// 12 random letters and digits: a server's or a request's id.
pub(crate) fn random_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 12];
    // Without the OS's randomness, the clock and a counter keep ids apart.
    if getrandom::fill(&mut bytes).is_err() {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(40);
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
    }
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::TestRedis;
    use crate::socketio::Io;

    /// A cluster of one sessio server on `redis`, its link running, and a
    /// second member that subscribes to the requests and never answers (a
    /// Node server killed mid-request, as far as the asker can tell).
    fn with_a_silent_peer(redis: &TestRedis) -> (RedisCluster, Io, redis::Connection) {
        let cluster = RedisCluster::new(&redis.url, "socket.io").unwrap();
        let attach = cluster.clone();
        let io = Io::builder().cluster(move |nsp| attach.attach(nsp)).build();
        let runner = cluster.clone();
        std::thread::spawn(move || smol::block_on(runner.run()));
        let client = redis::Client::open(redis.url.as_str()).unwrap();
        let mut peer = client.get_connection().unwrap();
        redis::cmd("SUBSCRIBE")
            .arg("socket.io-request#/#")
            .exec(&mut peer)
            .unwrap();
        let mut check = client.get_connection().unwrap();
        for _ in 0..200 {
            let (_, count): (String, usize) = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg("socket.io-request#/#")
                .query(&mut check)
                .unwrap();
            if count == 2 && cluster.connected() {
                return (cluster, io, peer);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the cluster did not subscribe");
    }

    /// A TCP relay to `upstream` that can go silent: from then on what
    /// either side writes is swallowed and new connections get no answer,
    /// as when the network path to Redis is lost without a reset. Only the
    /// first `forward` connections are relayed; later ones get no answer.
    struct Relay {
        port: u16,
        silent: Arc<std::sync::atomic::AtomicBool>,
        accepted: Arc<AtomicU64>,
    }

    impl Relay {
        fn start(upstream: std::net::SocketAddr, forward: u64) -> Relay {
            use std::io::{Read, Write};
            use std::sync::atomic::AtomicBool;
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let silent = Arc::new(AtomicBool::new(false));
            let accepted = Arc::new(AtomicU64::new(0));
            let (flag, count) = (silent.clone(), accepted.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    if flag.load(Ordering::SeqCst)
                        || count.fetch_add(1, Ordering::SeqCst) >= forward
                    {
                        held.push(client);
                        continue;
                    }
                    let server = std::net::TcpStream::connect(upstream).unwrap();
                    let pipes = [
                        (client.try_clone().unwrap(), server.try_clone().unwrap()),
                        (server, client),
                    ];
                    for (mut from, mut to) in pipes {
                        let flag = flag.clone();
                        std::thread::spawn(move || {
                            let mut buf = [0u8; 4096];
                            while let Ok(n @ 1..) = from.read(&mut buf) {
                                if !flag.load(Ordering::SeqCst) && to.write_all(&buf[..n]).is_err()
                                {
                                    break;
                                }
                            }
                        });
                    }
                }
            });
            Relay {
                port,
                silent,
                accepted,
            }
        }
    }

    fn run_through(relay: &Relay) -> (RedisCluster, Io) {
        let url = format!("redis://127.0.0.1:{}/", relay.port);
        let cluster = RedisCluster::new(&url, "socket.io").unwrap();
        let attach = cluster.clone();
        let io = Io::builder().cluster(move |nsp| attach.attach(nsp)).build();
        let runner = cluster.clone();
        std::thread::spawn(move || smol::block_on(runner.run()));
        (cluster, io)
    }

    fn upstream(redis: &TestRedis) -> std::net::SocketAddr {
        let address = redis.url.trim_start_matches("redis://");
        address.trim_end_matches('/').parse().unwrap()
    }

    #[test]
    fn a_subscription_that_gets_no_answer_is_given_up_and_tried_again() {
        let Some(redis) = TestRedis::start("redis-adapter-unanswered") else {
            return;
        };
        // The publishing connection is relayed, the subscribing one not.
        let relay = Relay::start(upstream(&redis), 1);
        let (_cluster, _io) = run_through(&relay);
        let start = std::time::Instant::now();
        while relay.accepted.load(Ordering::SeqCst) < 3 && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            relay.accepted.load(Ordering::SeqCst) >= 3,
            "no new attempt 10 s after the subscription went unanswered"
        );
    }

    #[test]
    fn a_link_gone_silent_is_noticed_without_anything_to_publish() {
        let Some(redis) = TestRedis::start("redis-adapter-silent") else {
            return;
        };
        let relay = Relay::start(upstream(&redis), u64::MAX);
        let (cluster, _io) = run_through(&relay);
        let wait_for = |want: bool, within: Duration| {
            let start = std::time::Instant::now();
            while cluster.connected() != want && start.elapsed() < within {
                std::thread::sleep(Duration::from_millis(50));
            }
            cluster.connected() == want
        };
        assert!(wait_for(true, Duration::from_secs(5)), "never connected");
        relay.silent.store(true, Ordering::SeqCst);
        // Nothing is published meanwhile: only the link itself can tell.
        assert!(
            wait_for(false, Duration::from_secs(15)),
            "still counted as connected 15 s after the link went silent"
        );
    }

    #[test]
    fn a_request_given_up_by_its_caller_leaves_nothing_behind() {
        let Some(redis) = TestRedis::start("redis-adapter-abandoned") else {
            return;
        };
        let (cluster, io, _peer) = with_a_silent_peer(&redis);
        let nsp = io.of("/").unwrap();
        let pending = || lock(&cluster.shared.pending).len();
        smol::block_on(async {
            let mut fetch = Box::pin(nsp.all().fetch_sockets());
            for _ in 0..200 {
                assert!(smol::future::poll_once(&mut fetch).await.is_none());
                if pending() == 1 {
                    break;
                }
                smol::Timer::after(Duration::from_millis(10)).await;
            }
            assert_eq!(pending(), 1, "the request is waiting for the peer");
            // The caller gives up (its own timeout, or its task ended).
            drop(fetch);
        });
        assert_eq!(pending(), 0);
        // One that times out leaves nothing either.
        let asked = nsp.server_side_emit_with_ack("ping", vec![], Duration::from_millis(100));
        assert_eq!(
            smol::block_on(asked),
            Err(ClusterError::Timeout {
                answers: Vec::new(),
                expected: 1
            })
        );
        assert_eq!(pending(), 0);
    }
}
