//! TCP side of the test SC: accept loop and per-connection request loop, framed with
//! `fluvio-socket` and decoded with `AdminPublicDecodedRequest` (as upstream
//! `public_server.rs`: requests of one connection are served in order; watches run in their
//! own tasks and stop when the connection ends). A connection first goes through `tls::open`:
//! the TLS handshake when the SC serves TLS, and its authorization context. As upstream,
//! accepted sockets keep Nagle's algorithm (no TCP_NODELAY): a reply written right after a
//! watch update on the same connection waits for the client's ACK of the update.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use fluvio_future::net::{TcpListener, TcpStream};
use fluvio_future::task::spawn;
use fluvio_future::timer::sleep;
use fluvio_sc_schema::{AdminPublicApiKey, AdminPublicDecodedRequest};
use fluvio_types::event::StickyEvent;
use futures_util::StreamExt;

use super::api;
use super::faults::{ApiKind, Hold, Point, Resume};
use super::state::ScState;
use super::tls;

pub(crate) async fn accept_loop(
    listener: TcpListener,
    state: Arc<ScState>,
    stop: Arc<StickyEvent>,
) {
    loop {
        tokio::select! {
            _ = stop.listen() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let id = state.next_conn.fetch_add(1, Ordering::SeqCst);
                    state
                        .connections
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, stream.clone());
                    spawn(serve_connection(state.clone(), id, stream));
                }
                Err(err) => {
                    tracing::warn!(%err, "test sc: accept failed");
                    sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    drop(listener);
}

async fn serve_connection(state: Arc<ScState>, id: u64, tcp: TcpStream) {
    // TLS handshake (when served) and the connection's authorization context
    let opened = tls::open(
        state.shared.tls.as_ref(),
        &state.shared.authorization,
        tcp.clone(),
    )
    .await;
    let (socket, auth) = match opened {
        Ok(opened) => opened,
        Err(err) => {
            tracing::debug!(%err, "test sc: connection refused");
            close(&state, id, &tcp);
            return;
        }
    };
    let (sink, mut stream) = socket.split();
    let sink = sink.as_shared();
    let end = StickyEvent::shared();
    let log_index = state.shared.new_connection();
    let watches = Arc::new(api::ConnWatches::default());
    let mut requests = stream.api_stream::<AdminPublicDecodedRequest, AdminPublicApiKey>();

    while let Some(next) = requests.next().await {
        let request = match next {
            Ok(request) => request,
            Err(err) => {
                tracing::debug!(%err, "test sc: bad request, closing");
                break;
            }
        };
        let kind = ApiKind::of(&request);
        if kind == ApiKind::Watch {
            state.shared.count_watch_request(log_index);
        }
        let decision = state.shared.faults.on_request(kind);
        if decision.drop_before {
            break;
        }
        if let Some(hold) = state.shared.faults.hold_at(kind, Point::BeforeApply) {
            if held(&hold, &tcp).await == Resume::Cut {
                break;
            }
        }
        if state.is_stopped() {
            // this SC was stopped (restarted) while the request waited: it applies nothing
            break;
        }
        if kind != ApiKind::Watch {
            if let Some(delay) = decision.delay {
                sleep(delay).await;
            }
        }
        let out = api::Out {
            sink: sink.clone(),
            mute: decision.drop_response,
            watches: watches.clone(),
        };
        let served = match request {
            AdminPublicDecodedRequest::ApiVersionsRequest(r) => {
                api::api_versions(&state, &out, r).await
            }
            AdminPublicDecodedRequest::CreateRequest(r) => {
                api::create(&state, &auth, &out, r).await
            }
            AdminPublicDecodedRequest::DeleteRequest(r) => api::delete(&state, &out, r).await,
            AdminPublicDecodedRequest::ListRequest(r) => api::list(&state, &auth, &out, r).await,
            AdminPublicDecodedRequest::UpdateRequest(r) => api::update(&state, &out, r).await,
            AdminPublicDecodedRequest::WatchRequest(r) => api::watch(&state, &out, r, end.clone()),
            AdminPublicDecodedRequest::MirroringRequest(_) => {
                Err(anyhow::anyhow!("mirroring is not served by the test SC"))
            }
        };
        if let Err(err) = served {
            tracing::debug!(%err, "test sc: request failed, closing connection");
            break;
        }
        if decision.drop_after {
            // The answer is out (the sink flushed it). The SC ends the connection: its watch
            // streams stop and it sends nothing more (end of stream after the answer); the
            // socket closes once the client closes its side too, or sends again (that next
            // request is neither served nor answered), or the SC stops.
            end.notify();
            let _ = tcp.shutdown(std::net::Shutdown::Write);
            let _ = requests.next().await;
            break;
        }
        if decision.drop_response {
            break;
        }
    }
    end.notify();
    close(&state, id, &tcp);
}

/// Waits for the test's decision on a request held before it is applied, noting meanwhile
/// whether the client writes more on the connection (the bytes stay unread until the held
/// request is done, as on an SC busy with it).
async fn held(hold: &Hold, tcp: &TcpStream) -> Resume {
    let peek = async {
        let mut byte = [0u8; 1];
        if let Ok(n) = tcp.peek(&mut byte).await {
            if n > 0 {
                hold.mark_followed();
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        resume = hold.wait() => resume,
        _ = peek => unreachable!("peeking never ends"),
    }
}

fn close(state: &ScState, id: u64, tcp: &TcpStream) {
    let _ = tcp.shutdown(std::net::Shutdown::Both);
    state
        .connections
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
}
