//! The binary's logger. The library logs through the `log` facade, so an
//! application that embeds it routes the lines where it wants; `sessio`
//! itself installs this one: a line per record on standard error.
//!
//! When standard error is systemd's journal (`JOURNAL_STREAM` names its device
//! and inode), each line starts with the record's syslog priority (`<3>` for an
//! error to `<7>` for debug), so `journalctl -p warning` shows warnings and
//! errors only; the journal stamps the time itself.
//!
//! sessio's own lines are shown down to the configured level, its
//! dependencies' (the WebSocket and I/O crates) from warnings up. sled's only at
//! `--log-level debug`: the store reports each of sled's failures itself, once
//! (sled would log one of a full disk seven times, in its own words).

use std::fmt;
use std::os::unix::fs::MetadataExt;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Installs the logger for the process, showing sessio's lines down to `level`.
/// Only the first call installs it; a later one changes the level.
pub fn install(level: LevelFilter) {
    static LOGGER: StderrLogger = StderrLogger;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
    JOURNAL.get_or_init(stderr_is_journal);
}

/// Whether standard error is the journal, found once at [`install`].
static JOURNAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        let target = metadata.target();
        let shown = if target.starts_with("sessio") {
            true
        } else if target.starts_with("sled") {
            log::max_level() >= LevelFilter::Debug
        } else {
            metadata.level() <= Level::Warn
        };
        shown && metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let journal = JOURNAL.get().copied().unwrap_or(false);
            eprintln!(
                "{}",
                Line {
                    level: record.level(),
                    text: record.args(),
                    journal
                }
            );
        }
    }

    fn flush(&self) {}
}

/// One line as it is written: `sessio warn: text`, after `<4>` in the journal.
struct Line<'a> {
    level: Level,
    text: &'a fmt::Arguments<'a>,
    journal: bool,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.journal {
            write!(f, "<{}>", priority(self.level))?;
        }
        let level = self.level.as_str().to_ascii_lowercase();
        write!(f, "sessio {level}: {}", self.text)
    }
}

/// The syslog priority of a level, as the journal reads it.
fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    // The descriptor's own device and inode (a socket's too), through /proc.
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(stderr) => names(&stream, stderr.dev(), stderr.ino()),
        Err(_) => false,
    }
}

/// Whether a `JOURNAL_STREAM` value (`DEVICE:INODE`, in decimal) names this
/// device and inode.
fn names(stream: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = stream.split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

/// Reads a level as the options spell it: off, error, warn, info, debug, trace.
pub fn parse_level(text: &str) -> Option<LevelFilter> {
    match text.to_ascii_lowercase().as_str() {
        "warning" => Some(LevelFilter::Warn),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(level: Level, journal: bool) -> String {
        Line {
            level,
            text: &format_args!("refused {}", 7),
            journal,
        }
        .to_string()
    }

    #[test]
    fn a_line_carries_its_priority_only_in_the_journal() {
        assert_eq!(line(Level::Warn, false), "sessio warn: refused 7");
        assert_eq!(line(Level::Warn, true), "<4>sessio warn: refused 7");
        assert_eq!(line(Level::Error, true), "<3>sessio error: refused 7");
        assert_eq!(line(Level::Info, true), "<6>sessio info: refused 7");
        assert_eq!(line(Level::Debug, true), "<7>sessio debug: refused 7");
    }

    #[test]
    fn journal_stream_must_name_this_device_and_inode() {
        assert!(names("64769:123456", 64769, 123456));
        assert!(!names("64769:123457", 64769, 123456));
        assert!(!names("64769", 64769, 123456));
        assert!(!names(":", 0, 0));
        assert!(!names("x:y", 0, 0));
    }

    #[test]
    fn levels_are_read_as_the_options_spell_them() {
        assert_eq!(parse_level("WARNING"), Some(LevelFilter::Warn));
        assert_eq!(parse_level("debug"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("off"), Some(LevelFilter::Off));
        assert_eq!(parse_level("loud"), None);
    }
}
