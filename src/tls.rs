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
    /// Accept exactly the certificate of this SHA-256 fingerprint (the one
    /// a self-signed `eco server --tls` prints).
    pub pin: Option<String>,
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

/// `--alpn`: each protocol name 1 to 255 bytes (the handshake's limits).
fn alpn(protocols: &[String]) -> Result<Vec<Vec<u8>>> {
    protocols
        .iter()
        .map(|p| match p.len() {
            1..=255 => Ok(p.as_bytes().to_vec()),
            _ => Err(Error::Tls { problem: format!("--alpn {p:?}: a protocol name is 1 to 255 bytes") }),
        })
        .collect()
}

/// `--pin`: the fingerprint as `AB:CD:..`, `abcd..`: 64 hex digits.
fn pin_digits(pin: &str) -> Result<String> {
    let digits: String = pin.chars().filter(|c| *c != ':').collect::<String>().to_ascii_uppercase();
    if digits.len() == 64 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(digits)
    } else {
        Err(Error::Tls {
            problem: format!("--pin {pin:?}: a SHA-256 fingerprint is 64 hex digits (AB:CD:...)"),
        })
    }
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
                let failed = |e: rcgen::Error| Error::Tls {
                    problem: format!("making a self-signed certificate: {e}"),
                };
                let mut params = rcgen::CertificateParams::new(names).map_err(failed)?;
                params.distinguished_name = rcgen::DistinguishedName::new();
                params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
                params.distinguished_name.push(rcgen::DnType::OrganizationName, "eco (self-signed)");
                let signing_key = rcgen::KeyPair::generate().map_err(failed)?;
                let cert = params.self_signed(&signing_key).map_err(failed)?;
                let der = cert.der().clone();
                let print = fingerprint(&der);
                let key = PrivateKeyDer::Pkcs8(signing_key.serialize_der().into());
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
        let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                Error::Tls { problem: "the key in --key is not the one of the certificate in --cert".into() }
            }
            e => Error::Tls { problem: format!("--cert and --key cannot be used together: {e}") },
        })?;
        config.alpn_protocols = alpn(&options.alpn)?;
        Ok(Server { config: Arc::new(config), self_signed })
    }
}

/// The client's rustls config.
pub fn client(options: &ClientOptions) -> Result<Arc<rustls::ClientConfig>> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls { problem: e.to_string() })?;
    let builder = if options.insecure || options.pin.is_some() {
        let pin = options.pin.as_deref().map(pin_digits).transpose()?;
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(
            provider().signature_verification_algorithms,
            pin,
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
    config.alpn_protocols = alpn(&options.alpn)?;
    Ok(Arc::new(config))
}

/// What a client needs for its handshakes.
#[derive(Clone)]
pub struct Client {
    pub config: Arc<rustls::ClientConfig>,
    /// The name sent (SNI) and checked in the certificate.
    pub name: ServerName<'static>,
    /// `--insecure` or `--pin`: certificates are not checked against CAs.
    pub unchecked: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Client {
    /// The client of `options`, for a server at `host`.
    pub fn new(options: &ClientOptions, host: &str) -> Result<Client> {
        Ok(Client {
            config: client(options)?,
            name: server_name(options, host)?,
            unchecked: options.insecure || options.pin.is_some(),
        })
    }
}

/// The name to send as SNI and check the certificate against.
pub fn server_name(options: &ClientOptions, host: &str) -> Result<ServerName<'static>> {
    let name = options.sni.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_owned())
        .map_err(|_| Error::Tls { problem: format!("{name:?} is not a host name or IP address for --sni") })
}

/// `--insecure`: every certificate passes; `--pin`: the one certificate
/// of that fingerprint. Signatures are still checked, so the handshake
/// itself is real.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms, Option<String>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match &self.1 {
            Some(pin) if fingerprint(end_entity).replace(':', "") != *pin => Err(
                rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure),
            ),
            _ => Ok(ServerCertVerified::assertion()),
        }
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

impl crate::i18n::Sentences for Negotiated {
    fn en(&self) -> String {
        self.words("certificate")
    }

    fn pt(&self) -> String {
        self.words("certificado")
    }
}

