//! The whole run: every scenario against each server (sessio, sessio with
//! `--recovery-window 0`, another sessio build, the floor, Node), a fresh
//! server per scenario, the servers one after the other within each
//! scenario; then the tables.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::BenchError;
use crate::nginx_three;
use crate::options::Options;
use crate::proc_stats;
use crate::report::{self, Against, Column, CpuLine, Figures, Goal, Ratio, Row};
use crate::scenario::{broadcast, connect, echo, idle, soak, Outcome, Target};
use crate::server::{Kind, Server};
use crate::system;
use crate::{forward, two_node, window_cmd};

/// How long a fresh server is left alone before its start RSS is read.
pub const START_SETTLE: Duration = Duration::from_millis(500);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// RSS at start the board form may have (issue 17: 2.9 MB, read as MiB).
const START_RSS_MAX_KIB: f64 = 2.9 * 1024.0;

/// One scenario run.
#[derive(Clone, Copy)]
enum Step {
    Idle { slot: &'static str, n: usize },
    Connect,
    Echo,
    Count,
    Broadcast { slot: &'static str, high: bool },
    Soak,
}

impl Step {
    fn id(self) -> &'static str {
        match self {
            Step::Idle { slot, .. } | Step::Broadcast { slot, .. } => slot,
            Step::Connect => "connect",
            Step::Echo => "echo",
            Step::Count => "count",
            Step::Soak => "soak",
        }
    }
}

/// How `server` (one of `options::SERVERS`) is started, if it was given.
fn kind_of(o: &Options, server: &str) -> Option<Kind> {
    let sessio = |bin: &PathBuf, args: &[&str], env: &[(String, String)]| Kind::Sessio {
        bin: bin.clone(),
        threads: 1,
        wrap: o.wrap.clone(),
        redis: None,
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env.to_vec(),
    };
    match server {
        "sessio" => o.sessio.as_ref().map(|b| sessio(b, &[], &[])),
        "rw0" => o
            .sessio
            .as_ref()
            .map(|b| sessio(b, &["--recovery-window", "0"], &[])),
        "alt" => o.sessio_alt.as_ref().map(|b| sessio(b, &[], &o.alt_env)),
        "floor" => o.floor.clone().map(|bin| Kind::Floor {
            bin,
            wrap: o.wrap.clone(),
        }),
        "node" => o
            .node_dir
            .clone()
            .map(|dir| Kind::Node { dir, redis: None }),
        _ => None,
    }
}

/// The column header of `server`.
fn header(o: &Options, server: &str) -> String {
    match server {
        "rw0" => "sessio, window 0".into(),
        "alt" => o.alt_label.clone(),
        s => s.into(),
    }
}

/// The floor has no session store and no soak to run.
fn serves(server: &str, step: Step) -> bool {
    server != "floor" || !matches!(step, Step::Count | Step::Soak)
}

/// Everything measured, for the tables and results.json.
#[derive(Default)]
pub struct Results {
    pub figures: Vec<(String, Figures)>,
    pub cpu: Vec<CpuLine>,
    pub notes: Vec<String>,
}

impl Results {
    pub fn figures_of(&mut self, server: &str) -> &mut Figures {
        if !self.figures.iter().any(|(s, _)| s == server) {
            self.figures.push((server.to_owned(), Figures::new()));
        }
        let i = self
            .figures
            .iter()
            .position(|(s, _)| s == server)
            .unwrap_or(0);
        &mut self.figures[i].1
    }
}

fn steps(o: &Options) -> Vec<Step> {
    let mut steps = Vec::new();
    if o.wants("idle") {
        let slots: &[&str] = if o.idle.len() == 1 {
            &["idle_large"]
        } else {
            &["idle_small", "idle_large"]
        };
        let sizes = [o.idle.first(), o.idle.last()];
        let sizes = &sizes[2 - slots.len()..];
        for (slot, n) in slots.iter().zip(sizes) {
            if let Some(&n) = *n {
                steps.push(Step::Idle { slot, n });
            }
        }
    }
    if o.wants("connect") {
        steps.push(Step::Connect);
    }
    if o.wants("echo") {
        steps.push(Step::Echo);
    }
    if o.wants("count") {
        steps.push(Step::Count);
    }
    if o.wants("broadcast") {
        steps.push(Step::Broadcast {
            slot: "bc_low",
            high: false,
        });
        steps.push(Step::Broadcast {
            slot: "bc_high",
            high: true,
        });
    }
    if o.wants("soak") {
        steps.push(Step::Soak);
    }
    steps
}

fn label(o: &Options, step: Step) -> String {
    match step {
        Step::Idle { n, .. } => format!("idle {n}"),
        Step::Connect => format!("connect {} ({} in flight)", o.connect, o.in_flight),
        Step::Echo => format!("echo {} clients", o.echo_clients),
        Step::Count => format!("updateCount {} clients", o.echo_clients),
        Step::Broadcast { high, .. } => {
            let rate = if high { o.rate_high } else { o.rate_low };
            format!("broadcast {} @ {rate}/s", o.receivers)
        }
        Step::Soak => format!(
            "soak {} waves of {} clients, {} s of chat each",
            o.soak_waves,
            o.soak_clients,
            o.soak_chat_secs.as_secs_f64()
        ),
    }
}

/// Logs in `sessions` users (registering them first) and returns their cookies.
pub fn log_in(addr: &str, sessions: usize) -> Result<Vec<String>, BenchError> {
    log_in_from(addr, sessions, &[])
}

/// `log_in`, session i from `sources[i]` when `sources` is not empty.
pub fn log_in_from(
    addr: &str,
    sessions: usize,
    sources: &[IpAddr],
) -> Result<Vec<String>, BenchError> {
    smol::block_on(async {
        let mut cookies = Vec::with_capacity(sessions);
        for i in 0..sessions {
            let (user, password) = (format!("bench{i}"), format!("bench-password-{i}"));
            let source = sources.get(i).copied();
            cookies.push(crate::http::login(addr, source, &user, &password).await?);
        }
        Ok(cookies)
    })
}

/// Starts a fresh server, logs in (but to the floor), runs one step, stops
/// the server. `name` names its logs.
fn run_step(
    o: &Options,
    name: &str,
    kind: &Kind,
    core: Option<usize>,
    step: Step,
    out: &Path,
) -> Result<(Outcome, u64), BenchError> {
    let log = out.join(format!("{name}-{}.log", step.id()));
    let server = Server::start(kind, core, &log)?;
    let result = (|| {
        std::thread::sleep(START_SETTLE);
        let rss_start = proc_stats::memory(server.pid)?.rss_kib;
        let bare = matches!(kind, Kind::Floor { .. });
        let target = Rc::new(Target {
            addr: server.addr.clone(),
            pid: server.pid,
            cookies: if bare {
                Vec::new()
            } else {
                log_in(&server.addr, o.sessions)?
            },
            bare,
            connect_timeout: CONNECT_TIMEOUT,
            sources: Vec::new(),
        });
        let outcome = match step {
            Step::Idle { n, .. } => {
                let p = idle::Params {
                    n,
                    in_flight: o.in_flight,
                    settle: Duration::from_secs(1),
                    hold: o.hold,
                };
                let (outcome, smaps) = idle::run(target, &p)?;
                let _ = fs::write(out.join(format!("{name}-idle{n}-smaps_rollup.txt")), smaps);
                outcome
            }
            Step::Connect => connect::run(
                target,
                &connect::Params {
                    n: o.connect,
                    in_flight: o.in_flight,
                },
            )?,
            Step::Echo => echo::run(
                target,
                &echo::Params {
                    clients: o.echo_clients,
                    duration: o.echo_secs,
                    event: "echo",
                },
            )?,
            Step::Count => echo::run(
                target,
                &echo::Params {
                    clients: o.echo_clients,
                    duration: o.echo_secs,
                    event: "updateCount",
                },
            )?,
            Step::Broadcast { high, .. } => broadcast::run(
                vec![target],
                &broadcast::Params {
                    receivers: o.receivers,
                    rate: if high { o.rate_high } else { o.rate_low },
                    duration: o.broadcast_secs,
                    drain: o.drain,
                    broker_pids: Vec::new(),
                    server_pids: None,
                },
            )?,
            Step::Soak => soak::run(
                target,
                &soak::Params {
                    clients: o.soak_clients,
                    waves: o.soak_waves,
                    chat: o.soak_chat_secs,
                    in_flight: o.in_flight,
                },
            )?,
        };
        Ok((outcome, rss_start))
    })();
    server.stop();
    result
}

pub fn record(results: &mut Results, server: &str, id: &str, label: String, outcome: Outcome) {
    results.cpu.push(CpuLine {
        server: server.to_owned(),
        scenario: label,
        cpu: outcome.cpu,
    });
    record_figures(results, server, id, outcome);
}

/// `record` without the CPU line (a step in rounds has one per round).
fn record_figures(results: &mut Results, server: &str, id: &str, outcome: Outcome) {
    let figures = results.figures_of(server);
    for (key, value) in &outcome.figures {
        figures.insert(format!("{id}.{key}"), *value);
    }
    *figures.entry("total.failed".into()).or_default() += outcome.failed as f64;
    *figures.entry("total.lost".into()).or_default() += outcome.lost as f64;
    results
        .notes
        .extend(outcome.notes.iter().map(|n| format!("{server}: {n}")));
}

/// Records that `label` failed on `server`: a note, and one more failure.
pub fn record_failed(results: &mut Results, server: &str, label: &str, e: &BenchError) {
    results
        .notes
        .push(format!("{server}: {label}: FAILED: {e}"));
    *results
        .figures_of(server)
        .entry("total.failed".into())
        .or_default() += 1.0;
}

/// Runs one step on `server` and records what it measured.
fn run_one(o: &Options, server: &str, kind: &Kind, step: Step, out: &Path, results: &mut Results) {
    let label = label(o, step);
    eprintln!("[bench] {server}: {label}");
    match run_step(o, server, kind, Some(o.server_core), step, out) {
        Ok((outcome, rss_start)) => {
            results
                .figures_of(server)
                .entry("start.rss_kib".into())
                .or_insert(rss_start as f64);
            record(results, server, step.id(), label, outcome);
        }
        Err(e) => {
            eprintln!("[bench] {server}: {label}: {e}");
            record_failed(results, server, &label, &e);
        }
    }
}

/// Runs `step` `rounds` times, every server in turn in each round, and
/// records for each server the median of each figure over its rounds (and a
/// note with every round's CPU per operation, to show the spread).
fn run_rounds(
    o: &Options,
    servers: &[(String, Kind)],
    step: Step,
    rounds: usize,
    out: &Path,
    results: &mut Results,
) {
    let mut kept: Vec<Vec<Outcome>> = servers.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        for ((server, kind), kept) in servers.iter().zip(&mut kept) {
            if !serves(server, step) {
                continue;
            }
            let label = format!("{}, round {round}/{rounds}", label(o, step));
            eprintln!("[bench] {server}: {label}");
            let name = format!("{server}-round{round}");
            match run_step(o, &name, kind, Some(o.server_core), step, out) {
                Ok((outcome, rss_start)) => {
                    results
                        .figures_of(server)
                        .entry("start.rss_kib".into())
                        .or_insert(rss_start as f64);
                    results.cpu.push(CpuLine {
                        server: server.clone(),
                        scenario: label,
                        cpu: outcome.cpu,
                    });
                    kept.push(outcome);
                }
                Err(e) => {
                    eprintln!("[bench] {server}: {label}: {e}");
                    record_failed(results, server, &label, &e);
                }
            }
        }
    }
    for ((server, _), outcomes) in servers.iter().zip(kept) {
        if outcomes.is_empty() {
            continue;
        }
        let (key, what) = match step {
            Step::Echo => ("cpu_per_ack_us", "server CPU per ack by round (µs)"),
            _ => ("cpu_per_conn_ms", "server CPU per connection by round (ms)"),
        };
        let per_round: Vec<String> = outcomes
            .iter()
            .filter_map(|o| figure(o, key))
            .map(|v| format!("{v:.3}"))
            .collect();
        results.notes.push(format!(
            "{server}: {}: {what}: {}; the table has the median",
            step.id(),
            per_round.join(", ")
        ));
        record_figures(results, server, step.id(), median_outcome(outcomes));
    }
}

