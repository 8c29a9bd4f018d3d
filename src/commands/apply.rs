//! `apply -f FILE` / `apply PLAN`: plan (or check a saved plan), approve, replace, verify.

use std::io::{BufRead, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::apply::{ApplyOptions, ApplyReport, Recovered};
use crate::cli::{ApplyArgs, Format};
use crate::commands::{load_file, refused, Ctx, Outcome};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::model::ClusterSel;
use crate::output;
use crate::report::{ApplyDoc, ApplySummary, ConfigRef, PlanDoc};
use crate::target::{AnyTarget, Target};

/// Opens the journal for `target` (taking its lock) and resolves anything left unfinished,
/// returning what that recovery found (empty when nothing was left).
pub async fn journal_and_recover(
    ctx: &Ctx,
    target: &mut AnyTarget,
) -> Result<(Journal, Vec<Recovered>)> {
    let mut journal = Journal::open(&ctx.journal_dir(), &target.identity())?;
    let mut recovered = Vec::new();
    if !journal.pending().is_empty() {
        output::stderr(&format!(
            "Found {} unfinished change(s) from an interrupted apply; recovering first.\n",
            journal.pending().len()
        ));
        recovered = crate::apply::recover(target, &mut journal, &ApplyOptions::default()).await?;
        output::stderr(&crate::render::text::recovered(&recovered, &ctx.style));
        if recovered
            .iter()
            .any(|r| r.state == crate::apply::RecoveryState::Unresolved)
        {
            return Err(Error::RecoveryNeeded(format!(
                "an interrupted apply on {} could not be recovered yet",
                target.identity()
            )));
        }
    }
    Ok((journal, recovered))
}

fn read_saved(path: &std::path::Path) -> Result<PlanDoc> {
    let text = crate::input::read_to_string(path, &crate::input::SAVED_PLAN).map_err(|source| {
        Error::ReadFile {
            path: path.to_path_buf(),
            source,
        }
    })?;
    parse_saved(path, &text)
}

/// Checks the text of a saved plan read from `path` (named in errors), as `apply PLAN` does.
pub fn parse_saved(path: &std::path::Path, text: &str) -> Result<PlanDoc> {
    let bad = |message: String| Error::BadSavedPlan {
        path: path.to_path_buf(),
        message,
    };
    let mut doc: PlanDoc = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if doc.format_version != crate::report::FORMAT_VERSION {
        return Err(bad(format!(
            "format_version {} is not supported",
            doc.format_version
        )));
    }
    if !doc.target.starts_with("sc://") && !doc.target.starts_with("dir:") {
        return Err(bad(format!("unknown target `{}`", doc.target)));
    }
    if !doc.blockers.is_empty() {
        return Err(bad("it is a refused plan".into()));
    }
    // What is applied is `target`; it must be exactly the reviewed change: the live spec
    // with the new local endpoint, on a Custom SPU, and nothing else; an endpoint a zone
    // file could declare; once per SPU.
    let mut seen = std::collections::BTreeSet::new();
    for c in &doc.changes {
        if !seen.insert(c.id) {
            return Err(bad(format!("SPU {} has more than one change", c.id)));
        }
        if let Some(after) = &c.after {
            let valid = crate::address::parse_host(&after.host).is_ok_and(|h| h == after.host)
                && after.port != 0;
            if !valid {
                return Err(bad(format!(
                    "the new local endpoint of SPU {} ({}) is not a valid host and port; make the plan again with `plan --out`",
                    c.id,
                    after.describe()
                )));
            }
        }
        let consistent = c.live.kind == crate::model::SpuKind::Custom
            && c.id == c.live.id
            && c.name == c.live.name
            && c.before == c.live.local
            && c.before != c.after
            && c.target == c.live.with_local(c.after.clone())
            && c.action == crate::plan::Action::between(&c.before, &c.after);
        if c.live_fingerprint != c.live.fingerprint() {
            return Err(bad(format!(
                "the fingerprint of SPU {} does not match its recorded spec; make the plan again with `plan --out`",
                c.id
            )));
        }
        if !consistent {
            return Err(bad(format!(
                "the change for SPU {} is not a local-endpoint change of a custom SPU; make the plan again with `plan --out`",
                c.id
            )));
        }
    }
    doc.recount();
    Ok(doc)
}

/// Refuses a saved plan if anything it would touch moved since it was made.
fn check_saved(
    doc: &PlanDoc,
    target: &str,
    live: &crate::model::Live,
    file: Option<&ConfigRef>,
) -> Result<()> {
    if doc.target != target {
        return Err(Error::Stale(format!(
            "the plan was made for {}, not {target}",
            doc.target
        )));
    }
    if let (Some(now), Some(then)) = (file, &doc.config) {
        if now.sha256 != then.sha256 {
            return Err(Error::Stale(format!(
                "{} changed since the plan was made",
                now.path
            )));
        }
    }
    let moved: Vec<String> = doc
        .changes
        .iter()
        .filter(|c| live.spus.get(&c.id).is_none_or(|l| l.spec != c.live))
        .map(|c| format!("{} ({})", c.id, c.name))
        .collect();
    if !moved.is_empty() {
        return Err(Error::Stale(format!(
            "the cluster changed since the plan was made: SPU {} no longer match{} it",
            moved.join(", "),
            if moved.len() == 1 { "es" } else { "" }
        )));
    }
    Ok(())
}

fn approve(ctx: &Ctx, doc: &PlanDoc) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::NoApproval);
    }
    if ctx.global.output != Format::Text {
        // stdout carries a document; the person answering still needs to see the plan.
        output::stderr(&crate::render::text::plan(doc, &ctx.style));
    }
    output::stderr(&format!(
        "\nApply {} local-endpoint change(s) to {}?\nEach one deletes and re-creates its SPU. Only 'yes' will be accepted: ",
        doc.changes.len(),
        doc.target
    ));
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|_| Error::Cancelled)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Cancelled)
    }
}

