//! Fuzz target: the static file path resolver.

use std::path::{Component, Path};

use crate::assets::path::relative_file;

/// The input is a request path. Properties: a resolved name is relative, made of
/// plain segments (no empty, `.`-prefixed, backslash or control-character segment),
/// stays inside any folder it is joined to, and resolves to itself once
/// percent-encoded again.
pub fn asset_path(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Some(name) = relative_file(path) else {
        return;
    };
    for segment in name.split('/') {
        assert!(!segment.is_empty(), "{name:?}");
        assert!(!segment.starts_with('.'), "{name:?}");
        assert!(!segment.contains(['\\', '\0']), "{name:?}");
        assert!(!segment.chars().any(char::is_control), "{name:?}");
    }
    let root = Path::new("/srv/www");
    let joined = root.join(&name);
    assert!(joined.starts_with(root));
    assert!(joined
        .strip_prefix(root)
        .is_ok_and(|rest| rest.components().all(|c| matches!(c, Component::Normal(_)))));

    let encoded = format!("/{}", percent_encode(&name));
    if encoded.len() <= 1024 {
        assert_eq!(relative_file(&encoded).as_deref(), Some(name.as_str()));
    }
}

/// Escapes every byte but ASCII letters, digits, `/` and `-_~.`.
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'~' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
