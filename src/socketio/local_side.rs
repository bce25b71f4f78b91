//! What the other servers of a cluster ask of this server's namespace: the
//! [`LocalSide`] a [`Cluster`](super::Cluster) is given, over a handle that
//! does not keep the namespace alive. Everything goes through
//! [`Nsp::local`], so nothing here is told back to the cluster.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::adapter::{AckFuture, LocalSide, SocketInfo, Target};
use super::namespace::{Broadcast, Nsp, WeakNsp};
use super::payload::Payload;

/// This server's sockets of `target` in `nsp`.
fn local(nsp: &Nsp, target: &Target) -> Broadcast {
    let broadcast = target.rooms.iter().fold(nsp.local(), |b, r| b.to(r));
    target.except.iter().fold(broadcast, |b, r| b.except(r))
}

impl LocalSide for WeakNsp {
    fn name(&self) -> Option<String> {
        self.upgrade().map(|nsp| nsp.name().to_owned())
    }

    fn alive(&self) -> bool {
        self.upgrade().is_some()
    }

    fn emit(&self, event: &str, payload: Payload, target: &Target) {
        if let Some(nsp) = self.upgrade() {
            local(&nsp, target).emit(event, payload);
        }
    }

    fn socket_ids(&self, target: &Target) -> Vec<Arc<str>> {
        self.upgrade()
            .map(|nsp| local(&nsp, target).socket_ids())
            .unwrap_or_default()
    }

    fn rooms(&self) -> Vec<String> {
        let Some(nsp) = self.upgrade() else {
            return Vec::new();
        };
        let mut rooms: Vec<String> = nsp.sockets().iter().flat_map(|s| s.rooms()).collect();
        rooms.sort_unstable();
        rooms.dedup();
        rooms
    }

    fn change_rooms(&self, target: &Target, rooms: &[&str], join: bool) {
        if let Some(nsp) = self.upgrade() {
            match join {
                true => local(&nsp, target).sockets_join(rooms),
                false => local(&nsp, target).sockets_leave(rooms),
            }
        }
    }

    fn change_room(&self, id: &str, room: &str, join: bool) -> bool {
        let Some(socket) = self.upgrade().and_then(|nsp| nsp.socket(id)) else {
            return false;
        };
        match join {
            true => socket.join(room),
            false => socket.leave(room),
        }
        true
    }

    fn disconnect(&self, target: &Target, close: bool) {
        if let Some(nsp) = self.upgrade() {
            local(&nsp, target).disconnect_sockets(close);
        }
    }

    fn disconnect_one(&self, id: &str, close: bool) -> bool {
        let socket = self.upgrade().and_then(|nsp| nsp.socket(id));
        socket.map(|socket| socket.disconnect(close)).is_some()
    }

    fn fetch_sockets(&self, target: &Target) -> Vec<SocketInfo> {
        let Some(nsp) = self.upgrade() else {
            return Vec::new();
        };
        let ids = local(&nsp, target).socket_ids();
        let sockets = ids.iter().filter_map(|id| nsp.socket(id));
        sockets.map(|socket| SocketInfo::of(&socket)).collect()
    }

    fn server_event(&self, event: &str, args: &[Value]) -> Option<Value> {
        self.upgrade()?.server_event(event, args)
    }

    fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
        target: &Target,
        timeout: Duration,
    ) -> Vec<AckFuture> {
        let Some(nsp) = self.upgrade() else {
            return Vec::new();
        };
        let ids = local(&nsp, target).socket_ids();
        let sockets = ids.iter().filter_map(|id| nsp.socket(id));
        sockets
            .map(|socket| {
                let answer = socket.emit_with_ack(event, payload.clone(), timeout);
                Box::pin(async move { answer.await.ok() }) as AckFuture
            })
            .collect()
    }
}