impl Negotiated {
    /// `TLSv1.3 TLS13_AES_256_GCM_SHA384, ALPN echo, SNI localhost,
    /// certificate CN=client`: the protocol's own names, and one word.
    fn words(&self, certificate: &str) -> String {
        let mut text = format!("{} {}", self.version, self.cipher);
        if let Some(alpn) = &self.alpn {
            text.push_str(&format!(", ALPN {alpn}"));
        }
        if let Some(sni) = &self.sni {
            text.push_str(&format!(", SNI {sni}"));
        }
        if let Some(subject) = &self.peer_subject {
            text.push_str(&format!(", {certificate} {subject}"));
        }
        text
    }
}

/// Why a handshake failed, in words people act on (rustls's own error
/// text stays in the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// The peer does not speak TLS (plain bytes where a hello should be).
    NotTls,
    /// The server asked for a client certificate and got none.
    NoCertificate,
    /// The peer's certificate is not trusted (rustls's reason).
    Untrusted(String),
    /// `--pin`: the server's certificate has another fingerprint.
    PinMismatch,
    /// The peer refused ours, or the handshake, with this alert.
    Refused(String),
    /// No ALPN protocol in common.
    NoCommonProtocol,
    /// Nothing within this long.
    Timeout(std::time::Duration),
    /// The peer closed the connection in the middle of it.
    Closed,
    Other(String),
}

impl TlsProblem {
    /// Sorts a failed handshake's error.
    pub fn of(error: &std::io::Error) -> TlsProblem {
        if error.kind() == std::io::ErrorKind::UnexpectedEof {
            return TlsProblem::Closed;
        }
        match error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(error) => TlsProblem::of_rustls(error),
            None => TlsProblem::Other(error.to_string()),
        }
    }

    pub fn of_rustls(error: &rustls::Error) -> TlsProblem {
        use rustls::Error as E;
        match error {
            E::InvalidMessage(_)
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. } => TlsProblem::NotTls,
            E::NoCertificatesPresented => TlsProblem::NoCertificate,
            E::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure) => {
                TlsProblem::PinMismatch
            }
            E::InvalidCertificate(why) => TlsProblem::Untrusted(format!("{why:?}")),
            E::AlertReceived(alert) => TlsProblem::Refused(format!("{alert:?}")),
            E::NoApplicationProtocol => TlsProblem::NoCommonProtocol,
            other => TlsProblem::Other(other.to_string()),
        }
    }
}

impl crate::i18n::Sentences for TlsProblem {
    fn en(&self) -> String {
        match self {
            TlsProblem::NotTls => "the other side does not speak TLS".into(),
            TlsProblem::NoCertificate => "no client certificate (--client-ca asks for one)".into(),
            TlsProblem::Untrusted(why) => format!("the certificate is not trusted ({why})"),
            TlsProblem::PinMismatch => "the certificate's SHA-256 fingerprint is not --pin's".into(),
            TlsProblem::Refused(alert) => format!("the other side refused the handshake (alert {alert})"),
            TlsProblem::NoCommonProtocol => "no ALPN protocol in common".into(),
            TlsProblem::Timeout(wait) => format!("no handshake within {} s", wait.as_secs()),
            TlsProblem::Closed => "the connection closed during the handshake".into(),
            TlsProblem::Other(text) => text.clone(),
        }
    }

    fn pt(&self) -> String {
        match self {
            TlsProblem::NotTls => "o outro lado não fala TLS".into(),
            TlsProblem::NoCertificate => "sem certificado do cliente (--client-ca pede um)".into(),
            TlsProblem::Untrusted(why) => format!("o certificado não é confiável ({why})"),
            TlsProblem::PinMismatch => "a impressão digital SHA-256 do certificado não é a de --pin".into(),
            TlsProblem::Refused(alert) => format!("o outro lado recusou o handshake (alerta {alert})"),
            TlsProblem::NoCommonProtocol => "nenhum protocolo ALPN em comum".into(),
            TlsProblem::Timeout(wait) => format!("nenhum handshake em {} s", wait.as_secs()),
            TlsProblem::Closed => "a conexão fechou durante o handshake".into(),
            TlsProblem::Other(text) => text.clone(),
        }
    }
}
