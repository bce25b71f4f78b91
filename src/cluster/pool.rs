//! Connections to other nodes kept open between forwarded requests: an
//! answer whose end is known (a length, or the last chunk) and that does not
//! close leaves its connection here, and the next request to that node takes
//! it rather than connecting again. A connection waits at most [`MAX_AGE`]
//! (well within a node's own idle timeout), and at most [`MAX_PER_NODE`] wait
//! per node. One the other node closed meanwhile is found out by the request
//! that takes it, which then connects anew ([`super::forward`]).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use smol::net::TcpStream;

/// How long an idle connection is kept.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(15);
/// The most idle connections kept per node.
pub(crate) const MAX_PER_NODE: usize = 32;

/// Idle connections by node address; see the module documentation.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<(TcpStream, Instant)>>>,
}

impl Pool {
    fn idle(&self) -> MutexGuard<'_, HashMap<String, Vec<(TcpStream, Instant)>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used idle connection to `address`, if one is young enough.
    pub(crate) fn take(&self, address: &str) -> Option<TcpStream> {
        let mut idle = self.idle();
        let kept = idle.get_mut(address)?;
        kept.retain(|(_, since)| since.elapsed() < MAX_AGE);
        let taken = kept.pop().map(|(stream, _)| stream);
        if kept.is_empty() {
            idle.remove(address);
        }
        taken
    }

    /// Keeps `stream` to `address` for the next request, room permitting.
    pub(crate) fn put(&self, address: &str, stream: TcpStream) {
        let mut idle = self.idle();
        let kept = idle.entry(address.to_owned()).or_default();
        kept.retain(|(_, since)| since.elapsed() < MAX_AGE);
        if kept.len() < MAX_PER_NODE {
            kept.push((stream, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_kept_per_node_and_bounded() {
        smol::block_on(async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let pool = Pool::default();
            assert!(pool.take(&addr).is_none());
            for _ in 0..MAX_PER_NODE + 3 {
                pool.put(&addr, TcpStream::connect(&addr).await.unwrap());
            }
            assert_eq!(pool.idle().get(&addr).map(Vec::len), Some(MAX_PER_NODE));
            assert!(pool.take("127.0.0.1:1").is_none(), "another node's");
            for _ in 0..MAX_PER_NODE {
                assert!(pool.take(&addr).is_some());
            }
            assert!(pool.take(&addr).is_none());
            assert!(pool.idle().is_empty());
        });
    }
}
