//! A blocking Socket.IO client over HTTP long-polling (Engine.IO 4), just
//! enough for the test: the handshake with the session cookie, CONNECT, a GET
//! left pending as a browser leaves it, and a clean close.

use std::io;
use std::net::SocketAddr;

use super::http::{bad, Conn};

pub struct Polling {
    conn: Conn,
    sid: String,
    cookie: String,
}

/// Engine.IO 4 separates the packets of a polling payload with this.
const SEPARATOR: char = '\x1e';

impl Polling {
    /// The Engine.IO handshake; the session cookie rides on it.
    pub fn open(addr: SocketAddr, cookie: &str) -> io::Result<Polling> {
        let mut conn = Conn::open(addr)?;
        let open = conn.request(
            "GET",
            "/socket.io/?EIO=4&transport=polling",
            Some(cookie),
            None,
        )?;
        let text = open.text();
        let sid = text
            .strip_prefix('0')
            .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
            .and_then(|open| open.get("sid")?.as_str().map(str::to_owned))
            .ok_or_else(|| bad(format!("not an open packet: {} {text:?}", open.status)))?;
        Ok(Polling {
            conn,
            sid,
            cookie: cookie.to_owned(),
        })
    }

    fn path(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", self.sid)
    }

    /// Joins the namespace `/` and polls until the app's `connected` event.
    pub fn join(&mut self) -> io::Result<()> {
        let path = self.path();
        post(&mut self.conn, &path, &self.cookie, "40")?;
        let mut joined = false;
        loop {
            let got = self.conn.request("GET", &path, Some(&self.cookie), None)?;
            let text = got.text();
            for packet in text.split(SEPARATOR) {
                if packet.starts_with("40{") {
                    joined = true;
                } else if packet.starts_with("42[\"connected\"") && joined {
                    return Ok(());
                } else {
                    return Err(bad(format!("unexpected packet {packet:?}")));
                }
            }
        }
    }

    /// Sends the GET a client keeps pending while idle.
    pub fn hold(&mut self) -> io::Result<()> {
        let path = self.path();
        self.conn.send("GET", &path, Some(&self.cookie), None)
    }

    /// Closes the session with a close packet posted on `control`, and reads
    /// the pending GET's answer.
    pub fn close(mut self, control: &mut Conn) -> io::Result<()> {
        post(control, &self.path(), &self.cookie, "1")?;
        let last = self.conn.receive()?;
        if last.status != 200 {
            return Err(bad(format!("the pending GET got {}", last.status)));
        }
        Ok(())
    }
}

/// Posts packets on `conn`.
fn post(conn: &mut Conn, path: &str, cookie: &str, payload: &str) -> io::Result<()> {
    let body = Some(("text/plain;charset=UTF-8", payload.as_bytes()));
    let posted = conn.request("POST", path, Some(cookie), body)?;
    if posted.status != 200 {
        return Err(bad(format!("POST {payload:?}: {}", posted.status)));
    }
    Ok(())
}