/// Carries out a reviewed plan and reports; shared by `apply` and `update-local`.
pub async fn execute(
    ctx: &Ctx,
    target: &mut AnyTarget,
    journal: &mut Journal,
    doc: &PlanDoc,
    recovered_first: Vec<Recovered>,
) -> Result<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let style = ctx.style;
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            output::stderr(&style.warn(
                "\nInterrupted: finishing the SPU in flight, skipping the rest (Ctrl-C again is ignored until then).\n",
            ));
        }
    });
    let changes = doc.to_changes();
    let streamed = ctx.global.output == Format::Text;
    output::stderr(&format!(
        "Applying {} change(s) to {}:\n",
        changes.len(),
        doc.target
    ));
    let mut report: ApplyReport = crate::apply::apply(
        &changes,
        target,
        journal,
        &ApplyOptions::default(),
        &stop,
        // Text output streams each SPU's line to stdout as it happens; other formats keep
        // stdout for their one document and show progress on stderr.
        &mut |r| {
            let line = crate::render::text::result_line(r, &style);
            if streamed {
                output::stdout(&line)
            } else {
                output::stderr(&line)
            }
        },
    )
    .await?;
    watcher.abort();
    report.recovered_first = recovered_first;
    let document = || ApplyDoc::new(doc, &report, false);
    let text = match ctx.global.output {
        Format::Text => crate::render::text::apply_report(&report, &ctx.style, streamed),
        Format::Json => crate::render::json(&document()),
        Format::Yaml => serde_yaml::to_string(&document()).expect("reports serialize"),
        Format::Markdown => crate::render::markdown::apply_report(doc, &report),
    };
    output::stdout(&text);
    let summary = ApplySummary::of(&report);
    if summary.unresolved > 0 {
        return Err(Error::RecoveryNeeded(format!(
            "{} change(s) on {} are unresolved; every SPU named is kept in the journal",
            summary.unresolved, doc.target
        )));
    }
    if let Some(why) = &report.verification_error {
        return Err(Error::RecoveryNeeded(format!(
            "the changes on {} could not be verified ({why}); the journal keeps them until `recover` confirms each SPU",
            doc.target
        )));
    }
    if !summary.verified {
        return Err(Error::Partial(format!(
            "{} of {} change(s) were not applied; see the report above",
            report.results.len() - summary.applied,
            report.results.len()
        )));
    }
    Ok(Outcome { changes: true })
}

