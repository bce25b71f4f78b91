//! Fuzz target: what another node answers a forwarded request (its head and
//! the response built from it), and the forwarding header as a client might
//! write it (`src/cluster/`).

use crate::cluster::forward::{response, MAX_HEAD_BYTES};
use crate::cluster::proof::{now_secs, ProofKey};
use crate::cluster::response_head::{parse, Framing};
use crate::session::Secret;

/// Properties: a complete head takes at most the input and the limit, no
/// shorter prefix is complete, a response built from it keeps every header
/// but the connection's and a body framing that fits its status; and the
/// input as a forwarding header is never believed without the cluster's key.
pub fn cluster_answer(data: &[u8]) {
    for max in [MAX_HEAD_BYTES, 64] {
        let Ok(Some((head, used))) = parse(data, max) else {
            continue;
        };
        assert!(used <= data.len() && used <= max);
        assert!(!matches!(parse(&data[..used - 1], max), Ok(Some(_))));
        if matches!(head.status, 100..=199 | 204 | 304) {
            assert_eq!(head.body, Framing::None);
        }
        if let Ok(res) = response(&head) {
            assert_eq!(u16::from(res.status()), head.status);
            for (name, _) in &head.headers {
                let lower = name.to_ascii_lowercase();
                let dropped = [
                    "connection",
                    "upgrade",
                    "keep-alive",
                    "proxy-connection",
                    "te",
                    "trailer",
                    "transfer-encoding",
                    "content-length",
                    "date",
                ];
                if !dropped.contains(&lower.as_str()) {
                    assert!(res.header(name.as_str()).is_some(), "{name} kept");
                }
            }
        }
    }
    if let (Ok(text), Ok(secret)) = (
        std::str::from_utf8(data),
        Secret::from_text("the fuzz target's cluster secret"),
    ) {
        let key = ProofKey::new(&secret);
        assert!(key.verify(text, "GET", "/socket.io/", now_secs()).is_err());
    }
}
