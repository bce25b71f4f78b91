//! The certificate files, the server configuration made from them, and a
//! real TLS connection through the relay to the HTTP front.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::TlsConnector;
use http_types::{Request, Response, StatusCode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use super::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sessio-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_self_signed_certificate_is_kept_and_its_key_is_owner_only() {
    let dir = temp_dir("kept");
    let (cert, key, made) = self_signed::load_or_create(&dir).unwrap();
    assert!(made);
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = std::fs::read(&cert).unwrap();
    let (cert2, key2, made) = self_signed::load_or_create(&dir).unwrap();
    assert!(!made, "made again although both files were there");
    assert_eq!((cert2.clone(), key2), (cert, key.clone()));
    assert_eq!(std::fs::read(&cert2).unwrap(), first);
    server_config(&cert2, &key).unwrap();
    // A lost key makes a new pair.
    std::fs::remove_file(&key).unwrap();
    let (cert3, _, made) = self_signed::load_or_create(&dir).unwrap();
    assert!(made);
    assert_ne!(std::fs::read(&cert3).unwrap(), first);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_include_localhost_and_loopback() {
    let names = self_signed::names();
    for name in ["localhost", "127.0.0.1", "::1"] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
}

#[test]
fn bad_files_are_refused_with_a_reason() {
    let dir = temp_dir("bad");
    let (cert_pem, key_pem) = self_signed::generate(&["localhost".into()]).unwrap();
    let (_, other_key) = self_signed::generate(&["localhost".into()]).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write("cert.pem", &cert_pem);
    let key = write("key.pem", &key_pem);
    let other = write("other.pem", &other_key);
    let empty = write("empty.pem", "not pem\n");
    let missing = dir.join("missing.pem");
    assert!(server_config(&cert, &key).is_ok());
    assert!(matches!(
        server_config(&missing, &key),
        Err(TlsError::Pem(..))
    ));
    assert!(matches!(
        server_config(&empty, &key),
        Err(TlsError::NoCertificate(_))
    ));
    assert!(matches!(
        server_config(&cert, &empty),
        Err(TlsError::Pem(..))
    ));
    assert!(matches!(
        server_config(&cert, &other),
        Err(TlsError::Refused(_))
    ));
    // The key in place of the certificate: no certificate in it.
    assert!(matches!(
        server_config(&key, &key),
        Err(TlsError::NoCertificate(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A client that trusts exactly `cert_pem`.
fn connector(cert_pem: &str) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

#[test]
fn requests_over_tls_reach_the_front_with_the_clients_address() {
    let dir = temp_dir("relay");
    let (cert_pem, key_pem) = self_signed::generate(&["localhost".into()]).unwrap();
    std::fs::write(dir.join("c.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("k.pem"), &key_pem).unwrap();
    let config = server_config(&dir.join("c.pem"), &dir.join("k.pem")).unwrap();
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = smol::spawn(crate::http::serve_tls(
            listener,
            crate::http::Limits::default(),
            config,
            |req: Request| async move {
                let mut res = Response::new(StatusCode::Ok);
                res.set_body(format!(
                    "{} from {}",
                    req.url().path(),
                    req.peer_addr().unwrap_or("?")
                ));
                res
            },
        ));
        // A plain-text client gets nothing served.
        let mut plain = TcpStream::connect(addr).await.unwrap();
        plain
            .write_all(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        let _ = plain.read_to_end(&mut reply).await;
        assert!(!String::from_utf8_lossy(&reply).contains("/plain from"));

        let tcp = TcpStream::connect(addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector(&cert_pem).connect(name, tcp).await.unwrap();
        tls.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        tls.read_to_string(&mut reply).await.unwrap();
        assert_eq!(reply.matches("HTTP/1.1 200 ").count(), 2, "{reply}");
        assert!(reply.contains(&format!("/a from {local}")), "{reply}");
        assert!(reply.ends_with(&format!("/b from {local}")), "{reply}");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_client_that_reads_nothing_loses_its_connection() {
    let (cert_pem, key_pem) = self_signed::generate(&["localhost".into()]).unwrap();
    let dir = temp_dir("stall");
    std::fs::write(dir.join("c.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("k.pem"), &key_pem).unwrap();
    let acceptor = futures_rustls::TlsAcceptor::from(
        server_config(&dir.join("c.pem"), &dir.join("k.pem")).unwrap(),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = smol::spawn(async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            // Handshakes, then reads nothing.
            let tls = connector(&cert_pem).connect(name, tcp).await.unwrap();
            smol::Timer::after(Duration::from_secs(30)).await;
            drop(tls);
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let stall = Duration::from_millis(300);
        let mut front = relay(tcp, &acceptor, Duration::from_secs(5), stall)
            .await
            .unwrap();
        // The front writes on (as a WebSocket to a client that went quiet would):
        // once the client has taken nothing for `stall`, the relay gives the
        // connection up and the front's writes fail.
        let chunk = vec![b'x'; 1 << 20];
        let writes = async {
            loop {
                if let Err(err) = front.write_all(&chunk).await {
                    return Ok(err);
                }
            }
        };
        let outcome = writes
            .or(async {
                smol::Timer::after(Duration::from_secs(10)).await;
                Err("the front could still write 10 s after the client stalled")
            })
            .await;
        assert!(outcome.is_ok(), "{outcome:?}");
        drop(client);
    });
}
