//! What both Redis adapters do with a request to the other servers (a
//! `fetchSockets`, a `serverSideEmit`): count the servers on a channel, then
//! wait for an answer from each of the others, or for what came within the
//! timeout, the request's entry in the pending table going however the wait
//! ends (answered, timed out, or dropped by its caller).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use smol::channel::{self, Sender};
use smol::future::FutureExt;

use super::lock;
use crate::socketio::adapter::ClusterError;

/// The requests waiting for answers, by id: where each answer goes.
pub(crate) type Pending<T> = Mutex<HashMap<String, Sender<T>>>;

/// How many servers subscribe to `channel`, this one included.
pub(crate) async fn subscribers(
    conn: Option<redis::aio::MultiplexedConnection>,
    channel: &str,
) -> Result<usize, ClusterError> {
    let mut conn = conn.ok_or(ClusterError::Unavailable)?;
    let (_, count): (String, usize) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(&mut conn)
        .await
        .map_err(|_| ClusterError::Unavailable)?;
    Ok(count)
}

/// Registers request `id` in `pending`, puts it out with `send`, and waits
/// for `expected` answers: all of them, or (`Err`) those that came within
/// `timeout`.
pub(crate) async fn gather<T>(
    pending: &Pending<T>,
    id: String,
    expected: usize,
    timeout: Duration,
    send: impl FnOnce(),
) -> Result<Vec<T>, Vec<T>> {
    // Room for a server that answers twice, so that no answer waits.
    let (tx, rx) = channel::bounded(expected.max(1) * 2 + 1);
    lock(pending).insert(id.clone(), tx);
    let _waiting = Waiting { pending, id };
    send();
    let mut answers = Vec::with_capacity(expected);
    let collect = async {
        while answers.len() < expected {
            match rx.recv().await {
                Ok(answer) => answers.push(answer),
                Err(_) => break,
            }
        }
    };
    let complete = async {
        collect.await;
        true
    }
    .or(async {
        smol::Timer::after(timeout).await;
        false
    })
    .await;
    match complete {
        true => Ok(answers),
        false => Err(answers),
    }
}

/// A request's entry in the pending table, removed when dropped.
struct Waiting<'a, T> {
    pending: &'a Pending<T>,
    id: String,
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        lock(self.pending).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_that_came_or_those_in_time_and_the_entry_goes_either_way() {
        let pending: Pending<u32> = Mutex::default();
        let answered = smol::block_on(gather(
            &pending,
            "a".into(),
            2,
            Duration::from_secs(5),
            || {
                let table = lock(&pending);
                let tx = table.get("a").expect("registered before it is sent");
                tx.try_send(1).unwrap();
                tx.try_send(2).unwrap();
            },
        ));
        assert_eq!(answered, Ok(vec![1, 2]));
        assert!(lock(&pending).is_empty());
        let late = smol::block_on(gather(
            &pending,
            "b".into(),
            2,
            Duration::from_millis(20),
            || {
                lock(&pending).get("b").unwrap().try_send(7).unwrap();
            },
        ));
        assert_eq!(late, Err(vec![7]));
        assert!(lock(&pending).is_empty());
    }
}
