//! The Socket.IO side of one connection as a state machine without I/O or
//! clock: Engine.IO messages in, whole packets (or the reason to close) out.
//!
//! It checks what a client controls before anything else sees it (JSON
//! nesting, the number and bytes of a packet's binary attachments), puts a
//! binary packet back together from its attachments, turns a Socket.IO 2
//! client's `CONNECT` query into its auth, decides what a `CONNECT` comes to
//! (one middleware decision at a time per namespace), and says when a client
//! that joined no namespace is past its deadline, and what each whole packet
//! asks of the runtime ([`route`]). The runtime ([`super::client`]) feeds
//! it and carries out what it answers: joining, leaving, handing events and
//! answers to sockets, sending, closing.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;
use serde_json::{json, Value};

use super::limits::Limits;
use super::packet::{self, Packet, PacketKind};
use crate::engineio::Cap;

/// The most bytes of binary attachments one packet may carry.
pub(crate) const MAX_ATTACHMENT_BYTES: usize = 16 << 20;

/// What a message from the client comes to.
#[derive(Debug, PartialEq)]
pub(crate) enum Received {
    /// A whole packet, with its attachments (none for a text-only packet).
    Packet(Packet, Vec<Bytes>),
    /// An attachment that the packet before it still waits for more of.
    Waiting,
    /// The client broke the protocol (a packet that does not decode, an
    /// attachment nobody waits for, too many attachment bytes): close it.
    ProtocolError,
    /// The client went over one of its caps (with the cap's value): close it.
    Exceeded(Cap, usize),
}

/// What a whole packet from the client asks of the runtime.
#[derive(Debug, PartialEq)]
pub(crate) enum Inbound {
    /// `CONNECT`: join `namespace` with `auth` (see [`Machine::on_connect`]).
    Connect {
        namespace: Cow<'static, str>,
        auth: Value,
    },
    /// `DISCONNECT`: the client leaves `namespace`.
    Leave(Cow<'static, str>),
    /// `EVENT`/`BINARY_EVENT` `name` for the client's socket in `namespace`;
    /// with `ack`, the id its answer goes out with.
    Event {
        namespace: Cow<'static, str>,
        name: String,
        args: Vec<Value>,
        attachments: Vec<Bytes>,
        ack: Option<u64>,
    },
    /// `ACK`/`BINARY_ACK`: the client's answer to the server's event `id`.
    Answer {
        namespace: Cow<'static, str>,
        id: u64,
        args: Vec<Value>,
        attachments: Vec<Bytes>,
    },
    /// `CONNECT_ERROR`, which only a server sends: close.
    ProtocolError,
    /// Nothing to do: an event without a name, an answer without an id or
    /// arguments (what [`packet::decode`] lets through has them).
    Ignored,
}

/// What the whole `packet` (with its `attachments`) asks of the runtime.
pub(crate) fn route(packet: Packet, attachments: Vec<Bytes>) -> Inbound {
    let Packet {
        kind,
        namespace,
        id,
        data,
        ..
    } = packet;
    match (kind, data) {
        (PacketKind::Connect, auth) => Inbound::Connect {
            namespace,
            auth: auth.unwrap_or_else(|| json!({})),
        },
        (PacketKind::Disconnect, _) => Inbound::Leave(namespace),
        (PacketKind::ConnectError, _) => Inbound::ProtocolError,
        (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(mut args))) => {
            if args.is_empty() {
                return Inbound::Ignored;
            }
            let name = match args.remove(0) {
                Value::String(name) => name,
                other => other.to_string(),
            };
            Inbound::Event {
                namespace,
                name,
                args,
                attachments,
                ack: id,
            }
        }
        (PacketKind::Ack | PacketKind::BinaryAck, Some(Value::Array(args))) => match id {
            Some(id) => Inbound::Answer {
                namespace,
                id,
                args,
                attachments,
            },
            None => Inbound::Ignored,
        },
        (
            PacketKind::Event | PacketKind::BinaryEvent | PacketKind::Ack | PacketKind::BinaryAck,
            _,
        ) => Inbound::Ignored,
    }
}

/// What the server has of the namespace a `CONNECT` names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Known<'a> {
    /// No such namespace.
    No,
    /// One without middleware.
    Open,
    /// One whose middleware decides who joins (by its name).
    Guarded(&'a Arc<str>),
}

