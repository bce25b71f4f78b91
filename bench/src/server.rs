//! Starting and stopping the servers under test: sessio with a fresh data
//! directory, or the Node reference, optionally pinned to a CPU with taskset.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// How long a server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub enum Kind {
    /// `wrap`: a command to run it under (a profiler), or empty.
    Sessio {
        bin: PathBuf,
        threads: usize,
        wrap: Vec<String>,
    },
    Node {
        dir: PathBuf,
    },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Sessio { .. } => "sessio",
            Kind::Node { .. } => "node",
        }
    }
}

pub struct Server {
    child: Child,
    pub pid: u32,
    pub addr: String,
    data_dir: Option<PathBuf>,
}

/// A free loopback port (free when asked; the server binds it right after).
fn free_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts a server pinned to `core` (or unpinned), logging to `log`, and
    /// waits until it accepts TCP connections.
    pub fn start(kind: &Kind, core: Option<usize>, log: &Path) -> Result<Self, BenchError> {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let (program, args, data_dir, cwd): (PathBuf, Vec<String>, _, _) = match kind {
            Kind::Sessio { bin, threads, wrap } => {
                let dir = std::env::temp_dir()
                    .join(format!("sessio-bench-{}-{port}", std::process::id()));
                let _ = fs::remove_dir_all(&dir);
                fs::create_dir_all(&dir)?;
                let args = [
                    "serve",
                    "--listen",
                    &addr,
                    "--data-dir",
                    &dir.to_string_lossy(),
                    "--ping-interval",
                    "25000",
                    "--max-connections",
                    "20000",
                    "--threads",
                    &threads.to_string(),
                    "--log-level",
                    "warn",
                ]
                .map(str::to_owned)
                .to_vec();
                match wrap.split_first() {
                    Some((first, rest)) => {
                        let mut all = rest.to_vec();
                        all.push(bin.to_string_lossy().into_owned());
                        all.extend(args);
                        (first.into(), all, Some(dir), None)
                    }
                    None => (bin.clone(), args, Some(dir), None),
                }
            }
            Kind::Node { dir } => ("node".into(), vec!["server.js".to_owned()], None, Some(dir)),
        };
        let mut cmd = match core {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c.to_string()).arg(&program);
                cmd
            }
            None => Command::new(&program),
        };
        cmd.args(&args)
            .env("PORT", port.to_string())
            // Every load client comes from 127.0.0.1. (An environment variable,
            // not a flag, so that older sessio binaries still start.)
            .env("SESSIO_MAX_CONNECTIONS_PER_ADDRESS", "0")
            .stdin(Stdio::null())
            .stdout(File::create(log)?)
            .stderr(File::create(log.with_extension("err"))?);
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        let child = cmd
            .spawn()
            .map_err(|e| BenchError::Server(format!("cannot run {}: {e}", program.display())))?;
        let mut server = Server {
            pid: child.id(),
            child,
            addr,
            data_dir,
        };
        server.wait_ready(log)?;
        Ok(server)
    }

    fn wait_ready(&mut self, log: &Path) -> Result<(), BenchError> {
        let addr: SocketAddr = self
            .addr
            .parse()
            .map_err(|_| BenchError::Server("bad address".into()))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                let err = fs::read_to_string(log.with_extension("err")).unwrap_or_default();
                return Err(BenchError::Server(format!("exited with {status}: {err}")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(BenchError::Server(format!(
            "not ready on {} in time",
            self.addr
        )))
    }

    /// SIGTERM, then SIGKILL if it lingers; removes its data directory.
    pub fn stop(mut self) {
        // SAFETY: kill with a pid we started and have not reaped yet.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.data_dir.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}
