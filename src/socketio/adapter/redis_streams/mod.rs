//! A [`Cluster`] over a Redis stream, wire-compatible with
//! `@socket.io/redis-streams-adapter` 0.3: sessio servers and Node servers
//! using it on one Redis are one cluster, and a socket that drops from one
//! server recovers on any other (connection state recovery across servers).
//!
//! As the Node adapter, with its defaults: broadcasts and room or
//! disconnect orders are added to the stream `<prefix>` (`XADD ... MAXLEN ~
//! 10000`), which every server reads (`XREAD BLOCK`); requests and their
//! answers go through pub/sub on `<prefix>#<nsp>#` and each server's own
//! `<prefix>#<nsp>#<uid>#` (`PUBSUB NUMSUB` of the first counts the
//! servers). The entry ids are the offsets clients get; a socket that drops
//! leaves its session under `sio:session:<pid>` for the recovery window
//! (`SET ... PX`), and the server it comes back to takes it (`GET` and `DEL`
//! at once) and replays the entries after its offset that reached its rooms
//! (`XRANGE`). The encodings are in [`wire`].
//!
//! With recovery on, this server's own broadcasts reach its sockets as they
//! come back off the stream, so that every socket gets its events in the
//! order of their offsets and a replay meets the live events exactly; while
//! Redis is unreachable they are delivered at once, without an offset, and
//! the rest is as the classic adapter: one bounded queue to Redis, local
//! delivery only, reconnection with a backoff.

mod replay;
pub mod wire;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use smol::future::FutureExt;
use smol::stream::StreamExt;

use self::wire::{Body, Message, StreamId};
use super::redis::outbox::{Outbox, Weigh};
use super::redis::{heartbeat, lock, random_id, requests, BadUrl};
use super::{
    Cluster, ClusterError, ClusterFuture, ClusterRecovery, DroppedSocket, LocalSide,
    RecoveredSocket, SocketInfo, Target,
};
use crate::socketio::payload::Payload;

/// Bytes waiting for Redis, at most.
const QUEUE_BYTES: usize = 8 << 20;
/// Commands sent in one round trip, at most.
const BATCH: usize = 64;
/// The stream's length, about (the Node adapter's `maxLen`).
const MAX_LEN: u64 = 10_000;
/// Entries read at once (its `readCount`).
const READ_COUNT: u64 = 100;
/// How long one read waits for entries (its `blockTimeInMs`).
const BLOCK: Duration = Duration::from_secs(5);
/// The prefix of session records (its `sessionKeyPrefix`).
const SESSION_PREFIX: &str = "sio:session:";
/// How long a `fetchSockets` waits for every server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Entries one replay reads at once, and the most it sends.
const RANGE_COUNT: u64 = 1000;
const MAX_MISSED: usize = 10_000;
/// Times a replay reads on to catch up with this server's delivery.
const CATCH_UP_ROUNDS: usize = 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// The Redis link of one server, shared by its namespaces. Run
/// [`StreamsCluster::run`] once; [`StreamsCluster::attach`] each namespace.
#[derive(Clone)]
pub struct StreamsCluster {
    shared: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    uid: String,
    prefix: String,
    /// The recovery window (zero: recovery is off).
    window: Duration,
    outbox: Arc<Outbox<Out>>,
    links: Mutex<Vec<Arc<Link>>>,
    pending: requests::Pending<Body>,
    /// The command connection while connected.
    conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// The id of the last entry this server has read off the stream, held
    /// while the entry is delivered (`None`: not reading yet).
    delivered: Mutex<Option<StreamId>>,
}

/// One namespace's channels.
struct Link {
    nsp: Box<dyn LocalSide>,
    name: String,
    public: String,
    private: String,
}

