//! The server secret that cookie keys are derived from: given in configuration, or
//! generated once and kept in the data directory with owner-only permissions.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

const GENERATED_BYTES: usize = 32;
/// Shortest secret accepted from configuration, in characters.
pub const MIN_SECRET_CHARS: usize = 16;

/// Secret key material. Its `Debug` form never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

/// Why a secret could not be had.
#[derive(Debug)]
pub enum SecretError {
    /// A configured secret shorter than [`MIN_SECRET_CHARS`].
    TooShort,
    /// The secret file exists but does not hold 64 hex digits.
    Malformed(PathBuf),
    /// Reading or creating the secret file failed.
    Io(PathBuf, io::Error),
    /// The OS random source failed.
    Random(getrandom::Error),
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::TooShort => write!(
                f,
                "the session secret must be at least {MIN_SECRET_CHARS} characters"
            ),
            SecretError::Malformed(path) => write!(
                f,
                "{} does not hold a secret (64 hex digits expected)",
                path.display()
            ),
            SecretError::Io(path, e) => write!(f, "{}: {e}", path.display()),
            SecretError::Random(e) => write!(f, "OS random source failed: {e}"),
        }
    }
}

impl std::error::Error for SecretError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SecretError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl Secret {
    /// A secret given in configuration or the environment, used as given.
    pub fn from_text(text: &str) -> Result<Secret, SecretError> {
        if text.chars().count() < MIN_SECRET_CHARS {
            return Err(SecretError::TooShort);
        }
        Ok(Secret(text.as_bytes().to_vec()))
    }

    /// Reads `<data_dir>/secret`, or creates it with 32 random bytes (hex, mode 0600).
    ///
    /// The file is written under a temporary name, synced, then hard-linked into place,
    /// so a crash never leaves a half-written secret and two processes starting at once
    /// agree on one secret.
    pub fn load_or_create(data_dir: &Path) -> Result<Secret, SecretError> {
        let path = data_dir.join("secret");
        match fs::read_to_string(&path) {
            Ok(text) => return Secret::from_hex(text.trim()).ok_or(SecretError::Malformed(path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(SecretError::Io(path, e)),
        }
        let mut bytes = [0u8; GENERATED_BYTES];
        getrandom::fill(&mut bytes).map_err(SecretError::Random)?;
        let tmp = data_dir.join(format!("secret.tmp.{}", hex(&bytes[..4])));
        let result = write_new(&tmp, &hex(&bytes)).and_then(|()| fs::hard_link(&tmp, &path));
        let _ = fs::remove_file(&tmp);
        match result {
            Ok(()) => {
                sync_dir(data_dir).map_err(|e| SecretError::Io(data_dir.to_path_buf(), e))?;
                Ok(Secret(bytes.to_vec()))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text =
                    fs::read_to_string(&path).map_err(|e| SecretError::Io(path.clone(), e))?;
                Secret::from_hex(text.trim()).ok_or(SecretError::Malformed(path))
            }
            Err(e) => Err(SecretError::Io(path, e)),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn from_hex(text: &str) -> Option<Secret> {
        if text.len() != GENERATED_BYTES * 2 || !text.is_ascii() {
            return None;
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Secret(bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_new(path: &Path, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_dir;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn created_once_then_reloaded() {
        let dir = test_dir("secret");
        let first = Secret::load_or_create(&dir).unwrap();
        assert_eq!(first.as_bytes().len(), GENERATED_BYTES);
        let mode = fs::metadata(dir.join("secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Secret::load_or_create(&dir).unwrap();
        assert_eq!(first, again);
        let entries: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(entries.len(), 1, "no temporary file left behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn malformed_file_is_an_error() {
        let dir = test_dir("secret-bad");
        fs::write(dir.join("secret"), "not hex at all").unwrap();
        assert!(matches!(
            Secret::load_or_create(&dir),
            Err(SecretError::Malformed(_))
        ));
        fs::write(dir.join("secret"), "é".repeat(32)).unwrap();
        assert!(matches!(
            Secret::load_or_create(&dir),
            Err(SecretError::Malformed(_))
        ));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_dir_is_an_io_error() {
        let dir = test_dir("secret-missing");
        assert!(matches!(
            Secret::load_or_create(&dir.join("nope")),
            Err(SecretError::Io(..))
        ));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn configured_secret_needs_16_chars() {
        assert!(matches!(
            Secret::from_text("short"),
            Err(SecretError::TooShort)
        ));
        assert!(Secret::from_text("0123456789abcdef").is_ok());
        assert!(Secret::from_text(&"é".repeat(16)).is_ok());
        assert_eq!(
            format!("{:?}", Secret::from_text("0123456789abcdef").unwrap()),
            "Secret(..)"
        );
    }
}
