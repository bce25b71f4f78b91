//! A blocking HTTP/1.1 client, just enough for the test: requests on a
//! kept-alive connection, responses with a length or chunked, and logging in
//! through the app's API (`/api/register`, `/api/login`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a client waits for an answer before the test fails (rather than hangs).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// One kept-alive connection.
pub struct Conn {
    stream: BufReader<TcpStream>,
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Conn {
    pub fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        Ok(Conn {
            stream: BufReader::new(stream),
        })
    }

    /// Writes a request; `body` is (content type, bytes).
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> io::Result<()> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        if let Some(cookie) = cookie {
            head += &format!("Cookie: {cookie}\r\n");
        }
        if let Some((kind, bytes)) = body {
            head += &format!(
                "Content-Type: {kind}\r\nContent-Length: {}\r\n",
                bytes.len()
            );
        }
        head += "\r\n";
        let out = self.stream.get_mut();
        out.write_all(head.as_bytes())?;
        if let Some((_, bytes)) = body {
            out.write_all(bytes)?;
        }
        Ok(())
    }

    /// Reads one response.
    pub fn receive(&mut self) -> io::Result<Response> {
        let status_line = self.line()?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("not a status line: {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("not a header: {line:?}")))?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(length) = response.header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| bad(format!("content-length {length:?}")))?;
            response.body.resize(length, 0);
            self.stream.read_exact(&mut response.body)?;
        } else if response
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size = self.line()?;
                let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| bad(format!("chunk size {size:?}")))?;
                let start = response.body.len();
                response.body.resize(start + size, 0);
                self.stream.read_exact(&mut response.body[start..])?;
                self.line()?;
                if size == 0 {
                    break;
                }
            }
        }
        Ok(response)
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> io::Result<Response> {
        self.send(method, path, cookie, body)?;
        self.receive()
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.stream.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// Registers `user` and logs in; returns the session cookie (`name=value`).
pub fn log_in(addr: SocketAddr, user: &str) -> io::Result<String> {
    let mut conn = Conn::open(addr)?;
    let body = format!(r#"{{"username":"{user}","password":"password-{user}"}}"#);
    let json = Some(("application/json", body.as_bytes()));
    let registered = conn.request("POST", "/api/register", None, json)?;
    if registered.status != 201 {
        return Err(bad(format!("register {user}: {}", registered.status)));
    }
    let logged_in = conn.request("POST", "/api/login", None, json)?;
    let cookie = logged_in
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .filter(|_| logged_in.status == 200);
    cookie.map(str::to_owned).ok_or_else(|| {
        bad(format!(
            "login {user}: {} {}",
            logged_in.status,
            logged_in.text()
        ))
    })
}
