//! A connection to an SC that carries only this tool's admin requests and opens no watch
//! stream.
//!
//! `Fluvio::connect` (and `FluvioAdmin::connect`) multiplex the SPU, partition and topic
//! watch streams on the admin connection. The SC never sets TCP_NODELAY, and a change makes
//! it send the watch update first and the reply after it, so the reply waits for the
//! client's delayed ACK (~40 ms on Linux): every delete and create, and the window in which
//! a replaced SPU does not exist, would last that long. Here only requests and their replies
//! travel, one at a time, so a reply is never queued behind anything.
//!
//! What the client gives is kept: the connector is built from the profile's TLS policy by
//! the `fluvio` crate's own conversion, the connection and the ApiVersions exchange are
//! `fluvio_socket::ClientConfig::connect` (same request, same client id), and the platform
//! check refuses what `Fluvio::connect` refuses with its messages. Replies are framed here,
//! not by the socket's codec: a frame no SC would send, or a reply that does not decode,
//! is an error of the request in hand, never a panic on a background task.

use std::future::Future;
use std::io::Cursor;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use anyhow::anyhow;
use fluvio::config::TlsPolicy;
use fluvio::FluvioClusterConfig;
use fluvio_future::net::{
    BoxReadConnection, BoxWriteConnection, ConnectionFd, DomainConnector, TcpDomainConnector,
};
use fluvio_future::rust_tls::{ConnectorBuilder, TlsDomainConnector};
use fluvio_protocol::api::{Request, RequestMessage};
use fluvio_protocol::Decoder;
use fluvio_sc_schema::objects::ObjectApiWatchRequest;
use fluvio_sc_schema::TryEncodableFrom;
use fluvio_socket::{ClientConfig, FluvioSink, FluvioStream, Versions};
use futures_util::FutureExt;

use super::frame_guard::FrameGuard;
use tokio::io::AsyncReadExt;

/// The platform release of the pinned `fluvio` client (=0.50.1), as `Fluvio::connect`
/// names it when it refuses an SC.
const CLIENT_PLATFORM: &str = "0.18.1";

/// The oldest platform `Fluvio::connect` accepts.
const MINIMUM_PLATFORM: semver::Version = semver::Version::new(0, 9, 0);

/// How much to read at a time while a reply is incomplete.
const READ_CHUNK: usize = 64 * 1024;

/// The longest reply frame read from an SC. A list of 100,000 SPUs is about 10 MiB; a
/// longer length prefix is not an SC's (an HTTP server's reply, `HTTP`, reads as 1.2 GB),
/// and waiting for that many bytes would buffer without end.
pub const MAX_FRAME: usize = 64 << 20;

/// What the connection reports when the connect itself panicked (the socket's frame codec
/// does on some malformed replies).
pub const CONNECT_PANIC: &str = "the reply to the connect could not be decoded (the socket codec gave up on it); is that address an SC?";

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No usable connection (address, TLS settings, network, or not an SC).
    #[error("{0}")]
    Failed(anyhow::Error),
    /// The SC answered, with versions the client does not support.
    #[error("{0}")]
    Incompatible(String),
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The SC answered with an error status.
    #[error(transparent)]
    Api(#[from] fluvio_sc_schema::ApiError),
    /// The connection failed: the request may or may not have reached the SC.
    #[error("{0}")]
    Connection(String),
    /// The reply came but cannot be read. Nothing of this request is left in flight; the
    /// connection is not used again.
    #[error("{0}")]
    Unreadable(String),
    /// The SC does not serve this request (no API version in common).
    #[error("{0}")]
    Unsupported(String),
}

/// A request on its way: what its replies are recognised and decoded by.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    correlation: i32,
    version: i16,
}

