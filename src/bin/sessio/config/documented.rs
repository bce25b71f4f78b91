//! Tests that every option's default, as [`Config::default`] has it, is the one
//! `--help`, the README's configuration table and the package's commented
//! `contrib/sessio.toml` show.

use std::path::Path;

use super::{find, help, Config, OptionSpec, OPTIONS};

const README: &str = include_str!("../../../../README.md");
const CONFFILE: &str = include_str!("../../../../contrib/sessio.toml");

/// TOML keys the conffile leaves out, and why.
const NOT_IN_CONFFILE: &[(&str, &str)] = &[
    ("secret", "the file is world-readable; it names secret_file"),
    ("tls_cert", "the package is built without the tls feature"),
    ("tls_key", "the package is built without the tls feature"),
    (
        "tls_self_signed",
        "the package is built without the tls feature",
    ),
    ("redis", "the package is built without the redis feature"),
    (
        "advertise",
        "the package is built without the redis feature",
    ),
    (
        "redis_channel_prefix",
        "the package is built without the redis feature",
    ),
    (
        "redis_adapter",
        "the package is built without the redis feature",
    ),
    (
        "session_store",
        "the package is built without the redis feature",
    ),
    (
        "account_store",
        "the package is built without the redis feature",
    ),
    (
        "redis_session_prefix",
        "the package is built without the redis feature",
    ),
    (
        "cookie_format",
        "the package is built without the redis feature",
    ),
];

fn toml_key(spec: &OptionSpec) -> String {
    spec.name.replace('-', "_")
}

/// `spec`'s value once `text` is given for it, as `--help` would show it.
fn given(spec: &OptionSpec, text: &str) -> Result<Option<String>, String> {
    let mut config = Config::default();
    config
        .set(spec, spec.name, text)
        .map_err(|e| e.to_string())?;
    Ok((spec.get)(&config))
}

#[test]
fn help_shows_each_default_from_the_configuration() {
    let help = help();
    for spec in OPTIONS {
        let flag = format!("--{} {}", spec.name, spec.value);
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&flag))
            .unwrap_or_else(|| panic!("--help lacks {flag}"));
        if let Some(value) = spec.default_value() {
            assert!(line.ends_with(&format!(" [{value}]")), "{line}");
            assert!(!spec.help.contains('['), "{}: a typed default", spec.name);
            // Given back, the default shown is the default: it is written in the
            // option's own units and form.
            assert_eq!(
                given(spec, &value),
                Ok(Some(value.clone())),
                "{}",
                spec.name
            );
        }
    }
}

/// The README's configuration table: each row's option name, environment
/// variable and default, as written.
fn readme_rows() -> Vec<(String, String, String)> {
    README
        .lines()
        .skip_while(|l| !l.starts_with("| flag | environment | default | meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<String> = line
                .replace("\\|", "\0")
                .split('|')
                .map(|c| c.trim().trim_matches('`').replace('\0', "|"))
                .collect();
            let flag = cells[1].trim_start_matches("--");
            let name = flag.split(' ').next().unwrap_or(flag);
            (name.to_owned(), cells[2].clone(), cells[3].clone())
        })
        .collect()
}

#[test]
fn the_readme_table_lists_each_option_with_its_default() {
    let rows = readme_rows();
    assert!(rows.len() >= OPTIONS.len(), "{} rows", rows.len());
    for (name, env, default) in &rows {
        let spec = find(name).unwrap_or_else(|| panic!("README: no option --{name}"));
        assert_eq!(env, &spec.env_var(), "README: --{name}");
        assert!(!default.is_empty(), "README: --{name} has no default");
        if let Some(value) = spec.default_value() {
            assert_eq!(given(spec, default), Ok(Some(value)), "README: --{name}");
        }
    }
    for spec in OPTIONS {
        let count = rows.iter().filter(|(name, ..)| name == spec.name).count();
        assert_eq!(count, 1, "README: rows for --{}", spec.name);
    }
}

/// The conffile's settings: the key, its value's TOML text, and whether the
/// line is commented out.
fn conffile_lines() -> Vec<(String, String, bool)> {
    CONFFILE
        .lines()
        .filter_map(|line| {
            let (commented, body) = match line.strip_prefix('#') {
                Some(body) => (true, body),
                None => (false, line),
            };
            let (key, value) = body.split_once(" = ")?;
            let is_key = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            is_key.then(|| (key.to_owned(), value.to_owned(), commented))
        })
        .collect()
}

#[test]
fn the_conffile_lists_each_key_with_its_default() {
    let path = Path::new("contrib/sessio.toml");
    let mut as_set = Config::default();
    assert_eq!(as_set.apply_toml(CONFFILE, path), Ok(()));
    let lines = conffile_lines();
    for (key, value, commented) in &lines {
        let spec = find(&key.replace('_', "-"))
            .unwrap_or_else(|| panic!("sessio.toml: unknown key {key}"));
        let mut config = Config::default();
        assert_eq!(config.apply_toml(&format!("{key} = {value}"), path), Ok(()));
        // A commented line shows the default; the package's own settings and
        // the examples of options unset by default need only be good values.
        if let (true, Some(default)) = (commented, spec.default_value()) {
            assert_eq!((spec.get)(&config), Some(default), "sessio.toml: {key}");
        }
    }
    for spec in OPTIONS {
        let key = toml_key(spec);
        let count = lines.iter().filter(|(k, ..)| *k == key).count();
        let left_out = NOT_IN_CONFFILE.iter().any(|(k, _)| *k == key);
        assert_eq!(
            count,
            usize::from(!left_out),
            "sessio.toml: lines for {key}"
        );
    }
}