/// What a `CONNECT` comes to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The server has no such namespace: refuse it.
    Unknown,
    /// The client is in the namespace, or its middleware is deciding on an
    /// earlier `CONNECT` already: nothing to do.
    Ignored,
    /// The socket joins now.
    Join,
    /// The middleware decides (off the connection); [`Machine::on_decided`]
    /// once it has.
    Decide,
}

/// One connection's receiving state.
#[derive(Debug)]
pub(crate) struct Machine {
    /// The client speaks Socket.IO protocol 4 (over Engine.IO 3).
    v4_protocol: bool,
    /// A binary packet waiting for its attachments (boxed: most clients
    /// never send one, and every client holds this field).
    partial: Option<Box<(Packet, Vec<Bytes>)>>,
    /// Namespaces whose middleware is deciding on a `CONNECT`: one at a time
    /// each, so a client repeating `CONNECT` cannot start a store read (and a
    /// blocking thread) per packet.
    admitting: Vec<Arc<str>>,
    /// When the client is closed unless it has joined a namespace.
    join_deadline: Instant,
    joined: bool,
}

impl Machine {
    pub(crate) fn new(v4_protocol: bool, join_deadline: Instant) -> Self {
        Machine {
            v4_protocol,
            partial: None,
            admitting: Vec::new(),
            join_deadline,
            joined: false,
        }
    }

    /// A text message, under the client's `limits`. `joined` says whether the
    /// client has a socket in a namespace: attachments wait only for those
    /// (before that, nobody could receive them).
    pub(crate) fn on_text(
        &mut self,
        text: &str,
        limits: &Limits,
        joined: impl Fn(&str) -> bool,
    ) -> Received {
        if self.partial.is_some() {
            return Received::ProtocolError;
        }
        let max_depth = limits.max_json_depth;
        if packet::nests_deeper_than(text, max_depth) {
            return Received::Exceeded(Cap::JsonDepth, max_depth);
        }
        let Ok(mut packet) = packet::decode(text) else {
            return Received::ProtocolError;
        };
        if packet.attachments > limits.max_attachments {
            return Received::Exceeded(Cap::Attachments, limits.max_attachments);
        }
        if packet.attachments > 0 {
            if !joined(&packet.namespace) {
                return Received::ProtocolError;
            }
            self.partial = Some(Box::new((packet, Vec::new())));
            return Received::Waiting;
        }
        if packet.kind == PacketKind::Connect && self.v4_protocol {
            self.connect_query_as_auth(&mut packet);
        }
        Received::Packet(packet, Vec::new())
    }

    /// A binary message: the next attachment of the packet that waits.
    pub(crate) fn on_binary(&mut self, data: Bytes) -> Received {
        let Some((packet, attachments)) = self.partial.as_deref_mut() else {
            return Received::ProtocolError;
        };
        attachments.push(data);
        let total: usize = attachments.iter().map(|a| a.len()).sum();
        if total > MAX_ATTACHMENT_BYTES {
            self.partial = None;
            return Received::ProtocolError;
        }
        if attachments.len() < packet.attachments {
            return Received::Waiting;
        }
        match self.partial.take() {
            Some(complete) => {
                let (packet, attachments) = *complete;
                Received::Packet(packet, attachments)
            }
            None => Received::Waiting,
        }
    }

    /// A Socket.IO 2 client names its auth as the `CONNECT`'s query
    /// (`0/nsp?token=1,`): the namespace loses it and the data becomes it.
    fn connect_query_as_auth(&self, packet: &mut Packet) {
        if let Some((name, query)) = packet.namespace.split_once('?') {
            packet.data = Some(query_object(query));
            packet.namespace = Cow::Owned(name.to_owned());
        }
    }

    /// A `CONNECT` for a namespace the server has as `known`, the client
    /// being in it already or not (`joined`).
    pub(crate) fn on_connect(&mut self, known: Known<'_>, joined: bool) -> Admission {
        match known {
            Known::No => Admission::Unknown,
            _ if joined => Admission::Ignored,
            Known::Open => Admission::Join,
            Known::Guarded(name) if self.admitting.contains(name) => Admission::Ignored,
            Known::Guarded(name) => {
                self.admitting.push(name.clone());
                Admission::Decide
            }
        }
    }

