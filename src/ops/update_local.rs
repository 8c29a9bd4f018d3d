//! `update-local ID HOST`: one SPU's local endpoint, through the same journaled, verified
//! replace as `apply`.

use std::collections::BTreeMap;

use super::apply::execute;
use super::plan::document;
use super::session::{Connect, Session};
use super::{refused, RunOutcome};
use crate::error::{Error, Result, Usage};
use crate::model::{
    ClusterTable, Desired, DesiredSpu, Encryption, LocalDecl, Policy, SpuId, SpuSpans, Unmanaged,
};
use crate::output::Printer;
use crate::report::RunKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateLocalOptions {
    pub id: SpuId,
    pub local: LocalDecl,
    /// `--restart-command` and its limits, `--accept-stalls`.
    pub healing: super::route::Healing,
}

/// The declaration `HOST [--port P] [--encryption E]` makes: `HOST` may carry the port;
/// `none` clears the endpoint.
pub fn local(
    host: &str,
    port: Option<u16>,
    encryption: Option<Encryption>,
) -> Result<LocalDecl, Usage> {
    if host.eq_ignore_ascii_case("none") {
        if port.is_some() || encryption.is_some() {
            return Err(Usage::NoneTakesNoPort);
        }
        return Ok(LocalDecl::None);
    }
    let (parsed, given) =
        crate::address::parse_host_port(host).map_err(|source| Usage::InvalidHost {
            host: host.to_string(),
            help: source.help(),
            source,
        })?;
    if given.is_some() && port.is_some() {
        return Err(Usage::PortTwice);
    }
    Ok(LocalDecl::Set {
        host: parsed,
        port: given.or(port),
        encryption,
    })
}

/// A one-entry file: this SPU's local endpoint, nothing else managed.
fn desired(options: &UpdateLocalOptions) -> Desired {
    Desired {
        cluster: ClusterTable::default(),
        client: None,
        policy: Policy {
            unmanaged: Unmanaged::Ignore,
            max_changes: None,
            ..Policy::default()
        },
        spus: BTreeMap::from([(
            options.id,
            DesiredSpu {
                id: options.id,
                local: options.local.clone(),
                name: None,
                public: None,
                private: None,
                rack: None,
                spans: SpuSpans::default(),
            },
        )]),
    }
}

pub async fn run(
    connect: &Connect,
    options: &UpdateLocalOptions,
    printer: &Printer,
) -> Result<RunOutcome> {
    let desired = desired(options);
    let mut session = Session::open(connect, &desired.cluster, printer).await?;
    let recovered_first = std::mem::take(&mut session.recovered_first);
    let live = super::route::read_live(&mut session.cluster)
        .await
        .map_err(Error::from_cluster)?;
    let ids: Vec<_> = desired.spus.keys().copied().collect();
    let live = connect
        .until_registered(&mut session.cluster, live, &ids, printer)
        .await?;
    let mut plan = crate::plan::plan(&desired, &live);
    let request = super::route::RouteRequest {
        restart: options.healing.restart_command.is_some(),
        offline: false,
        accept_stalls: options.healing.accept_stalls,
    };
    let route = request.route(&session.cluster, &desired.policy);
    crate::replication::assess(&mut plan, &live, route, request.stalls(&desired.policy));
    let doc = document(
        plan,
        &live,
        &session.cluster,
        None,
        printer.documents_carry_fingerprints(),
        route,
    );
    if doc.is_blocked() {
        printer.refused_update(&doc, recovered_first);
        return Err(refused(&doc));
    }
    if !doc.has_changes() {
        printer.unexecuted(&doc, recovered_first, RunKind::Real);
        let spu = &live.spus[&options.id].spec;
        printer.note(&format!(
            "SPU {} ({}) already has local endpoint {}; nothing to do.\n",
            spu.id,
            spu.name,
            crate::plan::describe_endpoint(&spu.local)
        ));
        return Ok(RunOutcome::default());
    }
    let heal = options
        .healing
        .restart_hook(&desired.policy)
        .map(|hook| super::apply::Heal {
            hook,
            partitions: live.partitions.as_deref().unwrap_or_default(),
            gate_timeout: options.healing.gate_timeout,
        });
    execute(&mut session, &doc, recovered_first, printer, heal, None).await
}
