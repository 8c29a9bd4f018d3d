//! Fault injection for the test SC, switchable at runtime from a test.
//!
//! Besides the armed faults (close a connection before/after a request, refuse a create or
//! a delete, fail a list as upstream's list handler fails),
//! a test can hold a request at an exact point ([`Point`]) with [`Faults::hold`]: the
//! request stops there until the test releases it ([`Hold::release`]) or cuts its
//! connection ([`Hold::cut`]); a restart of the SC cuts every held request. The SC logs
//! every request it receives ([`Faults::log`]); [`Faults::wait_requests`] waits for one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fluvio_protocol::link::ErrorCode;
use fluvio_sc_schema::AdminPublicDecodedRequest;

/// Kind of admin API request, as keyed by the SC (`AdminPublicApiKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKind {
    ApiVersions,
    /// A create that writes (fault injection and `requests(Create)` see only these).
    Create,
    /// A dry-run create (the client's permission pre-flight): counted apart, so faults armed
    /// for "the n-th create" mean the n-th create that writes.
    DryRunCreate,
    Delete,
    List,
    Watch,
    Mirroring,
    Update,
}

impl ApiKind {
    pub(crate) fn of(req: &AdminPublicDecodedRequest) -> Self {
        match req {
            AdminPublicDecodedRequest::ApiVersionsRequest(_) => Self::ApiVersions,
            AdminPublicDecodedRequest::CreateRequest(req) if is_dry_run(&req.request) => {
                Self::DryRunCreate
            }
            AdminPublicDecodedRequest::CreateRequest(_) => Self::Create,
            AdminPublicDecodedRequest::DeleteRequest(_) => Self::Delete,
            AdminPublicDecodedRequest::ListRequest(_) => Self::List,
            AdminPublicDecodedRequest::WatchRequest(_) => Self::Watch,
            AdminPublicDecodedRequest::MirroringRequest(_) => Self::Mirroring,
            AdminPublicDecodedRequest::UpdateRequest(_) => Self::Update,
        }
    }
}

/// True for a dry-run create of a custom SPU.
pub(crate) fn is_dry_run(req: &fluvio_sc_schema::objects::ObjectApiCreateRequest) -> bool {
    use fluvio_sc_schema::TryEncodableFrom;
    let create: Option<
        fluvio_sc_schema::objects::CreateRequest<fluvio_controlplane_metadata::spu::CustomSpuSpec>,
    > = TryEncodableFrom::downcast(req).ok().flatten();
    create.is_some_and(|create| create.parts().0.dry_run)
}

/// Where a held request stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Point {
    /// received and decoded, nothing applied yet
    BeforeApply,
    /// applied to the store (and written to the metadata dir), no answer sent yet
    AfterApply,
    /// a watch stream has a change to push and has not sent it yet
    BeforeWatchUpdate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateState {
    /// armed, no request has reached the point yet
    Armed,
    /// a request waits at the point
    Held,
    Released,
    Cut,
}

/// What a request held at a point does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    Go,
    Cut,
}

/// One armed hold: the request it catches, and the test's handle on it.
#[derive(Clone)]
pub struct Hold {
    gate: Arc<tokio::sync::watch::Sender<GateState>>,
    /// the client sent more bytes on the held request's connection while it was held
    followed: Arc<tokio::sync::watch::Sender<bool>>,
    what: String,
}

/// How long a test waits for an event the SC must report before failing (a safety net
/// for a broken test, never what decides its outcome).
const EVENT_DEADLINE: Duration = Duration::from_secs(120);

impl Hold {
    /// Waits until the request reached its point (panics after a generous safety deadline:
    /// the request never came).
    pub async fn reached(&self) {
        let mut rx = self.gate.subscribe();
        let waited =
            tokio::time::timeout(EVENT_DEADLINE, rx.wait_for(|s| *s != GateState::Armed)).await;
        match waited {
            Ok(Ok(_)) => {}
            _ => panic!("no request reached {}", self.what),
        }
    }

    /// Waits until the client wrote something more on the held request's connection (its
    /// next request, queued behind the held one: e.g. a retry after it gave up waiting).
    /// Only for `Point::BeforeApply`.
    pub async fn followed(&self) {
        let mut rx = self.followed.subscribe();
        let waited = tokio::time::timeout(EVENT_DEADLINE, rx.wait_for(|f| *f)).await;
        match waited {
            Ok(Ok(_)) => {}
            _ => panic!("nothing followed {} on its connection", self.what),
        }
    }

    pub(crate) fn mark_followed(&self) {
        self.followed.send_replace(true);
    }

    /// Whether a request is waiting at the point now.
    pub fn is_held(&self) -> bool {
        *self.gate.borrow() == GateState::Held
    }

    /// Let the held request go on (or, if none came yet, let it pass when it comes).
    pub fn release(&self) {
        self.gate.send_replace(GateState::Released);
    }

    /// Close the held request's connection at the point: it goes no further and gets no
    /// answer (for a watch update: the watch stream ends).
    pub fn cut(&self) {
        self.gate.send_replace(GateState::Cut);
    }

