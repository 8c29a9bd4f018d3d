//! One address, one attempt: TCP connect, then Fluvio's first exchange with an SPU
//! (`ApiVersions`, as the client sends it before any other request), over the published
//! `fluvio-socket` framing and `fluvio-spu-schema` request types.
//!
//! The peer is untrusted: a reply frame is checked before the framing code sees it (a
//! length that is negative or larger than any `ApiVersions` reply means the peer speaks
//! something else, e.g. HTTP or TLS), and every step runs under the caller's deadline.

use std::net::SocketAddr;
use std::time::Instant;

use super::frame_guard::FrameGuard;
use fluvio_future::net::{AsConnectionFd, TcpStream};
use fluvio_protocol::api::RequestMessage;
use fluvio_socket::{FluvioSocket, SocketError};
use fluvio_spu_schema::server::SpuServerApiKey;
use fluvio_spu_schema::{ApiVersionsRequest, ApiVersionsResponse};

/// The largest reply frame taken for an `ApiVersions` answer (a real one is ~100 bytes).
const MAX_REPLY: usize = 64 * 1024;

/// Admin API key `Create`: present in an SC's version list, never in an SPU's.
const SC_CREATE_KEY: i16 = 1001;

/// Who answered the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A Fluvio SPU: its version list has the SPU's produce API.
    Spu { platform_version: Option<String> },
    /// A Fluvio SC: it answers `ApiVersions` with the admin API.
    Sc { platform_version: Option<String> },
    /// A Fluvio peer whose version list is neither an SPU's nor an SC's.
    OtherFluvio { api_keys: Vec<i16> },
}

/// Where one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// TCP connect failed (refused, unreachable, ...), with the OS's reason.
    Connect(String),
    /// Connected, but the first exchange failed: why, and whether the peer may want TLS
    /// (it answered with a TLS record, or closed without a word, as a TLS server does to
    /// a plaintext client).
    Handshake { reason: String, tls: bool },
}

/// The outcome of connecting and shaking hands with one address.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub connect_ms: Option<f64>,
    pub handshake_ms: Option<f64>,
    pub result: Result<Peer, Failure>,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// Connects to `addr` and completes the SPU handshake. Not bounded in time by itself: the
/// caller runs it under its deadline, and the steps that did finish are reported through
/// `progress` so that a timeout can say how far it got.
pub async fn attempt(addr: SocketAddr, progress: &std::sync::Mutex<Option<f64>>) -> Attempt {
    let start = Instant::now();
    let tcp = match TcpStream::connect(addr).await {
        Ok(tcp) => tcp,
        Err(e) => {
            return Attempt {
                connect_ms: None,
                handshake_ms: None,
                result: Err(Failure::Connect(connect_reason(&e))),
            }
        }
    };
    let connect_ms = ms(start);
    *progress.lock().unwrap_or_else(|e| e.into_inner()) = Some(connect_ms);
    let _ = tcp.set_nodelay(true);
    let shake = Instant::now();
    let result = handshake(tcp).await;
    Attempt {
        connect_ms: Some(connect_ms),
        handshake_ms: result.is_ok().then(|| ms(shake)),
        result: result.map_err(|(reason, tls)| Failure::Handshake { reason, tls }),
    }
}

fn connect_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused (nothing listens on that port there)".into(),
        HostUnreachable => "host unreachable (no route, or no answer to ARP/NDP)".into(),
        NetworkUnreachable => "network unreachable (no route to that address)".into(),
        _ => e.to_string(),
    }
}

/// The peer, or why the handshake failed and whether TLS may be the reason.
async fn handshake(tcp: TcpStream) -> Result<Peer, (String, bool)> {
    let fd = tcp.as_connection_fd();
    let reader = FrameGuard::new(tcp.clone(), MAX_REPLY, |head| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, NotFluvio::new(&head))
    });
    let mut socket = FluvioSocket::from_stream(Box::new(tcp), Box::new(reader), fd);
    let mut request = RequestMessage::new_request(ApiVersionsRequest {
        client_version: env!("CARGO_PKG_VERSION").into(),
        client_os: std::env::consts::OS.into(),
        client_arch: std::env::consts::ARCH.into(),
    });
    request
        .get_mut_header()
        .set_client_id("fluvio-endpoints-probe");
    let reply = socket.send(&request).await.map_err(socket_reason)?;
    let response: ApiVersionsResponse = reply.response;
    if response.error_code.is_error() {
        return Err((
            format!(
                "the peer answered ApiVersions with an error: {}",
                response.error_code.to_sentence()
            ),
            false,
        ));
    }
    Ok(classify(&response))
}

