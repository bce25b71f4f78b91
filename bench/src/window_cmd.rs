//! `--window-cmd`: a command told when a measured window opens and closes, with
//! the server's pid and what the window counted, so that a tool outside the
//! bench (bench/callgrind: valgrind's instruction counts) can measure the same
//! window the CPU figures come from.

use std::process::Command;
use std::sync::OnceLock;

use crate::error::BenchError;

static CMD: OnceLock<Vec<String>> = OnceLock::new();

/// Sets the command (once, from the options); empty: no command.
pub fn set(cmd: &[String]) {
    let _ = CMD.set(cmd.to_vec());
}

/// Runs `CMD start PID` and waits for it.
pub fn start(pid: u32) -> Result<(), BenchError> {
    run(&["start".to_owned(), pid.to_string()])
}

/// Runs `CMD stop PID SCENARIO COUNT` and waits for it.
pub fn stop(pid: u32, scenario: &str, count: u64) -> Result<(), BenchError> {
    run(&[
        "stop".to_owned(),
        pid.to_string(),
        scenario.to_owned(),
        count.to_string(),
    ])
}

fn run(args: &[String]) -> Result<(), BenchError> {
    let Some((program, rest)) = CMD.get().and_then(|c| c.split_first()) else {
        return Ok(());
    };
    let status = Command::new(program)
        .args(rest)
        .args(args)
        .status()
        .map_err(|e| BenchError::Server(format!("--window-cmd {program}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Server(format!(
            "--window-cmd {program} {}: {status}",
            args.join(" ")
        )))
    }
}