fn figure(outcome: &Outcome, key: &str) -> Option<f64> {
    outcome
        .figures
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
}

/// Each figure's median over `outcomes` (the lower middle one of an even
/// count); failures and losses summed, notes kept.
fn median_outcome(outcomes: Vec<Outcome>) -> Outcome {
    let mut merged = Outcome::default();
    let keys: Vec<&'static str> = outcomes
        .iter()
        .flat_map(|o| o.figures.iter().map(|(k, _)| *k))
        .fold(Vec::new(), |mut keys, k| {
            if !keys.contains(&k) {
                keys.push(k);
            }
            keys
        });
    for key in keys {
        let mut values: Vec<f64> = outcomes.iter().filter_map(|o| figure(o, key)).collect();
        values.sort_by(f64::total_cmp);
        merged.set(key, values[(values.len() - 1) / 2]);
    }
    for outcome in outcomes {
        merged.failed += outcome.failed;
        merged.lost += outcome.lost;
        merged.notes.extend(outcome.notes);
    }
    merged
}

/// Echo with `--threads 1` and `--threads 2`, neither pinned, the load
/// generator unpinned too.
fn run_threads_check(o: &Options, bin: &Path, out: &Path, results: &mut Results) {
    if let Err(e) = system::pin_to(None) {
        results.notes.push(format!(
            "threads check: cannot unpin the load generator: {e}"
        ));
    }
    for threads in [1usize, 2] {
        let kind = Kind::Sessio {
            bin: bin.to_owned(),
            threads,
            wrap: o.wrap.clone(),
            redis: None,
            args: Vec::new(),
            env: Vec::new(),
        };
        let id = if threads == 1 { "threads1" } else { "threads2" };
        let label = format!(
            "echo {} clients, --threads {threads}, unpinned",
            o.echo_clients
        );
        eprintln!("[bench] sessio: {label}");
        match run_step(o, "sessio", &kind, None, Step::Echo, out) {
            Ok((outcome, _)) => record(results, "sessio", id, label, outcome),
            Err(e) => results.notes.push(format!("sessio: {label}: FAILED: {e}")),
        }
    }
    let f = results.figures_of("sessio");
    if let (Some(a), Some(b)) = (f.get("threads1.acks_per_s"), f.get("threads2.acks_per_s")) {
        let ratio = b / a;
        f.insert("threads.ratio".into(), ratio);
    }
    let _ = system::pin_to(Some(&[o.loadgen_core]));
}

