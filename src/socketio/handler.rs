//! Event handlers, sync and async, run in the order a socket's events came.
//!
//! A sync handler runs at once, on the connection. An async one runs as a
//! task; while it runs, the socket's later events (sync or async) wait in
//! the socket's [`Order`](super::order::Order), and the task runs them in
//! turn once it is done. Other sockets are not held up. An idle socket's
//! `Order` is an empty `Option`: a socket that never runs an async handler
//! allocates nothing for it and starts no task. Only `client.rs` imports
//! this file.

use std::sync::Arc;

use super::event::Event;
use super::namespace::{Handler, NamespaceInner};
use super::order::{drain, Arrival};
use super::socket::Socket;
use crate::engineio::contain::{contain, contain_future};
use crate::engineio::EngineSocket;

/// Hands the client's event `name` to its handler in `socket`'s order;
/// false when `max` events already wait behind a running async handler
/// (the caller refuses the client).
pub(crate) fn deliver(
    socket: &Socket,
    nsp: &Arc<NamespaceInner>,
    handler: &Handler,
    name: String,
    event: Event,
    max: usize,
) -> bool {
    let asynchronous = matches!(handler, Handler::Async(_));
    match socket.order().arrive((name, event), asynchronous, max) {
        Arrival::Now((name, event)) => run_sync(socket, nsp, handler, &name, event),
        Arrival::Start(first) => {
            let (socket, nsp) = (socket.clone(), nsp.clone());
            smol::spawn(async move {
                drain(socket.order(), first, |(name, event)| {
                    run(&socket, &nsp, name, event)
                })
                .await
            })
            .detach();
        }
        Arrival::Queued => {}
        Arrival::Full(_) => return false,
    }
    true
}

/// Runs a waiting event's handler, unless the socket has left meanwhile.
async fn run(socket: &Socket, nsp: &NamespaceInner, name: String, event: Event) {
    let Some(handler) = nsp.handlers.get(&name) else {
        return;
    };
    if !socket.connected() {
        return;
    }
    match handler {
        Handler::Sync(_) => run_sync(socket, nsp, handler, &name, event),
        Handler::Async(f) => {
            let handled = contain_future(async { f(socket.clone(), event).await }).await;
            if let Err(panic) = handled {
                panicked(socket, nsp, &name, &panic);
            }
        }
    }
}

fn run_sync(socket: &Socket, nsp: &NamespaceInner, handler: &Handler, name: &str, event: Event) {
    let Handler::Sync(f) = handler else { return };
    if let Err(panic) = contain(|| f(socket, event)) {
        panicked(socket, nsp, name, &panic);
    }
}

/// A handler panicked: it costs its socket.
fn panicked(socket: &Socket, nsp: &NamespaceInner, name: &str, panic: &str) {
    let what = format!("the handler of {name:?}");
    log_panic(
        socket.sink(),
        &nsp.name,
        &what,
        panic,
        "disconnecting the socket",
    );
    socket.disconnect(false);
}

/// Logs a panic in a user handler, with the client it cost and what became
/// of it (where it happened, the panic hook has printed).
pub(crate) fn log_panic(
    sink: &EngineSocket,
    namespace: &str,
    handler: &str,
    panic: &str,
    outcome: &str,
) {
    log::error!(
        "session {} from {}: {handler} of namespace {namespace} panicked ({panic}); {outcome}",
        sink.sid(),
        sink.peer()
            .map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string()),
    );
}
