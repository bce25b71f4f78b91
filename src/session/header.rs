//! The HTTP side of the cookie: finding it in a `Cookie` request header and writing
//! the `Set-Cookie` response header.

use std::time::Duration;

/// How many cookies of our name one request may make us check.
const MAX_CANDIDATES: usize = 4;

/// The values of the cookies named `name` in a `Cookie` header, first ones first.
///
/// Pairs are split on `;`, surrounding whitespace and one pair of double quotes
/// around a value are removed; pairs without `=` are skipped. At most a few values
/// are returned, so a header stuffed with copies costs nothing.
pub fn cookie_values<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    header
        .split(';')
        .filter_map(move |pair| {
            let (key, value) = pair.split_once('=')?;
            if key.trim() != name {
                return None;
            }
            let value = value.trim();
            Some(
                value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value),
            )
        })
        .take(MAX_CANDIDATES)
}

/// A `Set-Cookie` header value; `max_age` zero clears the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(header: &str) -> Vec<&str> {
        cookie_values(header, "sessio.sid").collect()
    }

    #[test]
    fn finds_the_named_cookie() {
        assert_eq!(values("sessio.sid=abc"), ["abc"]);
        assert_eq!(values("a=1; sessio.sid=abc; b=2"), ["abc"]);
        assert_eq!(values("a=1;sessio.sid=abc;b=2"), ["abc"]);
        assert_eq!(values("  a=1 ;  sessio.sid = abc  ; b=2"), ["abc"]);
        assert_eq!(values("sessio.sid=\"abc\""), ["abc"]);
        assert_eq!(values("sessio.sid=a=b"), ["a=b"]);
    }

    #[test]
    fn duplicates_are_all_offered_up_to_a_limit() {
        assert_eq!(values("sessio.sid=old; sessio.sid=new"), ["old", "new"]);
        let many = vec!["sessio.sid=x"; 1000].join("; ");
        assert_eq!(values(&many).len(), MAX_CANDIDATES);
    }

    #[test]
    fn malformed_pairs_are_ignored() {
        assert!(values("").is_empty());
        assert!(values(";;;").is_empty());
        assert!(values("sessio.sid").is_empty());
        assert!(values("xsessio.sid=1; sessio.sidx=2; Sessio.sid=3").is_empty());
        assert_eq!(values("garbage; =; sessio.sid=ok; ="), ["ok"]);
        assert_eq!(values("sessio.sid=\""), ["\""]);
        assert_eq!(values("sessio.sid="), [""]);
    }

    #[test]
    fn set_cookie_attributes() {
        assert_eq!(
            set_cookie("sessio.sid", "v", Duration::from_secs(86400), false),
            "sessio.sid=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400"
        );
        assert_eq!(
            set_cookie("n", "", Duration::ZERO, true),
            "n=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }
}
