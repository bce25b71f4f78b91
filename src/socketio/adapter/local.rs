//! The in-process room table: which of this process's sockets are in which
//! rooms, and delivery of encoded frames to them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use super::{Adapter, Target};
use crate::engineio::{EngineSocket, Frame};

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

struct Member {
    sink: Arc<EngineSocket>,
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
    fn add(&self, id: &Arc<str>, sink: Arc<EngineSocket>) {
        let member = Member {
            sink,
            rooms: Vec::new(),
        };
        self.write().members.insert(id.clone(), member);
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

    fn broadcast(&self, frames: &[Frame], target: &Target) {
        self.read().for_each(target, |_, member| {
            member.sink.send_frames(frames);
        });
    }

    fn sockets(&self, target: &Target) -> Vec<Arc<str>> {
        let mut ids = Vec::new();
        self.read().for_each(target, |id, _| ids.push(id.clone()));
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