/// One connection to an SC, serving one request at a time.
pub struct ScConnection {
    sink: FluvioSink,
    stream: FluvioStream,
    /// Bytes read and not yet consumed; kept across cancelled requests, so a request
    /// abandoned mid-reply leaves the stream in step.
    buffer: Vec<u8>,
    versions: Versions,
    client_id: String,
    next_correlation: i32,
    /// Set once the stream can no longer be trusted; every later request fails with it.
    broken: Option<String>,
}

/// The connector for the profile's TLS policy: the `fluvio` crate's own conversion, except
/// for anonymous TLS. The 0.50.1 client's anonymous connector takes the whole address
/// (HOST:PORT) for the server name and fails before connecting; here the server name is
/// the host part, and, as fluvio's anonymous policy means, the SC's certificate is not
/// verified and no client certificate is presented.
/// Every connection is read through a [`FrameGuard`] (replies of at most [`MAX_FRAME`]),
/// the connect's own exchange included.
fn connector(cluster: &FluvioClusterConfig) -> anyhow::Result<DomainConnector> {
    Ok(Box::new(Bounded(tls_connector(cluster)?)))
}

fn tls_connector(cluster: &FluvioClusterConfig) -> anyhow::Result<DomainConnector> {
    if !matches!(cluster.tls, TlsPolicy::Anonymous) {
        return TryFrom::try_from(cluster.tls.clone());
    }
    // The verified connectors install the crypto provider the same way.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let (host, _port) = crate::address::parse_host_port(&cluster.endpoint)
        .map_err(|e| anyhow!("invalid SC address: {e}"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tls = ConnectorBuilder::with_safe_defaults()
        .no_cert_verification()
        .build();
    Ok(Box::new(TlsDomainConnector::new(tls, host)))
}

/// A connector whose connections are read through a [`FrameGuard`] (after TLS, so the
/// guard sees the frames themselves).
struct Bounded(DomainConnector);

type Connected = (BoxWriteConnection, BoxReadConnection, ConnectionFd);

impl TcpDomainConnector for Bounded {
    fn connect<'a, 'b, 'f>(
        &'a self,
        domain: &'b str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Connected>> + Send + 'f>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            let (write, read, fd) = self.0.connect(domain).await?;
            let read: BoxReadConnection = Box::new(FrameGuard::new(read, MAX_FRAME, |head| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, BadFrame(head))
            }));
            Ok((write, read, fd))
        })
    }

    fn new_domain(&self, domain: String) -> DomainConnector {
        Box::new(Bounded(self.0.new_domain(domain)))
    }

    fn domain(&self) -> &str {
        self.0.domain()
    }

    fn clone_box(&self) -> DomainConnector {
        Box::new(Bounded(self.0.clone_box()))
    }
}

/// The guard's refusal (the length prefix as read), told apart from other read errors.
#[derive(Debug)]
struct BadFrame([u8; 4]);

impl std::fmt::Display for BadFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = i32::from_be_bytes(self.0);
        // a TLS record: content type 20-23, then version 3.x
        if matches!(self.0, [0x14..=0x17, 0x03, ..]) {
            return write!(f, "the reply starts like a TLS record, not a Fluvio frame");
        }
        match len >= 4 {
            true => write!(
                f,
                "a reply frame of {len} bytes, over the {} MiB an SC's reply can take",
                MAX_FRAME >> 20
            )?,
            false => write!(f, "a reply frame of length {len}")?,
        }
        f.write_str("; is that address an SC?")
    }
}

impl std::error::Error for BadFrame {}

