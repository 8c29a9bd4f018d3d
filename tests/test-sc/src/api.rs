//! Request handlers of the test SC's public (admin) API.
//!
//! Each handler follows the upstream SC's `crates/fluvio-sc/src/services/public_api/*` rules
//! (see FIDELITY.md); the code is this project's own.

use std::fmt::Debug;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use fluvio_controlplane_metadata::extended::SpecExt;
use fluvio_controlplane_metadata::message::Message;
use fluvio_controlplane_metadata::smartmodule::SmartModuleSpec;
use fluvio_controlplane_metadata::spu::{CustomSpuKey, CustomSpuSpec, SpuSpec};
use fluvio_controlplane_metadata::topic::TopicSpec;
use fluvio_future::task::spawn;
use fluvio_future::timer::sleep;
use fluvio_protocol::api::{RequestHeader, RequestMessage, ResponseMessage};
use fluvio_protocol::link::versions::{
    ApiVersionKey, ApiVersionsRequest, ApiVersionsResponse, PlatformVersion,
};
use fluvio_protocol::link::ErrorCode;
use fluvio_protocol::{Decoder, Encoder};
use fluvio_sc_schema::objects::{
    CreateRequest, DeleteRequest, ListFilters, ListRequest, ListResponse, Metadata, MetadataUpdate,
    ObjectApiCreateRequest, ObjectApiDeleteRequest, ObjectApiListRequest, ObjectApiListResponse,
    ObjectApiUpdateRequest, ObjectApiWatchRequest, ObjectApiWatchResponse, UpdateRequest,
    WatchRequest, WatchResponse,
};
use fluvio_sc_schema::store::KeyFilter;
use fluvio_sc_schema::{AdminPublicApiKey, AdminSpec, Status, TryEncodableFrom};
use fluvio_socket::ExclusiveFlvSink;
use fluvio_stream_dispatcher::metadata::local::LocalMetadataItem;
use fluvio_types::event::StickyEvent;

use super::auth::{ConnAuth, TypeAction};
use super::faults::{ApiKind, Point, Resume};
use super::state::{Ctx, ScState, SpuObj};
use fluvio_stream_model::core::Spec;

type Sink = ExclusiveFlvSink;

/// Where a handler's answer goes. `mute` (fault injection): process the request but send
/// no answer.
pub(crate) struct Out {
    pub sink: Sink,
    pub mute: bool,
    /// the watch streams open on this connection
    pub watches: Arc<ConnWatches>,
}

/// The watch streams of one connection, each with the last store epoch it has sent.
///
/// On the real SC a change's watch update goes out on the connection before the reply to
/// the request that made the change (the watch task wakes on the store change while the
/// handler still waits for its confirmation). The test SC makes that order certain: a
/// handler that changed a store waits, before answering, until every watch of that kind on
/// the same connection has sent the new epoch.
#[derive(Default)]
pub(crate) struct ConnWatches {
    sent: std::sync::Mutex<Vec<(&'static str, tokio::sync::watch::Receiver<i64>)>>,
}

impl ConnWatches {
    fn open(&self, kind: &'static str) -> tokio::sync::watch::Sender<i64> {
        let (sender, receiver) = tokio::sync::watch::channel(i64::MIN);
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((kind, receiver));
        sender
    }

    /// Waits until every open watch of `kind` has sent `epoch` (or ended).
    async fn flushed(&self, kind: &str, epoch: i64) {
        let receivers: Vec<_> = self
            .sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, r)| r.clone())
            .collect();
        for mut receiver in receivers {
            // Err: the watch ended (connection closing)
            let _ = receiver.wait_for(|sent| *sent >= epoch).await;
        }
    }
}

/// Before answering a request that changed the SPU store: let this connection's SPU watches
/// send the change first.
async fn spu_watches_first(state: &ScState, out: &Out) {
    let epoch = state.spus.store().epoch().await;
    out.watches.flushed(SpuSpec::LABEL, epoch).await;
}

/// A request held after it was applied, before its answer: `Err` when the test cut it (the
/// connection closes with the change made and no answer sent).
async fn held_after_apply(state: &ScState, kind: ApiKind) -> Result<()> {
    if let Some(hold) = state.shared.faults.hold_at(kind, Point::AfterApply) {
        if hold.wait().await == Resume::Cut {
            return Err(anyhow!("{kind:?} cut after it was applied"));
        }
    }
    Ok(())
}

