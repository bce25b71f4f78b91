//! `--tls-self-signed`: a certificate for this machine's names and addresses,
//! made on the first start and kept in the data directory (the key
//! owner-only), so browsers that were told to trust it once keep trusting it
//! after a restart. It is made again only when one of its files is gone.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, KeyPair};

use super::TlsError;

/// The certificate's file in the data directory.
pub const CERT_FILE: &str = "tls-cert.pem";
/// The private key's file in the data directory (mode 0600).
pub const KEY_FILE: &str = "tls-key.pem";

/// The paths of the kept certificate and key, made first if either is missing.
/// The second value is true when they were just made.
pub fn load_or_create(data_dir: &Path) -> Result<(PathBuf, PathBuf, bool), TlsError> {
    let cert = data_dir.join(CERT_FILE);
    let key = data_dir.join(KEY_FILE);
    if cert.is_file() && key.is_file() {
        return Ok((cert, key, false));
    }
    let (cert_pem, key_pem) = generate(&names())?;
    write(&key, key_pem.as_bytes(), 0o600)?;
    write(&cert, cert_pem.as_bytes(), 0o644)?;
    Ok((cert, key, true))
}

/// What the certificate names: the host name (and its `.local` mDNS name),
/// `localhost`, and every address of this machine's interfaces.
pub fn names() -> Vec<String> {
    let mut names = Vec::new();
    if let Some(host) = host_name() {
        names.push(format!("{host}.local"));
        names.push(host);
    }
    names.push("localhost".to_owned());
    let mut addresses: Vec<IpAddr> =
        vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    if let Ok(interfaces) = if_addrs::get_if_addrs() {
        addresses.extend(interfaces.iter().map(|i| i.ip()));
    }
    for ip in addresses {
        let ip = ip.to_string();
        if !names.contains(&ip) {
            names.push(ip);
        }
    }
    names
}

/// This machine's host name, when it is one a certificate can carry.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_ascii_lowercase();
    let usable = !name.is_empty()
        && name != "localhost"
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    usable.then_some(name)
}

/// A new certificate and key (PEM) for `names`.
pub fn generate(names: &[String]) -> Result<(String, String), TlsError> {
    let mut params = CertificateParams::new(names.to_vec()).map_err(TlsError::Generate)?;
    let first = names.first().map_or("localhost", String::as_str);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("sessio on {first}"));
    let key = KeyPair::generate().map_err(TlsError::Generate)?;
    let cert = params.self_signed(&key).map_err(TlsError::Generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes a whole file with `mode`, replacing what was there.
fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let fail = |e| TlsError::Io(path.to_owned(), e);
    // A stale file may have a wider mode: remove it so `mode` applies.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}
