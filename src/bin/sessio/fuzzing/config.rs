//! Fuzz target: the configuration's flags, environment variables and TOML file.

use std::collections::HashMap;
use std::path::Path;

use crate::config::{parse_flags, Config};

/// The input is command-line flags separated by NUL bytes. Properties: what the flags
/// set, the same names and values set through `SESSIO_*` variables and through a TOML
/// file set alike (or are refused alike); the whole input read as a TOML file never
/// panics; counts are within their bounds whenever a configuration loads.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut from_file = Config::default();
    if from_file.apply_toml(text, Path::new("fuzz.toml")).is_ok() {
        check_bounds(&from_file);
    }

    let args: Vec<String> = text.split('\0').map(str::to_owned).collect();
    let Ok(pairs) = parse_flags(&args) else {
        return;
    };
    // `--config` reads a file; one option given twice cannot be an environment variable.
    let mut names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if names.contains(&"config") || names.len() != pairs.len() {
        return;
    }
    let from_flags = Config::load(&args, |_| None);
    let specs = |name: &str| crate::config::OPTIONS.iter().find(|o| o.name == name);
    let env: HashMap<String, String> = pairs
        .iter()
        .filter_map(|(n, v)| Some((specs(n)?.env_var(), v.clone())))
        .collect();
    let from_env = Config::load(&[], |var| env.get(var).cloned());
    let mut table = toml::Table::new();
    for (name, value) in &pairs {
        table.insert(name.replace('-', "_"), toml::Value::String(value.clone()));
    }
    // As `--config` reads it: the file applied, then the checks across options.
    let mut from_toml = Config::default();
    let toml_result = from_toml
        .apply_toml(&table.to_string(), Path::new("fuzz.toml"))
        .and_then(|()| from_toml.check());

    match from_flags {
        Ok(config) => {
            check_bounds(&config);
            let shown = format!("{config:?}");
            assert_eq!(from_env.map(|c| format!("{c:?}")).as_ref(), Ok(&shown));
            assert!(toml_result.is_ok(), "{toml_result:?}");
            assert_eq!(format!("{from_toml:?}"), shown);
        }
        Err(_) => {
            // An unknown flag is not a variable anyone reads; a bad value is bad anywhere.
            if names.iter().all(|n| specs(n).is_some()) {
                assert!(from_env.is_err());
                assert!(toml_result.is_err());
            }
        }
    }
}

fn check_bounds(config: &Config) {
    assert!((1..=64).contains(&config.threads));
    assert!(config.max_payload > 0 && config.max_connections > 0 && config.cache_mb > 0);
    assert!(!config.ping_interval.is_zero() && !config.ping_timeout.is_zero());
    assert!(!config.session_max_age.is_zero() && !config.session_check_interval.is_zero());
}
