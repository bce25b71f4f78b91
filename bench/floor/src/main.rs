//! floor: what a WebSocket connection, an echo and a broadcast cost at the
//! least on sessio's own crates (smol, async-tungstenite, the same versions and
//! release profile), with no Engine.IO, no Socket.IO and no session. The bench
//! runs its scenarios against it in its bare mode (bench/README.md).
//!
//! The protocol: a client opens a WebSocket on any path; each text message is
//! sent back to it as it came, except one that starts with `b`, which goes,
//! without the `b`, to every open connection (its sender's too).
//!
//! It is written the plain way: one thread, one task per connection, and a
//! channel to each connection's task that the broadcasts go through; the
//! WebSocket configured as sessio configures its own (1 KiB read buffer, no
//! write buffer).
//!
//!   floor --listen 127.0.0.1:PORT

use std::cell::RefCell;
use std::collections::HashMap;
use std::process::ExitCode;
use std::rc::Rc;

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use smol::channel::{Receiver, Sender};
use smol::net::{TcpListener, TcpStream};
use smol::stream::StreamExt;
use smol::LocalExecutor;

/// The open connections, each by the sending end of its task's channel.
#[derive(Default)]
struct Hub {
    next_id: std::cell::Cell<u64>,
    members: RefCell<HashMap<u64, Sender<Utf8Bytes>>>,
}

impl Hub {
    fn join(&self, tx: Sender<Utf8Bytes>) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.members.borrow_mut().insert(id, tx);
        id
    }

    fn leave(&self, id: u64) {
        self.members.borrow_mut().remove(&id);
    }

    fn broadcast(&self, text: Utf8Bytes) {
        for tx in self.members.borrow().values() {
            // A full or closed channel is a connection on its way out.
            let _ = tx.try_send(text.clone());
        }
    }
}

fn ws_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = 1024;
    config.write_buffer_size = 0;
    config
}

enum Event {
    Out(Result<Utf8Bytes, smol::channel::RecvError>),
    In(Option<Result<Message, async_tungstenite::tungstenite::Error>>),
}

async fn connection(stream: TcpStream, hub: Rc<Hub>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = async_tungstenite::accept_async_with_config(stream, Some(ws_config())).await
    else {
        return;
    };
    let (tx, rx): (Sender<Utf8Bytes>, Receiver<Utf8Bytes>) = smol::channel::unbounded();
    let id = hub.join(tx);
    loop {
        // The channel first: a broadcast wakes the task without a read attempt.
        let event = smol::future::or(async { Event::Out(rx.recv().await) }, async {
            Event::In(ws.next().await)
        })
        .await;
        let reply = match event {
            Event::Out(Ok(text)) => text,
            Event::In(Some(Ok(Message::Text(text)))) => match text.as_str().strip_prefix('b') {
                Some(rest) => {
                    hub.broadcast(Utf8Bytes::from(rest));
                    continue;
                }
                None => text,
            },
            // Pings are answered by tungstenite itself.
            Event::In(Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_)))) => {
                continue
            }
            Event::Out(Err(_)) | Event::In(_) => break,
        };
        if ws.send(Message::Text(reply)).await.is_err() {
            break;
        }
    }
    hub.leave(id);
}

async fn serve(ex: Rc<LocalExecutor<'static>>, listener: TcpListener) {
    let hub = Rc::new(Hub::default());
    loop {
        match listener.accept().await {
            Ok((stream, _)) => ex.spawn(connection(stream, hub.clone())).detach(),
            Err(e) => {
                // Out of descriptors, most likely: wait a little instead of spinning.
                eprintln!("floor: accept: {e}");
                smol::Timer::after(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.as_slice() {
        [flag, addr] if flag == "--listen" => addr.clone(),
        _ => {
            eprintln!("usage: floor --listen ADDR");
            return ExitCode::from(2);
        }
    };
    let ex = Rc::new(LocalExecutor::new());
    smol::block_on(ex.run(async {
        match TcpListener::bind(&addr).await {
            Ok(listener) => {
                serve(ex.clone(), listener).await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("floor: cannot listen on {addr}: {e}");
                ExitCode::FAILURE
            }
        }
    }))
}
