//! `probe [-f FILE]`: from where this runs, does a Fluvio SPU answer at each local
//! endpoint? The endpoints come from a zone file (what a plan would set) or from the
//! cluster's live SPUs. Reads the cluster (through the file's `[client]` address when it
//! has one: the SC as the zone's clients reach it), writes nothing.

use std::path::PathBuf;

use super::load_file;
use super::session::{Access, Connect};
use crate::cluster::Cluster;
use crate::config::SourceFile;
use crate::error::{Error, Result};
use crate::model::{Desired, Endpoint, Live, LiveSpu, LocalDecl, ProbePolicy};
use crate::output::Printer;
use crate::plan::Blocker;
use crate::probe::{self, Subject};
use crate::report::ProbeDoc;
use crate::report::{ConfigRef, PlanDoc};

/// What to probe, and how hard.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The endpoints this zone file declares; `None`: the cluster's live local endpoints.
    pub file: Option<PathBuf>,
    /// Also probe each SPU's public endpoint (for comparison).
    pub public: bool,
    pub limits: probe::Options,
}

fn public_of(spu: &LiveSpu) -> Option<Endpoint> {
    let public = &spu.spec.public;
    (!public.host().is_empty()).then(|| Endpoint {
        host: public.host().to_string(),
        port: public.port,
        encryption: public.encryption,
    })
}

/// What a file declares, each endpoint completed from its live SPU as a plan would.
fn from_file(file: &SourceFile, desired: &Desired, live: &Live, public: bool) -> Vec<Subject> {
    desired
        .spus
        .values()
        .map(|d| {
            let spu = live.spus.get(&d.id);
            let mut subject = Subject {
                id: d.id,
                name: spu.map_or_else(|| "(not in the cluster)".into(), |s| s.spec.name.clone()),
                line: Some(file.line_col(d.spans.local.start).0),
                local: None,
                skip_reason: None,
                public: spu.filter(|_| public).and_then(public_of),
            };
            match (&d.local, spu) {
                (LocalDecl::None, _) => {
                    subject.skip_reason =
                        Some("the file declares no local endpoint (`none`): nothing to probe".into())
                }
                (decl, Some(spu)) => subject.local = decl.resolve(&spu.spec),
                (LocalDecl::Set { host, port: Some(port), encryption }, None) => {
                    subject.local = Some(Endpoint {
                        host: host.clone(),
                        port: *port,
                        encryption: encryption.unwrap_or_default(),
                    })
                }
                (LocalDecl::Set { port: None, .. }, None) => {
                    subject.skip_reason = Some(
                        "not in the cluster, and the file gives no port (it defaults to the SPU's public port)".into(),
                    )
                }
            }
            subject
        })
        .collect()
}

/// The cluster's SPUs with the local endpoints they have now.
fn from_live(live: &Live, public: bool) -> Vec<Subject> {
    live.spus
        .values()
        .map(|spu| Subject {
            id: spu.spec.id,
            name: spu.spec.name.clone(),
            line: None,
            local: spu.spec.local.clone(),
            skip_reason: spu
                .spec
                .local
                .is_none()
                .then(|| "no local endpoint set: its clients dial the public one".into()),
            public: if public { public_of(spu) } else { None },
        })
        .collect()
}

/// Reads the SPUs, probes their endpoints, and returns the report (the profile warning,
/// if any, is printed through `printer` and kept in the report).
pub async fn run(connect: &Connect, options: &ProbeOptions, printer: &Printer) -> Result<ProbeDoc> {
    let loaded = options.file.as_deref().map(load_file).transpose()?;
    let cluster_table = loaded
        .as_ref()
        .map(|(_, d)| d.cluster.clone())
        .unwrap_or_default();
    // A probe stands for the zone's clients: it reads the SPUs through the SC address they
    // dial (`[client]`) when the file gives one.
    let client = loaded.as_ref().and_then(|(_, d)| d.client.as_ref());
    let mut cluster = connect
        .open_for(&cluster_table, client, Access::Read, printer)
        .await?;
    let live = cluster.read().await.map_err(Error::from_cluster)?;
    let subjects = match &loaded {
        Some((file, desired)) => from_file(file, desired, &live, options.public),
        None => from_live(&live, options.public),
    };
    if subjects.iter().all(|s| s.local.is_none()) {
        return Err(Error::NothingToProbe {
            from_file: loaded.is_some(),
            what: match &loaded {
                Some((file, _)) => format!("{} declares no local endpoint to probe", file.name),
                None => format!("no SPU of {} has a local endpoint", cluster.identity()),
            },
        });
    }
    let warnings: Vec<String> = connect
        .warn_local_off(&cluster_table, client, printer)
        .into_iter()
        .collect();
    let spus = probe::probe(&subjects, &options.limits).await;
    let config = loaded.as_ref().map(|(f, _)| ConfigRef::of(f));
    Ok(ProbeDoc::new(
        &cluster.identity().to_string(),
        config,
        &options.limits,
        spus,
        warnings,
    ))
}

