//! The seed's Socket.IO events, written with the library: a logged-in user's
//! socket greets them, answers their requests, relays chat messages to
//! everyone and counts in their session. `updateCount` is answered once the
//! new count is on disk.

use serde::{Serialize, Serializer};
use serde_json::{json, Number, Value};
use sessio::clock::now_iso;
use sessio::session::{Session, Sessions};
use sessio::socket_session::{self, SocketSession};
use sessio::socketio::{Event, Extensions, Namespace, Socket};

/// Who a socket belongs to, read from its session when it connected.
#[derive(Clone)]
struct User {
    name: Field,
    id: Field,
    login_time: Field,
}

/// A session field as a socket keeps it. Every socket keeps three, and
/// most are text or a number: 24 bytes each rather than a `Value`'s 72.
#[derive(Clone)]
enum Field {
    Text(Box<str>),
    Number(Number),
    Other(Box<Value>),
}

impl Field {
    fn of(session: &Session, key: &str) -> Field {
        match session.get(key) {
            Some(Value::String(text)) => Field::Text(text.as_str().into()),
            Some(Value::Number(n)) => Field::Number(n.clone()),
            other => Field::Other(Box::new(other.cloned().unwrap_or(Value::Null))),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Field::Text(text) => text,
            _ => "",
        }
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Text(text) => serializer.serialize_str(text),
            Field::Number(n) => n.serialize(serializer),
            Field::Other(value) => value.serialize(serializer),
        }
    }
}

/// Only sessions that went through `/api/login` may connect.
pub fn is_logged_in(session: &Session) -> bool {
    session.get("isLoggedIn") == Some(&Value::Bool(true))
}

/// The longest chat message, in UTF-16 units as a browser counts them.
const MAX_MESSAGE_LEN: usize = 2000;

pub fn namespace(sessions: Sessions) -> Namespace {
    Namespace::new("/")
        .middleware(socket_session::middleware(sessions, admit))
        .on_connect(connected)
        .on_disconnect(|socket, reason| {
            log::debug!("socket {} disconnected: {reason}", socket.id());
        })
        .on("requestData", request_data)
        .on("getUserInfo", get_user_info)
        .on("sendMessage", send_message)
        .on_async("updateCount", update_count)
        .on("echo", |_, mut event| {
            // The arguments go back as they came, moved, not copied.
            if let Some(ack) = event.take_ack() {
                ack.send(event.payload);
            }
        })
}

/// Lets logged-in sessions connect, keeping who the user is with the socket.
fn admit(session: &Session, extensions: &mut Extensions) -> bool {
    if !is_logged_in(session) {
        return false;
    }
    extensions.insert(User {
        name: Field::of(session, "username"),
        id: Field::of(session, "userId"),
        login_time: Field::of(session, "loginTime"),
    });
    true
}

fn connected(socket: &Socket) {
    let (Some(session), Some(user)) = (socket.get::<SocketSession>(), user(socket)) else {
        return socket.disconnect(true);
    };
    socket.join(session.room());
    // Sent on every connection, a recovered one included: never replayed.
    socket.emit_transient(
        "connected",
        json!({
            "message": format!("Welcome {}!", user.name.as_str()),
            "userId": user.id,
            "loginTime": user.login_time,
        }),
    );
    log::debug!(
        "socket {} connected over {} for user {} (session {})",
        socket.id(),
        socket.transport(),
        user.name.as_str(),
        session.log_name()
    );
}

fn user(socket: &Socket) -> Option<User> {
    socket.get::<User>()
}

fn request_data(socket: &Socket, event: Event) {
    let Some(user) = user(socket) else { return };
    let reply = json!({
        "success": true,
        "message": format!("Hello {}!", user.name.as_str()),
        "userId": user.id,
        "data": event.arg(0).cloned().unwrap_or(Value::Null),
    });
    socket.emit("response", reply.clone());
    event.ack(reply);
}

fn get_user_info(socket: &Socket, event: Event) {
    let Some(user) = user(socket) else { return };
    let reply = json!({"username": user.name, "userId": user.id, "loginTime": user.login_time});
    socket.emit("userInfo", reply.clone());
    event.ack(reply);
}

fn send_message(socket: &Socket, event: Event) {
    let Some(user) = user(socket) else { return };
    let message = event
        .arg(0)
        .and_then(|data| data.get("message"))
        .and_then(Value::as_str);
    let Some(message) =
        message.filter(|m| (1..=MAX_MESSAGE_LEN).contains(&m.encode_utf16().count()))
    else {
        let error = "message must be a non-empty string of at most 2000 characters";
        return event.ack(json!({"success": false, "error": error}));
    };
    socket.nsp().emit(
        "message",
        json!({
            "username": user.name,
            "userId": user.id,
            "message": message,
            "timestamp": now_iso(),
        }),
    );
    event.ack(json!({"success": true}));
}

/// Waits for the store: the socket's later events wait behind it, so a
/// client's acks come back in the order it asked.
async fn update_count(socket: Socket, event: Event) {
    let Some(session) = socket.get::<SocketSession>() else {
        return;
    };
    let counted = session
        .update(|s| {
            let count = s.get("count").and_then(Value::as_u64).unwrap_or(0) + 1;
            s.insert("count".into(), json!(count));
            count
        })
        .await;
    match counted {
        Ok(Some(count)) => {
            socket.emit("countUpdated", json!({"count": count}));
            event.ack(json!({"count": count}));
        }
        Ok(None) => socket.disconnect(true),
        Err(err) => {
            // The store logs going down and coming back; other errors here.
            let error = if err.is_disk_fault() {
                log::debug!("updateCount refused: {err}");
                sessio::store::WRITES_REFUSED
            } else {
                log::warn!("updateCount: cannot update the session: {err}");
                "cannot update the session"
            };
            event.ack(json!({"success": false, "error": error}));
        }
    }
}
