//! The real server in this process, started as `sessio serve` starts it
//! (`src/bin/sessio/main.rs`): options parsed by `Config::load`, one executor thread,
//! `app::run` on smol's executor. A fresh data directory each time; the
//! server runs until the test process exits.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::app;
use crate::config::Config;

pub struct Server {
    pub addr: SocketAddr,
    /// Removed when the test ends.
    pub data_dir: PathBuf,
}

/// Options the test must set, whatever it measures: the loopback port, its
/// own data directory, and no timer that wakes the server in a window (a
/// heartbeat or a session check would allocate for every connection).
fn options(addr: SocketAddr, data_dir: &std::path::Path) -> Vec<String> {
    let hour = "3600000";
    [
        "--listen",
        &addr.to_string(),
        "--data-dir",
        &data_dir.to_string_lossy(),
        "--ping-interval",
        hour,
        "--ping-timeout",
        hour,
        "--session-check-interval",
        hour,
        "--log-level",
        "warn",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Starts a server with `flags` besides the test's own options; returns once
/// it accepts connections.
pub fn start(name: &str, flags: &[&str]) -> Server {
    // A port just free may be taken before the server binds it: then another
    // (and another data directory: the failed start may still hold its lock).
    for attempt in 0..5 {
        let data_dir = std::env::temp_dir().join(format!(
            "sessio-footprint-{}-{name}-{attempt}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        let addr = free_port();
        let mut args = options(addr, &data_dir);
        args.extend(flags.iter().map(|f| f.to_string()));
        let config = Config::load(&args, |_| None).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        // As main does, before the first use of the executor and the pool.
        std::env::set_var("SMOL_THREADS", config.threads.to_string());
        crate::logger::install(config.log_level);
        sessio::blocking::set_threads(config.blocking_threads);
        let (ended, end) = mpsc::channel();
        smol::spawn(async move {
            let _ = ended.send(app::run(config).await);
        })
        .detach();
        loop {
            match end.try_recv() {
                Ok(Err(app::StartError::Listen(..))) => {
                    let _ = std::fs::remove_dir_all(&data_dir);
                    break;
                }
                Ok(result) => panic!("the server stopped: {result:?}"),
                Err(_) => {}
            }
            if TcpStream::connect(addr).is_ok() {
                return Server { addr, data_dir };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("no free port for the server")
}

fn free_port() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    probe.local_addr().expect("its address")
}