/// `--probe` and `--force`, as `plan` and `apply` take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProbeRequest {
    /// `--probe`: probe, and refuse the plan for an unreachable endpoint.
    pub probe: bool,
    /// `--force`: an unreachable endpoint is a warning, not a blocker.
    pub force: bool,
}

/// What a plan does about the endpoints it would set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanProbe {
    Off,
    /// Probe; warn about each unreachable endpoint.
    Warn,
    /// Probe; an unreachable endpoint is a blocker.
    Block,
}

impl ProbeRequest {
    /// The flag, else the file's `[policy] probe`; `--force` turns blocking into warning.
    pub fn mode(self, policy: ProbePolicy) -> PlanProbe {
        let wanted = match (self.probe, policy) {
            (true, _) | (false, ProbePolicy::Error) => PlanProbe::Block,
            (false, ProbePolicy::Warn) => PlanProbe::Warn,
            (false, ProbePolicy::Off) => PlanProbe::Off,
        };
        match wanted {
            PlanProbe::Block if self.force => PlanProbe::Warn,
            other => other,
        }
    }
}

/// Probes the local endpoints a plan would set (its set and change actions) from here,
/// before anything is written: each unreachable one becomes a blocker at its line, or a
/// warning. A plan already refused is not probed (it will not be applied anyway).
pub async fn check_plan(doc: &mut PlanDoc, mode: PlanProbe, printer: &Printer) {
    if mode == PlanProbe::Off || doc.is_blocked() {
        return;
    }
    let subjects: Vec<Subject> = doc
        .changes
        .iter()
        .filter_map(|c| {
            c.after.as_ref().map(|after| Subject {
                id: c.id,
                name: c.name.clone(),
                line: c.line,
                local: Some(after.clone()),
                skip_reason: None,
                public: None,
            })
        })
        .collect();
    if subjects.is_empty() {
        return;
    }
    let spus = probe::probe(&subjects, &probe::Options::default()).await;
    let down = probe::unreachable(&spus);
    printer.note(&format!(
        "Probed the {} local endpoint(s) this plan sets: {} answered as a Fluvio SPU, {} did not.\n",
        subjects.len(),
        subjects.len() - down.len(),
        down.len()
    ));
    for u in down {
        let blocker = Blocker::Unreachable {
            id: u.id,
            name: u.name.clone(),
            endpoint: u.endpoint.clone(),
            why: u.why.clone(),
        };
        match mode {
            PlanProbe::Block => doc.block(&blocker, u.line),
            _ => {
                let hint = u.hints.first().map(|h| format!("hint: {h}"));
                printer.warn(&blocker.message(), hint.as_deref());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_the_policy_and_force_decide_the_mode() {
        use PlanProbe::*;
        use ProbePolicy as P;
        let cases = [
            // (--probe, --force, policy) -> mode
            (false, false, P::Off, Off),
            (false, false, P::Warn, Warn),
            (false, false, P::Error, Block),
            (true, false, P::Off, Block),
            (true, false, P::Warn, Block),
            (true, true, P::Off, Warn),
            (false, true, P::Error, Warn),
            (false, true, P::Off, Off),
        ];
        for (probe, force, policy, mode) in cases {
            let request = ProbeRequest { probe, force };
            assert_eq!(request.mode(policy), mode, "{request:?} {policy:?}");
        }
    }
}
