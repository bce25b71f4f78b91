//! Readings from /proc: a process's CPU time and memory, the whole machine's
//! busy time, and a window that turns two readings into CPU used per party.

use std::fs;
use std::io;
use std::time::{Duration, Instant};

/// Clock ticks per second of the times in /proc/*/stat and /proc/stat.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// utime + stime of a process (all its threads, dead ones included), in ticks.
pub fn process_ticks(pid: u32) -> io::Result<u64> {
    process_user_system_ticks(pid).map(|(u, s)| u + s)
}

/// utime and stime of a process, in ticks.
pub fn process_user_system_ticks(pid: u32) -> io::Result<(u64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("bad /proc/PID/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let num = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other("bad /proc/PID/stat field"))
    };
    Ok((num(11)?, num(12)?))
}

/// Busy ticks of the whole machine (all CPUs): everything but idle and iowait.
pub fn machine_busy_ticks() -> io::Result<u64> {
    let stat = fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| io::Error::other("no cpu line in /proc/stat"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    Ok(get(0) + get(1) + get(2) + get(5) + get(6) + get(7))
}

/// Resident memory of a process, KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the most ever resident.
    pub hwm_kib: u64,
    /// RssAnon: the resident memory that is the process's own (heap, stacks),
    /// without file pages such as the binary's code.
    pub anon_kib: u64,
}

pub fn memory(pid: u32) -> io::Result<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        anon_kib: field("RssAnon:"),
    })
}

/// Open file descriptors of a process (entries of /proc/PID/fd).
pub fn open_fds(pid: u32) -> io::Result<usize> {
    Ok(fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// The CPU each party used over a window of wall time.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUse {
    pub wall: Duration,
    /// Server CPU seconds.
    pub server: f64,
    /// The part of `server` spent in the kernel (stime).
    pub server_system: f64,
    /// Load generator CPU seconds.
    pub loadgen: f64,
    /// CPU seconds used by everything else on the machine.
    pub others: f64,
}

impl CpuUse {
    /// Everything else's use as a fraction of one core.
    pub fn others_cores(&self) -> f64 {
        self.others / self.wall.as_secs_f64().max(1e-9)
    }
    pub fn server_cores(&self) -> f64 {
        self.server / self.wall.as_secs_f64().max(1e-9)
    }
    pub fn loadgen_cores(&self) -> f64 {
        self.loadgen / self.wall.as_secs_f64().max(1e-9)
    }
}

/// A started measurement: readings of the server processes (one, or the
/// nodes of a cluster and its broker), ourselves and the machine.
pub struct Window {
    pids: Vec<u32>,
    start: Instant,
    server: u64,
    server_system: u64,
    loadgen: u64,
    machine: u64,
}

/// utime + stime and stime summed over processes, in ticks.
fn servers_ticks(pids: &[u32]) -> io::Result<(u64, u64)> {
    pids.iter().try_fold((0, 0), |(all, sys), &pid| {
        let (user, system) = process_user_system_ticks(pid)?;
        Ok((all + user + system, sys + system))
    })
}

impl Window {
    /// `server_pids`: every process whose CPU counts as the server's.
    pub fn start(server_pids: &[u32]) -> io::Result<Self> {
        let (server, server_system) = servers_ticks(server_pids)?;
        Ok(Self {
            pids: server_pids.to_vec(),
            start: Instant::now(),
            server,
            server_system,
            loadgen: process_ticks(std::process::id())?,
            machine: machine_busy_ticks()?,
        })
    }

    pub fn finish(&self) -> io::Result<CpuUse> {
        let tps = ticks_per_second() as f64;
        let (all, system) = servers_ticks(&self.pids)?;
        let server = all.saturating_sub(self.server);
        let server_system = system.saturating_sub(self.server_system);
        let loadgen = process_ticks(std::process::id())?.saturating_sub(self.loadgen);
        let machine = machine_busy_ticks()?.saturating_sub(self.machine);
        let others = machine.saturating_sub(server + loadgen);
        Ok(CpuUse {
            wall: self.start.elapsed(),
            server: server as f64 / tps,
            server_system: server_system as f64 / tps,
            loadgen: loadgen as f64 / tps,
            others: others as f64 / tps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let pid = std::process::id();
        process_ticks(pid).unwrap();
        assert!(memory(pid).unwrap().rss_kib > 0);
        assert!(open_fds(pid).unwrap() >= 3);
        assert!(machine_busy_ticks().unwrap() > 0);
    }

    #[test]
    fn a_window_sums_its_processes() {
        let me = std::process::id();
        // Use a tick of CPU first, so that a sum of one process shows.
        let start = Instant::now();
        while process_ticks(me).unwrap() == 0 && start.elapsed() < Duration::from_secs(5) {
            std::hint::black_box((0..10_000u64).sum::<u64>());
        }
        let one = servers_ticks(&[me]).unwrap().0;
        assert!(one > 0);
        let twice = servers_ticks(&[me, me]).unwrap().0;
        // Our own ticks only grow between the two readings.
        assert!(twice >= 2 * one);
        assert!(servers_ticks(&[me, u32::MAX]).is_err());
    }
}
