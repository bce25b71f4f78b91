//! Blocking connections to one Redis server, pooled: what the Redis session
//! store and the Redis account store call through. Idle connections wait in a
//! small pool, a call takes one or opens one, and one that failed is dropped,
//! so the next call reconnects. Connecting and every command have a time
//! limit, so a Redis that does not answer holds a blocking thread only so long.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use redis::{Client, Connection, RedisResult};

/// How long connecting, and then any one command, may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept; more are closed when returned.
const MAX_IDLE: usize = 8;

/// Connections to one Redis server.
pub(crate) struct RedisPool {
    client: Client,
    idle: Mutex<Vec<Connection>>,
}

impl RedisPool {
    /// The pool for `url`, once the server there answers a PING.
    pub(crate) fn open(url: &str) -> RedisResult<RedisPool> {
        let pool = RedisPool::lazy(url)?;
        pool.with(|con| redis::cmd("PING").query::<String>(con).map(drop))?;
        Ok(pool)
    }

    /// The pool for `url`, connecting on its first call (`url` is only parsed).
    pub(crate) fn lazy(url: &str) -> RedisResult<RedisPool> {
        Ok(RedisPool {
            client: Client::open(url)?,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        // A panic elsewhere while holding the lock leaves the list itself intact.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connect(&self) -> RedisResult<Connection> {
        let con = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        con.set_read_timeout(Some(COMMAND_TIMEOUT))?;
        con.set_write_timeout(Some(COMMAND_TIMEOUT))?;
        Ok(con)
    }

    /// Runs `call` on a pooled connection. A connection whose call failed is
    /// dropped (it may hold half a reply, or a WATCH); when an idle one turns
    /// out to be dead (Redis restarted, or closed it), `call` runs once more on
    /// a new one (so every call must have the same effect when run twice).
    pub(crate) fn with<T>(
        &self,
        mut call: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let taken = self.idle().pop();
        let (result, con) = match taken.map(|mut con| (call(&mut con), con)) {
            Some((Err(e), _)) if e.is_io_error() || e.is_connection_dropped() => {
                self.fresh(&mut call)?
            }
            Some(done) => done,
            None => self.fresh(&mut call)?,
        };
        let result = result?;
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(con);
        }
        Ok(result)
    }

    /// Runs `call` on a new connection.
    fn fresh<T>(
        &self,
        call: &mut impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> RedisResult<(RedisResult<T>, Connection)> {
        let mut con = self.connect()?;
        Ok((call(&mut con), con))
    }
}

/// Ends a read-modify-write begun with `WATCH`: runs `write` in MULTI/EXEC, and
/// says whether it took effect (false: the watched key changed meanwhile, EXEC
/// ran nothing, and the caller reads again).
pub(crate) fn exec_watched(con: &mut Connection, write: redis::Cmd) -> RedisResult<bool> {
    let done: Option<redis::Value> = redis::pipe().atomic().add_command(write).query(con)?;
    Ok(done.is_some())
}

/// `text` with Redis's glob characters escaped, for SCAN's MATCH.
pub(crate) fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Every key matching `pattern` (SCAN, so Redis is never blocked).
pub(crate) fn scan(pool: &RedisPool, pattern: &str) -> RedisResult<Vec<Vec<u8>>> {
    pool.with(|con| {
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(100)
                .query(con)?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("sess:"), "sess:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
