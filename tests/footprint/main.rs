//! The footprint budget (issue 17): what the real server costs per idle
//! connection, per connection made, per echo ack and per broadcast delivery,
//! counted by a counting global allocator and compared with [`BUDGETS`]. No
//! clock decides a figure, so a busy machine does not change them.
//!
//! The server is the app as `sessio serve` builds it (`app::run`), in this
//! process on a loopback port with a fresh data directory: once with the
//! default configuration and once with `--recovery-window 0`, so what
//! recovery costs shows beside it. Only the test's own options differ from
//! the defaults (`server.rs`: no heartbeat or session check in a window).
//! The test's thread plays every client, over real HTTP and WebSocket, and
//! its allocations are not counted; the server's threads' are (executor, I/O
//! reactor, blocking pool, sled's flusher). Each scenario waits until the
//! server is still, does its work a few hundred times and divides what the
//! counters moved by that, so a stray background allocation is noise.
//!
//! ```text
//! cargo test --test footprint                    # prints every figure
//! ```
//!
//! Figures (per unit of work; "bytes allocated" is the sum of the sizes
//! asked for, a reallocation counting as an allocation of its new size):
//! - idle websocket/polling connection: live heap bytes per connection held
//!   open after `connected` (polling: with its GET pending);
//! - connection: a WebSocket connect, CONNECT, `connected`, DISCONNECT and
//!   close; and the live bytes it leaves behind (the median of batches of
//!   50: what a connection leaves is small beside the lumps a growing table
//!   brings now and then). Some of it goes later: a closed connection's
//!   heartbeat timer stays until it would have fired, sled keeps an entry
//!   per read in its LRU queue; the rest stays as long as its owner keeps
//!   it (with recovery on, nothing: the greeting is not kept);
//! - dropped connection: the same, left by closing TCP without a word (what
//!   recovery keeps for a parked socket shows in its live bytes);
//! - echo ack: `42N["echo",{"n":1}]` answered by `43N[{"n":1}]`;
//! - broadcast delivery: `sendMessage` read by every socket (the sender's
//!   ack included, spread over the deliveries).
//!
//! **A new feature adds its line**: a scenario in `scenarios.rs` (or a
//! figure of an existing one) that exercises the feature the way a client
//! would, a flag in [`CONFIGS`] if the feature has a switch whose cost should
//! show beside the default, and a line in [`BUDGETS`] a little above what it
//! measures (the test fails on a figure without a line and a line without a
//! figure). Figures only ever go down: lower a budget when a change lowers
//! its figure.

// The app, as the binary mounts it (src/bin/sessio/main.rs): the same files at the
// same crate-relative names, so `crate::config` and the rest resolve as there. Not
// all of it is used here. Their unit tests compile in too (`cfg(test)`, though without
// a harness their `#[test]` functions do not, hence `unused_imports`), which is why
// this test has no harness (Cargo.toml): `main` runs the measurement alone, with no
// other test's threads allocating beside it.
#[allow(dead_code, unused_imports)]
#[path = "../../src/bin/sessio/app/mod.rs"]
mod app;
#[allow(dead_code, unused_imports)]
#[path = "../../src/bin/sessio/config/mod.rs"]
mod config;
#[allow(dead_code, unused_imports)]
#[path = "../../src/bin/sessio/control/mod.rs"]
mod control;
#[allow(dead_code, unused_imports)]
#[path = "../../src/bin/sessio/logger.rs"]
mod logger;

mod counting;
mod http;
mod polling;
mod scenarios;
mod server;
mod websocket;

use scenarios::{Figure, Sizes};

#[global_allocator]
static COUNTING: counting::Counting = counting::Counting;

/// One figure's budget with each configuration of [`CONFIGS`], in order.
struct Budget {
    figure: &'static str,
    most: [f64; CONFIGS.len()],
}

const fn budget(figure: &'static str, most: [f64; CONFIGS.len()]) -> Budget {
    Budget { figure, most }
}

/// The budgets: the most each figure may be, with each configuration of
/// [`CONFIGS`] (the default and `--recovery-window 0`). Set a little above
/// the highest of 10 runs; lower them as the figures go down.
#[rustfmt::skip]
const BUDGETS: &[Budget] = &[
    //     figure                                          default  window 0
    budget("idle websocket connection: live bytes",        [3100.0,  3100.0]),
    budget("idle polling connection: live bytes",          [8100.0,  8100.0]),
    budget("connection: allocations",                       [150.0,   150.0]),
    budget("connection: bytes allocated",                 [25200.0, 25200.0]),
    budget("connection: live bytes left after it closed",    [80.0,    80.0]),
    budget("dropped connection: allocations",               [153.0,   146.0]),
    budget("dropped connection: bytes allocated",         [25200.0, 24800.0]),
    budget("dropped connection: live bytes kept",           [720.0,    80.0]),
    budget("echo ack: allocations",                          [10.5,    10.5]),
    budget("echo ack: bytes allocated",                    [1350.0,  1350.0]),
    budget("count with an echo behind it: allocations",     [110.0,   110.0]),
    budget("count with an echo behind it: bytes allocated",[15400.0, 15200.0]),
    budget("broadcast delivery: allocations",                 [0.3,     0.3]),
    budget("broadcast delivery: bytes allocated",            [20.0,    20.0]),
];

