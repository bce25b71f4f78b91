//! Request paths to relative file names, refusing anything that could leave the folder.

/// Longest request path looked at; longer ones are simply not found.
const MAX_PATH: usize = 1024;

/// The file a URL path names, relative to the served folder and `/`-separated, or `None`
/// when the path is malformed or could escape the folder: `..`, `.` and hidden (`.name`)
/// segments, empty segments, backslashes, NUL and other control characters, and encoded
/// slashes, all checked after percent-decoding. A path ending in `/` names its `index.html`.
pub fn relative_file(url_path: &str) -> Option<String> {
    if url_path.len() > MAX_PATH {
        return None;
    }
    let rest = url_path.strip_prefix('/')?;
    let mut out = String::with_capacity(rest.len() + 10);
    let (dirs, last) = match rest.rsplit_once('/') {
        Some((dirs, last)) => (Some(dirs), last),
        None => (None, rest),
    };
    for raw in dirs.into_iter().flat_map(|d| d.split('/')) {
        out.push_str(&segment(raw)?);
        out.push('/');
    }
    if last.is_empty() {
        out.push_str("index.html");
    } else {
        out.push_str(&segment(last)?);
    }
    Some(out)
}

/// One decoded path segment, if it is a plain file or folder name.
fn segment(raw: &str) -> Option<String> {
    let name = percent_decode(raw)?;
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    plain.then_some(name)
}

/// `%XX` escapes to bytes; `None` for a broken escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths() {
        assert_eq!(relative_file("/").as_deref(), Some("index.html"));
        assert_eq!(relative_file("/app.js").as_deref(), Some("app.js"));
        assert_eq!(
            relative_file("/img/logo.svg").as_deref(),
            Some("img/logo.svg")
        );
        assert_eq!(relative_file("/docs/").as_deref(), Some("docs/index.html"));
        assert_eq!(
            relative_file("/with%20space.txt").as_deref(),
            Some("with space.txt")
        );
        assert_eq!(relative_file("/caf%C3%A9.txt").as_deref(), Some("café.txt"));
    }

    #[test]
    fn traversal_attempts_are_refused() {
        let table = [
            "",
            "relative.html",
            "/..",
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/etc/passwd",
            "/.%2e/etc/passwd",
            "/a/%2e%2e/%2e%2e/etc/passwd",
            "/..%2fetc%2fpasswd",
            "/%2e%2e%2fetc%2fpasswd",
            "/a%2f..%2f..%2fetc",
            "/..%5cwindows",
            "/a\\..\\..\\etc",
            "/%00index.html",
            "/index.html%00.png",
            "/.",
            "/./index.html",
            "/.git/config",
            "/.env",
            "//etc/passwd",
            "/a//b",
            "/%",
            "/%2",
            "/%zz",
            "/%ff%fe",
            "/line%0abreak",
        ];
        for path in table {
            assert_eq!(relative_file(path), None, "{path:?} must be refused");
        }
        assert_eq!(relative_file(&format!("/{}", "a".repeat(MAX_PATH))), None);
    }

    #[test]
    fn double_encoding_stays_a_literal_name() {
        // `%252e%252e` decodes once to the literal name "%2e%2e", which is not `..`.
        assert_eq!(relative_file("/%252e%252e/x").as_deref(), Some("%2e%2e/x"));
    }
}
