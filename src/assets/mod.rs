//! Static files over HTTP: the page built into the binary (or a folder given with `--www`),
//! and the compact Socket.IO client at `/socket.io/socket.io.js`.
//!
//! Pure request-to-response functions; the HTTP server calls [`Assets::serve`] for requests
//! that no other route took. Answers GET and HEAD with `Content-Type`, `ETag`,
//! `Last-Modified`, `Cache-Control: no-cache` (so browsers revalidate), `304` on a matching
//! `If-None-Match` (or, without it, `If-Modified-Since`), the precompressed gzip variant when
//! the client accepts it, and `404` for missing files and paths that try to leave the folder.
//! HEAD responses carry the body too, so that `Content-Length` is right; async-h1 does not
//! send a body for HEAD.

mod disk;
mod embedded;
mod mime;
pub(crate) mod path;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_types::conditional::{IfModifiedSince, LastModified};
use http_types::headers::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use http_types::{Body, Method, Request, Response, StatusCode};

pub use disk::FolderError;

/// Where the compact Socket.IO client is served (also as `socket.io.min.js` beside it).
pub const CLIENT_PATH: &str = "/socket.io/socket.io.js";
const CLIENT_MIN_PATH: &str = "/socket.io/socket.io.min.js";

/// The static files of the site.
pub struct Assets {
    embedded: embedded::Embedded,
    folder: Option<disk::Folder>,
}

/// One representation of a file: what is needed to answer a conditional request before
/// reading anything.
struct Representation {
    content_type: &'static str,
    etag: String,
    modified: SystemTime,
    gzip: bool,
    has_gzip_variant: bool,
    content: Content,
}

enum Content {
    Static(&'static [u8]),
    File { path: PathBuf, len: u64 },
}

impl Assets {
    /// The `www/` folder as it was when the binary was built.
    pub fn embedded() -> Assets {
        Assets {
            embedded: embedded::Embedded::new(),
            folder: None,
        }
    }

    /// Files from a folder on disk, read at each request (the client stays the embedded one).
    pub fn from_dir(path: impl AsRef<Path>) -> Result<Assets, FolderError> {
        let folder = disk::Folder::open(path.as_ref())?;
        Ok(Assets {
            embedded: embedded::Embedded::new(),
            folder: Some(folder),
        })
    }

    /// The compact Socket.IO client's source.
    pub fn client_js() -> &'static [u8] {
        embedded::client_source()
    }

    /// The response to `req`, or `None` when its method is not GET or HEAD (the caller
    /// decides: 404 or 405). A missing file or a refused path is a `404`.
    pub fn serve(&self, req: &Request) -> Option<Response> {
        if !matches!(req.method(), Method::Get | Method::Head) {
            return None;
        }
        let gzip_ok = req
            .header(ACCEPT_ENCODING)
            .is_some_and(|v| accepts_gzip(v.as_str()));
        Some(match self.find(req.url().path(), gzip_ok) {
            Some(rep) if is_fresh(req, &rep) => not_modified(&rep),
            Some(rep) => ok(rep).unwrap_or_else(not_found),
            None => not_found(),
        })
    }

    fn find(&self, url_path: &str, gzip_ok: bool) -> Option<Representation> {
        if url_path == CLIENT_PATH || url_path == CLIENT_MIN_PATH {
            let (file, etag) = self.embedded.client();
            return Some(embedded_representation(file, etag, gzip_ok));
        }
        let name = path::relative_file(url_path)?;
        let Some(folder) = &self.folder else {
            let (file, etag) = self.embedded.find(&name)?;
            return Some(embedded_representation(file, etag, gzip_ok));
        };
        let (real, meta) = folder.find(&name)?;
        Some(Representation {
            content_type: mime::content_type(&name),
            etag: disk::etag(&meta),
            modified: meta.modified().unwrap_or(UNIX_EPOCH),
            gzip: false,
            has_gzip_variant: false,
            content: Content::File {
                path: real,
                len: meta.len(),
            },
        })
    }
}

fn embedded_representation(
    file: &'static embedded::EmbeddedFile,
    etag: &str,
    gzip_ok: bool,
) -> Representation {
    let gzip = file.gzip.filter(|_| gzip_ok);
    Representation {
        content_type: file.content_type,
        // Each representation needs its own strong validator.
        etag: match gzip {
            Some(_) => format!("{}-gz\"", etag.trim_end_matches('"')),
            None => etag.to_owned(),
        },
        modified: UNIX_EPOCH + Duration::from_secs(file.modified),
        gzip: gzip.is_some(),
        has_gzip_variant: file.gzip.is_some(),
        content: Content::Static(gzip.unwrap_or(file.body)),
    }
}

/// Whether an `Accept-Encoding` value allows gzip (by name or `*`, with a non-zero q).
fn accepts_gzip(accept_encoding: &str) -> bool {
    let mut gzip = None;
    let mut any = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q);
        } else if coding == "*" {
            any = Some(q);
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

/// Whether the client's cached copy is current: `If-None-Match` (weak comparison) when
/// present, otherwise `If-Modified-Since` (to the second).
fn is_fresh(req: &Request, rep: &Representation) -> bool {
    if let Some(values) = req.header(IF_NONE_MATCH) {
        let ours = rep.etag.trim_start_matches("W/");
        return values
            .iter()
            .flat_map(|v| v.as_str().split(','))
            .any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/") == ours
            });
    }
    match IfModifiedSince::from_headers(req) {
        Ok(Some(since)) => seconds(rep.modified) <= seconds(since.modified()),
        _ => false,
    }
}

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Headers shared by `200` and `304`.
fn with_validators(mut res: Response, rep: &Representation) -> Response {
    res.insert_header(ETAG, rep.etag.as_str());
    LastModified::new(rep.modified).apply(&mut res);
    res.insert_header(CACHE_CONTROL, "no-cache");
    if rep.has_gzip_variant {
        res.insert_header(VARY, "Accept-Encoding");
    }
    res
}

fn not_modified(rep: &Representation) -> Response {
    with_validators(Response::new(StatusCode::NotModified), rep)
}

/// The full response, or `None` when the file vanished since it was found.
fn ok(rep: Representation) -> Option<Response> {
    let body = match &rep.content {
        Content::Static(bytes) => {
            Body::from_reader(smol::io::Cursor::new(*bytes), Some(bytes.len()))
        }
        Content::File { path, len } => {
            let file = std::fs::File::open(path).ok()?;
            let reader = smol::io::BufReader::new(smol::Unblock::new(file));
            Body::from_reader(reader, usize::try_from(*len).ok())
        }
    };
    let mut res = Response::new(StatusCode::Ok);
    res.set_body(body);
    res.insert_header(CONTENT_TYPE, rep.content_type);
    res.insert_header("X-Content-Type-Options", "nosniff");
    if rep.gzip {
        res.insert_header(CONTENT_ENCODING, "gzip");
    }
    Some(with_validators(res, &rep))
}

fn not_found() -> Response {
    let mut res = Response::new(StatusCode::NotFound);
    res.set_body("Not Found\n");
    res.insert_header(CONTENT_TYPE, "text/plain; charset=utf-8");
    res
}

#[cfg(test)]
mod tests;
