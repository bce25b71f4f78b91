//! Fuzz target: express-session's cookie value (`--cookie-format express`) in a
//! `Cookie` header.

use std::sync::OnceLock;

use crate::session::header::cookie_values;
use crate::session::{ExpressKeys, Secret, SessionId};

/// The secret the seeds in `fuzz/corpus/express_cookie/` were signed with.
pub const SECRET: &str = "sessio fuzzing secret, not for use";
/// The secret it replaced, still accepted.
pub const OLD_SECRET: &str = "an older fuzzing secret";

/// The input is a `Cookie` header. Properties: at most 4 values of `connect.sid`
/// are looked at; a value that verifies, once URL-decoded, is exactly what signing
/// its id with one of the secrets gives, URL-decoded (`s:<id>.<mac>`: no second
/// spelling of a MAC is accepted); signing any id the input holds verifies.
pub fn express_cookie(data: &[u8]) {
    static KEYS: OnceLock<[ExpressKeys; 3]> = OnceLock::new();
    let [keys, current, old] = KEYS.get_or_init(|| {
        let current = Secret::from_text(SECRET).expect("a long enough secret"); // ok: a constant
        let old = Secret::from_text(OLD_SECRET).expect("a long enough secret"); // ok: a constant
        [
            ExpressKeys::new(&current, std::slice::from_ref(&old)),
            ExpressKeys::new(&current, &[]),
            ExpressKeys::new(&old, &[]),
        ]
    });
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let values: Vec<&str> = cookie_values(header, "connect.sid").collect();
    assert!(values.len() <= 4);
    for value in values {
        if let Ok(id) = keys.verify(value) {
            let decoded = crate::session::percent_decode(value).expect("it verified"); // ok: checked
            let signed = |keys: &ExpressKeys| crate::session::percent_decode(&keys.sign(&id));
            assert!(
                signed(current).as_ref() == Ok(&decoded) || signed(old).as_ref() == Ok(&decoded),
                "{value}"
            );
        }
    }
    for piece in header.split(['.', ':', '=', ';']) {
        if let Some(id) = SessionId::parse(piece) {
            assert_eq!(keys.verify(&current.sign(&id)), Ok(id.clone()));
            assert_eq!(keys.verify(&old.sign(&id)), Ok(id));
        }
    }
}
