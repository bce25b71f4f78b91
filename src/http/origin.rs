//! Cross-site request checks: a request whose `Origin` names another site
//! may not use the API's state-changing routes or open a socket with the
//! user's cookie. Requests without `Origin` (non-browser clients) pass.
//! The configured origins may also read the answers with credentials (CORS,
//! naming the origin, never `*`).

use std::fmt;

use http_types::{headers, Request, Response, StatusCode};

/// The origins a request may come from: the server's own (as the request's
/// `Host` names it) and those configured.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
    trust_proxy: bool,
}

/// A request from a foreign site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignOrigin(pub String);

impl fmt::Display for ForeignOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "origin {:?} is not allowed", self.0)
    }
}

impl std::error::Error for ForeignOrigin {}

impl OriginPolicy {
    /// `allowed` are full origins (`https://example.org`); with
    /// `trust_proxy`, `X-Forwarded-Host` and `-Proto` name the server.
    pub fn new(allowed: &[String], trust_proxy: bool) -> OriginPolicy {
        OriginPolicy {
            allowed: allowed
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            trust_proxy,
        }
    }

    /// The request's origin when it is one of the configured ones: a page
    /// there may read the answer with credentials.
    pub fn cors_origin(&self, req: &Request) -> Option<String> {
        let origin = req.header(headers::ORIGIN)?.as_str();
        let lower = origin.to_ascii_lowercase();
        self.allowed.contains(&lower).then(|| origin.to_owned())
    }

    /// Whether a request may come from its `Origin`: none sent, one of the allowed
    /// ones, or the server's own host (its `Host`, or with `trust_proxy` its
    /// `X-Forwarded-Host`; the scheme is not compared).
    ///
    /// Errors: [`ForeignOrigin`] for any other origin.
    pub fn check(&self, req: &Request) -> Result<(), ForeignOrigin> {
        let Some(origin) = req.header(headers::ORIGIN).map(|v| v.as_str()) else {
            return Ok(());
        };
        let origin_lower = origin.to_ascii_lowercase();
        if self.allowed.contains(&origin_lower) {
            return Ok(());
        }
        let header = |name: &str| req.header(name).map(|v| v.as_str().to_owned());
        let host = self
            .trust_proxy
            .then(|| header("x-forwarded-host"))
            .flatten()
            .or_else(|| header("host"));
        // The scheme is not compared: behind a TLS proxy the server sees
        // plain HTTP while the page's origin says https.
        let origin_host = origin_lower
            .strip_prefix("http://")
            .or_else(|| origin_lower.strip_prefix("https://"));
        match (origin_host, host) {
            (Some(o), Some(h)) if o == h.trim().to_ascii_lowercase() => Ok(()),
            _ => Err(ForeignOrigin(origin.to_owned())),
        }
    }
}

/// Lets a page at `origin` read `res` with credentials.
pub fn allow_credentials(res: &mut Response, origin: &str) {
    res.insert_header(headers::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    res.insert_header(headers::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    res.append_header(headers::VARY, "Origin");
}

/// The answer to a CORS preflight from `origin`: GET and POST, with the
/// headers it asked for.
pub fn preflight(req: &Request, origin: &str) -> Response {
    let mut res = Response::new(StatusCode::NoContent);
    allow_credentials(&mut res, origin);
    res.insert_header(headers::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST");
    if let Some(headers) = req.header("access-control-request-headers") {
        res.insert_header(headers::ACCESS_CONTROL_ALLOW_HEADERS, headers.as_str());
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_types::{Method, Url};

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut req = Request::new(Method::Post, Url::parse("http://x/api/logout").unwrap());
        for (name, value) in headers {
            req.insert_header(*name, *value);
        }
        req
    }

    #[test]
    fn same_site_and_originless_requests_pass() {
        let policy = OriginPolicy::new(&[], false);
        assert!(policy.check(&request(&[("host", "pi.local:3000")])).is_ok());
        let same = request(&[
            ("host", "pi.local:3000"),
            ("origin", "http://pi.local:3000"),
        ]);
        assert!(policy.check(&same).is_ok());
    }

    #[test]
    fn foreign_origins_are_refused() {
        let policy = OriginPolicy::new(&["https://app.example".into()], false);
        let evil = request(&[("host", "pi.local:3000"), ("origin", "http://evil.example")]);
        assert_eq!(
            policy.check(&evil),
            Err(ForeignOrigin("http://evil.example".into()))
        );
        let port = request(&[
            ("host", "pi.local:3000"),
            ("origin", "http://pi.local:4000"),
        ]);
        assert!(policy.check(&port).is_err());
        let null = request(&[("host", "pi.local:3000"), ("origin", "null")]);
        assert!(policy.check(&null).is_err());
        let listed = request(&[("host", "pi.local:3000"), ("origin", "https://app.example")]);
        assert!(policy.check(&listed).is_ok());
    }

    #[test]
    fn only_configured_origins_get_cors() {
        let policy = OriginPolicy::new(&["http://127.0.0.1:4000".into()], false);
        let listed = request(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:4000"),
        ]);
        assert_eq!(
            policy.cors_origin(&listed).as_deref(),
            Some("http://127.0.0.1:4000")
        );
        let own = request(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert_eq!(policy.cors_origin(&own), None);
        let evil = request(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(policy.cors_origin(&evil), None);
        assert_eq!(policy.cors_origin(&request(&[])), None);
        let res = preflight(&listed, "http://127.0.0.1:4000");
        assert_eq!(res["access-control-allow-origin"], "http://127.0.0.1:4000");
        assert_eq!(res["access-control-allow-credentials"], "true");
    }

    #[test]
    fn forwarded_host_counts_only_behind_a_trusted_proxy() {
        let req = request(&[
            ("host", "127.0.0.1:3000"),
            ("x-forwarded-host", "chat.example"),
            ("origin", "https://chat.example"),
        ]);
        assert!(OriginPolicy::new(&[], false).check(&req).is_err());
        assert!(OriginPolicy::new(&[], true).check(&req).is_ok());
    }
}
