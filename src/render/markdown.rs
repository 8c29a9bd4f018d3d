//! Plans and apply reports as Markdown for pull-request comments: a hidden marker a bot can
//! find to update its comment, the summary line, a table, long parts in `<details>`.

use std::fmt::Write;

use crate::apply::{ApplyReport, Recovered};
use crate::escape::{md_code as code, md_text};
use crate::plan::describe_endpoint;
use crate::report::PlanDoc;

/// The marker that identifies the comment of one file and cluster (shown escaped, so
/// nothing in a path can close the comment early).
pub fn marker(doc: &PlanDoc) -> String {
    let file = doc.config.as_ref().map_or("-", |c| c.path.as_str());
    let inert = |t: &str| crate::escape::visible(t).replace("-->", "-\\u{2d}>");
    format!(
        "<!-- fluvio-endpoints plan file={} target={} -->",
        inert(file),
        inert(&doc.cluster.to_string())
    )
}

pub fn plan(doc: &PlanDoc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", marker(doc));
    let file = doc
        .config
        .as_ref()
        .map_or(String::new(), |c| format!("{} → ", code(&c.path)));
    let _ = writeln!(
        out,
        "### fluvio-endpoints: {file}{}\n",
        code(&doc.cluster.to_string())
    );
    let _ = writeln!(out, "**{}**\n", super::text::summary_line(&doc.summary));
    if doc.is_blocked() {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> This plan is refused and will not be applied:"
        );
        for b in &doc.blockers {
            let _ = writeln!(out, "> - {} (hint: {})", md_text(&b.message), b.help);
        }
        out.push('\n');
    }
    if let Some(targeting) = &doc.targeting {
        let _ = writeln!(out, "Targeting: {}\n", md_text(&targeting.describe()));
    }
    if doc.has_changes()
        && (doc.route != crate::replication::Route::Online
            || doc.changes.iter().any(|c| !c.partitions.is_empty()))
    {
        let _ = writeln!(out, "Route: {}\n", md_text(doc.route.describe()));
    }
    if doc.has_changes() {
        changes(&mut out, doc);
    }
    if !doc.drift.is_empty() {
        drift(&mut out, doc);
    }
    if !doc.unmanaged.is_empty() {
        unmanaged(&mut out, doc);
    }
    out
}

/// The changes' table, and the replicated partitions of the changed SPUs.
fn changes(out: &mut String, doc: &PlanDoc) {
    let _ = writeln!(
        out,
        "| | SPU | Name | Local endpoint before | Local endpoint after |"
    );
    let _ = writeln!(out, "|---|---:|---|---|---|");
    for c in &doc.changes {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            c.action.symbol(),
            c.id,
            code(&c.name),
            code(&describe_endpoint(&c.before)),
            code(&describe_endpoint(&c.after)),
        );
    }
    out.push('\n');
    let replicated: Vec<_> = doc
        .changes
        .iter()
        .filter(|c| !c.partitions.is_empty())
        .collect();
    if !replicated.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Replicated partitions of the changed SPUs ({})</summary>\n",
            replicated.len()
        );
        for c in replicated {
            let _ = writeln!(
                out,
                "- {} {}: {}",
                c.id,
                code(&c.name),
                md_text(&super::text::roles(&c.partitions))
            );
        }
        let _ = writeln!(out, "\n</details>\n");
    }
}

/// Drift, folded.
fn drift(out: &mut String, doc: &PlanDoc) {
    let _ = writeln!(
        out,
        "<details><summary>Drift, not applied ({})</summary>\n",
        doc.drift.len()
    );
    let _ = writeln!(
        out,
        "| SPU | Name | Field | Expected (file) | Found (cluster) |"
    );
    let _ = writeln!(out, "|---:|---|---|---|---|");
    for d in &doc.drift {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            d.id,
            code(&d.name),
            d.field.as_str(),
            code(&d.expected),
            code(&d.actual)
        );
    }
    let _ = writeln!(out, "\n</details>\n");
}