pub async fn run(ctx: &Ctx, args: &ApplyArgs) -> Result<Outcome> {
    let saved = args.plan.as_deref().map(read_saved).transpose()?;
    let loaded = args.file.as_deref().map(load_file).transpose()?;
    let cluster = match (&loaded, &saved) {
        (Some((_, desired)), _) => desired.cluster.clone(),
        (None, Some(doc)) => ClusterSel {
            endpoint: doc.target.strip_prefix("sc://").map(str::to_string),
            profile: None,
        },
        (None, None) => unreachable!("clap requires a file or a plan"),
    };
    let mut ctx_for_plan = Ctx {
        global: ctx.global.clone(),
        style: ctx.style,
    };
    if let Some(dir) = saved.as_ref().and_then(|d| d.target.strip_prefix("dir:")) {
        if ctx.global.metadata_dir.is_none()
            && ctx.global.cluster.is_none()
            && ctx.global.profile.is_none()
        {
            ctx_for_plan.global.metadata_dir = Some(dir.into());
        }
    }
    let ctx = &ctx_for_plan;
    // A dry run makes the same checks as a real one (directory not served, lock free) and
    // reports a pending journal instead of recovering it.
    let mut target = ctx.open_target(&cluster, true).await?;
    let (mut journal, recovered_first) = if args.dry_run {
        drop(Journal::open(&ctx.journal_dir(), &target.identity())?);
        ctx.warn_pending(&target);
        (None, Vec::new())
    } else {
        let (journal, recovered) = journal_and_recover(ctx, &mut target).await?;
        (Some(journal), recovered)
    };
    let live = target.read().await.map_err(Error::from_target)?;

    let doc = match (saved, &loaded) {
        (Some(doc), _) => {
            let file = loaded.as_ref().map(|(f, _)| ConfigRef::of(f));
            check_saved(&doc, &target.identity(), &live, file.as_ref())?;
            doc
        }
        (None, Some((file, desired))) => {
            let mut plan = crate::plan::plan(desired, &live);
            if !args.safety.force {
                plan.enforce_max_changes(args.safety.max_changes.or(desired.policy.max_changes));
            }
            ctx.finish_doc(
                PlanDoc::new(
                    plan,
                    &target.identity(),
                    live.platform_version.clone(),
                    Some((file, desired)),
                ),
                false,
            )
        }
        (None, None) => unreachable!("clap requires a file or a plan"),
    };
    if ctx.global.output == Format::Text {
        output::stdout(&crate::render::text::plan(&doc, &ctx.style));
    }
    // A run that stops short of executing still prints its one document.
    let unexecuted = |recovered_first| print_unexecuted(ctx, &doc, recovered_first, args.dry_run);
    if !doc.blockers.is_empty() {
        unexecuted(recovered_first);
        return Err(refused(&doc));
    }
    if !doc.has_changes() {
        unexecuted(recovered_first);
        return Ok(Outcome::default());
    }
    let Some(journal) = journal.as_mut() else {
        unexecuted(recovered_first);
        output::stderr(&format!(
            "Dry run: {} change(s) would be applied to {}; nothing was written.\n",
            doc.changes.len(),
            doc.target
        ));
        return Ok(Outcome { changes: true });
    };
    if !args.auto_approve && args.plan.is_none() {
        if let Err(declined) = approve(ctx, &doc) {
            unexecuted(recovered_first);
            return Err(declined);
        }
    }
    execute(ctx, &mut target, journal, &doc, recovered_first).await
}

/// The document of an apply that did not execute (refused, nothing to change, dry run,
/// not approved). Text has already shown the plan; Markdown shows the plan, as a PR
/// comment would, and what recovery did first.
pub(crate) fn print_unexecuted(
    ctx: &Ctx,
    doc: &PlanDoc,
    recovered_first: Vec<Recovered>,
    dry_run: bool,
) {
    let report = &ApplyReport {
        recovered_first,
        ..ApplyReport::default()
    };
    let document = || ApplyDoc::new(doc, report, dry_run);
    match ctx.global.output {
        Format::Text => {}
        Format::Markdown => {
            ctx.print_plan(doc);
            output::stdout(&crate::render::markdown::recovered_first(
                &report.recovered_first,
            ));
        }
        Format::Json => output::stdout(&crate::render::json(&document())),
        Format::Yaml => {
            output::stdout(&serde_yaml::to_string(&document()).expect("reports serialize"))
        }
    }
    if matches!(ctx.global.output, Format::Json | Format::Yaml) {
        ctx.print_annotations(doc);
    }
}
