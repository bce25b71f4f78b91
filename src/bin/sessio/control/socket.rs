//! The control socket's transport: a Unix socket in the data directory
//! (`control.sock`, mode 0600), open only to the user who owns the data
//! directory (each connection's peer credentials are checked), carrying one
//! request and one reply per connection; and the client the operator's
//! commands call it with.

use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::unix::{UnixListener, UnixStream};

use super::protocol::{ParseError, Reply, Request, MAX_REQUEST};

/// The socket's name in the data directory.
pub const SOCKET_FILE: &str = "control.sock";

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the operator's command waits for the reply (a purge of a large
/// store on an SD card takes a while).
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// The control socket, bound and listening. Removes its file when dropped.
pub struct ControlListener {
    listener: UnixListener,
    path: PathBuf,
    /// The data directory's owner: the one user allowed in.
    owner: u32,
}

impl ControlListener {
    /// Binds the socket in `dir`, replacing a file left behind by a server
    /// that did not stop cleanly (`kill -9`). Call it only while holding the
    /// store's lock: then no live server owns that file.
    pub fn bind(dir: &Path) -> io::Result<ControlListener> {
        let owner = std::fs::metadata(dir)?.uid();
        let path = dir.join(SOCKET_FILE);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = std::os::unix::net::UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(ControlListener {
            listener: UnixListener::try_from(listener)?,
            path,
            owner,
        })
    }

    /// Answers requests with `answer` until dropped; each connection is a task
    /// of its own. A peer that is not the data directory's owner is refused
    /// (and logged) before it is read.
    pub async fn serve<F, Fut>(self, answer: F)
    where
        F: Fn(Request) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    log::warn!("control socket: accept failed: {err}");
                    smol::Timer::after(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let owner = self.owner;
            let answer = answer.clone();
            smol::spawn(async move {
                if let Err(err) = connection(stream, owner, answer).await {
                    log::warn!("control socket: {err}");
                }
            })
            .detach();
        }
    }
}

impl Drop for ControlListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Why a control connection ended without a reply.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer's user is not the data directory's owner.
    Refused {
        uid: u32,
    },
    Io(io::Error),
    /// The request did not arrive within the time allowed.
    Timeout,
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Refused { uid } => write!(
                f,
                "refused a connection from uid {uid}: not the data directory's owner"
            ),
            ConnectionError::Io(e) => write!(f, "{e}"),
            ConnectionError::Timeout => f.write_str("a request did not arrive in time"),
        }
    }
}

impl std::error::Error for ConnectionError {}

/// One connection: read its request to the end, check the peer, answer.
async fn connection<F, Fut>(
    mut stream: UnixStream,
    owner: u32,
    answer: F,
) -> Result<(), ConnectionError>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Reply>,
{
    let peer = rustix::net::sockopt::socket_peercred(&stream)
        .map_err(|e| ConnectionError::Io(e.into()))?;
    let uid = peer.uid.as_raw();
    // Read (at most a request's worth) even from a refused peer, so that it
    // gets its answer rather than a reset connection.
    let mut bytes = Vec::new();
    let mut limited = (&mut stream).take(MAX_REQUEST as u64 + 1);
    let read = limited.read_to_end(&mut bytes);
    let timeout = async {
        smol::Timer::after(REQUEST_TIMEOUT).await;
        Err(io::ErrorKind::TimedOut.into())
    };
    match smol::future::or(read, timeout).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(ConnectionError::Timeout),
        Err(e) => return Err(ConnectionError::Io(e)),
    }
    let (reply, refused) = if uid != owner {
        let why =
            format!("only the data directory's owner (uid {owner}) may use the control socket");
        (Reply::Failed(why), Some(ConnectionError::Refused { uid }))
    } else {
        match Request::parse(&bytes) {
            Ok(request) => (answer(request).await, None),
            Err(err) => (Reply::Failed(format!("bad request: {err}")), None),
        }
    };
    let written = async {
        stream.write_all(&reply.encode()).await?;
        stream.close().await
    };
    // A refusal is logged whether or not the peer reads it.
    match (written.await, refused) {
        (_, Some(refused)) => Err(refused),
        (result, None) => result.map_err(ConnectionError::Io),
    }
}

