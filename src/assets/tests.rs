//! Requests through `Assets::serve`, on the embedded files and on a folder on disk.

use super::*;
use http_types::Url;
use std::fs;
use std::path::PathBuf;

fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
    let url = Url::parse(&format!("http://localhost{path}")).unwrap();
    let mut req = Request::new(method, url);
    for (name, value) in headers {
        req.append_header(*name, *value);
    }
    req
}

fn get(assets: &Assets, path: &str, headers: &[(&str, &str)]) -> Response {
    assets
        .serve(&request(Method::Get, path, headers))
        .expect("GET is served")
}

fn header(res: &Response, name: &str) -> Option<String> {
    res.header(name).map(|v| v.as_str().to_owned())
}

fn body(res: &mut Response) -> Vec<u8> {
    smol::block_on(res.body_bytes()).unwrap()
}

fn www(name: &str) -> Vec<u8> {
    fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("www")
            .join(name),
    )
    .unwrap()
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(gz).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn root_is_index_html_with_validators() {
    let assets = Assets::embedded();
    let mut res = get(&assets, "/", &[]);
    assert_eq!(res.status(), StatusCode::Ok);
    assert_eq!(
        header(&res, "content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&res, "cache-control").unwrap(), "no-cache");
    assert!(header(&res, "etag").unwrap().starts_with('"'));
    assert!(header(&res, "last-modified").unwrap().ends_with(" GMT"));
    assert_eq!(header(&res, "content-encoding"), None);
    assert_eq!(header(&res, "vary").unwrap(), "Accept-Encoding");
    assert_eq!(body(&mut res), www("index.html"));
    let mut again = get(&assets, "/index.html", &[]);
    assert_eq!(header(&again, "etag"), header(&res, "etag"));
    assert_eq!(body(&mut again), www("index.html"));
}

#[test]
fn content_types() {
    let assets = Assets::embedded();
    for (path, want) in [
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
        (CLIENT_PATH, "text/javascript; charset=utf-8"),
    ] {
        let res = get(&assets, path, &[]);
        assert_eq!(res.status(), StatusCode::Ok, "{path}");
        assert_eq!(header(&res, "content-type").unwrap(), want, "{path}");
        assert_eq!(header(&res, "x-content-type-options").unwrap(), "nosniff");
    }
}

#[test]
fn if_none_match_gives_304() {
    let assets = Assets::embedded();
    let etag = header(&get(&assets, "/app.js", &[]), "etag").unwrap();
    for value in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let mut res = get(&assets, "/app.js", &[("If-None-Match", &value)]);
        assert_eq!(res.status(), StatusCode::NotModified, "{value}");
        assert_eq!(header(&res, "etag").unwrap(), etag);
        assert_eq!(header(&res, "cache-control").unwrap(), "no-cache");
        assert!(body(&mut res).is_empty());
    }
    let res = get(&assets, "/app.js", &[("If-None-Match", "\"stale\"")]);
    assert_eq!(res.status(), StatusCode::Ok);
    // the etag of another file does not match
    let other = header(&get(&assets, "/style.css", &[]), "etag").unwrap();
    assert_eq!(
        get(&assets, "/app.js", &[("If-None-Match", &other)]).status(),
        StatusCode::Ok
    );
}

#[test]
fn if_modified_since_gives_304_unless_if_none_match_disagrees() {
    let assets = Assets::embedded();
    let last = header(&get(&assets, "/style.css", &[]), "last-modified").unwrap();
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    let past = "Thu, 01 Jan 1970 00:00:01 GMT";
    assert_eq!(
        get(&assets, "/style.css", &[("If-Modified-Since", &last)]).status(),
        StatusCode::NotModified
    );
    assert_eq!(
        get(&assets, "/style.css", &[("If-Modified-Since", future)]).status(),
        StatusCode::NotModified
    );
    assert_eq!(
        get(&assets, "/style.css", &[("If-Modified-Since", past)]).status(),
        StatusCode::Ok
    );
    assert_eq!(
        get(&assets, "/style.css", &[("If-Modified-Since", "garbage")]).status(),
        StatusCode::Ok
    );
    let both = [
        ("If-None-Match", "\"stale\""),
        ("If-Modified-Since", future),
    ];
    assert_eq!(get(&assets, "/style.css", &both).status(), StatusCode::Ok);
}

#[test]
fn gzip_negotiation() {
    let assets = Assets::embedded();
    let plain = get(&assets, "/app.js", &[]);
    let plain_etag = header(&plain, "etag").unwrap();
    for accept in [
        "gzip",
        "gzip, deflate, br",
        "br;q=1.0, gzip;q=0.5",
        "*",
        "x-gzip",
        "GZIP",
    ] {
        let mut res = get(&assets, "/app.js", &[("Accept-Encoding", accept)]);
        assert_eq!(
            header(&res, "content-encoding").as_deref(),
            Some("gzip"),
            "{accept}"
        );
        assert_eq!(header(&res, "vary").unwrap(), "Accept-Encoding");
        let etag = header(&res, "etag").unwrap();
        assert_ne!(etag, plain_etag, "each representation has its own etag");
        assert_eq!(gunzip(&body(&mut res)), www("app.js"));
        let again = [
            ("Accept-Encoding", accept),
            ("If-None-Match", etag.as_str()),
        ];
        assert_eq!(
            get(&assets, "/app.js", &again).status(),
            StatusCode::NotModified
        );
    }
    for accept in ["identity", "br", "gzip;q=0", "gzip;q=0, *;q=1", "*;q=0", ""] {
        let mut res = get(&assets, "/app.js", &[("Accept-Encoding", accept)]);
        assert_eq!(header(&res, "content-encoding"), None, "{accept:?}");
        assert_eq!(body(&mut res), www("app.js"));
    }
    let mut client = get(&assets, CLIENT_PATH, &[("Accept-Encoding", "gzip")]);
    assert_eq!(header(&client, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(gunzip(&body(&mut client)), Assets::client_js());
}

#[test]
fn head_has_the_headers_and_other_methods_are_not_ours() {
    let assets = Assets::embedded();
    let res = assets.serve(&request(Method::Head, "/", &[])).unwrap();
    assert_eq!(res.status(), StatusCode::Ok);
    assert_eq!(res.len(), Some(www("index.html").len()));
    assert_eq!(
        header(&res, "content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    for method in [Method::Post, Method::Put, Method::Delete, Method::Options] {
        assert!(assets.serve(&request(method, "/", &[])).is_none());
    }
}

#[test]
fn missing_files_and_traversal_are_404() {
    let assets = Assets::embedded();
    for path in [
        "/missing.html",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e%2fCargo.toml",
        "/..%2fCargo.toml",
        "/..%5cCargo.toml",
        "/%00",
        "/.hidden",
        "/socket.io/",
        "/socket.io/other.js",
    ] {
        let mut res = get(&assets, path, &[]);
        assert_eq!(res.status(), StatusCode::NotFound, "{path}");
        assert_eq!(body(&mut res), b"Not Found\n");
    }
}

#[test]
fn the_client_is_compact_and_served_twice() {
    let assets = Assets::embedded();
    // unminified, under 14 KiB: about 27% of the official socket.io.min.js 4.8 (49 KiB)
    let len = Assets::client_js().len();
    assert!(len < 14 * 1024, "{len} bytes");
    let mut a = get(&assets, CLIENT_PATH, &[]);
    let mut b = get(&assets, "/socket.io/socket.io.min.js", &[]);
    assert_eq!(body(&mut a), Assets::client_js());
    assert_eq!(body(&mut b), Assets::client_js());
}

/// A scratch tree: `<tmp>/root/{index.html, sub/page.txt, .secret, inside -> index.html,
/// escape -> ../outside.txt}` and `<tmp>/outside.txt`.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sessio-assets-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("root/sub")).unwrap();
        fs::write(dir.join("root/index.html"), "<p>disk</p>").unwrap();
        fs::write(dir.join("root/sub/page.txt"), "page").unwrap();
        fs::write(dir.join("root/sub/index.html"), "sub index").unwrap();
        fs::write(dir.join("root/.secret"), "hidden").unwrap();
        fs::write(dir.join("outside.txt"), "SECRET OUTSIDE").unwrap();
        std::os::unix::fs::symlink("index.html", dir.join("root/inside")).unwrap();
        std::os::unix::fs::symlink("../outside.txt", dir.join("root/escape")).unwrap();
        std::os::unix::fs::symlink("..", dir.join("root/up")).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn folder_on_disk() {
    let scratch = Scratch::new("serve");
    let assets = Assets::from_dir(scratch.0.join("root")).unwrap();
    let mut res = get(&assets, "/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(res.status(), StatusCode::Ok);
    assert_eq!(header(&res, "content-encoding"), None);
    assert_eq!(
        header(&res, "content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(body(&mut res), b"<p>disk</p>");
    let etag = header(&res, "etag").unwrap();
    assert_eq!(
        get(&assets, "/", &[("If-None-Match", &etag)]).status(),
        StatusCode::NotModified
    );

    let mut page = get(&assets, "/sub/page.txt", &[]);
    assert_eq!(
        header(&page, "content-type").unwrap(),
        "text/plain; charset=utf-8"
    );
    assert_eq!(body(&mut page), b"page");
    assert_eq!(body(&mut get(&assets, "/sub/", &[])), b"sub index");
    assert_eq!(body(&mut get(&assets, "/inside", &[])), b"<p>disk</p>");

    // a changed file gets a new validator
    fs::write(scratch.0.join("root/index.html"), "<p>changed, longer</p>").unwrap();
    let res = get(&assets, "/", &[("If-None-Match", &etag)]);
    assert_eq!(res.status(), StatusCode::Ok);

    // the embedded client is still there
    let mut client = get(&assets, CLIENT_PATH, &[]);
    assert_eq!(body(&mut client), Assets::client_js());
}

#[test]
fn folder_on_disk_refuses_escapes() {
    let scratch = Scratch::new("escape");
    let assets = Assets::from_dir(scratch.0.join("root")).unwrap();
    for path in [
        "/escape",
        "/up/outside.txt",
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/%2e%2e%2foutside.txt",
        "/..%2foutside.txt",
        "/..%5coutside.txt",
        "/sub/..%2f..%2foutside.txt",
        "/.secret",
        "/%2esecret",
        "/sub",
        "/nothing",
        "/index.html%00",
    ] {
        let mut res = get(&assets, path, &[]);
        assert_eq!(res.status(), StatusCode::NotFound, "{path}");
        assert_eq!(body(&mut res), b"Not Found\n", "{path}");
    }
}

#[test]
fn from_dir_errors() {
    let scratch = Scratch::new("errors");
    let missing = Assets::from_dir(scratch.0.join("nope"));
    assert!(matches!(missing, Err(FolderError::Io { .. })));
    let file = Assets::from_dir(scratch.0.join("outside.txt"));
    assert!(matches!(file, Err(FolderError::NotAFolder(_))));
    assert!(file.err().unwrap().to_string().contains("not a folder"));
}

#[test]
fn accept_encoding_parsing() {
    assert!(accepts_gzip("gzip"));
    assert!(accepts_gzip("deflate, gzip;q=0.1"));
    assert!(accepts_gzip(" * "));
    assert!(!accepts_gzip("gzip;q=0"));
    assert!(!accepts_gzip("gzip;q=0.0, br"));
    assert!(!accepts_gzip("identity"));
    assert!(!accepts_gzip("gzipx"));
}
