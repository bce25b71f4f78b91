//! The process's own figures from `/proc/self`: resident memory, CPU time
//! and open descriptors, under the names Prometheus clients use for them.

use std::fs;

use super::encode::{Family, Kind, Sample};

/// What `/proc/self/stat` says, in its units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// User and system time, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

/// `/proc/self/stat` could not be read as expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadStat;

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat(line: &str) -> Result<Stat, BadStat> {
    let (_, rest) = line.rsplit_once(')').ok_or(BadStat)?;
    // After the name: field 3 (state) is index 0; utime (14) is 11, stime
    // (15) is 12, rss (24) is 21.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| -> Result<u64, BadStat> {
        fields.get(i).ok_or(BadStat)?.parse().map_err(|_| BadStat)
    };
    Ok(Stat {
        cpu_ticks: number(11)? + number(12)?,
        rss_pages: number(21)?,
    })
}

/// The process families; a figure that cannot be read is left out.
pub fn families() -> Vec<Family> {
    let mut families = Vec::with_capacity(3);
    let gauge = |name, help, value: f64, kind| Family {
        name,
        help,
        kind,
        samples: vec![Sample::plain(value)],
    };
    if let Ok(stat) = fs::read_to_string("/proc/self/stat")
        .map_err(|_| BadStat)
        .and_then(|line| parse_stat(&line))
    {
        let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
        let page = rustix::param::page_size() as f64;
        families.push(gauge(
            "process_cpu_seconds_total",
            "User and system CPU time spent, in seconds.",
            stat.cpu_ticks as f64 / ticks,
            Kind::Counter,
        ));
        families.push(gauge(
            "process_resident_memory_bytes",
            "Resident memory size, in bytes.",
            stat.rss_pages as f64 * page,
            Kind::Gauge,
        ));
    }
    if let Ok(dir) = fs::read_dir("/proc/self/fd") {
        // Less the descriptor that reads the folder.
        let open = dir.count().saturating_sub(1);
        families.push(gauge(
            "process_open_fds",
            "Open file descriptors.",
            open as f64,
            Kind::Gauge,
        ));
    }
    families
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_a_strange_command_name() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 1490 0 0 0 \
                    37 12 0 0 20 0 3 0 1234 21000000 913 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(line),
            Ok(Stat {
                cpu_ticks: 49,
                rss_pages: 913
            })
        );
    }

    #[test]
    fn a_short_or_garbled_line_is_an_error() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3"), Err(BadStat));
        assert_eq!(parse_stat("no parenthesis"), Err(BadStat));
        let garbled = "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ten 12 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_stat(garbled), Err(BadStat));
    }

    #[test]
    fn this_process_has_memory_time_and_descriptors() {
        let names: Vec<&str> = families().iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_open_fds"
            ]
        );
    }
}
