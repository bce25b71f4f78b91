//! What the load generator asks of the OS for itself: more file descriptors
//! and a CPU to run on.

use std::io;

/// Raises the soft fd limit towards `want`, up to the hard limit. Returns the
/// limit now in force.
// rlim_t is u64 on Linux but not everywhere.
#[allow(clippy::unnecessary_cast)]
pub fn raise_fd_limit(want: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to write into.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let target = want.min(lim.rlim_max as u64);
    if (lim.rlim_cur as u64) < target {
        lim.rlim_cur = target as libc::rlim_t;
        // SAFETY: lim holds a soft limit no higher than the hard one.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur as u64)
}

/// Pins the calling thread (and threads it starts later) to the given CPUs;
/// `None` allows every CPU.
pub fn pin_to(cpus: Option<&[usize]>) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; the CPU_* helpers only write inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        match cpus {
            Some(list) => list.iter().for_each(|&c| libc::CPU_SET(c, &mut set)),
            None => (0..count.max(64)).for_each(|c| libc::CPU_SET(c, &mut set)),
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// How many CPUs the machine has online.
pub fn cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as usize
    } else {
        1
    }
}
