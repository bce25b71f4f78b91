//! The Prometheus text exposition format (version 0.0.4) as a pure function:
//! families of samples in, text out. Nothing here reads a counter.

use std::fmt::Write;

/// The `Content-Type` of what [`encode`] returns.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's type, as its `# TYPE` line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A number that only goes up.
    Counter,
    /// A number that goes up and down.
    Gauge,
    /// Observations in buckets, with their sum and count.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One sample: the family's name plus `suffix` (`_bucket`, `_sum`, `_count`
/// for a histogram, empty otherwise), its labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Added to the family's name: `_bucket`, `_sum` or `_count` in a histogram, else empty.
    pub suffix: &'static str,
    /// Label names and values, in order.
    pub labels: Vec<(&'static str, String)>,
    /// The sample's value.
    pub value: f64,
}

impl Sample {
    /// A sample without labels.
    pub fn plain(value: f64) -> Sample {
        Sample {
            suffix: "",
            labels: Vec::new(),
            value,
        }
    }

    /// A sample with one label.
    pub fn labelled(label: &'static str, value_of_label: impl Into<String>, value: f64) -> Sample {
        Sample {
            suffix: "",
            labels: vec![(label, value_of_label.into())],
            value,
        }
    }
}

/// A metric family: its name (a counter's ends in `_total`), help text, type
/// and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The metric's name; a counter's ends in `_total`.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The `# TYPE`.
    pub kind: Kind,
    /// The family's samples.
    pub samples: Vec<Sample>,
}

/// The families as exposition text: `# HELP` and `# TYPE` lines, then one
/// line per sample.
pub fn encode(families: &[Family]) -> String {
    let mut out = String::with_capacity(families.len() * 160);
    for family in families {
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(family.help));
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
        for sample in &family.samples {
            out.push_str(family.name);
            out.push_str(sample.suffix);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{name}=\"{}\"", escape_label(value));
                }
                out.push('}');
            }
            out.push(' ');
            push_value(&mut out, sample.value);
            out.push('\n');
        }
    }
    out
}

/// A value as the format writes it: `+Inf`, `-Inf`, `NaN` or a decimal.
fn push_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Help text escapes `\` and line feeds.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Label values escape `\`, `"` and line feeds.
fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_and_a_gauge_with_labels() {
        let families = [
            Family {
                name: "x_logins_total",
                help: "Logins, by result.",
                kind: Kind::Counter,
                samples: vec![
                    Sample::labelled("result", "ok", 3.0),
                    Sample::labelled("result", "failed", 0.0),
                ],
            },
            Family {
                name: "x_sockets",
                help: "Sockets now.",
                kind: Kind::Gauge,
                samples: vec![Sample::plain(0.5)],
            },
        ];
        assert_eq!(
            encode(&families),
            "# HELP x_logins_total Logins, by result.\n\
             # TYPE x_logins_total counter\n\
             x_logins_total{result=\"ok\"} 3\n\
             x_logins_total{result=\"failed\"} 0\n\
             # HELP x_sockets Sockets now.\n\
             # TYPE x_sockets gauge\n\
             x_sockets 0.5\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let families = [Family {
            name: "x",
            help: "a \\ and\na line",
            kind: Kind::Gauge,
            samples: vec![Sample::labelled("namespace", "/a\"b\\c\nd", 1.0)],
        }];
        assert_eq!(
            encode(&families),
            "# HELP x a \\\\ and\\na line\n# TYPE x gauge\nx{namespace=\"/a\\\"b\\\\c\\nd\"} 1\n"
        );
    }

    #[test]
    fn special_values_and_several_labels() {
        let sample = |value| Sample {
            suffix: "_bucket",
            labels: vec![("a", "1".into()), ("le", "+Inf".into())],
            value,
        };
        let families = [Family {
            name: "h",
            help: "h",
            kind: Kind::Histogram,
            samples: vec![sample(f64::INFINITY), sample(f64::NAN), sample(1e-3)],
        }];
        let text = encode(&families);
        let lines: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            lines,
            [
                "h_bucket{a=\"1\",le=\"+Inf\"} +Inf",
                "h_bucket{a=\"1\",le=\"+Inf\"} NaN",
                "h_bucket{a=\"1\",le=\"+Inf\"} 0.001",
            ]
        );
    }
}
