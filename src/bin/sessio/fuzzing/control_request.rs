//! Fuzz target: the control socket's request and reply parsers.

use crate::control::protocol::{Reply, Request, MAX_REQUEST};

/// The input is a request (and, read again, a reply). Properties: an accepted
/// request is at most the size limit, encodes back to exactly the input (one
/// spelling) and is made again by its words and password; no shorter prefix is
/// accepted (the end is unambiguous); its printed forms never show the
/// password. An accepted reply encodes back to the input.
pub fn control_request(data: &[u8]) {
    if let Ok(request) = Request::parse(data) {
        assert!(data.len() <= MAX_REQUEST);
        assert_eq!(request.encode(), data);
        let words = request.words();
        let password = request.password().map(str::to_owned);
        assert_eq!(Request::from_words(&words, password), Ok(request.clone()));
        for end in 0..data.len() {
            assert!(Request::parse(&data[..end]).is_err(), "prefix {end}");
        }
        assert_eq!(request.to_string(), words.join(" "));
        assert_eq!(
            format!("{request:?}"),
            format!("Request({})", words.join(" "))
        );
    }
    if let Ok(reply) = Reply::parse(data) {
        assert_eq!(reply.encode(), data);
    }
}
