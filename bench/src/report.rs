//! The tables printed at the end: each figure for sessio and Node, their
//! ratio, the issue's target and whether it is met; then the CPU used by
//! everything else on the machine during each scenario.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::proc_stats::CpuUse;

/// What a figure must reach.
#[derive(Clone, Copy)]
pub enum Goal {
    /// Informative only.
    None,
    /// this ÷ that at most this.
    RatioAtMost(f64),
    /// The figure itself must be zero.
    Zero,
    /// The figure itself at least this.
    AtLeast(f64),
    /// The figure itself at most this.
    AtMost(f64),
}

/// One line of the main table: its goal against the floor (issue 17) and
/// against Node (issue 6).
pub struct Row {
    pub label: String,
    pub key: String,
    pub vs_floor: Goal,
    pub vs_node: Goal,
}

impl Row {
    /// A row with its goal against Node.
    pub fn new(label: impl Into<String>, key: impl Into<String>, vs_node: Goal) -> Self {
        Self {
            label: label.into(),
            key: key.into(),
            vs_floor: Goal::None,
            vs_node,
        }
    }

    /// The same row with a goal against the floor.
    pub fn floor(mut self, goal: Goal) -> Self {
        self.vs_floor = goal;
        self
    }
}

/// Figures of one server, by `scenario.figure` key.
pub type Figures = BTreeMap<String, f64>;

/// A server's column: its header and figures.
pub struct Column<'a> {
    pub header: String,
    pub figures: &'a Figures,
}

/// Which of a row's goals a ratio column checks.
#[derive(Clone, Copy)]
pub enum Against {
    Floor,
    Node,
    /// The ratio only.
    Nothing,
}

/// A ratio column: one server's figure ÷ another's, and the goal it checks.
pub struct Ratio<'a> {
    pub header: String,
    pub num: &'a Figures,
    pub den: &'a Figures,
    pub against: Against,
}

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

/// The target's text and whether `num` (÷ `den`) meets it.
fn verdict(goal: Goal, num: Option<f64>, den: Option<f64>) -> (String, String) {
    let yes_no = |b: bool| if b { "yes" } else { "NO" }.to_owned();
    let own = |ok: &dyn Fn(f64) -> bool| num.map_or("?".into(), |s| yes_no(ok(s)));
    match goal {
        Goal::None => ("".into(), "".into()),
        Goal::RatioAtMost(max) => {
            let target = format!("<= {max}x");
            match (num, den) {
                (Some(s), Some(n)) if n > 0.0 => (target, yes_no(s / n <= max)),
                _ => (target, "?".into()),
            }
        }
        Goal::Zero => ("0".into(), own(&|s| s == 0.0)),
        Goal::AtLeast(min) => (format!(">= {min}"), own(&|s| s >= min)),
        Goal::AtMost(max) => (format!("<= {}", number(max)), own(&|s| s <= max)),
    }
}

/// The main table, in Markdown: each server's figure, then each ratio (with
/// its target and whether it is met, when it checks one).
pub fn table(rows: &[Row], columns: &[Column], ratios: &[Ratio]) -> String {
    let mut head = vec!["figure".to_owned()];
    let mut align = vec!["---"];
    for c in columns {
        head.push(c.header.clone());
        align.push("---:");
    }
    for r in ratios {
        head.push(r.header.clone());
        align.push("---:");
        if !matches!(r.against, Against::Nothing) {
            head.extend(["target".to_owned(), "met?".to_owned()]);
            align.extend(["---", "---"]);
        }
    }
    let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    let mut lines = vec![
        line(head),
        line(align.into_iter().map(str::to_owned).collect()),
    ];
    for row in rows {
        let get = |f: &Figures| f.get(&row.key).copied();
        // A scenario that did not run leaves no row.
        if !columns.is_empty() && columns.iter().all(|c| get(c.figures).is_none()) {
            continue;
        }
        let show = |v: Option<f64>| v.map_or("—".to_owned(), number);
        let mut cells = vec![row.label.clone()];
        cells.extend(columns.iter().map(|c| show(get(c.figures))));
        for r in ratios {
            let (s, n) = (get(r.num), get(r.den));
            cells.push(match (s, n) {
                (Some(s), Some(n)) if n != 0.0 => format!("{:.3}", s / n),
                _ => "—".into(),
            });
            let goal = match r.against {
                Against::Floor => row.vs_floor,
                Against::Node => row.vs_node,
                Against::Nothing => continue,
            };
            let (target, met) = verdict(goal, s, n);
            cells.extend([target, met]);
        }
        lines.push(line(cells));
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

    fn one(key: &str, v: f64) -> Figures {
        Figures::from([(key.to_owned(), v)])
    }

    #[test]
    fn ratio_target_met_and_missed() {
        let rows = [Row::new("cpu", "a.cpu", Goal::RatioAtMost(0.5))];
        let (s, n) = (one("a.cpu", 1.0), one("a.cpu", 4.0));
        let cols = [Column {
            header: "s".into(),
            figures: &s,
        }];
        let ratios = [Ratio {
            header: "÷ n".into(),
            num: &s,
            den: &n,
            against: Against::Node,
        }];
        assert!(table(&rows, &cols, &ratios).contains("| 1.00 | 0.250 | <= 0.5x | yes |"));
        let n = one("a.cpu", 1.5);
        let ratios = [Ratio {
            header: "÷ n".into(),
            num: &s,
            den: &n,
            against: Against::Node,
        }];
        assert!(table(&rows, &cols, &ratios).contains("| NO |"));
    }

    #[test]
    fn each_ratio_checks_its_own_goal() {
        let rows = [Row::new("rss", "a.rss", Goal::RatioAtMost(0.05)).floor(Goal::AtMost(2970.0))];
        let (s, f, n) = (
            one("a.rss", 3000.0),
            one("a.rss", 3900.0),
            one("a.rss", 50_000.0),
        );
        let ratios = [
            Ratio {
                header: "÷ floor".into(),
                num: &s,
                den: &f,
                against: Against::Floor,
            },
            Ratio {
                header: "÷ node".into(),
                num: &s,
                den: &n,
                against: Against::Node,
            },
            Ratio {
                header: "x".into(),
                num: &s,
                den: &s,
                against: Against::Nothing,
            },
        ];
        let t = table(&rows, &[], &ratios);
        assert!(
            t.contains("| rss | 0.769 | <= 2970 | NO | 0.060 | <= 0.05x | NO | 1.000 |"),
            "{t}"
        );
        assert!(t.starts_with("| figure | ÷ floor | target | met? | ÷ node | target | met? | x |"));
    }

    #[test]
    fn missing_values_show_as_dashes() {
        let rows = [Row::new("lost", "x.lost", Goal::Zero)];
        let empty = Figures::new();
        let cols = [Column {
            header: "s".into(),
            figures: &empty,
        }];
        let ratios = [Ratio {
            header: "r".into(),
            num: &empty,
            den: &empty,
            against: Against::Node,
        }];
        let t = table(&rows, &[], &ratios);
        assert!(t.contains("| lost | — | 0 | ? |"), "{t}");
        // No column has it: the scenario did not run.
        assert!(!table(&rows, &cols, &ratios).contains("| lost |"));
    }
}
