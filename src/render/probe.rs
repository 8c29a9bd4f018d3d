//! A probe report as text, Markdown and CI annotations. Every string from the cluster (SPU
//! names, hosts) goes through `clean` (the one rule of `crate::escape`) so it cannot move the
//! cursor or fake a line.

use std::fmt::Write;

use super::style::Style;
use crate::probe::{AddressProbe, EndpointProbe, SpuProbe, SpuStatus};
use crate::report::ProbeDoc;

/// Untrusted text on one line: control characters shown as escapes.
fn clean(text: &str) -> String {
    crate::escape::visible(text).into_owned()
}

fn status_label(status: SpuStatus) -> &'static str {
    match status {
        SpuStatus::Reachable => "reachable",
        SpuStatus::Unreachable => "UNREACHABLE",
        SpuStatus::Skipped => "skipped",
    }
}

fn address_line(a: &AddressProbe) -> String {
    let family = match a.family {
        crate::probe::Family::Ipv4 => "ipv4",
        crate::probe::Family::Ipv6 => "ipv6",
    };
    let mut line = format!("{}  {family}", a.address);
    if let Some(ms) = a.connect_ms {
        let _ = write!(line, "  connect {ms:.1} ms");
    }
    if let Some(ms) = a.handshake_ms {
        let _ = write!(line, "  handshake {ms:.1} ms");
    }
    if a.handshake {
        match &a.platform_version {
            Some(v) => {
                let _ = write!(line, "  Fluvio SPU (platform {})", clean(v));
            }
            None => line.push_str("  Fluvio SPU"),
        }
    }
    if let Some(error) = &a.error {
        let _ = write!(line, "  {}", clean(error));
    }
    line
}

fn endpoint_text(out: &mut String, role: &str, e: &EndpointProbe, style: &Style) {
    let verdict = if e.reachable {
        style.added("reachable")
    } else {
        style.error("unreachable")
    };
    let _ = writeln!(out, "  {role} {}  {verdict}", clean(&e.endpoint));
    if let Some(error) = &e.resolution.error {
        let _ = writeln!(out, "    resolve: {}", clean(error));
    }
    for a in &e.addresses {
        let _ = writeln!(out, "    {}", address_line(a));
    }
    for hint in &e.hints {
        let _ = writeln!(out, "    {}", style.hint(&format!("hint: {}", clean(hint))));
    }
}

fn spu_text(out: &mut String, s: &SpuProbe, style: &Style) {
    let label = status_label(s.status);
    let label = match s.status {
        SpuStatus::Reachable => style.added(label),
        SpuStatus::Unreachable => style.error(label),
        SpuStatus::Skipped => style.warn(label),
    };
    let _ = writeln!(
        out,
        "{}  {label}",
        style.bold(&format!("SPU {} {}", s.id, clean(&s.name)))
    );
    if let Some(reason) = &s.reason {
        let _ = writeln!(out, "  {}", clean(reason));
    }
    if let Some(local) = &s.local {
        endpoint_text(out, "local", local, style);
    }
    if let Some(public) = &s.public {
        endpoint_text(out, "public", public, style);
    }
}

/// The report for a terminal: one block per SPU, one line per address, then a summary.
pub fn text(doc: &ProbeDoc, style: &Style) -> String {
    let mut out = String::new();
    let from = match &doc.config {
        Some(c) => format!("{} (SPUs from {})", clean(&c.path), clean(&doc.cluster)),
        None => format!("the local endpoints of {}", clean(&doc.cluster)),
    };
    let _ = writeln!(out, "Probing {from}");
    for s in &doc.spus {
        spu_text(&mut out, s, style);
    }
    let _ = writeln!(out, "{}", summary(doc));
    out
}

/// One line: how many SPUs answered.
pub fn summary(doc: &ProbeDoc) -> String {
    let s = &doc.summary;
    format!(
        "Probe: {} of {} SPUs reachable at their local endpoint, {} unreachable, {} without one.",
        s.reachable,
        s.reachable + s.unreachable,
        s.unreachable,
        s.skipped
    )
}

fn md_cell(text: &str) -> String {
    crate::escape::visible(text)
        .replace('|', "\\|")
        .replace('`', "'")
}

/// A Markdown table for a pull-request comment.
pub fn markdown(doc: &ProbeDoc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Probe of `{}`\n", md_cell(&doc.cluster));
    let _ = writeln!(out, "{}\n", summary(doc));
    out.push_str("| SPU | name | endpoint | address | result |\n|---|---|---|---|---|\n");
    for s in &doc.spus {
        let rows: Vec<(&str, &EndpointProbe)> = s
            .local
            .iter()
            .map(|e| ("local", e))
            .chain(s.public.iter().map(|e| ("public", e)))
            .collect();
        if rows.is_empty() {
            let _ = writeln!(
                out,
                "| {} | {} | - | - | {} |",
                s.id,
                crate::escape::md_text(&s.name),
                md_cell(s.reason.as_deref().unwrap_or("skipped"))
            );
        }
        for (role, e) in rows {
            let mut results: Vec<String> = e
                .addresses
                .iter()
                .map(|a| {
                    let verdict = if a.handshake {
                        "SPU answered".to_string()
                    } else {
                        a.error.clone().unwrap_or_default()
                    };
                    format!("`{}` {}", md_cell(&a.address), md_cell(&verdict))
                })
                .collect();
            if let Some(error) = &e.resolution.error {
                results.push(md_cell(error));
            }
            let verdict = if e.reachable { "✅" } else { "❌" };
            let _ = writeln!(
                out,
                "| {} | {} | {role} `{}` | {} | {verdict} |",
                s.id,
                crate::escape::md_text(&s.name),
                md_cell(&e.endpoint),
                results.join("<br>"),
            );
        }
    }
    for w in &doc.warnings {
        let _ = writeln!(out, "\n> ⚠️ {}", md_cell(w));
    }
    out
}

/// GitHub workflow commands: an error at the file's line for each unreachable SPU.
pub fn annotations(doc: &ProbeDoc) -> String {
    let file = doc.config.as_ref().map(|c| c.path.as_str());
    let mut out = String::new();
    for s in doc
        .spus
        .iter()
        .filter(|s| s.status == SpuStatus::Unreachable)
    {
        let Some(local) = &s.local else { continue };
        let mut message = format!("{} is unreachable from here", local.endpoint);
        let first = local
            .resolution
            .error
            .clone()
            .or_else(|| local.addresses.iter().find_map(|a| a.error.clone()));
        if let Some(first) = first {
            let _ = write!(message, ": {first}");
        }
        for hint in &local.hints {
            let _ = write!(message, " (hint: {hint})");
        }
        out.push_str(&crate::render::annotations::workflow_command(
            "error",
            file,
            s.line,
            &format!("SPU {} local endpoint unreachable", s.id),
            &clean(&message),
        ));
    }
    out
}
