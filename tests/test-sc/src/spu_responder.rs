//! A test SPU responder: the public side of a Fluvio SPU as far as its first exchange.
//!
//! Built only from Fluvio's published 0.50.1 crates: requests are framed by `fluvio-socket`
//! and decoded as `fluvio_spu_schema::server::SpuServerRequest`, as the SPU's public server
//! does (upstream `crates/fluvio-spu/src/services/public/`). It answers `ApiVersions` the
//! way the SPU does (`api_versions.rs` there): the SPU's APIs (Produce, Fetch,
//! FetchOffsets, StreamFetch, UpdateOffsets) with the version ranges of the published
//! request types, StreamFetch capped at 15 for a client that sends no version, and the
//! default (0.0.0) platform version. Any other request closes the connection (it serves no
//! partitions).
//!
//! `Behaviour` also makes the misbehaving peers a probe must survive: a listener that
//! accepts and never answers, and one that answers in HTTP.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Result;
use fluvio_future::net::{TcpListener, TcpStream};
use fluvio_future::task::spawn_task;
use fluvio_protocol::api::{Request, RequestMessage, ResponseMessage};
use fluvio_protocol::link::versions::{ApiVersionKey, ApiVersionsRequest, ApiVersionsResponse};
use fluvio_socket::FluvioSocket;
use fluvio_spu_schema::fetch::DefaultFetchRequest;
use fluvio_spu_schema::produce::DefaultProduceRequest;
use fluvio_spu_schema::server::fetch_offset::FetchOffsetsRequest;
use fluvio_spu_schema::server::stream_fetch::DefaultStreamFetchRequest;
use fluvio_spu_schema::server::update_offset::UpdateOffsetsRequest;
use fluvio_spu_schema::server::{SpuServerApiKey, SpuServerRequest};
use fluvio_types::event::StickyEvent;
use futures_util::io::AsyncWriteExt;
use futures_util::StreamExt;

/// How the listener treats a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answer as an SPU.
    Spu,
    /// Accept, read, never answer, keep the connection open.
    Silent,
    /// Answer the first bytes with an HTTP error, then close.
    Http,
    /// Answer with a well-framed reply whose content is not an `ApiVersions` answer.
    Garbage,
    /// Answer as a TLS-only server does to bytes that are not a TLS hello: a fatal
    /// `decode_error` alert record, then close.
    TlsAlert,
}

/// A running responder; stops when dropped.
pub struct SpuResponder {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    stop: Arc<StickyEvent>,
    _server: async_task::Task<()>,
}

impl SpuResponder {
    /// Binds `addr` (e.g. `127.0.0.1:0`) and serves.
    pub async fn bind(addr: SocketAddr, behaviour: Behaviour) -> Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        Self::serve(listener, behaviour)
    }

    /// Serves an already bound listener (e.g. one bound inside a network namespace).
    pub fn serve(listener: std::net::TcpListener, behaviour: Behaviour) -> Result<Self> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = TcpListener::try_from(listener)?;
        let handshakes = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = StickyEvent::shared();
        let server = spawn_task(accept_loop(
            listener,
            behaviour,
            handshakes.clone(),
            accepted.clone(),
            stop.clone(),
        ));
        Ok(SpuResponder {
            addr,
            handshakes,
            accepted,
            stop,
            _server: server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// ApiVersions requests answered so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SpuResponder {
    fn drop(&mut self) {
        self.stop.notify();
    }
}

async fn accept_loop(
    listener: TcpListener,
    behaviour: Behaviour,
    handshakes: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    stop: Arc<StickyEvent>,
) {
    loop {
        tokio::select! {
            _ = stop.listen() => break,
            next = listener.accept() => {
                let Ok((stream, _)) = next else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                let handshakes = handshakes.clone();
                let stop = stop.clone();
                fluvio_future::task::spawn(async move {
                    tokio::select! {
                        _ = stop.listen() => {}
                        _ = serve(stream, behaviour, handshakes) => {}
                    }
                });
            }
        }
    }
}

async fn serve(stream: TcpStream, behaviour: Behaviour, handshakes: Arc<AtomicUsize>) {
    match behaviour {
        Behaviour::Spu => {
            let _ = serve_spu(stream, handshakes).await;
        }
        Behaviour::Silent => {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            // Read whatever comes; answer nothing until the peer goes away.
            while matches!(
                futures_util::io::AsyncReadExt::read(&mut stream, &mut buf).await,
                Ok(n) if n > 0
            ) {}
        }
        Behaviour::Http => {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = futures_util::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            let _ = stream.close().await;
        }
        Behaviour::Garbage => {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = futures_util::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            // a 6-byte frame: a correlation id, then a truncated, impossible error code
            let _ = stream
                .write_all(&[0, 0, 0, 6, 0, 0, 0, 1, 0x7f, 0x7f])
                .await;
            let _ = stream.close().await;
        }
        Behaviour::TlsAlert => {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = futures_util::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            // record type alert (21), TLS 1.2, length 2, level fatal (2), decode_error (50)
            let _ = stream.write_all(&[21, 3, 3, 0, 2, 2, 50]).await;
            let _ = stream.close().await;
        }
    }
}

async fn serve_spu(stream: TcpStream, handshakes: Arc<AtomicUsize>) -> Result<()> {
    let socket = FluvioSocket::from(stream);
    let (mut sink, mut stream) = socket.split();
    let mut requests = stream.api_stream::<SpuServerRequest, SpuServerApiKey>();
    while let Some(request) = requests.next().await {
        match request? {
            SpuServerRequest::ApiVersionsRequest(request) => {
                let version = request.header.api_version();
                let response = api_versions(&request);
                sink.send_response(&response, version).await?;
                handshakes.fetch_add(1, Ordering::SeqCst);
            }
            // This responder serves no partitions.
            _ => break,
        }
    }
    Ok(())
}

fn key(key: SpuServerApiKey, min_version: i16, max_version: i16) -> ApiVersionKey {
    ApiVersionKey {
        api_key: key as i16,
        min_version,
        max_version,
    }
}

fn api_versions(
    request: &RequestMessage<ApiVersionsRequest>,
) -> ResponseMessage<ApiVersionsResponse> {
    let old_client = request.request.client_version.is_empty();
    let api_keys = vec![
        key(
            SpuServerApiKey::Produce,
            DefaultProduceRequest::MIN_API_VERSION,
            DefaultProduceRequest::MAX_API_VERSION,
        ),
        key(
            SpuServerApiKey::Fetch,
            DefaultFetchRequest::MIN_API_VERSION,
            DefaultFetchRequest::MAX_API_VERSION,
        ),
        key(
            SpuServerApiKey::FetchOffsets,
            FetchOffsetsRequest::DEFAULT_API_VERSION,
            FetchOffsetsRequest::DEFAULT_API_VERSION,
        ),
        key(
            SpuServerApiKey::StreamFetch,
            0,
            if old_client {
                15
            } else {
                DefaultStreamFetchRequest::DEFAULT_API_VERSION
            },
        ),
        key(
            SpuServerApiKey::UpdateOffsets,
            0,
            UpdateOffsetsRequest::DEFAULT_API_VERSION,
        ),
    ];
    request.new_response(ApiVersionsResponse {
        api_keys,
        ..Default::default()
    })
}
