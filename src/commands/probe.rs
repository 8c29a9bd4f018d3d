//! `probe [-f FILE]`: from where this runs, does a Fluvio SPU answer at each local
//! endpoint? The endpoints come from a zone file (what a plan would set) or from the
//! cluster's live SPUs. Reads the cluster, writes nothing.

use std::time::Duration;

use crate::cli::{Format, ProbeArgs};
use crate::commands::{load_file, Ctx, Outcome};
use crate::config::SourceFile;
use crate::error::{Error, Result};
use crate::model::{Desired, Endpoint, Live, LiveSpu, LocalDecl};
use crate::probe::{self, Options, ProbeDoc, Subject};
use crate::report::ConfigRef;
use crate::target::Target;

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

pub async fn run(ctx: &Ctx, args: &ProbeArgs) -> Result<Outcome> {
    let loaded = args.file.as_deref().map(load_file).transpose()?;
    let selection = loaded
        .as_ref()
        .map(|(_, d)| d.cluster.clone())
        .unwrap_or_default();
    let mut target = ctx.open_target(&selection, false).await?;
    let live = target.read().await.map_err(Error::from_target)?;
    let subjects = match &loaded {
        Some((file, desired)) => from_file(file, desired, &live, args.public),
        None => from_live(&live, args.public),
    };
    if subjects.iter().all(|s| s.local.is_none()) {
        return Err(Error::NothingToProbe {
            from_file: loaded.is_some(),
            what: match &loaded {
                Some((file, _)) => format!("{} declares no local endpoint to probe", file.name),
                None => format!("no SPU of {} has a local endpoint", target.identity()),
            },
        });
    }
    let warnings: Vec<String> = ctx.warn_local_off(&selection).into_iter().collect();
    let options = Options {
        per_address: Duration::from_secs_f64(args.timeout),
        deadline: Duration::from_secs_f64(args.deadline),
        concurrency: args.concurrency,
    };
    let spus = probe::probe(&subjects, &options).await;
    let config = loaded.as_ref().map(|(f, _)| ConfigRef::of(f));
    let doc = ProbeDoc::new(&target.identity(), config, &options, spus, warnings);
    let text = match ctx.global.output {
        Format::Text => crate::render::probe::text(&doc, &ctx.style),
        Format::Json => crate::render::json(&doc),
        Format::Yaml => serde_yaml::to_string(&doc).expect("reports serialize"),
        Format::Markdown => crate::render::probe::markdown(&doc),
    };
    crate::output::stdout(&text);
    if ctx.global.annotations.enabled() {
        ctx.emit_annotations(&crate::render::probe::annotations(&doc));
    }
    if doc.summary.unreachable > 0 {
        return Err(Error::ProbeUnreachable {
            unreachable: doc.summary.unreachable,
            probed: doc.summary.reachable + doc.summary.unreachable,
        });
    }
    Ok(Outcome::default())
}