/// The configurations measured: a name and the flags of `sessio serve`.
const CONFIGS: [(&str, &[&str]); 2] = [("default", &[]), ("window 0", &["--recovery-window", "0"])];

/// Logged-in users; connection i uses user i mod USERS (as `bench/` does).
const USERS: usize = 8;

/// The measured run.
const SIZES: Sizes = Sizes {
    idle: 400,
    cycles: 400,
    echoes: 2000,
    counts: 200,
    receivers: 400,
    broadcasts: 10,
};

/// A first, smaller run on each server, not counted: whatever is made once
/// (a pool's thread, a table's first growth) is made there.
const WARM_UP: Sizes = Sizes {
    idle: 20,
    cycles: 20,
    echoes: 20,
    counts: 0,
    receivers: 20,
    broadcasts: 2,
};

/// Runs [`footprint_within_budget`] unless the command line's filters (as
/// `cargo test FILTER` passes them to every test binary) name something else.
fn main() {
    const NAME: &str = "footprint_within_budget";
    let mut args = std::env::args().skip(1);
    let (mut filters, mut skipped) = (Vec::new(), false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => return println!("{NAME}: test"),
            "--skip" => skipped |= args.next().is_some_and(|s| NAME.contains(s.as_str())),
            flag if flag.starts_with('-') => {}
            filter => filters.push(filter.to_owned()),
        }
    }
    if skipped || !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        return println!("footprint: 0 tests run (filtered out)");
    }
    footprint_within_budget();
    println!("footprint: ok");
}

fn footprint_within_budget() {
    counting::quiet();
    let mut measured: Vec<Vec<Figure>> = Vec::new();
    let mut data_dirs = Vec::new();
    for (name, flags) in CONFIGS {
        let server = server::start(&name.replace(' ', "-"), flags);
        let cookies: Vec<String> = (0..USERS)
            .map(|i| http::log_in(server.addr, &format!("user{i}")))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{name}: logging in: {e}"));
        scenarios::run(server.addr, &cookies, WARM_UP)
            .unwrap_or_else(|e| panic!("{name}: warming up: {e}"));
        let figures =
            scenarios::run(server.addr, &cookies, SIZES).unwrap_or_else(|e| panic!("{name}: {e}"));
        measured.push(figures);
        data_dirs.push(server.data_dir);
    }
    for dir in data_dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    let (table, over) = compare(&measured);
    println!(
        "{} idle connections per transport, {} connections made, {} echo acks, \
         {} broadcasts to {} sockets\n{table}",
        SIZES.idle, SIZES.cycles, SIZES.echoes, SIZES.broadcasts, SIZES.receivers
    );
    assert!(
        over.is_empty(),
        "over budget:\n{}\n{table}",
        over.join("\n")
    );
}

/// The figures beside their budgets, as a table, and a line for each figure
/// over its budget (or without one).
fn compare(measured: &[Vec<Figure>]) -> (String, Vec<String>) {
    let mut table = format!("{:<46}", "footprint per unit");
    for (name, _) in CONFIGS {
        table += &format!(" {name:>10} {:>10}", "budget");
    }
    table += "\n";
    let mut over = Vec::new();
    for line in BUDGETS {
        table += &format!("{:<46}", line.figure);
        for (c, (config, _)) in CONFIGS.iter().enumerate() {
            let budget = line.most[c];
            match measured[c].iter().find(|f| f.name == line.figure) {
                Some(figure) => {
                    table += &format!(" {:>10} {:>10}", shown(figure.value), shown(budget));
                    if figure.value > budget {
                        over.push(format!(
                            "{} ({config}): {}, budget {}",
                            line.figure,
                            shown(figure.value),
                            shown(budget)
                        ));
                    }
                }
                None => {
                    table += &format!(" {:>10} {:>10}", "-", shown(budget));
                    over.push(format!("{} ({config}): not measured", line.figure));
                }
            }
        }
        table += "\n";
    }
    for figures in measured {
        for figure in figures {
            if !BUDGETS.iter().any(|b| b.figure == figure.name) {
                over.push(format!(
                    "{}: {} has no budget line",
                    figure.name,
                    shown(figure.value)
                ));
            }
        }
    }
    (table, over)
}

/// A figure as the table shows it: small ones with two decimals.
fn shown(value: f64) -> String {
    if value.abs() < 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}
