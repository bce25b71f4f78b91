//! A folder on disk served instead of the embedded `www/` (`--www DIR`): files are looked
//! up per request, and must resolve (symlinks included) to a regular file inside the folder.

use std::fmt;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// A folder whose files may be served.
pub(super) struct Folder {
    root: PathBuf,
}

/// Why a folder cannot be served.
#[derive(Debug)]
pub enum FolderError {
    /// The path cannot be resolved or read.
    Io {
        /// The folder as given.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The path exists but is not a folder.
    NotAFolder(PathBuf),
}

impl fmt::Display for FolderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FolderError::Io { path, source } => {
                write!(f, "cannot open {}: {source}", path.display())
            }
            FolderError::NotAFolder(path) => write!(f, "{} is not a folder", path.display()),
        }
    }
}

impl std::error::Error for FolderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FolderError::Io { source, .. } => Some(source),
            FolderError::NotAFolder(_) => None,
        }
    }
}

impl Folder {
    pub fn open(path: &Path) -> Result<Folder, FolderError> {
        let io_err = |source| FolderError::Io {
            path: path.to_owned(),
            source,
        };
        let root = fs::canonicalize(path).map_err(io_err)?;
        if !fs::metadata(&root).map_err(io_err)?.is_dir() {
            return Err(FolderError::NotAFolder(path.to_owned()));
        }
        Ok(Folder { root })
    }

    /// The regular file at `relative` (already checked by `path::relative_file`), resolved
    /// through any symlinks, if it stays inside the folder.
    pub fn find(&self, relative: &str) -> Option<(PathBuf, Metadata)> {
        let real = fs::canonicalize(self.root.join(relative)).ok()?;
        if !real.starts_with(&self.root) {
            return None;
        }
        let meta = fs::metadata(&real).ok()?;
        meta.is_file().then_some((real, meta))
    }
}

/// A weak validator for a file on disk: its size and modification time, quoted.
pub(super) fn etag(meta: &Metadata) -> String {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{:x}\"", meta.len(), nanos)
}