    /// The middleware of `namespace` has decided (either way).
    pub(crate) fn on_decided(&mut self, namespace: &str) {
        self.admitting.retain(|n| &**n != namespace);
        if self.admitting.is_empty() {
            // Its room would stay with the connection for its whole life.
            self.admitting = Vec::new();
        }
    }

    /// The client joined a namespace; true the first time.
    pub(crate) fn on_joined(&mut self) -> bool {
        !std::mem::replace(&mut self.joined, true)
    }

    /// The time is `now`: true when the client joined no namespace in time
    /// and is to be closed.
    pub(crate) fn on_tick(&self, now: Instant) -> bool {
        !self.joined && now >= self.join_deadline
    }

    /// The connection closed: what waited is dropped.
    pub(crate) fn on_close(&mut self) {
        self.partial = None;
    }
}

/// A query string as a JSON object of strings (a Socket.IO 2 client's auth).
fn query_object(query: &str) -> Value {
    let Ok(url) = http_types::Url::parse(&format!("http://n/?{query}")) else {
        return json!({});
    };
    let pairs = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())));
    Value::Object(pairs.collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const LIMITS: Limits = Limits {
        max_pending_acks: 256,
        max_attachments: 2,
        max_rooms: 256,
        max_json_depth: 4,
    };

    fn machine(v4_protocol: bool) -> (Machine, Instant) {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(45);
        (Machine::new(v4_protocol, deadline), start)
    }

    fn everywhere(_: &str) -> bool {
        true
    }

    /// An attachment now is out of place: no packet waits for one.
    fn assert_nothing_waits(m: &mut Machine) {
        let stray = m.on_binary(Bytes::from_static(b"x"));
        assert_eq!(stray, Received::ProtocolError);
    }

    fn packet_of(received: Received) -> (Packet, Vec<Bytes>) {
        match received {
            Received::Packet(packet, attachments) => (packet, attachments),
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    #[test]
    fn a_text_packet_comes_out_whole() {
        let (mut m, _) = machine(false);
        let (packet, attachments) =
            packet_of(m.on_text(r#"2/chat,7["hi",1]"#, &LIMITS, everywhere));
        assert_eq!(packet.kind, PacketKind::Event);
        assert_eq!(packet.namespace, "/chat");
        assert_eq!(packet.id, Some(7));
        assert_eq!(packet.data, Some(json!(["hi", 1])));
        assert!(attachments.is_empty());
    }

    #[test]
    fn a_binary_packet_waits_for_each_attachment_in_order() {
        let (mut m, _) = machine(false);
        let text = r#"52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!(m.on_text(text, &LIMITS, everywhere), Received::Waiting);
        assert_eq!(m.on_binary(Bytes::from_static(b"one")), Received::Waiting);
        let (packet, attachments) = packet_of(m.on_binary(Bytes::from_static(b"two")));
        assert_eq!(packet.kind, PacketKind::BinaryEvent);
        assert_eq!(attachments, [&b"one"[..], &b"two"[..]]);
        // Nothing waits any more: another attachment is out of place.
        assert_nothing_waits(&mut m);
    }

    #[test]
    fn a_text_packet_while_attachments_are_awaited_breaks_the_protocol() {
        let (mut m, _) = machine(false);
        let text = r#"51-["up",{"_placeholder":true,"num":0}]"#;
        assert_eq!(m.on_text(text, &LIMITS, everywhere), Received::Waiting);
        assert_eq!(
            m.on_text(r#"2["hi"]"#, &LIMITS, everywhere),
            Received::ProtocolError
        );
    }

    #[test]
    fn attachments_wait_only_for_a_joined_namespace() {
        let (mut m, _) = machine(false);
        let text = r#"51-/other,["up",{"_placeholder":true,"num":0}]"#;
        let received = m.on_text(text, &LIMITS, |namespace| namespace == "/");
        assert_eq!(received, Received::ProtocolError);
        assert_nothing_waits(&mut m);
    }

    #[test]
    fn the_caps_a_client_controls_are_checked_first() {
        let (mut m, _) = machine(false);
        let deep = r#"2["x",[[[[[1]]]]]]"#;
        let too_many = r#"53-["up",1,2,3]"#;
        assert_eq!(
            m.on_text(deep, &LIMITS, everywhere),
            Received::Exceeded(Cap::JsonDepth, 4)
        );
        assert_eq!(
            m.on_text(too_many, &LIMITS, everywhere),
            Received::Exceeded(Cap::Attachments, 2)
        );
        assert_eq!(m.on_text("9", &LIMITS, everywhere), Received::ProtocolError);
    }

    #[test]
    fn attachments_over_their_byte_cap_break_the_protocol() {
        let (mut m, _) = machine(false);
        let text = r#"52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!(m.on_text(text, &LIMITS, everywhere), Received::Waiting);
        let half = Bytes::from(vec![0u8; MAX_ATTACHMENT_BYTES / 2 + 1]);
        assert_eq!(m.on_binary(half.clone()), Received::Waiting);
        assert_eq!(m.on_binary(half), Received::ProtocolError);
        // The packet is gone with it.
        assert_nothing_waits(&mut m);
    }

    #[test]
    fn a_socket_io_2_connect_names_its_auth_as_a_query() {
        let (mut v4, _) = machine(true);
        let (packet, _) = packet_of(v4.on_text("0/admin?token=a%20b&x=1,", &LIMITS, everywhere));
        assert_eq!(packet.namespace, "/admin");
        assert_eq!(packet.data, Some(json!({"token": "a b", "x": "1"})));
        // Protocol 5 has no such thing: the name stays as sent.
        let (mut v5, _) = machine(false);
        let (packet, _) = packet_of(v5.on_text("0/admin?token=1,", &LIMITS, everywhere));
        assert_eq!(packet.namespace, "/admin?token=1");
    }

    #[test]
    fn a_socket_io_2_connect_query_is_its_auth() {
        assert_eq!(
            query_object("token=a%20b&x=1&x=2&flag"),
            json!({"token": "a b", "x": "2", "flag": ""})
        );
        assert_eq!(query_object(""), json!({}));
    }

    #[test]
    fn a_client_that_joins_nothing_is_closed_at_its_deadline_only() {
        let (mut m, start) = machine(false);
        assert!(!m.on_tick(start + Duration::from_secs(44)));
        assert!(m.on_tick(start + Duration::from_secs(45)));
        assert!(m.on_joined(), "the first join");
        assert!(!m.on_joined());
        assert!(!m.on_tick(start + Duration::from_secs(3600)));
    }

    #[test]
    fn a_connect_is_refused_joined_ignored_or_decided_once_at_a_time() {
        let (mut m, _) = machine(false);
        let (chat, admin): (Arc<str>, Arc<str>) = ("/chat".into(), "/admin".into());
        assert_eq!(m.on_connect(Known::No, false), Admission::Unknown);
        assert_eq!(m.on_connect(Known::Open, false), Admission::Join);
        assert_eq!(m.on_connect(Known::Open, true), Admission::Ignored);
        assert_eq!(
            m.on_connect(Known::Guarded(&chat), true),
            Admission::Ignored
        );
        assert_eq!(
            m.on_connect(Known::Guarded(&chat), false),
            Admission::Decide
        );
        // A second CONNECT while the first is decided starts nothing.
        assert_eq!(
            m.on_connect(Known::Guarded(&chat), false),
            Admission::Ignored
        );
        // Another namespace's middleware may decide meanwhile.
        assert_eq!(
            m.on_connect(Known::Guarded(&admin), false),
            Admission::Decide
        );
        m.on_decided("/chat");
        assert_eq!(
            m.on_connect(Known::Guarded(&chat), false),
            Admission::Decide
        );
        assert_eq!(
            m.on_connect(Known::Guarded(&admin), false),
            Admission::Ignored
        );
    }

    /// `text` decoded and routed, as the runtime does with what the machine
    /// gives it.
    fn routed(text: &str) -> Inbound {
        let (mut m, _) = machine(false);
        let (packet, attachments) = packet_of(m.on_text(text, &LIMITS, everywhere));
        route(packet, attachments)
    }

    fn packet(kind: PacketKind, id: Option<u64>, data: Option<Value>) -> Packet {
        Packet {
            kind,
            namespace: "/".to_owned().into(),
            id,
            data,
            attachments: 0,
        }
    }

    #[test]
    fn a_connect_asks_to_join_with_its_auth_or_none() {
        let join = |namespace: &str, auth| Inbound::Connect {
            namespace: namespace.to_owned().into(),
            auth,
        };
        assert_eq!(routed("0"), join("/", json!({})));
        assert_eq!(
            routed(r#"0/chat,{"token":"t"}"#),
            join("/chat", json!({"token": "t"}))
        );
    }

    #[test]
    fn a_disconnect_asks_to_leave_its_namespace() {
        assert_eq!(routed("1/chat,"), Inbound::Leave("/chat".into()));
        assert_eq!(routed("1"), Inbound::Leave("/".into()));
    }

    #[test]
    fn an_event_is_split_into_its_name_arguments_and_ack_id() {
        let event = |name: &str, args: Value, ack| Inbound::Event {
            namespace: "/chat".to_owned().into(),
            name: name.to_owned(),
            args: args.as_array().cloned().unwrap_or_default(),
            attachments: Vec::new(),
            ack,
        };
        assert_eq!(
            routed(r#"2/chat,7["hi",1,{"a":2}]"#),
            event("hi", json!([1, {"a": 2}]), Some(7))
        );
        assert_eq!(routed(r#"2/chat,["bye"]"#), event("bye", json!([]), None));
        // A number names an event too, as Node reads it.
        assert_eq!(
            routed(r#"2/chat,[42,"x"]"#),
            event("42", json!(["x"]), None)
        );
    }

    #[test]
    fn a_binary_event_and_a_binary_ack_bring_their_attachments() {
        let (mut m, _) = machine(false);
        let text = r#"51-3["up",{"_placeholder":true,"num":0}]"#;
        assert_eq!(m.on_text(text, &LIMITS, everywhere), Received::Waiting);
        let (packet, attachments) = packet_of(m.on_binary(Bytes::from_static(b"data")));
        let Inbound::Event {
            name,
            args,
            attachments,
            ack,
            ..
        } = route(packet, attachments)
        else {
            panic!("not an event");
        };
        assert_eq!((name.as_str(), ack), ("up", Some(3)));
        assert_eq!(args, [json!({"_placeholder": true, "num": 0})]);
        assert_eq!(attachments, [&b"data"[..]]);
        let text = r#"61-/chat,9[{"_placeholder":true,"num":0}]"#;
        assert_eq!(m.on_text(text, &LIMITS, everywhere), Received::Waiting);
        let (packet, attachments) = packet_of(m.on_binary(Bytes::from_static(b"back")));
        let answer = route(packet, attachments);
        assert_eq!(
            answer,
            Inbound::Answer {
                namespace: "/chat".to_owned().into(),
                id: 9,
                args: vec![json!({"_placeholder": true, "num": 0})],
                attachments: vec![Bytes::from_static(b"back")],
            }
        );
    }

    #[test]
    fn an_ack_answers_the_servers_event_by_id() {
        assert_eq!(
            routed(r#"3/chat,12["ok",2]"#),
            Inbound::Answer {
                namespace: "/chat".to_owned().into(),
                id: 12,
                args: vec![json!("ok"), json!(2)],
                attachments: Vec::new(),
            }
        );
    }

    #[test]
    fn a_connect_error_from_a_client_breaks_the_protocol() {
        assert_eq!(routed(r#"4{"message":"no"}"#), Inbound::ProtocolError);
    }

    #[test]
    fn what_decoding_never_lets_through_is_ignored() {
        let no_name = packet(PacketKind::Event, None, Some(json!([])));
        let not_a_list = packet(PacketKind::Event, Some(1), Some(json!({"a": 1})));
        let no_id = packet(PacketKind::Ack, None, Some(json!([1])));
        let no_args = packet(PacketKind::BinaryAck, Some(1), None);
        for packet in [no_name, not_a_list, no_id, no_args] {
            assert_eq!(route(packet, Vec::new()), Inbound::Ignored);
        }
    }

    #[test]
    fn closing_drops_what_waits() {
        let (mut m, _) = machine(false);
        let text = r#"51-["up",{"_placeholder":true,"num":0}]"#;
        assert_eq!(m.on_text(text, &LIMITS, everywhere), Received::Waiting);
        m.on_close();
        assert_nothing_waits(&mut m);
    }
}