/// What waits to be sent to Redis.
enum Out {
    /// An entry for the stream; with `fallback`, an event this server's
    /// sockets get off the stream, or at once when it cannot go there.
    Add {
        fields: [(&'static str, String); 4],
        fallback: Option<Box<Fallback>>,
    },
    Publish {
        channel: String,
        bytes: Vec<u8>,
    },
    /// A dropped socket's session record.
    Persist {
        key: String,
        value: String,
        ttl_ms: u64,
    },
}

struct Fallback {
    link: Arc<Link>,
    event: String,
    payload: Payload,
    target: Target,
}

impl Weigh for Out {
    fn weight(&self) -> usize {
        match self {
            Out::Add { fields, .. } => fields.iter().map(|(k, v)| k.len() + v.len()).sum(),
            Out::Publish { channel, bytes } => channel.len() + bytes.len(),
            Out::Persist { key, value, .. } => key.len() + value.len(),
        }
    }
}

impl Out {
    /// Delivers what this server's sockets would have got off the stream.
    fn fall_back(self) {
        if let Out::Add {
            fallback: Some(f), ..
        } = self
        {
            f.link.nsp.emit(&f.event, f.payload, &f.target);
        }
    }
}

impl StreamsCluster {
    /// A link to the Redis at `url`, with the stream and channels under
    /// `prefix` (the Node adapter's `streamName` and `channelPrefix`) and
    /// sessions kept for `window` (zero: no recovery). Connects in
    /// [`Self::run`].
    pub fn new(url: &str, prefix: &str, window: Duration) -> Result<StreamsCluster, BadUrl> {
        let client = redis::Client::open(url).map_err(BadUrl)?;
        Ok(StreamsCluster {
            shared: Arc::new(Shared {
                client,
                uid: random_id(),
                prefix: prefix.to_owned(),
                window,
                outbox: Arc::new(Outbox::new(QUEUE_BYTES)),
                links: Mutex::new(Vec::new()),
                pending: Mutex::new(HashMap::new()),
                conn: Mutex::new(None),
                delivered: Mutex::new(None),
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

    /// The cluster of one namespace, which reaches this server's side of it
    /// through `nsp`.
    pub fn attach(&self, nsp: impl LocalSide) -> Arc<dyn Cluster> {
        let name = nsp.name().unwrap_or_default();
        let public = format!("{}#{name}#", self.shared.prefix);
        let link = Arc::new(Link {
            private: format!("{public}{}#", self.shared.uid),
            public,
            name,
            nsp: Box::new(nsp),
        });
        lock(&self.shared.links).push(link.clone());
        Arc::new(NspCluster {
            shared: self.shared.clone(),
            link,
        })
    }

    /// Keeps the link up: connects, subscribes, reads the stream, sends
    /// and dispatches until the connection fails, then waits and connects
    /// again. Never returns; start it once every namespace is attached.
    pub async fn run(&self) {
        let shared = &self.shared;
        let mut backoff = FIRST_BACKOFF;
        let mut down = false;
        // Where reading goes on from after a reconnection.
        let mut position = None;
        loop {
            let links = lock(&shared.links).clone();
            let failure = match shared.connect(&links).await {
                Ok((conn, reader, pubsub)) => {
                    match down {
                        true => log::info!(
                            "redis streams adapter: reconnected ({} messages dropped so far)",
                            shared.outbox.dropped()
                        ),
                        false => log::info!("redis streams adapter: connected as {}", shared.uid),
                    }
                    (down, backoff) = (false, FIRST_BACKOFF);
                    *lock(&shared.conn) = Some(conn.clone());
                    let (sink, messages) = pubsub.split();
                    let failure = shared
                        .send_all(conn.clone())
                        .or(shared.dispatch(&links, messages))
                        .or(shared.read(&links, conn, reader, &mut position))
                        .or(heartbeat(sink))
                        .await;
                    *lock(&shared.conn) = None;
                    *lock(&shared.delivered) = None;
                    failure
                }
                Err(err) => err.to_string(),
            };
            if !down {
                log::warn!(
                    "redis streams adapter: Redis unreachable ({failure}); delivering to local sockets only, reconnecting"
                );
                down = true;
            }
            let drain = async {
                while let Some(out) = shared.outbox.pop().await {
                    shared.outbox.lost(1);
                    out.fall_back();
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

type Connections = (
    redis::aio::MultiplexedConnection,
    redis::aio::MultiplexedConnection,
    redis::aio::PubSub,
);

impl Shared {
    async fn connect(&self, links: &[Arc<Link>]) -> redis::RedisResult<Connections> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        // The reading connection waits up to BLOCK for entries.
        let reading = config.set_response_timeout(Some(BLOCK + COMMAND_TIMEOUT));
        let reader = self
            .client
            .get_multiplexed_async_connection_with_config(&reading)
            .await?;
        let subscribing = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            for link in links {
                pubsub.subscribe(&[&link.public, &link.private]).await?;
            }
            redis::RedisResult::Ok(pubsub)
        };
        let unanswered = async {
            smol::Timer::after(COMMAND_TIMEOUT).await;
            Err(redis::RedisError::from(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            )))
        };
        Ok((conn, reader, subscribing.or(unanswered).await?))
    }

    /// Sends what the queue holds until a round trip fails: what has queued
    /// up meanwhile goes in one pipeline.
    async fn send_all(&self, mut conn: redis::aio::MultiplexedConnection) -> String {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(first) = self.outbox.pop().await {
            batch.push(first);
            while batch.len() < BATCH {
                match self.outbox.try_pop() {
                    Some(out) => batch.push(out),
                    None => break,
                }
            }
            let mut pipe = redis::pipe();
            for out in &batch {
                match out {
                    Out::Add { fields, .. } => {
                        let command = pipe.cmd("XADD").arg(&self.prefix);
                        let command = command.arg("MAXLEN").arg("~").arg(MAX_LEN).arg("*");
                        for (name, value) in fields {
                            command.arg(*name).arg(value);
                        }
                        command.ignore();
                    }
                    Out::Publish { channel, bytes } => {
                        pipe.cmd("PUBLISH").arg(channel).arg(bytes).ignore();
                    }
                    Out::Persist { key, value, ttl_ms } => {
                        pipe.cmd("SET")
                            .arg(key)
                            .arg(value)
                            .arg("PX")
                            .arg(*ttl_ms)
                            .ignore();
                    }
                }
            }
            if let Err(err) = pipe.exec_async(&mut conn).await {
                self.outbox.lost(batch.len() as u64);
                batch.drain(..).for_each(Out::fall_back);
                return err.to_string();
            }
            batch.clear();
        }
        "the queue closed".to_owned()
    }

    /// Reads the stream from where it was left (from its end the first
    /// time) and hands each entry to its namespace, until a read fails.
    async fn read(
        &self,
        links: &[Arc<Link>],
        mut conn: redis::aio::MultiplexedConnection,
        mut reader: redis::aio::MultiplexedConnection,
        position: &mut Option<StreamId>,
    ) -> String {
        let start = match *position {
            Some(id) => id,
            None => match self.last_id(&mut conn).await {
                Ok(id) => id,
                Err(err) => return err,
            },
        };
        *position = Some(start);
        *lock(&self.delivered) = Some(start);
        loop {
            let after = position.unwrap_or_default().to_string();
            let reply: redis::RedisResult<redis::Value> = redis::cmd("XREAD")
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("COUNT")
                .arg(READ_COUNT)
                .arg("STREAMS")
                .arg(&self.prefix)
                .arg(&after)
                .query_async(&mut reader)
                .await;
            let entries = match reply.map(|r| wire::read_reply(&r)) {
                Ok(Ok(entries)) => entries,
                Ok(Err(err)) => return err.to_string(),
                Err(err) => return err.to_string(),
            };
            for (id, fields) in entries {
                let mut delivered = lock(&self.delivered);
                match wire::decode_entry(&fields) {
                    Ok(message) => self.on_entry(links, id, message),
                    Err(err) => log::debug!("redis streams adapter: ignored entry {id}: {err}"),
                }
                *delivered = Some(id);
                *position = Some(id);
            }
        }
    }

    /// The id of the stream's last entry (`0-0` when there is none).
    async fn last_id(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
    ) -> Result<StreamId, String> {
        let reply: redis::Value = redis::cmd("XREVRANGE")
            .arg(&self.prefix)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(conn)
            .await
            .map_err(|e| e.to_string())?;
        let entries = wire::range_reply(&reply).map_err(|e| e.to_string())?;
        Ok(entries.first().map(|(id, _)| *id).unwrap_or_default())
    }

    /// A stream entry: a broadcast or an order for this server's sockets.
    fn on_entry(&self, links: &[Arc<Link>], id: StreamId, message: Message) {
        let Some(link) = links.iter().find(|l| l.name == message.nsp) else {
            return;
        };
        let nsp = &*link.nsp;
        let own = message.uid == self.uid;
        match message.body {
            Body::Broadcast {
                event,
                mut payload,
                target,
                volatile,
            } => {
                // Without recovery this server's own went out at once.
                if own && self.window.is_zero() {
                    return;
                }
                if !self.window.is_zero() && !volatile {
                    payload = payload.with(json!(id.to_string()));
                }
                nsp.emit(&event, payload, &target);
            }
            Body::Rooms { .. } | Body::Disconnect { .. } if own => {}
            Body::Rooms {
                target,
                rooms,
                join,
            } => {
                let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
                nsp.change_rooms(&target, &rooms, join);
            }
            Body::Disconnect { target, close } => nsp.disconnect(&target, close),
            _ => {}
        }
    }

    /// Handles what comes in on the channels until the subscription ends.
    async fn dispatch(
        &self,
        links: &[Arc<Link>],
        mut messages: redis::aio::PubSubStream,
    ) -> String {
        while let Some(incoming) = messages.next().await {
            let channel = incoming.get_channel_name();
            let Some(link) = links
                .iter()
                .find(|l| channel == l.public || channel == l.private)
            else {
                continue;
            };
            match wire::decode_published(incoming.get_payload_bytes()) {
                Ok(message) if message.uid != self.uid && message.nsp == link.name => {
                    self.on_message(link, message)
                }
                Ok(_) => {}
                Err(err) => {
                    log::debug!("redis streams adapter: ignored a message on {channel}: {err}")
                }
            }
        }
        "the subscription ended".to_owned()
    }

    fn on_message(&self, link: &Link, message: Message) {
        let nsp = &*link.nsp;
        let from = message.uid;
        match message.body {
            Body::Fetch { request_id, target } => {
                let sockets = nsp.fetch_sockets(&target);
                let sockets = sockets.iter().map(SocketInfo::to_json).collect();
                self.respond(
                    link,
                    &from,
                    Body::FetchResponse {
                        request_id,
                        sockets,
                    },
                );
            }
            Body::ServerSideEmit {
                request_id,
                event,
                args,
            } => {
                let answer = nsp.server_event(&event, &args);
                if let (Some(request_id), Some(answer)) = (request_id, answer) {
                    self.respond(
                        link,
                        &from,
                        Body::ServerSideEmitResponse { request_id, answer },
                    );
                }
            }
            Body::BroadcastWithAck {
                request_id,
                event,
                payload,
                target,
                timeout,
            } => {
                let answers = nsp.emit_with_ack(&event, payload, &target, timeout);
                let count = answers.len() as u64;
                self.respond(
                    link,
                    &from,
                    Body::ClientCount {
                        request_id: request_id.clone(),
                        count,
                    },
                );
                for answer in answers {
                    let channel = format!("{}{from}#", link.public);
                    let (uid, nsp_name, id) =
                        (self.uid.clone(), link.name.clone(), request_id.clone());
                    let outbox = self.outbox.clone();
                    smol::spawn(async move {
                        if let Some(payload) = answer.await {
                            let body = Body::BroadcastAck {
                                request_id: id,
                                payload,
                            };
                            let message = Message {
                                uid,
                                nsp: nsp_name,
                                body,
                            };
                            let bytes = wire::encode_published(&message);
                            outbox.push_item(Out::Publish { channel, bytes });
                        }
                    })
                    .detach();
                }
            }
            Body::FetchResponse { ref request_id, .. }
            | Body::ServerSideEmitResponse { ref request_id, .. }
            | Body::ClientCount { ref request_id, .. }
            | Body::BroadcastAck { ref request_id, .. } => {
                let pending = lock(&self.pending);
                if let Some(waiting) = pending.get(request_id) {
                    let _ = waiting.try_send(message.body.clone());
                }
            }
            // Broadcasts and orders come off the stream.
            _ => {}
        }
    }

    /// Publishes `body` to the server `to`'s own channel.
    fn respond(&self, link: &Link, to: &str, body: Body) {
        let message = Message {
            uid: self.uid.clone(),
            nsp: link.name.clone(),
            body,
        };
        let channel = format!("{}{to}#", link.public);
        let bytes = wire::encode_published(&message);
        self.outbox.push_item(Out::Publish { channel, bytes });
    }
}

impl Shared {
    /// How many servers subscribe to `link`'s public channel, this one
    /// included.
    async fn server_count(&self, link: &Link) -> Result<usize, ClusterError> {
        let conn = lock(&self.conn).clone();
        requests::subscribers(conn, &link.public).await
    }

    /// Publishes the request `body` (whose id is `id`) and collects an
    /// answer from every other server, or what came within `timeout`.
    async fn ask(
        self: Arc<Self>,
        link: Arc<Link>,
        id: String,
        body: Body,
        timeout: Duration,
    ) -> Result<Vec<Body>, ClusterError> {
        let expected = self.server_count(&link).await?.saturating_sub(1);
        if expected == 0 {
            return Ok(Vec::new());
        }
        let send = || self.publish(&link, body);
        requests::gather(&self.pending, id, expected, timeout, send)
            .await
            .map_err(|answers| ClusterError::Timeout {
                answers: answers.into_iter().map(answer_json).collect(),
                expected,
            })
    }

    /// Publishes `body` on `link`'s public channel.
    fn publish(&self, link: &Link, body: Body) {
        let message = Message {
            uid: self.uid.clone(),
            nsp: link.name.clone(),
            body,
        };
        let bytes = wire::encode_published(&message);
        let channel = link.public.clone();
        self.outbox.push_item(Out::Publish { channel, bytes });
    }

    /// Adds `body` to the stream; with `fallback`, this server's sockets
    /// get it off the stream (or at once, should it not get there).
    fn add(&self, link: &Link, body: Body, fallback: Option<Box<Fallback>>) {
        let message = Message {
            uid: self.uid.clone(),
            nsp: link.name.clone(),
            body,
        };
        let fields = wire::encode_entry(&message);
        if let Err(out) = self.outbox.try_push(Out::Add { fields, fallback }) {
            out.fall_back();
        }
    }
}

fn answer_json(body: Body) -> Value {
    match body {
        Body::FetchResponse { sockets, .. } => Value::Array(sockets),
        Body::ServerSideEmitResponse { answer, .. } => answer,
        _ => Value::Null,
    }
}

/// A namespace's cluster: its channels and its share of the stream.
struct NspCluster {
    shared: Arc<Shared>,
    link: Arc<Link>,
}

impl Cluster for NspCluster {
    fn broadcast(&self, event: &str, payload: &Payload, target: &Target) {
        let body = Body::Broadcast {
            event: event.to_owned(),
            payload: payload.clone(),
            target: target.clone(),
            volatile: false,
        };
        self.shared.add(&self.link, body, None);
    }

    fn change_rooms(&self, target: &Target, rooms: &[String], join: bool) {
        let body = Body::Rooms {
            target: target.clone(),
            rooms: rooms.to_vec(),
            join,
        };
        self.shared.add(&self.link, body, None);
    }

    fn disconnect(&self, target: &Target, close: bool) {
        let body = Body::Disconnect {
            target: target.clone(),
            close,
        };
        self.shared.add(&self.link, body, None);
    }

    fn fetch_sockets(&self, target: &Target) -> ClusterFuture<Vec<SocketInfo>> {
        let id = random_id();
        let body = Body::Fetch {
            request_id: id.clone(),
            target: target.clone(),
        };
        let asked = self
            .shared
            .clone()
            .ask(self.link.clone(), id, body, REQUEST_TIMEOUT);
        Box::pin(async move {
            let answers = asked.await?;
            let sockets = answers.iter().flat_map(|answer| match answer {
                Body::FetchResponse { sockets, .. } => sockets.as_slice(),
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
        let Some(timeout) = ack else {
            let body = Body::ServerSideEmit {
                request_id: None,
                event: event.to_owned(),
                args,
            };
            self.shared.publish(&self.link, body);
            return Box::pin(async { Ok(Vec::new()) });
        };
        let id = random_id();
        let body = Body::ServerSideEmit {
            request_id: Some(id.clone()),
            event: event.to_owned(),
            args,
        };
        let asked = self
            .shared
            .clone()
            .ask(self.link.clone(), id, body, timeout);
        Box::pin(async move { Ok(asked.await?.into_iter().map(answer_json).collect()) })
    }

    fn recovery(&self) -> Option<Arc<dyn ClusterRecovery>> {
        if self.shared.window.is_zero() {
            return None;
        }
        Some(Arc::new(NspCluster {
            shared: self.shared.clone(),
            link: self.link.clone(),
        }))
    }
}

impl ClusterRecovery for NspCluster {
    fn emit(&self, event: &str, payload: Payload, target: &Target) {
        let fallback = Box::new(Fallback {
            link: self.link.clone(),
            event: event.to_owned(),
            payload: payload.clone(),
            target: target.clone(),
        });
        let body = Body::Broadcast {
            event: event.to_owned(),
            payload,
            target: target.clone(),
            volatile: false,
        };
        self.shared.add(&self.link, body, Some(fallback));
    }

    fn persist(&self, dropped: DroppedSocket) {
        let data = match dropped.owner {
            Some(owner) => json!({"sessioOwner": owner}),
            None => json!({}),
        };
        let session = wire::Session {
            sid: dropped.id,
            pid: dropped.pid,
            rooms: dropped.rooms,
            data,
        };
        let out = Out::Persist {
            key: format!("{SESSION_PREFIX}{}", session.pid),
            value: wire::encode_session(&session),
            ttl_ms: self.shared.window.as_millis().max(1) as u64,
        };
        self.shared.outbox.push_item(out);
    }

    fn restore(
        &self,
        pid: String,
        offset: String,
        join: Box<dyn FnOnce(Option<RecoveredSocket>) + Send>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let (shared, link) = (self.shared.clone(), self.link.clone());
        Box::pin(async move { shared.restore(&link, &pid, &offset, join).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::TestRedis;
    use crate::socketio::adapter::AckFuture;

    /// Events delivered: name and arguments.
    type Deliveries = Arc<Mutex<Vec<(String, Vec<Value>)>>>;

    /// A namespace `/` that notes what the cluster delivers to it.
    #[derive(Clone, Default)]
    struct Noted(Deliveries);

    impl LocalSide for Noted {
        fn name(&self) -> Option<String> {
            Some("/".into())
        }
        fn alive(&self) -> bool {
            true
        }
        fn emit(&self, event: &str, payload: Payload, _: &Target) {
            lock(&self.0).push((event.to_owned(), payload.args().to_vec()));
        }
        fn socket_ids(&self, _: &Target) -> Vec<Arc<str>> {
            Vec::new()
        }
        fn rooms(&self) -> Vec<String> {
            Vec::new()
        }
        fn change_rooms(&self, _: &Target, _: &[&str], _: bool) {}
        fn change_room(&self, _: &str, _: &str, _: bool) -> bool {
            false
        }
        fn disconnect(&self, _: &Target, _: bool) {}
        fn disconnect_one(&self, _: &str, _: bool) -> bool {
            false
        }
        fn fetch_sockets(&self, _: &Target) -> Vec<SocketInfo> {
            Vec::new()
        }
        fn server_event(&self, _: &str, _: &[Value]) -> Option<Value> {
            None
        }
        fn emit_with_ack(&self, _: &str, _: Payload, _: &Target, _: Duration) -> Vec<AckFuture> {
            Vec::new()
        }
    }

    fn to(room: &str) -> Target {
        Target {
            rooms: vec![room.into()],
            except: Vec::new(),
        }
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("waited 5 s for {what}");
    }

    /// Restores `pid` from `offset` and gives what `join` got.
    fn restore(recovery: &dyn ClusterRecovery, pid: &str, offset: &str) -> Option<RecoveredSocket> {
        let (tx, rx) = std::sync::mpsc::channel();
        let join = Box::new(move |found| {
            let _ = tx.send(found);
        });
        smol::block_on(recovery.restore(pid.into(), offset.into(), join));
        rx.recv_timeout(Duration::from_secs(5))
            .expect("join was called")
    }

    #[test]
    fn a_dropped_socket_is_taken_back_once_with_what_reached_its_rooms_in_order() {
        let Some(redis) = TestRedis::start("redis-streams-restore") else {
            return;
        };
        let cluster =
            StreamsCluster::new(&redis.url, "socket.io", Duration::from_secs(60)).unwrap();
        let noted = Noted::default();
        let nsp = cluster.attach(noted.clone());
        let recovery = nsp
            .recovery()
            .expect("a window: the cluster keeps recovery");
        let runner = cluster.clone();
        std::thread::spawn(move || smol::block_on(runner.run()));
        wait_for("the reader", || lock(&cluster.shared.delivered).is_some());

        recovery.emit("first", Payload::new(), &to("s1"));
        wait_for("the first event off the stream", || {
            lock(&noted.0).len() == 1
        });
        let offset = lock(&noted.0)[0].1[0].as_str().unwrap().to_owned();
        assert!(StreamId::parse(&offset).is_ok(), "{offset}");
        for (event, room) in [("a", "s1"), ("b", "other"), ("c", "r")] {
            recovery.emit(event, Payload::new().with(json!(event)), &to(room));
        }
        recovery.persist(DroppedSocket {
            id: "s1".into(),
            pid: "p1".into(),
            rooms: vec!["s1".into(), "r".into()],
            owner: Some("digest".into()),
        });
        wait_for("every event delivered", || lock(&noted.0).len() == 4);

        let found = restore(&*recovery, "p1", &offset).expect("recovered");
        assert_eq!(
            (found.id.as_str(), found.rooms.as_slice()),
            ("s1", &["r".to_owned()][..])
        );
        assert_eq!(found.owner.as_deref(), Some("digest"));
        let missed: Vec<(&str, &Value)> = found
            .missed
            .iter()
            .map(|(e, p)| (e.as_str(), &p.args()[0]))
            .collect();
        assert_eq!(missed, vec![("a", &json!("a")), ("c", &json!("c"))]);
        // Each with its offset last, as it was delivered here.
        let delivered = lock(&noted.0).clone();
        assert_eq!(found.missed[0].1.args(), delivered[1].1.as_slice());

        assert_eq!(restore(&*recovery, "p1", &offset), None, "taken once");
    }

    #[test]
    fn an_unknown_pid_or_a_bad_offset_recovers_nothing() {
        let Some(redis) = TestRedis::start("redis-streams-refused") else {
            return;
        };
        let cluster =
            StreamsCluster::new(&redis.url, "socket.io", Duration::from_secs(60)).unwrap();
        let recovery = cluster.attach(Noted::default()).recovery().unwrap();
        let runner = cluster.clone();
        std::thread::spawn(move || smol::block_on(runner.run()));
        wait_for("the reader", || lock(&cluster.shared.delivered).is_some());
        recovery.persist(DroppedSocket {
            id: "s1".into(),
            pid: "p1".into(),
            rooms: vec!["s1".into()],
            owner: None,
        });
        wait_for("the record", || {
            let mut conn = redis::Client::open(redis.url.as_str())
                .unwrap()
                .get_connection()
                .unwrap();
            redis::cmd("EXISTS")
                .arg("sio:session:p1")
                .query::<bool>(&mut conn)
                .unwrap()
        });
        assert_eq!(restore(&*recovery, "nobody", "1-0"), None);
        assert_eq!(restore(&*recovery, "p1", "not an offset"), None);
        // An offset that is not in the stream: no replay can be exact.
        assert_eq!(restore(&*recovery, "p1", "1-0"), None);
    }

    #[test]
    fn a_server_keeping_its_own_recovery_keeps_it_and_one_without_gives_it_to_the_cluster() {
        use crate::socketio::{Io, RecoveryConfig};
        let window = Duration::from_secs(60);
        for own in [true, false] {
            let cluster = StreamsCluster::new("redis://127.0.0.1:1/", "socket.io", window).unwrap();
            let recovery = RecoveryConfig {
                window: if own { window } else { Duration::ZERO },
                ..RecoveryConfig::default()
            };
            let io = Io::builder()
                .recovery(recovery)
                .cluster(move |nsp| cluster.attach(nsp))
                .build();
            assert_eq!(io.of("/").unwrap().cluster_keeps_recovery(), !own);
        }
    }

    #[test]
    fn without_a_window_the_cluster_keeps_no_recovery() {
        let cluster =
            StreamsCluster::new("redis://127.0.0.1:1/", "socket.io", Duration::ZERO).unwrap();
        assert!(cluster.attach(Noted::default()).recovery().is_none());
    }
}