async fn send<P>(out: &Out, header: &RequestHeader, response: P) -> Result<()>
where
    ResponseMessage<P>: Encoder + Debug,
{
    if out.mute {
        return Ok(());
    }
    let msg = ResponseMessage::from_header(header, response);
    out.sink
        .lock()
        .await
        .send_response(&msg, header.api_version())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- api versions

/// API version ranges the SC advertises. For platform 0.11.11 and later these are the
/// ranges of the 0.50.1 request types, i.e. SC v0.18.1 (upstream `api_version.rs`); for
/// older platforms, the ranges those releases' schema crates had (tags v0.11.9 / v0.11.10).
fn api_keys(platform: &semver::Version) -> Vec<ApiVersionKey> {
    use fluvio_protocol::api::Request;
    use fluvio_sc_schema::mirroring::ObjectMirroringRequest;
    let key = |k: AdminPublicApiKey, min_version: i16, max_version: i16| ApiVersionKey {
        api_key: k as i16,
        min_version,
        max_version,
    };
    if *platform < semver::Version::new(0, 11, 10) {
        // v0.11.9: COMMON_VERSION 14, no Update API
        vec![
            key(AdminPublicApiKey::Create, 9, 14),
            key(AdminPublicApiKey::Delete, 1, 14),
            key(AdminPublicApiKey::List, 12, 14),
            key(AdminPublicApiKey::Watch, 12, 14),
            key(AdminPublicApiKey::Mirroring, 14, 14),
        ]
    } else if *platform < semver::Version::new(0, 11, 11) {
        // v0.11.10: COMMON_VERSION 15
        vec![
            key(AdminPublicApiKey::Create, 9, 15),
            key(AdminPublicApiKey::Delete, 1, 15),
            key(AdminPublicApiKey::List, 13, 15),
            key(AdminPublicApiKey::Watch, 13, 15),
            key(AdminPublicApiKey::Mirroring, 14, 15),
            key(AdminPublicApiKey::Update, 1, 15),
        ]
    } else {
        vec![
            key(
                AdminPublicApiKey::Create,
                ObjectApiCreateRequest::MIN_API_VERSION,
                ObjectApiCreateRequest::MAX_API_VERSION,
            ),
            key(
                AdminPublicApiKey::Delete,
                ObjectApiDeleteRequest::MIN_API_VERSION,
                ObjectApiDeleteRequest::MAX_API_VERSION,
            ),
            key(
                AdminPublicApiKey::List,
                ObjectApiListRequest::MIN_API_VERSION,
                ObjectApiListRequest::MAX_API_VERSION,
            ),
            key(
                AdminPublicApiKey::Watch,
                ObjectApiWatchRequest::MIN_API_VERSION,
                ObjectApiWatchRequest::MAX_API_VERSION,
            ),
            key(
                AdminPublicApiKey::Mirroring,
                ObjectMirroringRequest::MIN_API_VERSION,
                ObjectMirroringRequest::MAX_API_VERSION,
            ),
            key(
                AdminPublicApiKey::Update,
                ObjectApiUpdateRequest::MIN_API_VERSION,
                ObjectApiUpdateRequest::MAX_API_VERSION,
            ),
        ]
    }
}

pub(crate) async fn api_versions(
    state: &ScState,
    out: &Out,
    request: RequestMessage<ApiVersionsRequest>,
) -> Result<()> {
    // upstream parses the client version and fails the connection if it is not semver
    semver::Version::parse(&request.request().client_version)?;
    let response = ApiVersionsResponse {
        platform_version: PlatformVersion::new(&state.platform_version),
        api_keys: api_keys(&state.platform_version),
        ..Default::default()
    };
    if out.mute {
        return Ok(());
    }
    let msg = request.new_response(response);
    out.sink
        .lock()
        .await
        .send_response(&msg, request.header.api_version())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- list

fn list_store<S>(
    store: Vec<MetadataStoreObjectOf<S>>,
    filters: &ListFilters,
    keep: impl Fn(&S) -> bool,
) -> ListResponse<S>
where
    S: AdminSpec,
    S::IndexKey: ToString,
    S::Status: Encoder + Decoder + Debug,
{
    ListResponse::new(
        store
            .into_iter()
            .filter(|obj| filters.filter(&obj.key().to_string()) && keep(obj.spec()))
            .map(Metadata::from)
            .collect(),
    )
}

type MetadataStoreObjectOf<S> =
    fluvio_stream_dispatcher::store::MetadataStoreObject<S, LocalMetadataItem>;

async fn values<S>(ctx: &Ctx<S>) -> Vec<MetadataStoreObjectOf<S>>
where
    S: fluvio_stream_model::core::Spec,
{
    ctx.store().clone_values().await
}

/// upstream: every list checks Read on its object type; denied answers an EMPTY list
fn denied<S: AdminSpec + SpecExt>(
    auth: &ConnAuth,
    version: i16,
) -> Result<Option<ObjectApiListResponse>>
where
    ObjectApiListResponse: TryEncodableFrom<ListResponse<S>>,
    S::Status: Encoder + Decoder + Debug,
{
    if auth.allows(S::OBJECT_TYPE, TypeAction::Read) {
        return Ok(None);
    }
    let empty = ListResponse::<S>::new(vec![]);
    Ok(Some(ObjectApiListResponse::try_encode_from(
        empty, version,
    )?))
}

pub(crate) async fn list(
    state: &ScState,
    auth: &ConnAuth,
    out: &Out,
    request: RequestMessage<ObjectApiListRequest>,
) -> Result<()> {
    use fluvio_controlplane_metadata::mirror::MirrorSpec;
    use fluvio_controlplane_metadata::partition::PartitionSpec;
    use fluvio_controlplane_metadata::spg::SpuGroupSpec;
    use fluvio_controlplane_metadata::tableformat::TableFormatSpec;

    if state.shared.faults.take_list_failure() {
        // upstream: the list handler's error ends the connection's request loop, unanswered
        return Err(anyhow!("authorization io error"));
    }
    let (header, req) = request.get_header_request();
    let version = header.api_version();
    let response = if let Some(response) = list_denied(auth, &req, version)? {
        response
    } else if let Some(req) = req.downcast()? as Option<ListRequest<TopicSpec>> {
        let system = req.system;
        ObjectApiListResponse::try_encode_from(
            list_store(values(&state.topics).await, &req.name_filters, |t| {
                t.is_system() == system
            }),
            version,
        )?
    } else if let Some(req) = req.downcast()? as Option<ListRequest<SpuSpec>> {
        // upstream spu/fetch.rs: every SPU whose name matches a filter
        let read = state.spus.store().read().await;
        let spus: Vec<Metadata<SpuSpec>> = read
            .values()
            .filter(|spu| req.name_filters.filter(spu.key()))
            .map(|spu| Metadata::from(spu.inner().clone()))
            .collect();
        drop(read);
        ObjectApiListResponse::try_encode_from(ListResponse::new(spus), version)?
    } else if let Some(req) = req.downcast()? as Option<ListRequest<SpuGroupSpec>> {
        ObjectApiListResponse::try_encode_from(
            list_store(values(&state.spgs).await, &req.name_filters, |_| true),
            version,
        )?
    } else if let Some(req) = req.downcast()? as Option<ListRequest<CustomSpuSpec>> {
        // upstream spu/fetch.rs: custom SPUs only, converted to CustomSpuSpec
        let read = state.spus.store().read().await;
        let spus: Vec<Metadata<CustomSpuSpec>> = read
            .values()
            .filter(|spu| spu.spec.is_custom() && req.name_filters.filter(spu.key()))
            .map(|spu| Metadata {
                name: spu.key().clone(),
                spec: CustomSpuSpec::from(spu.spec.clone()),
                status: spu.status.clone(),
            })
            .collect();
        drop(read);
        ObjectApiListResponse::try_encode_from(ListResponse::new(spus), version)?
    } else if let Some(req) = req.downcast()? as Option<ListRequest<PartitionSpec>> {
        let system = req.system;
        ObjectApiListResponse::try_encode_from(
            list_store(values(&state.partitions).await, &req.name_filters, |p| {
                p.system == system
            }),
            version,
        )?
    } else if let Some(req) = req.downcast()? as Option<ListRequest<SmartModuleSpec>> {
        let summary = req.summary;
        let mut response = list_store(values(&state.smartmodules).await, &req.name_filters, |_| {
            true
        })
        .inner();
        if summary {
            response = response.into_iter().map(|m| m.summary()).collect();
        }
        ObjectApiListResponse::try_encode_from(ListResponse::new(response), version)?
    } else if let Some(req) = req.downcast()? as Option<ListRequest<TableFormatSpec>> {
        ObjectApiListResponse::try_encode_from(
            list_store(values(&state.tableformats).await, &req.name_filters, |_| {
                true
            }),
            version,
        )?
    } else if let Some(req) = req.downcast()? as Option<ListRequest<MirrorSpec>> {
        ObjectApiListResponse::try_encode_from(
            list_store(values(&state.mirrors).await, &req.name_filters, |_| true),
            version,
        )?
    } else {
        // upstream: the handler fails, which ends the connection
        return Err(anyhow!("unsupported list request: {req:?}"));
    };
    send(out, &header, response).await
}

/// The empty answer of a list whose Read is denied, or `None` when it is allowed (or of a
/// kind that the list handler refuses anyway).
fn list_denied(
    auth: &ConnAuth,
    req: &ObjectApiListRequest,
    version: i16,
) -> Result<Option<ObjectApiListResponse>> {
    use fluvio_controlplane_metadata::mirror::MirrorSpec;
    use fluvio_controlplane_metadata::partition::PartitionSpec;
    use fluvio_controlplane_metadata::spg::SpuGroupSpec;
    use fluvio_controlplane_metadata::tableformat::TableFormatSpec;

    fn check<S>(
        auth: &ConnAuth,
        req: &ObjectApiListRequest,
        version: i16,
    ) -> Result<Option<Option<ObjectApiListResponse>>>
    where
        S: AdminSpec + SpecExt,
        S::Status: Encoder + Decoder + Debug,
        ObjectApiListRequest: TryEncodableFrom<ListRequest<S>>,
        ObjectApiListResponse: TryEncodableFrom<ListResponse<S>>,
    {
        if (req.downcast()? as Option<ListRequest<S>>).is_none() {
            return Ok(None);
        }
        Ok(Some(denied::<S>(auth, version)?))
    }

    let checks = [
        check::<TopicSpec>,
        check::<SpuSpec>,
        check::<SpuGroupSpec>,
        check::<CustomSpuSpec>,
        check::<PartitionSpec>,
        check::<SmartModuleSpec>,
        check::<TableFormatSpec>,
        check::<MirrorSpec>,
    ];
    for check in checks {
        if let Some(answer) = check(auth, req, version)? {
            return Ok(answer);
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------- create

pub(crate) async fn create(
    state: &ScState,
    auth: &ConnAuth,
    out: &Out,
    request: Box<RequestMessage<ObjectApiCreateRequest>>,
) -> Result<()> {
    let (header, req) = request.get_header_request();
    let kind = if super::faults::is_dry_run(&req) {
        ApiKind::DryRunCreate
    } else {
        ApiKind::Create
    };
    // an armed refusal is for a create that writes, not a dry run
    let failure = if kind == ApiKind::DryRunCreate {
        None
    } else {
        state.shared.faults.take_create_failure()
    };
    let status = if let Some((code, message)) = failure {
        // injected fault: refused, nothing stored
        let name = (req.downcast()? as Option<CreateRequest<CustomSpuSpec>>)
            .map(|c| c.parts().0.name)
            .unwrap_or_default();
        Status::new(name, code, message)
    } else if let Some(create) = req.downcast()? as Option<CreateRequest<CustomSpuSpec>> {
        let status = register_custom_spu(state, auth, create).await;
        // a hold on creates catches a create that writes, as every fault armed for them
        held_after_apply(state, kind).await?;
        spu_watches_first(state, out).await;
        status
    } else {
        // the test SC does not create other object kinds
        Status::new(
            "create error".to_owned(),
            ErrorCode::Other("unknown admin object type".to_owned()),
            None,
        )
    };
    send(out, &header, status).await
}

/// upstream `spu/register_custom_spus_req.rs`
async fn register_custom_spu(
    state: &ScState,
    auth: &ConnAuth,
    create: CreateRequest<CustomSpuSpec>,
) -> Status {
    let (common, spec) = create.parts();
    let name = common.name;

    // the Create permission on the type comes first of all (also for a dry run)
    if !auth.allows(CustomSpuSpec::OBJECT_TYPE, TypeAction::Create) {
        return Status::new(
            name,
            ErrorCode::PermissionDenied,
            Some("permission denied".to_owned()),
        );
    }

    // name OR id already known -> SpuAlreadyExists; checked before the dry-run return
    if state.spus.store().value(&name).await.is_some() || state.spu_by_id(spec.id).await.is_some() {
        return Status::new(
            name.clone(),
            ErrorCode::SpuAlreadyExists,
            Some(format!("spu '{}({})' already defined", name, spec.id)),
        );
    }
    if common.dry_run {
        return Status::default();
    }
    let spu: SpuSpec = spec.into();
    // waits (like upstream) until the dispatcher has applied it to the store
    match state.spus.create_spec(name.clone(), spu).await {
        Ok(_) => Status::new_ok(name),
        Err(err) => Status::new(name, ErrorCode::SpuError, Some(err.to_string())),
    }
}

// ---------------------------------------------------------------- delete

pub(crate) async fn delete(
    state: &ScState,
    out: &Out,
    request: RequestMessage<ObjectApiDeleteRequest>,
) -> Result<()> {
    let (header, req) = request.get_header_request();
    let status = if let Some((code, message)) = state.shared.faults.take_delete_failure() {
        // injected fault: refused, nothing deleted
        let name = match (req.downcast()? as Option<DeleteRequest<CustomSpuSpec>>).map(|d| d.key())
        {
            Some(CustomSpuKey::Name(name)) => name,
            Some(CustomSpuKey::Id(id)) => format!("spu-{id}"),
            None => String::new(),
        };
        Status::new(name, code, message)
    } else if let Some(req) = req.downcast()? as Option<DeleteRequest<CustomSpuSpec>> {
        let status = unregister_custom_spu(state, req.key()).await;
        held_after_apply(state, ApiKind::Delete).await?;
        spu_watches_first(state, out).await;
        status
    } else {
        // upstream delete.rs answers unknown kinds with exactly this ("create error")
        Status::new(
            "create error".to_owned(),
            ErrorCode::Other("unknown admin object type".to_owned()),
            None,
        )
    };
    send(out, &header, status).await
}

/// upstream `spu/unregister_custom_spus_req.rs`. No permission is checked: upstream's
/// instance check (`allow_instance_action`) allows every delete under every authorization.
async fn unregister_custom_spu(state: &ScState, key: CustomSpuKey) -> Status {
    let found: Option<SpuObj> = match &key {
        CustomSpuKey::Name(name) => state
            .spus
            .store()
            .value(name)
            .await
            .map(|v| v.inner_owned()),
        CustomSpuKey::Id(id) => state.spu_by_id(*id).await,
    };
    let Some(spu) = found else {
        let name = match key {
            CustomSpuKey::Name(name) => name,
            CustomSpuKey::Id(id) => format!("spu-{id}"),
        };
        return Status::new(name, ErrorCode::SpuNotFound, Some("not found".to_owned()));
    };
    let name = spu.key_owned();
    if !spu.spec.is_custom() {
        return Status::new(
            name,
            ErrorCode::SpuError,
            Some("expected 'Custom' spu, found 'Managed' spu".to_owned()),
        );
    }
    let id = spu.spec.id;
    // StoreContext::delete returns only once the object is gone from the store
    match state.spus.delete(name.clone()).await {
        Ok(()) => {
            if !state.is_stopped() {
                // the SPU processes connected to this SC hear of it: each drops its
                // pending-update entry for that id (upstream `FollowerNotifier::sync_from_spus`)
                super::dataplane::spu_deleted(state, id);
            }
            Status::new_ok(name)
        }
        Err(err) => Status::new(
            name,
            ErrorCode::SpuError,
            Some(format!("error deleting: {err}")),
        ),
    }
}

// ---------------------------------------------------------------- update

pub(crate) async fn update(
    _state: &ScState,
    out: &Out,
    request: RequestMessage<ObjectApiUpdateRequest>,
) -> Result<()> {
    let (header, req) = request.get_header_request();
    let status = if let Some(req) = req.downcast()? as Option<UpdateRequest<TopicSpec>> {
        // the test SC has no topics: upstream's answer for a missing topic
        Status::new(
            req.key(),
            ErrorCode::TopicNotFound,
            Some("not found".to_owned()),
        )
    } else {
        // upstream update.rs: only topics can be updated
        Status::new(
            "update error".to_owned(),
            ErrorCode::Other("unknown admin object type".to_owned()),
            None,
        )
    };
    send(out, &header, status).await
}

// ---------------------------------------------------------------- watch

/// upstream `watch.rs`: one task per watch request, pushing a full sync first, then the
/// changes of the store, until the connection ends.
pub(crate) fn watch(
    state: &Arc<ScState>,
    out: &Out,
    request: RequestMessage<ObjectApiWatchRequest>,
    end: Arc<StickyEvent>,
) -> Result<()> {
    use fluvio_controlplane_metadata::partition::PartitionSpec;
    use fluvio_controlplane_metadata::spg::SpuGroupSpec;
    use fluvio_controlplane_metadata::tableformat::TableFormatSpec;

    let (header, req) = request.get_header_request();
    let sink = out.sink.clone();
    let s = state.clone();
    let w = &out.watches;
    if (req.downcast()? as Option<WatchRequest<TopicSpec>>).is_some() {
        spawn(watch_loop(
            s.clone(),
            s.topics.clone(),
            sink,
            header,
            false,
            end,
            w.open(TopicSpec::LABEL),
        ));
    } else if (req.downcast()? as Option<WatchRequest<SpuSpec>>).is_some() {
        spawn(watch_loop(
            s.clone(),
            s.spus.clone(),
            sink,
            header,
            false,
            end,
            w.open(SpuSpec::LABEL),
        ));
    } else if (req.downcast()? as Option<WatchRequest<SpuGroupSpec>>).is_some() {
        spawn(watch_loop(
            s.clone(),
            s.spgs.clone(),
            sink,
            header,
            false,
            end,
            w.open(SpuGroupSpec::LABEL),
        ));
    } else if (req.downcast()? as Option<WatchRequest<PartitionSpec>>).is_some() {
        spawn(watch_loop(
            s.clone(),
            s.partitions.clone(),
            sink,
            header,
            false,
            end,
            w.open(PartitionSpec::LABEL),
        ));
    } else if let Some(req) = req.downcast()? as Option<WatchRequest<SmartModuleSpec>> {
        spawn(watch_loop(
            s.clone(),
            s.smartmodules.clone(),
            sink,
            header,
            req.summary,
            end,
            w.open(SmartModuleSpec::LABEL),
        ));
    } else if (req.downcast()? as Option<WatchRequest<TableFormatSpec>>).is_some() {
        spawn(watch_loop(
            s.clone(),
            s.tableformats.clone(),
            sink,
            header,
            false,
            end,
            w.open(TableFormatSpec::LABEL),
        ));
    } else {
        // upstream: "Not Valid Watch Request" ends the connection
        return Err(anyhow!("Not Valid Watch Request"));
    }
    Ok(())
}

async fn watch_loop<S>(
    state: Arc<ScState>,
    ctx: Ctx<S>,
    sink: Sink,
    header: RequestHeader,
    summary: bool,
    end: Arc<StickyEvent>,
    sent: tokio::sync::watch::Sender<i64>,
) where
    S: AdminSpec + Send + Sync + 'static,
    S::Status: Encoder + Decoder + Send + Sync + Debug,
    S::IndexKey: ToString + Send + Sync,
    ObjectApiWatchResponse: TryEncodableFrom<WatchResponse<S>>,
{
    let mut listener = ctx.change_listener();
    loop {
        if end.is_set() {
            break;
        }
        let changes = listener.sync_changes().await;
        let epoch = changes.epoch;
        let shape = |m: Metadata<S>| if summary { m.summary() } else { m };
        let update = if changes.is_sync_all() {
            let (all, _) = changes.parts();
            MetadataUpdate::with_all(
                epoch,
                all.into_iter().map(Metadata::from).map(shape).collect(),
            )
        } else {
            let (updates, deletes) = changes.parts();
            let mut msgs: Vec<Message<Metadata<S>>> = updates
                .into_iter()
                .map(Metadata::from)
                .map(shape)
                .map(Message::update)
                .collect();
            msgs.extend(
                deletes
                    .into_iter()
                    .map(|d| Message::delete(Metadata::from(d))),
            );
            MetadataUpdate::with_changes(epoch, msgs)
        };
        if let Some(delay) = state.shared.faults.delay_of(ApiKind::Watch) {
            sleep(delay).await;
        }
        if let Some(hold) = state
            .shared
            .faults
            .hold_at(ApiKind::Watch, Point::BeforeWatchUpdate)
        {
            if hold.wait().await == Resume::Cut {
                end.notify();
                break;
            }
        }
        let response = match ObjectApiWatchResponse::try_encode_from(
            WatchResponse::new(update),
            header.api_version(),
        ) {
            Ok(r) => r,
            Err(err) => {
                tracing::error!(%err, "test sc: encoding watch response");
                end.notify();
                break;
            }
        };
        let out = Out {
            sink: sink.clone(),
            mute: false,
            watches: Arc::default(),
        };
        if send(&out, &header, response).await.is_err() {
            end.notify();
            break;
        }
        sent.send_replace(epoch);
        tokio::select! {
            _ = end.listen() => break,
            _ = listener.listen() => {},
        }
    }
}