fn rows(o: &Options) -> Vec<Row> {
    let small = o.idle.first().copied().unwrap_or(0);
    let large = o.idle.last().copied().unwrap_or(0);
    let (low, high, n) = (o.rate_low, o.rate_high, o.receivers);
    let mut rows = vec![Row::new(
        "RSS at start, before any client (KiB)",
        "start.rss_kib",
        Goal::RatioAtMost(0.05),
    )
    .floor(Goal::AtMost(START_RSS_MAX_KIB))];
    rows.push(Row::new("binary size (bytes)", "binary.bytes", Goal::None));
    if o.idle.len() > 1 {
        rows.push(Row::new(
            format!("RSS per idle connection at {small} (KiB)"),
            "idle_small.kib_per_conn",
            Goal::None,
        ));
    }
    rows.extend([
        Row::new(
            format!("RSS per idle connection at {large} (KiB)"),
            "idle_large.kib_per_conn",
            Goal::RatioAtMost(0.4),
        )
        .floor(Goal::RatioAtMost(0.6)),
        Row::new(
            format!("RSS with {large} idle connections (KiB)"),
            "idle_large.rss_held_kib",
            Goal::None,
        ),
        Row::new(
            format!("VmHWM after {large} idle connections (KiB)"),
            "idle_large.hwm_kib",
            Goal::None,
        ),
        Row::new(
            format!("server CPU while {large} connections idle (cores)"),
            "idle_large.idle_server_cores",
            Goal::None,
        ),
        Row::new("connect: connections/s", "connect.conn_rate", Goal::None),
        Row::new(
            "connect: handshake p50 (ms)",
            "connect.conn_p50_ms",
            Goal::None,
        ),
        Row::new(
            "connect: handshake p99 (ms)",
            "connect.conn_p99_ms",
            Goal::None,
        ),
        Row::new(
            "connect: server CPU per connection (ms)",
            "connect.cpu_per_conn_ms",
            Goal::RatioAtMost(0.15),
        )
        .floor(Goal::RatioAtMost(1.5)),
        Row::new("echo: acks/s", "echo.acks_per_s", Goal::None),
        Row::new("echo: ack p50 (ms)", "echo.echo_p50_ms", Goal::None),
        Row::new("echo: ack p99 (ms)", "echo.echo_p99_ms", Goal::None),
        Row::new(
            "echo: server CPU per ack (µs)",
            "echo.cpu_per_ack_us",
            Goal::RatioAtMost(0.35),
        )
        .floor(Goal::RatioAtMost(1.0)),
    ]);
    if o.wants("count") {
        let (slot, which) = ("count", "");
        rows.extend([
            Row::new(
                format!("updateCount{which}: acks/s"),
                format!("{slot}.acks_per_s"),
                Goal::None,
            ),
            Row::new(
                format!("updateCount{which}: ack p50 (ms)"),
                format!("{slot}.echo_p50_ms"),
                Goal::None,
            ),
            Row::new(
                format!("updateCount{which}: ack p99 (ms)"),
                format!("{slot}.echo_p99_ms"),
                Goal::None,
            ),
            Row::new(
                format!("updateCount{which}: server CPU per ack (µs)"),
                format!("{slot}.cpu_per_ack_us"),
                Goal::None,
            ),
        ]);
    }
    for (slot, rate, p99_goal) in [
        ("bc_low", low, Goal::RatioAtMost(0.2)),
        ("bc_high", high, Goal::None),
    ] {
        // Issue 17's broadcast goals are at 25/s, below capacity.
        let (cpu_goal, vs_floor) = if slot == "bc_low" {
            (
                Goal::RatioAtMost(0.3),
                (Goal::RatioAtMost(1.0), Goal::RatioAtMost(0.8)),
            )
        } else {
            (Goal::None, (Goal::None, Goal::None))
        };
        rows.extend([
            Row::new(
                format!("broadcast {n} @ {rate}/s: deliveries/s"),
                format!("{slot}.deliveries_per_s"),
                Goal::None,
            ),
            Row::new(
                format!("broadcast {n} @ {rate}/s: delivery p50 (ms)"),
                format!("{slot}.bc_p50_ms"),
                Goal::None,
            ),
            Row::new(
                format!("broadcast {n} @ {rate}/s: delivery p99 (ms)"),
                format!("{slot}.bc_p99_ms"),
                p99_goal,
            )
            .floor(vs_floor.0),
            Row::new(
                format!("broadcast {n} @ {rate}/s: lost messages"),
                format!("{slot}.lost"),
                Goal::Zero,
            )
            .floor(Goal::Zero),
            Row::new(
                format!("broadcast {n} @ {rate}/s: server CPU per delivery (µs)"),
                format!("{slot}.cpu_per_delivery_us"),
                cpu_goal,
            )
            .floor(vs_floor.1),
        ]);
    }
    if o.wants("twonode") {
        rows.extend(two_node::rows(o));
    }
    if o.wants("nginx3") {
        rows.extend(nginx_three::rows(o));
    }
    if o.wants("forward") {
        rows.extend(forward::rows());
    }
    rows.extend([
        Row::new(
            "failed or dropped connections, all scenarios",
            "total.failed",
            Goal::Zero,
        )
        .floor(Goal::Zero),
        Row::new("lost messages, all scenarios", "total.lost", Goal::Zero).floor(Goal::Zero),
    ]);
    if o.wants("soak") {
        let w = o.soak_waves;
        let n = o.soak_clients;
        for (what, key) in [
            ("RSS before (KiB)", "rss_before_kib"),
            ("RSS at peak (KiB)", "rss_peak_kib"),
            ("RSS after (KiB)", "rss_after_kib"),
            ("RSS after ÷ before", "rss_after_ratio"),
            ("anonymous RSS before (KiB)", "anon_before_kib"),
            ("anonymous RSS at peak (KiB)", "anon_peak_kib"),
            ("anonymous RSS after (KiB)", "anon_after_kib"),
            ("anonymous RSS after ÷ before", "anon_after_ratio"),
            ("open fds before", "fds_before"),
            ("open fds at peak", "fds_peak"),
            ("open fds after", "fds_after"),
            ("open fds after ÷ before", "fds_after_ratio"),
        ] {
            rows.push(Row::new(
                format!("soak {w} × {n}: {what}"),
                format!("soak.{key}"),
                Goal::None,
            ));
        }
    }
    if o.wants("threads") {
        rows.extend([
            Row::new(
                "echo acks/s, --threads 1, unpinned",
                "threads1.acks_per_s",
                Goal::None,
            ),
            Row::new(
                "echo acks/s, --threads 2, unpinned",
                "threads2.acks_per_s",
                Goal::None,
            ),
            Row::new(
                "echo acks/s, threads 2 ÷ threads 1",
                "threads.ratio",
                Goal::AtLeast(1.7),
            ),
        ]);
    }
    rows
}