    /// Called by the request that reached the point: waits for the test's decision.
    pub(crate) async fn wait(&self) -> Resume {
        self.gate.send_if_modified(|s| {
            if *s == GateState::Armed {
                *s = GateState::Held;
                true
            } else {
                false
            }
        });
        let mut rx = self.gate.subscribe();
        let decided = rx
            .wait_for(|s| matches!(s, GateState::Released | GateState::Cut))
            .await
            .map(|s| *s);
        match decided {
            Ok(GateState::Released) => Resume::Go,
            _ => Resume::Cut,
        }
    }
}

#[derive(Default)]
struct FaultState {
    /// countdown: close the connection after answering the n-th next request of the kind
    drop_after: HashMap<ApiKind, usize>,
    /// countdown: process the n-th next request of the kind, then close the connection
    /// without answering it
    drop_response: HashMap<ApiKind, usize>,
    /// countdown: close the connection instead of processing the n-th next request of the kind
    drop_before: HashMap<ApiKind, usize>,
    /// refuse this many next creates with this error
    fail_create: Option<(ErrorCode, Option<String>, usize)>,
    fail_next_delete: Option<(ErrorCode, Option<String>)>,
    /// this many next List requests fail in their handler (the connection closes unanswered)
    fail_lists: usize,
    delays: HashMap<ApiKind, Duration>,
    /// armed holds: countdown to the request they catch
    holds: HashMap<(ApiKind, Point), (usize, Hold)>,
    /// holds that catch every request of a kind at a point
    every: HashMap<(ApiKind, Point), Hold>,
    /// every hold that caught a request (cut on restart)
    caught: Vec<Hold>,
    seen: HashMap<ApiKind, usize>,
    /// every request received, in order (over all connections and restarts)
    log: Vec<ApiKind>,
}

/// What the connection loop must do with one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub drop_before: bool,
    pub drop_after: bool,
    pub drop_response: bool,
    pub delay: Option<Duration>,
}

/// Fault injection handle; cheap to clone (all clones share the same state), and it
/// survives `TestSc::restart`.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
    /// bumped on every logged request
    logged: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            logged: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
}

