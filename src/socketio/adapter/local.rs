//! The in-process room table: which of this process's sockets (by id) are
//! in which rooms, and delivery of encoded frames to them through an
//! [`Emitter`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use super::{Adapter, Emitter, Target};
use crate::engineio::Frame;

/// Rooms kept in this process.
#[derive(Default)]
pub struct LocalAdapter {
    state: RwLock<Rooms>,
}

#[derive(Default)]
struct Rooms {
    members: HashMap<Arc<str>, Member>,
    rooms: HashMap<Arc<str>, HashSet<Arc<str>>>,
}

/// A socket's rooms, its own not included.
#[derive(Default)]
struct Member {
    rooms: Vec<Arc<str>>,
}

impl Rooms {
    /// Calls `f` once for each socket of `target`.
    fn for_each(&self, target: &Target, mut f: impl FnMut(&Arc<str>, &Member)) {
        let excluded = self.excluded(&target.except);
        if target.rooms.is_empty() {
            for (id, member) in &self.members {
                if !excluded.contains(&**id) {
                    f(id, member);
                }
            }
            return;
        }
        let mut seen = HashSet::new();
        for room in &target.rooms {
            let own = self.members.get_key_value(room.as_str());
            let in_room = self.rooms.get(room.as_str()).into_iter().flatten();
            for id in own.map(|(id, _)| id).into_iter().chain(in_room) {
                let Some(member) = self.members.get(id) else {
                    continue;
                };
                if (target.rooms.len() == 1 || seen.insert(id.clone())) && !excluded.contains(&**id)
                {
                    f(id, member);
                }
            }
        }
    }

    /// The ids of the sockets in any of `except` (a socket is in the room
    /// named by its id): one look-up per room, so a long list (a broadcast
    /// off Redis may carry thousands) costs its length, not its length
    /// times every socket's rooms.
    fn excluded<'a>(&'a self, except: &'a [String]) -> HashSet<&'a str> {
        let mut ids: HashSet<&str> = except.iter().map(String::as_str).collect();
        for room in except {
            if let Some(members) = self.rooms.get(room.as_str()) {
                ids.extend(members.iter().map(|id| &**id));
            }
        }
        ids
    }
}

impl LocalAdapter {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Rooms> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rooms> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Adapter for LocalAdapter {
    fn add(&self, id: &Arc<str>) {
        self.write().members.insert(id.clone(), Member::default());
    }

    fn remove(&self, id: &str) {
        let mut state = self.write();
        let Some(member) = state.members.remove(id) else {
            return;
        };
        for room in member.rooms {
            if let Some(set) = state.rooms.get_mut(&room) {
                set.remove(id);
                if set.is_empty() {
                    state.rooms.remove(&room);
                }
            }
        }
    }

    fn join(&self, id: &str, room: &str) {
        let mut state = self.write();
        let Some((key, member)) = state.members.get_key_value(id) else {
            return;
        };
        if **key == *room || member.rooms.iter().any(|r| **r == *room) {
            return;
        }
        let key = key.clone();
        let room: Arc<str> = state
            .rooms
            .get_key_value(room)
            .map_or_else(|| room.into(), |(name, _)| name.clone());
        state.rooms.entry(room.clone()).or_default().insert(key);
        if let Some(member) = state.members.get_mut(id) {
            // Room for one at first: most sockets are in one, and a vector
            // grown by push takes room for four (later rooms grow it as usual).
            if member.rooms.is_empty() {
                member.rooms.reserve_exact(1);
            }
            member.rooms.push(room);
        }
    }

    fn leave(&self, id: &str, room: &str) {
        let mut state = self.write();
        let Some(member) = state.members.get_mut(id) else {
            return;
        };
        member.rooms.retain(|r| **r != *room);
        if let Some(set) = state.rooms.get_mut(room) {
            set.remove(id);
            if set.is_empty() {
                state.rooms.remove(room);
            }
        }
    }

    fn rooms(&self, id: &str) -> Vec<String> {
        let state = self.read();
        let Some(member) = state.members.get(id) else {
            return Vec::new();
        };
        std::iter::once(id.to_owned())
            .chain(member.rooms.iter().map(|r| r.to_string()))
            .collect()
    }

    fn membership(&self, id: &str, room: &str) -> (usize, bool) {
        let state = self.read();
        let Some(member) = state.members.get(id) else {
            return (0, false);
        };
        let is_in = id == room || member.rooms.iter().any(|r| **r == *room);
        (1 + member.rooms.len(), is_in)
    }

    fn broadcast(&self, frames: &[Frame], target: &Target, to: &dyn Emitter) {
        self.read().for_each(target, |id, _| to.emit(id, frames));
    }

    fn sockets(&self, target: &Target) -> Vec<Arc<str>> {
        let mut ids = Vec::new();
        self.read().for_each(target, |id, _| ids.push(id.clone()));
        ids
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records who was sent what.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, usize)>>);

    impl Emitter for Recorder {
        fn emit(&self, id: &str, frames: &[Frame]) {
            let mut sent = self.0.lock().unwrap_or_else(|e| e.into_inner());
            sent.push((id.to_owned(), frames.len()));
        }
    }

    impl Recorder {
        fn ids(&self) -> Vec<String> {
            let sent = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let mut ids: Vec<String> = sent.iter().map(|(id, _)| id.clone()).collect();
            ids.sort_unstable();
            ids
        }
    }

    #[test]
    fn a_broadcast_reaches_each_socket_of_its_target_once_through_the_emitter() {
        let adapter = LocalAdapter::default();
        for id in ["a", "b", "c", "d"] {
            adapter.add(&Arc::from(id));
        }
        adapter.join("a", "r");
        adapter.join("b", "r");
        adapter.join("b", "s");
        adapter.join("c", "s");
        adapter.join("d", "x");
        let frames = [Frame::message("2[\"e\"]")];
        let target = |rooms: &[&str], except: &[&str]| Target {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            except: except.iter().map(|r| r.to_string()).collect(),
        };
        let sent_to = |target: Target| {
            let to = Recorder::default();
            adapter.broadcast(&frames, &target, &to);
            to.ids()
        };
        assert_eq!(sent_to(target(&["r", "s"], &[])), ["a", "b", "c"]);
        assert_eq!(sent_to(target(&["r", "s"], &["x", "a"])), ["b", "c"]);
        assert_eq!(sent_to(target(&[], &["s"])), ["a", "d"]);
        assert_eq!(sent_to(target(&["d"], &[])), ["d"]);
        adapter.remove("b");
        assert_eq!(sent_to(target(&["r"], &[])), ["a"]);
        assert_eq!(adapter.rooms("c"), ["c", "s"]);
        assert!(adapter.rooms("b").is_empty());
        assert_eq!(adapter.membership("c", "s"), (2, true));
        assert_eq!(adapter.membership("c", "c"), (2, true));
        assert_eq!(adapter.membership("c", "t"), (2, false));
        assert_eq!(adapter.membership("b", "s"), (0, false));
    }

    #[test]
    fn excepted_are_the_sockets_of_each_room_and_those_named() {
        let mut state = Rooms::default();
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        state
            .rooms
            .insert("r".into(), [a.clone(), b].into_iter().collect());
        state.rooms.insert("s".into(), [c].into_iter().collect());
        let except = ["r".to_owned(), "d".to_owned()];
        let mut ids: Vec<&str> = state.excluded(&except).into_iter().collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "b", "d", "r"]);
        assert!(state.excluded(&[]).is_empty());
    }
}
