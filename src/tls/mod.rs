//! HTTPS without a proxy (the `tls` cargo feature): the server's rustls
//! configuration from PEM files, a self-signed certificate kept in the data
//! directory for a first start on a LAN ([`self_signed`]), and the relay that
//! ends TLS for one connection and hands the plain HTTP front the other end
//! of a socket pair ([`relay()`]), so the front and the WebSocket writer stay
//! as they are on plain TCP.

pub mod relay;
pub mod self_signed;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

pub use relay::relay;

/// Why no TLS configuration could be made; each one line for the operator.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    Pem(PathBuf, pem::Error),
    /// The certificate file holds no certificate.
    NoCertificate(PathBuf),
    /// rustls refused the certificate and key (a key of another certificate, say).
    Refused(rustls::Error),
    /// The self-signed certificate could not be made.
    Generate(rcgen::Error),
    /// The self-signed certificate could not be written or read.
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Pem(path, e) => write!(f, "{}: {e}", path.display()),
            TlsError::NoCertificate(path) => {
                write!(f, "{}: no PEM certificate in it", path.display())
            }
            TlsError::Refused(e) => write!(f, "certificate and key refused: {e}"),
            TlsError::Generate(e) => write!(f, "cannot make a self-signed certificate: {e}"),
            TlsError::Io(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for TlsError {}

/// The server configuration for the certificate chain in `cert` and the
/// private key in `key` (both PEM; the key PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Pem(cert.to_owned(), e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem(key.to_owned(), e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(TlsError::Refused)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests;