impl ScConnection {
    /// Connects as `Fluvio::connect_with_config` does, without starting its watch streams.
    pub async fn connect(cluster: &FluvioClusterConfig) -> Result<Self, ConnectError> {
        let connector = connector(cluster).map_err(ConnectError::Failed)?;
        let mut config = ClientConfig::new(
            cluster.endpoint.clone(),
            connector,
            cluster.use_spu_local_address,
        );
        if let Some(client_id) = &cluster.client_id {
            config.set_client_id(client_id.clone());
        }
        let client_id = config.client_id().to_string();
        let connected = AssertUnwindSafe(config.connect()).catch_unwind().await;
        let socket = match connected {
            Err(_panic) => return Err(ConnectError::Failed(anyhow!(CONNECT_PANIC))),
            Ok(Err(err)) => return Err(ConnectError::Failed(err.into())),
            Ok(Ok(socket)) => socket,
        };
        let (socket, _config, versions) = socket.split();
        let platform = versions.platform_version().clone();
        if versions.lookup_version::<ObjectApiWatchRequest>().is_none() {
            return Err(ConnectError::Incompatible(format!(
                "Fluvio Client {CLIENT_PLATFORM} and Cluster {platform} versions are not compatible. Please use a client compatible with {platform}"
            )));
        }
        if platform < MINIMUM_PLATFORM {
            return Err(ConnectError::Incompatible(
                fluvio::FluvioError::MinimumPlatformVersion {
                    cluster_version: platform,
                    client_minimum_version: MINIMUM_PLATFORM,
                }
                .to_string(),
            ));
        }
        let (sink, mut stream) = socket.split();
        // Whatever the codec read past the ApiVersions reply is the start of the next frame.
        let buffer = stream
            .get_mut_tcp_stream()
            .read_buffer_mut()
            .split()
            .to_vec();
        Ok(ScConnection {
            sink,
            stream,
            buffer,
            versions,
            client_id,
            next_correlation: 1,
            broken: None,
        })
    }

    /// The platform version the SC reported.
    pub fn platform_version(&self) -> &semver::Version {
        self.versions.platform_version()
    }

    /// Sends one request and waits for its reply. Cancelling this future (a timeout) leaves
    /// the connection usable: the next request skips the late reply of this one.
    pub async fn request<R, I>(&mut self, input: I) -> Result<R::Response, RequestError>
    where
        R: Request + TryEncodableFrom<I>,
    {
        let sent = self.send::<R, I>(input).await?;
        self.reply::<R>(sent).await
    }

    /// Opens a stream of replies to one request (a watch): the SC answers it again and
    /// again under the same correlation id. Read each with [`ScConnection::reply`].
    pub async fn open_stream<R, I>(&mut self, input: I) -> Result<Sent, RequestError>
    where
        R: Request + TryEncodableFrom<I>,
    {
        self.send::<R, I>(input).await
    }

    async fn send<R, I>(&mut self, input: I) -> Result<Sent, RequestError>
    where
        R: Request + TryEncodableFrom<I>,
    {
        if let Some(cause) = &self.broken {
            return Err(RequestError::Connection(cause.clone()));
        }
        let version = self.versions.lookup_version::<R>().ok_or_else(|| {
            RequestError::Unsupported(format!("the SC serves no version of API {}", R::API_KEY))
        })?;
        let request = R::try_encode_from(input, version)
            .map_err(|e| RequestError::Unsupported(e.to_string()))?;
        let correlation = self.next_correlation;
        self.next_correlation = self.next_correlation.checked_add(1).unwrap_or(1);
        let mut message = RequestMessage::new_request(request);
        let header = message.get_mut_header();
        header.set_client_id(&self.client_id);
        header.set_api_version(version);
        header.set_correlation_id(correlation);
        if let Err(err) = self.sink.send_request(&message).await {
            return Err(self.break_with(format!("sending failed: {err}")));
        }
        Ok(Sent {
            correlation,
            version,
        })
    }

    /// The next reply to a request sent on this connection (frames of other requests,
    /// late replies of abandoned ones, are skipped).
    pub async fn reply<R: Request>(&mut self, sent: Sent) -> Result<R::Response, RequestError> {
        loop {
            let frame = self.next_frame().await?;
            let mut cursor = Cursor::new(&frame);
            let mut answered: i32 = 0;
            if let Err(err) = answered.decode(&mut cursor, 0) {
                return Err(self.unreadable(format!("a reply without correlation id: {err}")));
            }
            if answered != sent.correlation {
                // the late reply of a request abandoned on this connection
                continue;
            }
            return R::Response::decode_from(&mut cursor, sent.version).map_err(|err| {
                self.unreadable(format!(
                    "the reply to API {} cannot be decoded: {err}",
                    R::API_KEY
                ))
            });
        }
    }

