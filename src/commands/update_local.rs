//! `update-local <id> <host> [--port] [--encryption]`: the original proposal's command,
//! through the same journaled, verified replace as `apply`.

use std::collections::BTreeMap;

use crate::cli::Format;
use crate::cli::UpdateLocalArgs;
use crate::commands::apply::{execute, journal_and_recover, print_unexecuted};
use crate::commands::{refused, Ctx, Outcome};
use crate::error::{Error, Result};
use crate::model::{
    ClusterSel, Desired, DesiredSpu, Encryption, LocalDecl, Policy, SpuSpans, Unmanaged,
};
use crate::report::PlanDoc;
use crate::target::Target;

fn decl(args: &UpdateLocalArgs) -> Result<LocalDecl> {
    if args.host.eq_ignore_ascii_case("none") {
        if args.port.is_some() || args.encryption.is_some() {
            return Err(Error::Usage(
                "`none` clears the local endpoint; it takes no --port or --encryption".into(),
            ));
        }
        return Ok(LocalDecl::None);
    }
    let (host, port) = crate::address::parse_host_port(&args.host).map_err(|e| {
        Error::Usage(format!(
            "invalid host `{}`: {e}{}",
            args.host,
            e.help().map_or(String::new(), |h| format!(" ({h})"))
        ))
    })?;
    if port.is_some() && args.port.is_some() {
        return Err(Error::Usage(
            "give the port once: in HOST:PORT or with --port".into(),
        ));
    }
    Ok(LocalDecl::Set {
        host,
        port: port.or(args.port),
        encryption: args.encryption.as_deref().and_then(Encryption::parse),
    })
}

pub async fn run(ctx: &Ctx, args: &UpdateLocalArgs) -> Result<Outcome> {
    let local = decl(args)?;
    let desired = Desired {
        cluster: ClusterSel::default(),
        policy: Policy {
            unmanaged: Unmanaged::Ignore,
            max_changes: None,
            ..Policy::default()
        },
        spus: BTreeMap::from([(
            args.id,
            DesiredSpu {
                id: args.id,
                local,
                name: None,
                public: None,
                private: None,
                rack: None,
                spans: SpuSpans::default(),
            },
        )]),
    };
    let mut target = ctx.open_target(&desired.cluster, true).await?;
    let (mut journal, recovered_first) = journal_and_recover(ctx, &mut target).await?;
    let live = target.read().await.map_err(Error::from_target)?;
    let plan = crate::plan::plan(&desired, &live);
    let doc = ctx.finish_doc(
        PlanDoc::new(
            plan,
            &target.identity(),
            live.platform_version.clone(),
            None,
        ),
        false,
    );
    // Text shows a refused plan; other formats print the one apply document they always do.
    let unexecuted = |recovered_first| print_unexecuted(ctx, &doc, recovered_first, false);
    if !doc.blockers.is_empty() {
        if ctx.global.output == Format::Text {
            ctx.print_plan(&doc);
        } else {
            unexecuted(recovered_first);
        }
        return Err(refused(&doc));
    }
    if !doc.has_changes() {
        unexecuted(recovered_first);
        let spu = &live.spus[&args.id].spec;
        crate::output::stderr(&format!(
            "SPU {} ({}) already has local endpoint {}; nothing to do.\n",
            spu.id,
            spu.name,
            crate::plan::opt(&spu.local)
        ));
        return Ok(Outcome::default());
    }
    execute(ctx, &mut target, &mut journal, &doc, recovered_first).await
}