fn out_dir(o: &Options) -> Result<PathBuf, BenchError> {
    let dir = match &o.out {
        Some(d) => d.clone(),
        None => {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            PathBuf::from("results").join(secs.to_string())
        }
    };
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Runs the suite and returns the text of the report.
pub fn run(o: &Options) -> Result<String, BenchError> {
    let out = out_dir(o)?;
    window_cmd::set(&o.window_cmd);
    let mut results = Results::default();
    let biggest = o
        .idle
        .iter()
        // connect holds --in-flight connections at once, not --connect.
        .chain([&o.receivers, &o.in_flight, &o.soak_clients])
        .max()
        .copied()
        .unwrap_or(0);
    let want = biggest as u64 + 1000;
    match system::raise_fd_limit(want) {
        Ok(got) if got < want => results.notes.push(format!(
            "fd limit: raised to the hard limit {got}, below the {want} wanted: expect failed connections"
        )),
        Ok(_) => {}
        Err(e) => results.notes.push(format!("fd limit: cannot raise it: {e}")),
    }
    let cpus = system::cpu_count();
    let pinning = o.server_core < cpus && o.loadgen_core < cpus && o.server_core != o.loadgen_core;
    if pinning {
        system::pin_to(Some(&[o.loadgen_core]))?;
    } else {
        results.notes.push(format!(
            "{cpus} CPU(s): cannot pin server and load generator apart"
        ));
    }
    let server_core = pinning.then_some(o.server_core);
    let o_pinned = Options {
        server_core: server_core.unwrap_or(0),
        ..o.clone()
    };

    // Scenario by scenario, each server in turn: a machine that gets busier
    // during the run weighs on all of them alike.
    let servers: Vec<(String, Kind)> = o
        .servers
        .iter()
        .filter_map(|s| kind_of(o, s).map(|k| (s.clone(), k)))
        .collect();
    for (server, kind) in &servers {
        if let Kind::Sessio { bin, .. } | Kind::Floor { bin, .. } = kind {
            if let Ok(meta) = fs::metadata(bin) {
                let f = results.figures_of(server);
                f.insert("binary.bytes".into(), meta.len() as f64);
            }
        }
    }
    for step in steps(o) {
        if matches!(step, Step::Connect | Step::Echo) && o.rounds > 1 {
            run_rounds(&o_pinned, &servers, step, o.rounds, &out, &mut results);
            continue;
        }
        for (server, kind) in &servers {
            if serves(server, step) {
                run_one(&o_pinned, server, kind, step, &out, &mut results);
            }
        }
    }
    if let (true, true, Some(bin)) = (o.wants("threads"), o.runs("sessio"), &o.sessio) {
        run_threads_check(o, bin, &out, &mut results);
    }
    // Both servers' two-node runs last, one right after the other.
    if o.wants("twonode") {
        for server in ["sessio", "node"] {
            if o.runs(server) {
                two_node::run(&o_pinned, server, &out, &mut results);
            }
        }
    }
    if o.wants("nginx3") {
        for server in ["sessio", "node"] {
            if o.runs(server) {
                nginx_three::run(&o_pinned, server, &out, &mut results);
            }
        }
    }
    if o.wants("forward") && o.runs("sessio") {
        forward::run(&o_pinned, &out, &mut results);
    }

    for line in &mut results.cpu {
        line.server = header(o, &line.server);
    }
    let shown: Vec<&String> = o
        .servers
        .iter()
        .filter(|s| results.figures.iter().any(|(name, _)| name == *s))
        .collect();
    let figures = |name: &str| {
        results
            .figures
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, f)| f)
    };
    let columns: Vec<Column> = shown
        .iter()
        .filter_map(|s| {
            figures(s).map(|f| Column {
                header: header(o, s),
                figures: f,
            })
        })
        .collect();
    let mut ratios = Vec::new();
    for (num, den, against) in [
        ("sessio", "floor", Against::Floor),
        ("sessio", "node", Against::Node),
        ("sessio", "rw0", Against::Nothing),
        ("alt", "sessio", Against::Nothing),
    ] {
        if let (Some(n), Some(d)) = (figures(num), figures(den)) {
            ratios.push(Ratio {
                header: format!("{} ÷ {}", header(o, num), header(o, den)),
                num: n,
                den: d,
                against,
            });
        }
    }
    let mut text = String::new();
    text.push_str(&report::table(&rows(o), &columns, &ratios));
    text.push_str(
        "\nCPU used during each measured window (cores = CPU seconds / wall seconds):\n\n",
    );
    text.push_str(&report::cpu_table(&results.cpu, o.noisy));
    if !results.notes.is_empty() {
        text.push_str("\nNotes:\n");
        for n in &results.notes {
            text.push_str(&format!("- {n}\n"));
        }
    }
    let servers: serde_json::Map<String, serde_json::Value> = results
        .figures
        .iter()
        .map(|(name, f)| {
            let v = serde_json::json!({ "header": header(o, name), "figures": f });
            (name.clone(), v)
        })
        .collect();
    let json = serde_json::json!({ "servers": servers, "notes": results.notes, "quick": o.quick });
    fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )?;
    fs::write(out.join("table.md"), &text)?;
    text.push_str(&format!(
        "\n(results, logs and smaps_rollup files in {})\n",
        out.display()
    ));
    Ok(text)
}