    fn break_with(&mut self, cause: String) -> RequestError {
        self.broken = Some(cause.clone());
        RequestError::Connection(cause)
    }

    fn unreadable(&mut self, cause: String) -> RequestError {
        let cause = format!("{cause}; is that address an SC?");
        self.broken = Some(cause.clone());
        RequestError::Unreadable(cause)
    }

    /// The next whole frame (correlation id and body), read with Fluvio's framing: a
    /// big-endian i32 length, then that many bytes.
    async fn next_frame(&mut self) -> Result<Vec<u8>, RequestError> {
        loop {
            if let Some(head) = self.buffer.first_chunk::<4>() {
                let len = i32::from_be_bytes(*head);
                // a reply holds at least its correlation id
                let Some(len) = usize::try_from(len).ok().filter(|len| *len >= 4) else {
                    return Err(self.unreadable(format!("a reply frame of length {len}")));
                };
                let total = 4 + len;
                if self.buffer.len() >= total {
                    let frame = self.buffer[4..total].to_vec();
                    self.buffer.drain(..total);
                    return Ok(frame);
                }
                self.buffer.reserve(total - self.buffer.len());
            }
            self.buffer.reserve(READ_CHUNK);
            let reader = self.stream.get_mut_tcp_stream().get_mut();
            match reader.read_buf(&mut self.buffer).await {
                Ok(0) => return Err(self.break_with("the SC closed the connection".into())),
                Ok(_) => {}
                // the frame guard's refusal: the stream is not an SC's
                Err(err) if err.get_ref().is_some_and(|e| e.is::<BadFrame>()) => {
                    let cause = err.to_string();
                    self.broken = Some(cause.clone());
                    return Err(RequestError::Unreadable(cause));
                }
                Err(err) => return Err(self.break_with(format!("receiving failed: {err}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use fluvio_controlplane_metadata::spu::SpuSpec;
    use fluvio_protocol::api::RequestHeader;
    use fluvio_protocol::link::versions::{ApiVersionKey, ApiVersionsResponse, PlatformVersion};
    use fluvio_protocol::Encoder;
    use fluvio_sc_schema::objects::{ListRequest, ListResponse, ObjectApiListResponse};
    use fluvio_sc_schema::AdminPublicApiKey;

    use super::*;

    fn read_request(stream: &mut TcpStream) -> Option<RequestHeader> {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).ok()?;
        let mut header = RequestHeader::default();
        header.decode(&mut Cursor::new(&body), 0).ok()?;
        Some(header)
    }

    fn frame(correlation: i32, body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        out.extend(correlation.to_be_bytes());
        out.extend(body);
        out
    }

    /// A server that answers ApiVersions, then each list request first with a stray reply
    /// (another correlation id) and then its own, then a frame of negative length.
    fn server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let key = |k: AdminPublicApiKey| ApiVersionKey {
                api_key: k as i16,
                min_version: 0,
                max_version: 19,
            };
            let mut lists = 0;
            while let Some(header) = read_request(&mut stream) {
                let version = header.api_version();
                let body = if header.api_key() == 18 {
                    let response = ApiVersionsResponse {
                        api_keys: vec![key(AdminPublicApiKey::List), key(AdminPublicApiKey::Watch)],
                        platform_version: PlatformVersion::new(&semver::Version::new(0, 18, 1)),
                        ..Default::default()
                    };
                    response.as_bytes(version).unwrap().to_vec()
                } else {
                    lists += 1;
                    if lists == 3 {
                        stream.write_all(&(-1i32).to_be_bytes()).unwrap();
                        continue;
                    }
                    let list = ListResponse::<SpuSpec>::new(vec![]);
                    let response = ObjectApiListResponse::try_encode_from(list, version).unwrap();
                    stream.write_all(&frame(-7, b"stray")).unwrap();
                    response.as_bytes(version).unwrap().to_vec()
                };
                stream
                    .write_all(&frame(header.correlation_id(), &body))
                    .unwrap();
            }
        });
        addr
    }

    async fn list(conn: &mut ScConnection) -> Result<usize, RequestError> {
        let request =
            ListRequest::<SpuSpec>::new(Vec::<fluvio_sc_schema::objects::ListFilter>::new(), false);
        let response = conn
            .request::<fluvio_sc_schema::objects::ObjectApiListRequest, _>(request)
            .await?;
        let list: ListResponse<SpuSpec> = response.downcast().unwrap().unwrap();
        Ok(list.inner().len())
    }

    #[test]
    fn anonymous_tls_names_the_host_not_the_address() {
        for (endpoint, host) in [
            ("sc.example.com:9003", "sc.example.com"),
            ("127.0.0.1:9003", "127.0.0.1"),
            ("[::1]:9003", "::1"),
        ] {
            let cluster = FluvioClusterConfig::new(endpoint).with_tls(TlsPolicy::Anonymous);
            let connector = connector(&cluster).expect("a connector");
            assert_eq!(connector.domain(), host, "{endpoint}");
        }
        let cluster = FluvioClusterConfig::new("[::1:9003").with_tls(TlsPolicy::Anonymous);
        assert!(connector(&cluster).is_err());
    }

    #[tokio::test]
    async fn stray_replies_are_skipped_and_a_bad_frame_fails_the_request_not_the_process() {
        let cluster = FluvioClusterConfig::new(server());
        let mut conn = ScConnection::connect(&cluster).await.expect("connects");
        assert_eq!(conn.platform_version().to_string(), "0.18.1");
        assert_eq!(list(&mut conn).await.expect("first list"), 0);
        assert_eq!(list(&mut conn).await.expect("second list"), 0);
        let err = list(&mut conn).await.expect_err("a frame of length -1");
        assert!(
            matches!(&err, RequestError::Unreadable(cause) if cause.contains("length -1")),
            "{err}"
        );
        let err = list(&mut conn)
            .await
            .expect_err("the connection is not used again");
        assert!(matches!(err, RequestError::Connection(_)), "{err}");
    }

    #[test]
    fn a_refused_length_says_what_it_was() {
        let says = |len: i32| BadFrame(len.to_be_bytes()).to_string();
        assert!(says(i32::MAX).contains("a reply frame of 2147483647 bytes, over the 64 MiB"));
        assert!(says(-1).contains("a reply frame of length -1; is that address an SC?"));
        assert!(says(3).contains("a reply frame of length 3"));
        // a TLS alert read as a length (a plaintext client of a TLS SC)
        assert!(says(0x1503_0300).contains("the reply starts like a TLS record"));
    }

    /// A server that answers the connect's ApiVersions with a length prefix of 2 GiB, then
    /// streams bytes without end (as anything that is not an SC may).
    fn endless_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            read_request(&mut stream);
            let _ = stream.write_all(&i32::MAX.to_be_bytes());
            while stream.write_all(&[0; 65536]).is_ok() {}
        });
        addr
    }

    #[tokio::test]
    async fn a_reply_longer_than_any_sc_sends_fails_the_connect_at_its_length() {
        let cluster = FluvioClusterConfig::new(endless_server());
        let err = match ScConnection::connect(&cluster).await {
            Err(ConnectError::Failed(err)) => format!("{err:#}"),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("connected to a server that is not an SC"),
        };
        assert!(
            err.contains("over the 64 MiB an SC's reply can take"),
            "{err}"
        );
    }
}
