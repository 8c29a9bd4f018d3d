//! TLS in the test SC, and certificates for the tests that use it.
//!
//! The server side is built exactly as the real SC builds it (upstream
//! `crates/fluvio-sc/src/cli.rs` `TlsConfig::try_build_tls_acceptor`): fluvio-future's
//! rustls `AcceptorBuilder` from PEM files, with the client certificate verified against a
//! CA when one is given (`--enable-client-cert --ca-cert`). A connection's principal is the
//! CN of its client certificate, as upstream's `X509Authenticator` reads it.
//!
//! `Pki` makes a fresh CA and certificates with rcgen in a temp dir: no key is checked in.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use fluvio_future::net::{AsConnectionFd, SplitConnection, TcpStream};
use fluvio_future::rust_tls::{AcceptorBuilder, TlsAcceptor};
use fluvio_socket::FluvioSocket;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use super::auth::{Authorization, ConnAuth};

/// The SC's TLS settings: `--tls --server-cert --server-key`, and with `client_ca`
/// `--enable-client-cert --ca-cert` (every client must present a certificate that CA signed).
#[derive(Debug, Clone)]
pub struct ScTls {
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl ScTls {
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor> {
        install_crypto_provider();
        let builder = AcceptorBuilder::with_safe_defaults();
        let acceptor = match &self.client_ca {
            Some(ca) => builder
                .client_authenticate(ca)?
                .load_server_certs(&self.server_cert, &self.server_key)?,
            None => builder
                .no_client_authentication()
                .load_server_certs(&self.server_cert, &self.server_key)?,
        };
        Ok(acceptor.build())
    }
}

/// rustls needs a process-wide crypto provider when more than one is compiled in; the
/// fluvio client installs ring the same way before it builds a connector.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // a concurrent install of the same provider is as good as ours
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Opens one accepted connection: the TLS handshake when the SC serves TLS, then the
/// connection's authorization context (made once per connection, as upstream).
pub(crate) async fn open(
    tls: Option<&TlsAcceptor>,
    authorization: &Arc<Authorization>,
    tcp: TcpStream,
) -> Result<(FluvioSocket, ConnAuth)> {
    let Some(acceptor) = tls else {
        return Ok((FluvioSocket::from(tcp), authorization.for_connection(None)));
    };
    let fd = tcp.as_connection_fd();
    let stream = acceptor.accept(tcp).await.context("TLS handshake")?;
    // only a policy reads the principal (upstream: the x509 authenticator, which runs only
    // with `--authorization-scopes`)
    let principal = match (&**authorization, stream.get_ref().1.peer_certificates()) {
        (Authorization::Policy(_), Some([first, ..])) => Some(common_name(first.as_ref())?),
        _ => None,
    };
    let auth = authorization.for_connection(principal.as_deref());
    let (write, read) = stream.split_connection();
    Ok((FluvioSocket::from_stream(write, read, fd), auth))
}

/// The subject's first common name (upstream: no CN fails the connection).
fn common_name(der: &[u8]) -> Result<String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| anyhow!("client certificate: {e}"))?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .ok_or_else(|| anyhow!("client certificate has no CN"))?;
    Ok(cn
        .as_str()
        .map_err(|e| anyhow!("client certificate CN: {e}"))?
        .to_owned())
}

// ---------------------------------------------------------------- certificates for tests

/// A certificate and its key, as PEM files (and their DER bytes, to look for leaks).
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl CertFiles {
    pub fn cert_pem(&self) -> String {
        std::fs::read_to_string(&self.cert).expect("read cert")
    }

    pub fn key_pem(&self) -> String {
        std::fs::read_to_string(&self.key).expect("read key")
    }
}

/// Whether a certificate is valid now, or expired long ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Current,
    Expired,
}

/// A test CA (ECDSA P-256) and the certificates it signs, all in a temp dir.
pub struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    ca_cert: PathBuf,
    next: AtomicUsize,
}

impl Pki {
    /// A new CA named `name` (its certificate's CN).
    pub fn new(name: &str) -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("test-pki-")
            .tempdir()
            .expect("pki dir");
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let ca_cert = dir.path().join("ca.crt");
        std::fs::write(&ca_cert, ca.pem()).expect("write CA certificate");
        Pki {
            dir,
            ca,
            ca_cert,
            next: AtomicUsize::new(0),
        }
    }

    /// The CA certificate (PEM), what a profile's `ca_cert` and the SC's `--ca-cert` take.
    pub fn ca_cert(&self) -> &Path {
        &self.ca_cert
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A server certificate for these DNS names and IP addresses.
    pub fn server(&self, names: &[&str], validity: Validity) -> CertFiles {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("server names");
        params.distinguished_name = dn(names.first().copied().unwrap_or("server"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue("server", params, validity)
    }

    /// A client certificate whose subject CN is `cn` (the SC's principal).
    pub fn client(&self, cn: &str) -> CertFiles {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue("client", params, Validity::Current)
    }

    /// The SC's TLS settings for a server certificate of `localhost` and 127.0.0.1, with
    /// client certificates required (signed by this CA) or not.
    pub fn sc_tls(&self, require_client_cert: bool) -> ScTls {
        let server = self.server(&["localhost", "127.0.0.1"], Validity::Current);
        self.sc_tls_with(&server, require_client_cert)
    }

    pub fn sc_tls_with(&self, server: &CertFiles, require_client_cert: bool) -> ScTls {
        ScTls {
            server_cert: server.cert.clone(),
            server_key: server.key.clone(),
            client_ca: require_client_cert.then(|| self.ca_cert.clone()),
        }
    }

    fn issue(&self, kind: &str, mut params: CertificateParams, validity: Validity) -> CertFiles {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if validity == Validity::Expired {
            params.not_before = rcgen::date_time_ymd(2001, 1, 1);
            params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &*self.ca).expect("certificate");
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let files = CertFiles {
            cert: self.dir.path().join(format!("{kind}-{n}.crt")),
            key: self.dir.path().join(format!("{kind}-{n}.key")),
            cert_der: cert.der().to_vec(),
            key_der: key.serialized_der().to_vec(),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key");
        files
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}
