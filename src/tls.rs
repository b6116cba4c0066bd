//! TLS for the server (`--tls`) and the client (`eco client --tls`), with
//! rustls on the ring provider: no OpenSSL, no C toolchain beyond what
//! ring builds. Certificates and keys come from PEM files, or, for a
//! server without `--cert`, from a self-signed certificate made at start
//! (rcgen) whose SHA-256 fingerprint is printed, so that a client can pin
//! it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{CommonState, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};

/// The server's side, from `eco server --tls ...`.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Ask every client for a certificate signed by these CAs (mutual TLS).
    pub client_ca: Option<PathBuf>,
    pub alpn: Vec<String>,
}

/// A server's TLS, ready for handshakes.
#[derive(Clone)]
pub struct Server {
    pub config: Arc<rustls::ServerConfig>,
    /// The SHA-256 fingerprint of the certificate made at start, when no
    /// `--cert` was given.
    pub self_signed: Option<String>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("self_signed", &self.self_signed).finish_non_exhaustive()
    }
}

/// The client's side, from `eco client --tls ...`.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Accept any certificate (a self-signed test server).
    pub insecure: bool,
    /// Trust these CAs instead of the system's.
    pub ca: Option<PathBuf>,
    /// Our certificate and key, for a server that asks (mutual TLS).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name sent in the handshake (SNI) and checked in the server's
    /// certificate; the host by default.
    pub sni: Option<String>,
    pub alpn: Vec<String>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad(path: &Path, what: &str, problem: impl fmt::Display) -> Error {
    Error::Tls { problem: format!("{}: {what}: {problem}", path.display()) }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
        .map_err(|e| bad(path, "reading certificates (PEM)", e))?;
    if certs.is_empty() {
        return Err(bad(path, "reading certificates (PEM)", "no CERTIFICATE block in it"));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| bad(path, "reading a private key (PEM)", e))
}

fn roots(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certs(path)? {
        roots.add(cert).map_err(|e| bad(path, "a CA certificate", e))?;
    }
    Ok(roots)
}

fn alpn(protocols: &[String]) -> Vec<Vec<u8>> {
    protocols.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// The SHA-256 of a certificate, as `AB:CD:...` (what `openssl x509
/// -fingerprint -sha256` prints).
pub fn fingerprint(cert: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

impl Server {
    pub fn new(options: &ServerOptions) -> Result<Server> {
        let (chain, key, self_signed) = match (&options.cert, &options.key) {
            (Some(cert), Some(key_path)) => (certs(cert)?, key(key_path)?, None),
            (None, None) => {
                // A certificate for the names a test client uses.
                let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
                let made = rcgen::generate_simple_self_signed(names)
                    .map_err(|e| Error::Tls { problem: format!("making a self-signed certificate: {e}") })?;
                let der = made.cert.der().clone();
                let print = fingerprint(&der);
                let key = PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
                (vec![der], key, Some(print))
            }
            _ => return Err(Error::Tls { problem: "--cert and --key go together".into() }),
        };
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls { problem: e.to_string() })?;
        let builder = match &options.client_ca {
            Some(path) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots(path)?), provider())
                        .build()
                        .map_err(|e| bad(path, "the client CAs", e))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| Error::Tls { problem: format!("--cert and --key cannot be used together: {e}") })?;
        config.alpn_protocols = alpn(&options.alpn);
        Ok(Server { config: Arc::new(config), self_signed })
    }
}

/// The client's rustls config.
pub fn client(options: &ClientOptions) -> Result<Arc<rustls::ClientConfig>> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls { problem: e.to_string() })?;
    let builder = if options.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(
            provider().signature_verification_algorithms,
        )))
    } else {
        let roots = match &options.ca {
            Some(path) => roots(path)?,
            None => {
                // The system's CAs (/etc/ssl/certs on Debian).
                let mut roots = RootCertStore::empty();
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                roots
            }
        };
        builder.with_root_certificates(roots)
    };
    let mut config = match (&options.cert, &options.key) {
        (Some(cert), Some(key_path)) => {
            builder.with_client_auth_cert(certs(cert)?, key(key_path)?).map_err(|e| Error::Tls {
                problem: format!("{} and {}: {e}", cert.display(), key_path.display()),
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::Tls { problem: "--cert and --key go together".into() }),
    };
    config.alpn_protocols = alpn(&options.alpn);
    Ok(Arc::new(config))
}

/// The name to send as SNI and check the certificate against.
pub fn server_name(options: &ClientOptions, host: &str) -> Result<ServerName<'static>> {
    let name = options.sni.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_owned())
        .map_err(|_| Error::Tls { problem: format!("{name:?} is not a host name or IP address for --sni") })
}

/// `--insecure`: every certificate passes; signatures are still checked,
/// so the handshake itself is real.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// What a handshake settled, as the server logs it and the client prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// `TLSv1.3`, `TLSv1.2`.
    pub version: String,
    /// `TLS13_AES_256_GCM_SHA384`, ...
    pub cipher: String,
    pub alpn: Option<String>,
    /// The name the client asked for (server side).
    pub sni: Option<String>,
    /// The peer's certificate subject (`CN=client`), when it sent one.
    pub peer_subject: Option<String>,
}

impl Negotiated {
    pub fn of(state: &CommonState, sni: Option<&str>) -> Negotiated {
        let version = match state.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => "?".to_owned(),
        };
        let cipher = state.negotiated_cipher_suite().map_or("?".to_owned(), |s| format!("{:?}", s.suite()));
        let alpn = state.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
        let peer_subject =
            state.peer_certificates().and_then(|chain| chain.first()).map(|cert| subject(cert));
        Negotiated { version, cipher, alpn, sni: sni.map(str::to_owned), peer_subject }
    }
}

/// A certificate's subject as `CN=..., O=...`, or its fingerprint when it
/// cannot be parsed.
fn subject(cert: &CertificateDer<'_>) -> String {
    match x509_parser::parse_x509_certificate(cert) {
        Ok((_, parsed)) => parsed.subject().to_string(),
        Err(_) => format!("sha256 {}", fingerprint(cert)),
    }
}

impl fmt::Display for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)?;
        if let Some(alpn) = &self.alpn {
            write!(f, ", ALPN {alpn}")?;
        }
        if let Some(sni) = &self.sni {
            write!(f, ", SNI {sni}")?;
        }
        if let Some(subject) = &self.peer_subject {
            write!(f, ", certificate {subject}")?;
        }
        Ok(())
    }
}