/// Why the operator's command could not reach the server or read its reply.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallError {
    /// No server listens on the socket (none runs, or it was killed).
    Connect(PathBuf, io::Error),
    Io(io::Error),
    Reply(ParseError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Connect(path, e) => write!(f, "control socket {}: {e}", path.display()),
            CallError::Io(e) => write!(f, "control socket: {e}"),
            CallError::Reply(e) => write!(f, "control socket: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Sends `request` to the server whose data directory is `dir` and waits for
/// its reply. Blocking: for the operator's command, which has no executor.
pub fn call(dir: &Path, request: &Request) -> Result<Reply, CallError> {
    let path = dir.join(SOCKET_FILE);
    let mut stream =
        StdUnixStream::connect(&path).map_err(|e| CallError::Connect(path.clone(), e))?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(CallError::Io)?;
    stream.write_all(&request.encode()).map_err(CallError::Io)?;
    stream
        .shutdown(std::net::Shutdown::Write)
        .map_err(CallError::Io)?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).map_err(CallError::Io)?;
    Reply::parse(&bytes).map_err(CallError::Reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new empty directory for one test, under the system temp dir (the
    /// library's `store::test_dir` is its own tests' only).
    fn test_dir(name: &str) -> PathBuf {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("sessio-test-{name}-{suffix}"));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Serves `listener` in a thread of its own, answering with the request's
    /// words, until the returned sender is dropped.
    fn serve(
        listener: ControlListener,
    ) -> (smol::channel::Sender<()>, std::thread::JoinHandle<()>) {
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let thread = std::thread::spawn(move || {
            smol::block_on(smol::future::or(
                listener.serve(|request: Request| async move {
                    match request {
                        Request::UserDel { name } if name == "nobody" => {
                            Reply::Failed("no user nobody".into())
                        }
                        other => Reply::Done(format!("{other}\n")),
                    }
                }),
                async move {
                    let _ = stopped.recv().await;
                },
            ))
        });
        (stop, thread)
    }

    #[test]
    fn owner_only_socket_answers_requests() {
        let dir = test_dir("control-socket");
        // A file left behind by a killed server does not stop the bind.
        std::fs::write(dir.join(SOCKET_FILE), b"stale").unwrap();
        let (stop, server) = serve(ControlListener::bind(&dir).unwrap());
        let mode = std::fs::metadata(dir.join(SOCKET_FILE)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
        let add = Request::from_words(&["user", "add", "ann"], Some("pw pw pw".into())).unwrap();
        assert_eq!(
            call(&dir, &add).unwrap(),
            Reply::Done("user add ann\n".into())
        );
        let del = Request::from_words(&["user", "del", "nobody"], None).unwrap();
        assert_eq!(
            call(&dir, &del).unwrap(),
            Reply::Failed("no user nobody".into())
        );
        // A malformed request gets an error reply, not a hang.
        let mut raw = StdUnixStream::connect(dir.join(SOCKET_FILE)).unwrap();
        raw.write_all(b"user  list\n").unwrap();
        raw.shutdown(std::net::Shutdown::Write).unwrap();
        let mut bytes = Vec::new();
        raw.read_to_end(&mut bytes).unwrap();
        assert!(matches!(Reply::parse(&bytes), Ok(Reply::Failed(e)) if e.contains("usage")));
        drop(stop);
        server.join().unwrap();
        // The server's end removed the file: a call now fails to connect.
        assert!(!dir.join(SOCKET_FILE).exists());
        assert!(matches!(
            call(&dir, &Request::UserList),
            Err(CallError::Connect(..))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn another_user_is_refused() {
        let dir = test_dir("control-refused");
        let mut listener = ControlListener::bind(&dir).unwrap();
        // As if the data directory belonged to someone else.
        listener.owner = listener.owner.wrapping_add(1);
        let (stop, server) = serve(listener);
        match call(&dir, &Request::UserList) {
            Ok(Reply::Failed(why)) => assert!(why.contains("owner"), "{why}"),
            other => panic!("{other:?}"),
        }
        drop(stop);
        server.join().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
