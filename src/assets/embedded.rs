//! The files built into the binary by `build.rs`: `www/` and the compact Socket.IO client,
//! each with its gzip variant when that is smaller.

use std::sync::OnceLock;

/// One file as `build.rs` embedded it.
pub(super) struct EmbeddedFile {
    pub name: &'static str,
    pub content_type: &'static str,
    /// Seconds since the Unix epoch.
    pub modified: u64,
    pub body: &'static [u8],
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The embedded table with ETags, each hashed (BLAKE3) when its file is first
/// asked for: a server that serves no page never reads the files, so they
/// (and the hashing code for inputs this long) stay out of its memory.
pub(super) struct Embedded {
    etags: Vec<OnceLock<String>>,
    client_etag: OnceLock<String>,
}

impl Embedded {
    pub fn new() -> Embedded {
        Embedded {
            etags: FILES.iter().map(|_| OnceLock::new()).collect(),
            client_etag: OnceLock::new(),
        }
    }

    /// The file named `name` (relative to `www/`) and its ETag.
    pub fn find(&self, name: &str) -> Option<(&'static EmbeddedFile, &str)> {
        let i = FILES.binary_search_by(|f| f.name.cmp(name)).ok()?;
        let file = &FILES[i];
        Some((file, self.etags[i].get_or_init(|| etag(file.body))))
    }

    /// The compact Socket.IO client and its ETag.
    pub fn client(&self) -> (&'static EmbeddedFile, &str) {
        (&CLIENT, self.client_etag.get_or_init(|| etag(CLIENT.body)))
    }
}

/// The source of the compact Socket.IO client.
pub(super) fn client_source() -> &'static [u8] {
    CLIENT.body
}

/// A strong ETag: the first 80 bits of the BLAKE3 hash of the body, in hex, quoted.
fn etag(body: &[u8]) -> String {
    format!("\"{}\"", &blake3::hash(body).to_hex()[..20])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_has_the_page() {
        assert!(FILES.windows(2).all(|w| w[0].name < w[1].name));
        for name in ["index.html", "app.js", "style.css"] {
            assert!(Embedded::new().find(name).is_some(), "{name} embedded");
        }
        assert!(FILES.iter().all(|f| !f.name.starts_with('.')));
    }

    #[test]
    fn gzip_variants_are_smaller_and_unpack_to_the_body() {
        use std::io::Read;
        for f in FILES.iter().chain([&CLIENT]) {
            if let Some(gz) = f.gzip {
                assert!(gz.len() < f.body.len(), "{}", f.name);
                let mut out = Vec::new();
                gunzip(gz).read_to_end(&mut out).unwrap();
                assert_eq!(out, f.body, "{}", f.name);
            }
        }
        assert!(CLIENT.gzip.is_some(), "the client compresses");
    }

    /// Unpack with the system `gzip`, since flate2 is only a build dependency.
    fn gunzip(gz: &[u8]) -> std::io::Cursor<Vec<u8>> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("gzip")
            .arg("-dc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("gzip on PATH");
        child.stdin.take().unwrap().write_all(gz).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        std::io::Cursor::new(out.stdout)
    }

    #[test]
    fn etags_are_quoted_and_follow_content() {
        let a = etag(b"one");
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 22);
        assert_eq!(a, etag(b"one"));
        assert_ne!(a, etag(b"two"));
    }
}
