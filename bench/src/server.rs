//! Starting and stopping the servers under test: sessio with a fresh data
//! directory, the floor (bench/floor), or the Node reference, sessio and Node
//! on a Redis for the cluster scenarios, that redis-server itself, and nginx
//! as their balancer; optionally pinned to a CPU with taskset.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// How long a server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The Node launcher that runs the reference's server.js with
/// @socket.io/redis-adapter (bench/node-redis.js; bench/run copies it beside
/// server.js).
pub const NODE_REDIS_LAUNCHER: &str = "node-redis.js";

#[derive(Clone)]
pub enum Kind {
    /// `wrap`: a command to run it under (a profiler), or empty; `redis`: the
    /// URL given as `--redis` (a build with the redis feature); `args`: more
    /// options (say `--recovery-window 0`); `env`: more environment
    /// variables (say an allocator's options).
    Sessio {
        bin: PathBuf,
        threads: usize,
        wrap: Vec<String>,
        redis: Option<String>,
        args: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// The bare WebSocket echo and broadcast server of bench/floor, and a
    /// command to run it under (or empty).
    Floor { bin: PathBuf, wrap: Vec<String> },
    /// `dir` holds server.js and its node_modules; with `redis`, it runs
    /// under the launcher with the redis adapter on that Redis.
    Node {
        dir: PathBuf,
        redis: Option<NodeRedis>,
    },
    /// `redis-server`, without persistence, in a fresh directory.
    Redis { bin: PathBuf },
    /// nginx as a balancer in front of `upstreams` (`host:port`), round robin
    /// or, with `ip_hash`, by the client's address; one process (no master),
    /// its configuration and logs in a fresh directory.
    Nginx {
        bin: PathBuf,
        upstreams: Vec<String>,
        ip_hash: bool,
    },
}

/// nginx's configuration for [`Kind::Nginx`]: a WebSocket-aware proxy on
/// `addr`, everything it writes under `dir`.
fn nginx_conf(dir: &Path, addr: &str, upstreams: &[String], ip_hash: bool) -> String {
    let dir = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|u| format!("        server {u};\n"))
        .collect();
    let hash = if ip_hash { "        ip_hash;\n" } else { "" };
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\nworker_rlimit_nofile 65536;\n\
         pid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
         events {{ worker_connections 32768; }}\n\
         http {{\n    access_log off;\n\
             client_body_temp_path {dir}/body;\n    proxy_temp_path {dir}/proxy;\n\
             fastcgi_temp_path {dir}/fastcgi;\n    uwsgi_temp_path {dir}/uwsgi;\n\
             scgi_temp_path {dir}/scgi;\n\
             map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
             upstream nodes {{\n{hash}{servers}    }}\n\
             server {{\n        listen {addr};\n        location / {{\n\
                     proxy_pass http://nodes;\n            proxy_http_version 1.1;\n\
                     proxy_set_header Upgrade $http_upgrade;\n\
                     proxy_set_header Connection $connection_upgrade;\n\
                     proxy_set_header Host $host;\n\
                     proxy_set_header X-Forwarded-For $remote_addr;\n\
                     proxy_read_timeout 3600s;\n        }}\n    }}\n}}\n"
    )
}

/// A Redis for the Node reference: its URL, and the node_modules folder that
/// holds @socket.io/redis-adapter and redis.
#[derive(Clone)]
pub struct NodeRedis {
    pub url: String,
    pub modules: PathBuf,
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

fn fresh_dir(what: &str, port: u16) -> Result<PathBuf, BenchError> {
    let dir = std::env::temp_dir().join(format!("{what}-{}-{port}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

impl Server {
    /// The URL of a redis-server started here.
    pub fn redis_url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Starts a server pinned to `core` (or unpinned), logging to `log`, and
    /// waits until it accepts TCP connections.
    pub fn start(kind: &Kind, core: Option<usize>, log: &Path) -> Result<Self, BenchError> {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let mut env = vec![("PORT".to_owned(), port.to_string())];
        let (program, args, data_dir, cwd): (PathBuf, Vec<String>, _, _) = match kind {
            Kind::Sessio {
                bin,
                threads,
                wrap,
                redis,
                args: extra,
                env: extra_env,
            } => {
                env.extend(extra_env.iter().cloned());
                let dir = fresh_dir("sessio-bench", port)?;
                let mut args = [
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
                if let Some(url) = redis {
                    args.extend(["--redis".to_owned(), url.clone()]);
                }
                args.extend(extra.iter().cloned());
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
            Kind::Floor { bin, wrap } => {
                let args = vec!["--listen".to_owned(), addr.clone()];
                match wrap.split_first() {
                    Some((first, rest)) => {
                        let mut all = rest.to_vec();
                        all.push(bin.to_string_lossy().into_owned());
                        all.extend(args);
                        (first.into(), all, None, None)
                    }
                    None => (bin.clone(), args, None, None),
                }
            }
            Kind::Node { dir, redis: None } => {
                ("node".into(), vec!["server.js".to_owned()], None, Some(dir))
            }
            Kind::Node {
                dir,
                redis: Some(NodeRedis { url, modules }),
            } => {
                if !dir.join(NODE_REDIS_LAUNCHER).is_file() {
                    return Err(BenchError::Server(format!(
                        "{NODE_REDIS_LAUNCHER} is not in {} (bench/run copies it there)",
                        dir.display()
                    )));
                }
                env.push(("REDIS_URL".to_owned(), url.clone()));
                // The launcher runs in `dir`: an absolute path.
                let modules = fs::canonicalize(modules)?;
                env.push((
                    "ADAPTER_MODULES".to_owned(),
                    modules.to_string_lossy().into_owned(),
                ));
                let args = vec![NODE_REDIS_LAUNCHER.to_owned()];
                ("node".into(), args, None, Some(dir))
            }
            Kind::Redis { bin } => {
                let dir = fresh_dir("sessio-bench-redis", port)?;
                let args = [
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    &dir.to_string_lossy(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]
                .map(str::to_owned)
                .to_vec();
                (bin.clone(), args, Some(dir), None)
            }
            Kind::Nginx {
                bin,
                upstreams,
                ip_hash,
            } => {
                let dir = fresh_dir("sessio-bench-nginx", port)?;
                let conf = dir.join("nginx.conf");
                fs::write(&conf, nginx_conf(&dir, &addr, upstreams, *ip_hash))?;
                let args = [
                    "-p",
                    &dir.to_string_lossy(),
                    "-e",
                    &dir.join("error.log").to_string_lossy(),
                    "-c",
                    &conf.to_string_lossy(),
                ]
                .map(str::to_owned)
                .to_vec();
                (bin.clone(), args, Some(dir), None)
            }
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
            .envs(env)
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
