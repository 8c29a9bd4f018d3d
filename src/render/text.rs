//! Human-readable plans and apply reports, Terraform-style: `+` set, `~` change, `-` clear.

use std::fmt::Write;

use super::style::Style;
use crate::apply::{ApplyReport, DataPlaneResult, Recovered, RecoveryState, SpuOutcome};
use crate::escape::visible;
use crate::model::{Encryption, Endpoint};
use crate::plan::{describe_endpoint, Action};
use crate::replication::{PartitionRole, ReplicationState, Role, Route};
use crate::report::{PlanDoc, Summary};

fn symbol(style: &Style, action: Action) -> String {
    match action {
        Action::Set => style.added("+"),
        Action::Change => style.changed("~"),
        Action::Clear => style.removed("-"),
    }
}

/// An endpoint as `describe_endpoint` describes it, shown through `visible`, appended to `out` (the
/// host is the only part that can need escaping).
fn push_endpoint(out: &mut String, endpoint: &Option<Endpoint>) {
    match endpoint {
        None => out.push_str("none"),
        Some(e) => {
            out.push_str(&visible(&e.host));
            let _ = write!(out, ":{}", e.port);
            if e.encryption == Encryption::Ssl {
                out.push_str(" (SSL)");
            }
        }
    }
}

/// [`transition`], appended to `out`; without color it makes no string of its own (a
/// plan of thousands of changes writes one line each).
fn push_transition(
    out: &mut String,
    before: &Option<Endpoint>,
    after: &Option<Endpoint>,
    style: &Style,
) {
    if style.color && before.is_some() && after.is_some() {
        out.push_str(&transition(before, after, style));
    } else {
        push_endpoint(out, before);
        out.push_str(" -> ");
        push_endpoint(out, after);
    }
}

/// `old -> new`. With color, a change highlights just the characters that differ (a
/// character diff), so `spu-1.zone-a:9010 -> spu-1.zone-b:9010` shows what moved. Hosts
/// come from the cluster: they are shown escaped, and diffed as shown.
pub fn transition(before: &Option<Endpoint>, after: &Option<Endpoint>, style: &Style) -> String {
    if !style.color || before.is_none() || after.is_none() {
        let mut out = String::new();
        push_transition(&mut out, before, after, style);
        return out;
    }
    let (old, new) = (
        visible(&describe_endpoint(before)).into_owned(),
        visible(&describe_endpoint(after)).into_owned(),
    );
    let diff = similar::TextDiff::from_chars(old.as_str(), new.as_str());
    let (mut left, mut right) = (String::new(), String::new());
    for change in diff.iter_all_changes() {
        let text = change.value();
        match change.tag() {
            similar::ChangeTag::Equal => {
                left.push_str(text);
                right.push_str(text);
            }
            similar::ChangeTag::Delete => left.push_str(&style.removed(text)),
            similar::ChangeTag::Insert => right.push_str(&style.added(text)),
        }
    }
    format!("{left} -> {right}")
}

/// Whether a plan's route is worth a line: any route but the plain online one, or any
/// change that touches a replicated partition.
fn route_matters(doc: &PlanDoc) -> bool {
    doc.route != Route::Online || doc.changes.iter().any(|c| !c.partitions.is_empty())
}