/// SPUs the file does not name, folded.
fn unmanaged(out: &mut String, doc: &PlanDoc) {
    let _ = writeln!(
        out,
        "<details><summary>SPUs in the cluster but not in the file ({})</summary>\n",
        doc.unmanaged.len()
    );
    for u in &doc.unmanaged {
        let _ = writeln!(out, "- {} {} ({})", u.id, code(&u.name), u.kind.label());
    }
    let _ = writeln!(out, "\n</details>\n");
}

pub fn apply_report(doc: &PlanDoc, report: &ApplyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", marker(doc).replace("plan file=", "apply file="));
    let s = crate::report::ApplySummary::of(report);
    let _ = writeln!(
        out,
        "### fluvio-endpoints apply: {}\n",
        code(&doc.cluster.to_string())
    );
    let _ = writeln!(
        out,
        "**{} applied, {} skipped, {} rolled back, {} failed, {} unresolved; {}{}**\n",
        s.applied,
        s.skipped,
        s.rolled_back,
        s.failed,
        s.unresolved,
        if s.verified {
            "verified"
        } else {
            "NOT fully applied"
        },
        match s.data_plane {
            crate::report::DataPlane::NotAffected => String::new(),
            plane => format!(", {}", plane.as_str()),
        }
    );
    if let Some(failure) = &report.data_plane_failure {
        let _ = writeln!(out, "> [!WARNING]\n> Halted: {}\n", md_text(failure));
    }
    out.push_str(&recovered_first(&report.recovered_first));
    if !report.results.is_empty() {
        let _ = writeln!(
            out,
            "| SPU | Name | Local endpoint | Outcome | Unavailable (ms) |"
        );
        let _ = writeln!(out, "|---:|---|---|---|---:|");
        for r in &report.results {
            let _ = writeln!(
                out,
                "| {} | {} | {} → {} | {}{} | {} |",
                r.id,
                code(&r.name),
                code(&describe_endpoint(&r.before)),
                code(&describe_endpoint(&r.after)),
                r.outcome.as_str(),
                r.reason
                    .as_ref()
                    .map_or(String::new(), |w| format!(": {}", md_text(w))),
                r.unavailable_ms
                    .map_or("-".to_string(), |w| format!("{w:.1}")),
            );
        }
        let planes: Vec<_> = report
            .results
            .iter()
            .filter_map(|r| r.data_plane.as_ref().map(|d| (r, d)))
            .collect();
        if !planes.is_empty() {
            let _ = writeln!(out, "\n<details><summary>Data plane</summary>\n");
            for (r, d) in planes {
                let _ = writeln!(
                    out,
                    "- {} {}: {}",
                    r.id,
                    code(&r.name),
                    md_text(&super::text::data_plane_line(d))
                );
            }
            let _ = writeln!(out, "\n</details>");
        }
    }
    out
}

/// One line saying what recovering an earlier, interrupted apply found; empty if nothing.
pub fn recovered_first(items: &[Recovered]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!(
        "Recovered first, from an interrupted apply: {}\n\n",
        items
            .iter()
            .map(|r| format!("{} {} ({})", r.id, code(&r.name), r.state.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use crate::apply::{ApplyReport, Recovered, RecoveryState};
    use crate::plan::Plan;
    use crate::report::PlanDoc;

    #[test]
    fn an_apply_report_says_what_was_recovered_first() {
        let doc = PlanDoc::new(
            Plan::default(),
            &crate::model::ClusterId::Sc("127.0.0.1:9003".into()),
            None,
            None,
        );
        let report = ApplyReport {
            recovered_first: vec![Recovered {
                id: 5001,
                name: "custom-spu-5001".into(),
                state: RecoveryState::RestoredNew,
                detail: None,
            }],
            ..ApplyReport::default()
        };
        let md = super::apply_report(&doc, &report);
        assert!(
            md.starts_with("<!-- fluvio-endpoints apply file=- target=sc://127.0.0.1:9003 -->\n"),
            "{md}"
        );
        assert!(
            md.contains(
                "Recovered first, from an interrupted apply: 5001 `custom-spu-5001` (restored_new)\n"
            ),
            "{md}"
        );
        let quiet = super::apply_report(&doc, &ApplyReport::default());
        assert!(!quiet.contains("Recovered first"), "{quiet}");
    }
}
