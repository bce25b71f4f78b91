//! Fuzz target: the HTTP request head parser and the request built from it.

use http_types::Request;

use crate::http::head::{parse, HeadLimits};
use crate::http::{request_url, request_url_by_parts};

/// The input is the start of a connection. Properties: a complete head takes
/// at most the input and the limit, no shorter prefix is complete, every value
/// it keeps fits an http-types request (whose own parser aborted on high
/// bytes), the URL made in one parse is the one made in parts, and the same
/// holds under tight limits.
pub fn http_head(data: &[u8]) {
    let tight = HeadLimits {
        max_bytes: 96,
        max_headers: 3,
    };
    for limits in [HeadLimits::default(), tight] {
        let Ok(Some((head, used))) = parse(data, &limits) else {
            continue;
        };
        assert!(used <= data.len() && used <= limits.max_bytes);
        assert!(head.headers.len() <= limits.max_headers);
        assert!(!matches!(parse(&data[..used - 1], &limits), Ok(Some(_))));
        assert_eq!(
            parse(&data[..used], &limits).map(|h| h.map(|(_, n)| n)),
            Ok(Some(used))
        );
        let url = request_url(&head);
        let absolute = head.target.starts_with("http://") || head.target.starts_with("https://");
        if !absolute {
            assert_eq!(url, request_url_by_parts(&head), "target {:?}", head.target);
        }
        if let Some(url) = url {
            let mut req = Request::new(head.method, url);
            for (name, value) in &head.headers {
                req.append_header(name.clone(), value.clone());
            }
            for (name, _) in &head.headers {
                assert!(req.header(name.as_str()).is_some());
            }
        }
    }
}