/// `follows a-1, a-2; leads a-0` (at most 5 names each, then how many more).
pub fn roles(partitions: &[PartitionRole]) -> String {
    let list = |role: Role| {
        let names: Vec<&str> = partitions
            .iter()
            .filter(|p| p.role == role)
            .map(|p| p.partition.as_str())
            .collect();
        let mut text = names
            .iter()
            .take(5)
            .map(|n| visible(n).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > 5 {
            let _ = write!(text, " and {} more", names.len() - 5);
        }
        (!names.is_empty()).then_some(text)
    };
    let mut parts = Vec::new();
    if let Some(f) = list(Role::Follower) {
        parts.push(format!("follows {f} (stalls if re-registered online)"));
    }
    if let Some(l) = list(Role::Leader) {
        parts.push(format!("leads {l}"));
    }
    parts.join("; ")
}

/// One SPU's data plane in a report: its restart, its gate, its partitions.
pub fn data_plane_line(d: &DataPlaneResult) -> String {
    let mut parts = Vec::new();
    if let Some(run) = &d.restart {
        parts.push(format!("restarted in {:.0} ms", run.ms));
    }
    if let Some(ms) = d.gate_ms {
        parts.push(format!("gate {ms:.0} ms"));
    }
    let count = |state: ReplicationState| d.partitions.iter().filter(|p| p.state == state).count();
    let caught_up = count(ReplicationState::CaughtUp);
    let not_checked = count(ReplicationState::NotChecked);
    if caught_up > 0 {
        parts.push(format!("{caught_up} partition(s) caught up"));
    }
    let lagging: Vec<String> = d
        .partitions
        .iter()
        .filter(|p| p.state == ReplicationState::Lagging)
        .map(|p| format!("{} (lag {})", visible(&p.partition), p.lag.unwrap_or(0)))
        .collect();
    if !lagging.is_empty() {
        parts.push(format!("lagging: {}", lagging.join(", ")));
    }
    let moved = d
        .partitions
        .iter()
        .filter(|p| p.leader_moved == Some(true))
        .count();
    if moved > 0 {
        parts.push(format!("{moved} leader(s) moved"));
    }
    if not_checked > 0 {
        parts.push(format!("{not_checked} partition(s) not checked"));
    }
    if let Some(note) = &d.note {
        parts.push(visible(note).into_owned());
    }
    format!("data plane: {}", parts.join("; "))
}

/// The one-line summary.
pub fn summary_line(s: &Summary) -> String {
    let mut extra = vec![format!("{} unchanged", s.unchanged)];
    if s.drift > 0 {
        extra.push(format!(
            "{} drift finding{}",
            s.drift,
            if s.drift == 1 { "" } else { "s" }
        ));
    }
    if s.unmanaged > 0 {
        extra.push(format!("{} unmanaged", s.unmanaged));
    }
    if s.blocked > 0 {
        extra.push(format!(
            "{} blocking problem{}",
            s.blocked,
            if s.blocked == 1 { "" } else { "s" }
        ));
    }
    if s.set + s.change + s.clear == 0 {
        format!("No changes. {}.", extra.join(", "))
    } else {
        format!(
            "Plan: {} to set, {} to change, {} to clear; {}.",
            s.set,
            s.change,
            s.clear,
            extra.join(", ")
        )
    }
}

pub fn plan(doc: &PlanDoc, style: &Style) -> String {
    let mut out = String::new();
    let source = doc
        .config
        .as_ref()
        .map_or(String::new(), |c| format!(" from {}", visible(&c.path)));
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!(
            "Local endpoints for {}{source}",
            visible(&doc.cluster.to_string())
        ))
    );
    if let Some(targeting) = &doc.targeting {
        let _ = writeln!(out, "Targeting: {}", targeting.describe());
    }
    if doc.has_changes() && route_matters(doc) {
        let _ = writeln!(out, "Route: {}", doc.route.describe());
    }
    if doc.has_changes() {
        let _ = writeln!(out);
        let names: Vec<_> = doc.changes.iter().map(|c| visible(&c.name)).collect();
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        out.reserve(doc.changes.len() * (width + 64));
        for (c, name) in doc.changes.iter().zip(&names) {
            out.push_str("  ");
            match style.color {
                true => out.push_str(&symbol(style, c.action)),
                false => out.push_str(c.action.symbol()),
            }
            let _ = write!(out, " {:>5} {:<width$}  local: ", c.id, name);
            push_transition(&mut out, &c.before, &c.after, style);
            out.push('\n');
            if !c.partitions.is_empty() {
                let _ = writeln!(out, "          replicas: {}", roles(&c.partitions));
            }
        }
    }
    if !doc.drift.is_empty() {
        let _ = writeln!(out, "\n{}", style.warn("Drift (not applied):"));
        for d in &doc.drift {
            let _ = writeln!(
                out,
                "  ! {:>5} {}  {}: expected {}, found {}",
                d.id,
                visible(&d.name),
                d.field.as_str(),
                visible(&d.expected),
                visible(&d.actual)
            );
        }
    }
    if !doc.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            style.warn("Unmanaged (in the cluster, not in the file):")
        );
        for u in &doc.unmanaged {
            let _ = writeln!(
                out,
                "  ? {:>5} {} ({})",
                u.id,
                visible(&u.name),
                u.kind.label()
            );
        }
    }
    if doc.is_blocked() {
        let _ = writeln!(out, "\n{}", style.error("Refused:"));
        for b in &doc.blockers {
            let _ = writeln!(out, "  x {}", visible(&b.message));
            let _ = writeln!(out, "    {}", style.hint(&format!("hint: {}", b.help)));
        }
    }
    let _ = writeln!(out, "\n{}", style.bold(&summary_line(&doc.summary)));
    out
}

/// One SPU's result: streamed as apply goes (stdout in text mode, else stderr).
pub fn result_line(r: &crate::apply::SpuResult, style: &Style) -> String {
    let outcome = match r.outcome {
        SpuOutcome::Applied => style.added(r.outcome.as_str()),
        SpuOutcome::Skipped => style.warn(r.outcome.as_str()),
        _ => style.error(r.outcome.as_str()),
    };
    let window = r
        .unavailable_ms
        .map_or(String::new(), |w| format!(" (unavailable {w:.1} ms)"));
    let reason = r
        .reason
        .as_ref()
        .map_or(String::new(), |why| format!(": {}", visible(why)));
    let mut line = format!(
        "  {} {:>5} {}  local: {}  {outcome}{window}{reason}\n",
        symbol(style, r.action),
        r.id,
        visible(&r.name),
        transition(&r.before, &r.after, style),
    );
    if let Some(d) = &r.data_plane {
        let text = data_plane_line(d);
        let text = if d.at_risk && !d.proven() {
            style.warn(&text)
        } else {
            text
        };
        let _ = writeln!(line, "          {text}");
    }
    line
}

