//! The tables printed at the end: each figure for sessio and Node, their
//! ratio, the target and whether it is met; then the CPU used by
//! everything else on the machine during each scenario.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::proc_stats::CpuUse;

/// What a figure must reach.
#[derive(Clone, Copy)]
pub enum Goal {
    /// Informative only.
    None,
    /// sessio ÷ node at most this.
    RatioAtMost(f64),
    /// sessio's own value must be zero.
    Zero,
    /// sessio's own value at least this.
    AtLeast(f64),
}

/// One line of the main table.
pub struct Row {
    pub label: String,
    pub key: String,
    pub goal: Goal,
}

impl Row {
    pub fn new(label: impl Into<String>, key: impl Into<String>, goal: Goal) -> Self {
        Self {
            label: label.into(),
            key: key.into(),
            goal,
        }
    }
}

/// Figures of one server, by `scenario.figure` key.
pub type Figures = BTreeMap<String, f64>;

/// The CPU use of one scenario run, for the noise table.
pub struct CpuLine {
    pub server: String,
    pub scenario: String,
    pub cpu: CpuUse,
}

fn number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn verdict(goal: Goal, sessio: Option<f64>, node: Option<f64>) -> (String, String) {
    let yes_no = |b: bool| if b { "yes" } else { "NO" }.to_owned();
    match goal {
        Goal::None => ("".into(), "".into()),
        Goal::RatioAtMost(max) => {
            let target = format!("<= {max}x");
            match (sessio, node) {
                (Some(s), Some(n)) if n > 0.0 => (target, yes_no(s / n <= max)),
                _ => (target, "?".into()),
            }
        }
        Goal::Zero => ("0".into(), sessio.map_or("?".into(), |s| yes_no(s == 0.0))),
        Goal::AtLeast(min) => (
            format!(">= {min}"),
            sessio.map_or("?".into(), |s| yes_no(s >= min)),
        ),
    }
}

/// The main table, in Markdown.
pub fn table(rows: &[Row], sessio: &Figures, node: &Figures) -> String {
    let mut lines = vec![
        "| figure | sessio | node | ratio | target | met? |".to_owned(),
        "| --- | ---: | ---: | ---: | --- | --- |".to_owned(),
    ];
    for row in rows {
        let s = sessio.get(&row.key).copied();
        let n = node.get(&row.key).copied();
        let show = |v: Option<f64>| v.map_or("—".to_owned(), number);
        let ratio = match (s, n) {
            (Some(s), Some(n)) if n != 0.0 => format!("{:.3}", s / n),
            _ => "—".into(),
        };
        let (target, met) = verdict(row.goal, s, n);
        lines.push(format!(
            "| {} | {} | {} | {ratio} | {target} | {met} |",
            row.label,
            show(s),
            show(n)
        ));
    }
    lines.join("\n") + "\n"
}

/// The CPU table: what the server, the load generator and everything else
/// used during each measured window; a run is noisy when everything else
/// used more than `noisy_cores` of a core.
pub fn cpu_table(lines: &[CpuLine], noisy_cores: f64) -> String {
    let mut out = String::new();
    out.push_str("| server | scenario | window s | server cores | server kernel share | loadgen cores | others cores | noisy? |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for l in lines {
        let others = l.cpu.others_cores();
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.2} | {:.0}% | {:.2} | {:.2} | {} |",
            l.server,
            l.scenario,
            l.cpu.wall.as_secs_f64(),
            l.cpu.server_cores(),
            100.0 * l.cpu.server_system / l.cpu.server.max(1e-9),
            l.cpu.loadgen_cores(),
            others,
            if others > noisy_cores { "NOISY" } else { "" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_target_met_and_missed() {
        let rows = [Row::new("cpu", "a.cpu", Goal::RatioAtMost(0.5))];
        let s = Figures::from([("a.cpu".to_owned(), 1.0)]);
        let n = Figures::from([("a.cpu".to_owned(), 4.0)]);
        assert!(table(&rows, &s, &n).contains("| 0.250 | <= 0.5x | yes |"));
        let n = Figures::from([("a.cpu".to_owned(), 1.5)]);
        assert!(table(&rows, &s, &n).contains("| NO |"));
    }

    #[test]
    fn missing_values_show_as_dashes() {
        let rows = [Row::new("lost", "x.lost", Goal::Zero)];
        let t = table(&rows, &Figures::new(), &Figures::new());
        assert!(t.contains("| lost | — | — | — | 0 | ? |"));
    }
}