fn countdown(map: &mut HashMap<ApiKind, usize>, kind: ApiKind) -> bool {
    if let Some(left) = map.get_mut(&kind) {
        *left = left.saturating_sub(1);
        if *left == 0 {
            map.remove(&kind);
            return true;
        }
    }
    false
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After sending the answer to the `n`-th next request of `kind` (n >= 1), close that
    /// client's connection. The request IS applied. Right after the answer the SC shuts
    /// down its sending side (the client reads the answer, then end of stream) and stops the
    /// connection's watch streams; the socket is closed when the client closes its side or
    /// sends again (that request gets no answer and is not counted).
    pub fn drop_connection_after(&self, kind: ApiKind, n: usize) {
        self.lock().drop_after.insert(kind, n.max(1));
    }

    /// Process (apply) the `n`-th next request of `kind` (n >= 1), then close the connection
    /// WITHOUT sending its answer: the client gets an error although the change was made
    /// (e.g. the SC crashed right after committing a delete).
    pub fn drop_connection_instead_of_answer(&self, kind: ApiKind, n: usize) {
        self.lock().drop_response.insert(kind, n.max(1));
    }

    /// Close the connection instead of processing the `n`-th next request of `kind`
    /// (n >= 1). The request is NOT applied and gets no answer.
    pub fn drop_connection_before(&self, kind: ApiKind, n: usize) {
        self.lock().drop_before.insert(kind, n.max(1));
    }

    /// Refuse the next create request (of any object type) with this error; nothing is stored.
    pub fn fail_next_create(&self, code: ErrorCode, message: Option<String>) {
        self.fail_creates(code, message, 1);
    }

    /// Refuse the `n` next create requests with this error; nothing is stored.
    pub fn fail_creates(&self, code: ErrorCode, message: Option<String>, n: usize) {
        self.lock().fail_create = (n > 0).then_some((code, message, n));
    }

    /// Refuse the next delete request with this error; nothing is deleted.
    pub fn fail_next_delete(&self, code: ErrorCode, message: Option<String>) {
        self.lock().fail_next_delete = Some((code, message));
    }

    /// Fail the `n` next List requests (of any object type) in the list handler, as upstream's
    /// handler fails when the authorization service cannot answer ("authorization io
    /// error"), or a request or reply does not convert. A real SC never answers a List with
    /// an error (a list reply has no error status; a denied read is an empty list): the
    /// handler's error ends the connection's request loop (fluvio-service's `call_service!`
    /// returns it with `?`), so the connection closes with no answer. So does this one.
    pub fn fail_lists(&self, n: usize) {
        self.lock().fail_lists = n;
    }

    /// Delay the answers of `kind` by `delay` (for watches: every push).
    pub fn delay(&self, kind: ApiKind, delay: Duration) {
        self.lock().delays.insert(kind, delay);
    }

    /// Hold the `n`-th next request of `kind` (n >= 1) at `point` until the returned
    /// handle releases it or cuts its connection. For `Point::BeforeWatchUpdate` (kind
    /// `Watch`), the `n`-th next update any watch stream is about to push.
    pub fn hold(&self, kind: ApiKind, point: Point, n: usize) -> Hold {
        let hold = Hold {
            gate: Arc::new(tokio::sync::watch::channel(GateState::Armed).0),
            followed: Arc::new(tokio::sync::watch::channel(false).0),
            what: format!("{point:?} of {kind:?} #{n}"),
        };
        self.lock()
            .holds
            .insert((kind, point), (n.max(1), hold.clone()));
        hold
    }

    /// Hold EVERY request of `kind` reaching `point` from now on on one handle: released,
    /// they all go on; cut, every one of them (and every later one) loses its connection
    /// there, until `clear`.
    pub fn hold_every(&self, kind: ApiKind, point: Point) -> Hold {
        let hold = Hold {
            gate: Arc::new(tokio::sync::watch::channel(GateState::Armed).0),
            followed: Arc::new(tokio::sync::watch::channel(false).0),
            what: format!("{point:?} of every {kind:?}"),
        };
        self.lock().every.insert((kind, point), hold.clone());
        hold
    }

    /// The hold a request of `kind` reaching `point` is caught by, if one is armed for it.
    pub(crate) fn hold_at(&self, kind: ApiKind, point: Point) -> Option<Hold> {
        let mut state = self.lock();
        let key = (kind, point);
        if let Some(hold) = state.every.get(&key).cloned() {
            state.caught.push(hold.clone());
            return Some(hold);
        }
        let (left, _) = state.holds.get_mut(&key)?;
        *left -= 1;
        if *left > 0 {
            return None;
        }
        let (_, hold) = state.holds.remove(&key)?;
        state.caught.push(hold.clone());
        Some(hold)
    }

    /// The SC stops: every request held at a point is cut (its connection closes, it is
    /// not carried on against the stopped SC's state).
    pub(crate) fn cut_held(&self) {
        let caught = std::mem::take(&mut self.lock().caught);
        for hold in caught {
            hold.gate.send_if_modified(|s| {
                if *s != GateState::Released && *s != GateState::Cut {
                    *s = GateState::Cut;
                    true
                } else {
                    false
                }
            });
        }
    }

    /// Every request received so far, in order (over all connections and restarts).
    pub fn log(&self) -> Vec<ApiKind> {
        self.lock().log.clone()
    }

    /// Waits until `n` requests of `kind` have been received in all (panics after a
    /// generous safety deadline).
    pub async fn wait_requests(&self, kind: ApiKind, n: usize) {
        let mut rx = self.logged.subscribe();
        let started = Instant::now();
        loop {
            if self.requests(kind) >= n {
                return;
            }
            let left = EVENT_DEADLINE.saturating_sub(started.elapsed());
            if tokio::time::timeout(left, rx.changed()).await.is_err() {
                panic!(
                    "the SC received {} of {n} {kind:?} requests",
                    self.requests(kind)
                );
            }
        }
    }

    /// Remove every armed fault (the request counters are kept). Requests held at a point
    /// stay held until their handle releases or cuts them.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.holds.clear();
        state.every.clear();
        state.drop_after.clear();
        state.drop_before.clear();
        state.drop_response.clear();
        state.fail_create = None;
        state.fail_next_delete = None;
        state.fail_lists = 0;
        state.delays.clear();
    }

    /// Number of requests of `kind` received so far (over all connections and restarts).
    pub fn requests(&self, kind: ApiKind) -> usize {
        self.lock().seen.get(&kind).copied().unwrap_or(0)
    }

    pub(crate) fn on_request(&self, kind: ApiKind) -> Decision {
        let mut state = self.lock();
        *state.seen.entry(kind).or_default() += 1;
        state.log.push(kind);
        let logged = state.log.len();
        self.logged.send_replace(logged);
        let drop_before = countdown(&mut state.drop_before, kind);
        let drop_response = !drop_before && countdown(&mut state.drop_response, kind);
        let drop_after = !drop_before && !drop_response && countdown(&mut state.drop_after, kind);
        Decision {
            drop_before,
            drop_after,
            drop_response,
            delay: state.delays.get(&kind).copied(),
        }
    }

    pub(crate) fn delay_of(&self, kind: ApiKind) -> Option<Duration> {
        self.lock().delays.get(&kind).copied()
    }

    pub(crate) fn take_create_failure(&self) -> Option<(ErrorCode, Option<String>)> {
        let mut state = self.lock();
        let (code, message, left) = state.fail_create.take()?;
        if left > 1 {
            state.fail_create = Some((code.clone(), message.clone(), left - 1));
        }
        Some((code, message))
    }

    /// Whether this List request fails in its handler (see `fail_lists`).
    pub(crate) fn take_list_failure(&self) -> bool {
        let mut state = self.lock();
        let fail = state.fail_lists > 0;
        state.fail_lists = state.fail_lists.saturating_sub(1);
        fail
    }

    pub(crate) fn take_delete_failure(&self) -> Option<(ErrorCode, Option<String>)> {
        self.lock().fail_next_delete.take()
    }
}