pub fn recovered(items: &[Recovered], style: &Style) -> String {
    let mut out = String::new();
    for r in items {
        let state = match r.state {
            RecoveryState::AtNew => "was already at its new spec",
            RecoveryState::AtOld => "was still at its old spec",
            RecoveryState::Other => "exists, changed by someone else; left alone",
            RecoveryState::RestoredNew => "was missing; re-created with its new spec",
            RecoveryState::RestoredOld => "was missing; re-created with its old spec",
            RecoveryState::Unresolved => "could not be resolved now",
        };
        let detail = r
            .detail
            .as_ref()
            .map_or(String::new(), |d| format!(" ({})", visible(d)));
        let line = format!(
            "  recover {:>5} {}: {state}{detail}",
            r.id,
            visible(&r.name)
        );
        let line = if r.state == RecoveryState::Unresolved {
            style.error(&line)
        } else {
            line
        };
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The final report. With `streamed`, each SPU's line was already printed as it happened,
/// so only SPUs that did not end applied (e.g. after verification) are listed again.
pub fn apply_report(report: &ApplyReport, style: &Style, streamed: bool) -> String {
    let mut out = String::new();
    if !report.recovered.is_empty() {
        let _ = writeln!(out, "{}", style.bold("Recovered an interrupted apply:"));
        out.push_str(&recovered(&report.recovered, style));
        out.push('\n');
    }
    let listed: Vec<_> = report
        .results
        .iter()
        .filter(|r| !streamed || r.outcome != SpuOutcome::Applied)
        .collect();
    if !listed.is_empty() {
        let title = if streamed {
            "Not applied:"
        } else {
            "Apply report:"
        };
        let _ = writeln!(out, "\n{}", style.bold(title));
        for r in listed {
            out.push_str(&result_line(r, style));
        }
    }
    if let Some(e) = &report.verification_error {
        let _ = writeln!(
            out,
            "{}",
            style.error(&format!("Verification failed: {}", visible(e)))
        );
    }
    if let Some(failure) = &report.data_plane_failure {
        let _ = writeln!(
            out,
            "{}",
            style.error(&format!("Halted: {}", visible(failure)))
        );
    }
    if let Some(o) = &report.offline {
        let _ = writeln!(
            out,
            "SC offline: stopped in {:.0} ms, started again in {:.0} ms; control plane down {:.0} ms in all{}.",
            o.stop_ms,
            o.start_ms,
            o.sc_outage_ms,
            if o.restored.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} metadata file(s) the stop tore were put back as read before it",
                    o.restored.len()
                )
            }
        );
    }
    let s = crate::report::ApplySummary::of(report);
    let window = s.max_unavailable_ms.map_or(String::new(), |w| {
        format!("; longest unavailability {w:.1} ms")
    });
    let verdict = if s.verified {
        "verified"
    } else {
        "NOT fully applied"
    };
    let verdict = match s.data_plane {
        crate::report::DataPlane::NotAffected => verdict.to_string(),
        plane => format!("{verdict}, {}", plane.as_str()),
    };
    let _ = writeln!(
        out,
        "\n{}",
        style.bold(&format!(
            "Apply: {} applied, {} skipped, {} rolled back, {} failed, {} unresolved; {verdict}{window}.",
            s.applied, s.skipped, s.rolled_back, s.failed, s.unresolved
        ))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Encryption;

    fn ep(host: &str) -> Option<Endpoint> {
        Some(Endpoint {
            host: host.into(),
            port: 9010,
            encryption: Encryption::Plaintext,
        })
    }

    #[test]
    fn transitions_highlight_only_what_differs() {
        let plain = Style { color: false };
        assert_eq!(
            transition(&ep("zone-a"), &ep("zone-b"), &plain),
            "zone-a:9010 -> zone-b:9010"
        );
        assert_eq!(transition(&None, &ep("h"), &plain), "none -> h:9010");
        let color = Style { color: true };
        assert_eq!(
            transition(&ep("zone-a"), &ep("zone-b"), &color),
            "zone-\u{1b}[31ma\u{1b}[0m:9010 -> zone-\u{1b}[32mb\u{1b}[0m:9010"
        );
        assert_eq!(transition(&ep("a"), &None, &color), "a:9010 -> none");
    }

    #[test]
    fn a_plain_transition_describes_each_endpoint_and_shows_it_escaped() {
        let plain = Style { color: false };
        let ssl = Some(Endpoint {
            host: "h\x1b[2J\u{202e}".into(),
            port: 9443,
            encryption: Encryption::Ssl,
        });
        assert_eq!(
            transition(&ssl, &None, &plain),
            "h\\e[2J\\u{202e}:9443 (SSL) -> none"
        );
        // the same text as the endpoint's description shown through `visible`
        assert_eq!(
            transition(&ep("b"), &ssl, &plain),
            format!("b:9010 -> {}", visible(&describe_endpoint(&ssl)))
        );
    }
}
