//! Fault injection for the test SC, switchable at runtime from a test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

#[derive(Default)]
struct FaultState {
    /// countdown: close the connection after answering the n-th next request of the kind
    drop_after: HashMap<ApiKind, usize>,
    /// countdown: process the n-th next request of the kind, then close the connection
    /// without answering it
    drop_response: HashMap<ApiKind, usize>,
    /// countdown: close the connection instead of processing the n-th next request of the kind
    drop_before: HashMap<ApiKind, usize>,
    fail_next_create: Option<(ErrorCode, Option<String>)>,
    delays: HashMap<ApiKind, Duration>,
    seen: HashMap<ApiKind, usize>,
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
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
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
    /// client's connection. The request IS applied.
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
        self.lock().fail_next_create = Some((code, message));
    }

    /// Delay the answers of `kind` by `delay` (for watches: every push).
    pub fn delay(&self, kind: ApiKind, delay: Duration) {
        self.lock().delays.insert(kind, delay);
    }

    /// Remove every armed fault (the request counters are kept).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.drop_after.clear();
        state.drop_before.clear();
        state.drop_response.clear();
        state.fail_next_create = None;
        state.delays.clear();
    }

    /// Number of requests of `kind` received so far (over all connections and restarts).
    pub fn requests(&self, kind: ApiKind) -> usize {
        self.lock().seen.get(&kind).copied().unwrap_or(0)
    }

    pub(crate) fn on_request(&self, kind: ApiKind) -> Decision {
        let mut state = self.lock();
        *state.seen.entry(kind).or_default() += 1;
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
        self.lock().fail_next_create.take()
    }
}