/// Tells an SPU from an SC (or another Fluvio peer) by the APIs it lists.
fn classify(response: &ApiVersionsResponse) -> Peer {
    let keys: Vec<i16> = response.api_keys.iter().map(|k| k.api_key).collect();
    // An SPU leaves the platform version at its default, 0.0.0: that says nothing.
    let platform_version =
        Some(response.platform_version.to_semver().to_string()).filter(|v| v != "0.0.0");
    if keys.contains(&(SpuServerApiKey::Produce as i16)) {
        Peer::Spu { platform_version }
    } else if keys.contains(&SC_CREATE_KEY) {
        Peer::Sc { platform_version }
    } else {
        Peer::OtherFluvio { api_keys: keys }
    }
}

/// Why the exchange failed, and whether the peer may want TLS.
fn socket_reason(err: SocketError) -> (String, bool) {
    match err {
        SocketError::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::UnexpectedEof => (
                "the peer closed the connection without answering the Fluvio handshake (not a Fluvio SPU, or one that requires TLS)".into(),
                true,
            ),
            std::io::ErrorKind::ConnectionReset => (
                "the peer reset the connection during the Fluvio handshake".into(),
                false,
            ),
            _ => match source.get_ref().and_then(|e| e.downcast_ref::<NotFluvio>()) {
                Some(not) => (not.to_string(), not.tls),
                None => (format!("the Fluvio handshake failed: {source}"), false),
            },
        },
        SocketError::SocketClosed | SocketError::SocketStale => (
            "the connection closed during the Fluvio handshake".into(),
            false,
        ),
    }
}

/// A reply whose first bytes cannot start a Fluvio frame.
#[derive(Debug, thiserror::Error)]
#[error("the peer is not a Fluvio SPU: {what} (its reply began with {shown})")]
pub struct NotFluvio {
    what: &'static str,
    shown: String,
    /// The reply is a TLS record.
    tls: bool,
}

impl NotFluvio {
    fn new(head: &[u8]) -> Self {
        let tls = matches!(head, [0x15 | 0x16, 0x03, ..]);
        let what = match head {
            _ if tls => "it speaks TLS (a TLS record where a Fluvio frame belongs)",
            [b'H', b'T', b'T', b'P', ..] => "it speaks HTTP",
            _ => "its reply is not a Fluvio frame",
        };
        NotFluvio {
            what,
            shown: show_bytes(head),
            tls,
        }
    }
}

/// Bytes as a quoted string when printable, else hex: never raw control characters.
fn show_bytes(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("\"{}\"", String::from_utf8_lossy(bytes))
    } else {
        format!("0x{}", hex::encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_the_peer_speaks() {
        assert!(NotFluvio::new(b"HTTP").to_string().contains("HTTP"));
        assert!(NotFluvio::new(&[0x15, 0x03, 0x03, 0x00])
            .to_string()
            .contains("TLS"));
        let odd = NotFluvio::new(&[0xff, 0x1b, 0x00, 0x01]).to_string();
        assert!(odd.contains("0xff1b0001"), "{odd}");
    }

    #[test]
    fn tells_an_spu_from_an_sc() {
        use fluvio_protocol::link::versions::ApiVersionKey;
        let key = |api_key| ApiVersionKey {
            api_key,
            min_version: 0,
            max_version: 1,
        };
        let spu = ApiVersionsResponse {
            api_keys: vec![key(0), key(1), key(1003)],
            ..Default::default()
        };
        assert!(matches!(classify(&spu), Peer::Spu { .. }));
        let sc = ApiVersionsResponse {
            api_keys: vec![key(18), key(1001), key(1003)],
            ..Default::default()
        };
        assert!(matches!(classify(&sc), Peer::Sc { .. }));
        let other = ApiVersionsResponse::default();
        assert!(matches!(classify(&other), Peer::OtherFluvio { .. }));
    }
}
