//! GitHub Actions workflow commands (`::warning file=..,line=..::`) at the TOML line of each
//! change, drift finding and blocker. Printed on stdout, where the runner reads them.

use std::fmt::Write;

use crate::config::ConfigErrors;
use crate::plan::describe_endpoint;
use crate::report::PlanDoc;

/// Escapes a workflow-command property or message, as the runner expects; any other control
/// or reordering character is shown as in text output (`crate::escape`).
fn escape(text: &str, property: bool) -> String {
    let mut s = crate::escape::visible_keeping_breaks(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        s = s.replace(':', "%3A").replace(',', "%2C");
    }
    s
}

fn command(
    out: &mut String,
    level: &str,
    file: Option<&str>,
    line: Option<usize>,
    col: Option<usize>,
    title: &str,
    message: &str,
) {
    let mut props = Vec::new();
    if let Some(file) = file {
        props.push(format!("file={}", escape(file, true)));
        if let Some(line) = line {
            props.push(format!("line={line}"));
            if let Some(col) = col {
                props.push(format!("col={col}"));
            }
        }
    }
    props.push(format!("title={}", escape(title, true)));
    let _ = writeln!(
        out,
        "::{level} {}::{}",
        props.join(","),
        escape(message, false)
    );
}

/// One workflow command, for reports other than plans (e.g. `probe`).
pub fn workflow_command(
    level: &str,
    file: Option<&str>,
    line: Option<usize>,
    title: &str,
    message: &str,
) -> String {
    let mut out = String::new();
    command(&mut out, level, file, line, None, title, message);
    out
}

pub fn plan(doc: &PlanDoc) -> String {
    let mut out = String::new();
    let file = doc.config.as_ref().map(|c| c.path.as_str());
    for c in &doc.changes {
        command(
            &mut out,
            "notice",
            file,
            c.line,
            None,
            &format!("local endpoint {} for SPU {}", c.action.verb(), c.id),
            &format!(
                "{} {}: {} -> {}",
                c.action.symbol(),
                c.name,
                describe_endpoint(&c.before),
                describe_endpoint(&c.after)
            ),
        );
    }
    for d in &doc.drift {
        command(
            &mut out,
            "warning",
            file,
            d.line,
            None,
            &format!("drift on SPU {}", d.id),
            &format!(
                "{}: expected {}, found {} (not applied)",
                d.field.as_str(),
                d.expected,
                d.actual
            ),
        );
    }
    for b in &doc.blockers {
        command(
            &mut out,
            "error",
            file,
            b.line,
            None,
            "plan refused",
            &format!("{} (hint: {})", b.message, b.help),
        );
    }
    out
}

/// Each problem of an invalid file, at its line and column.
pub fn config_errors(errors: &ConfigErrors) -> String {
    let mut out = String::new();
    for (problem, line, col) in &errors.located {
        let message = match &problem.help {
            Some(help) => format!("{} (hint: {help})", problem.message),
            None => problem.message.clone(),
        };
        command(
            &mut out,
            "error",
            Some(&errors.name),
            Some(*line),
            Some(*col),
            "invalid configuration",
            &message,
        );
    }
    out
}

/// Each conflicting entry, in both files, at its line.
pub fn ownership(errors: &crate::ownership::OwnershipError) -> String {
    let mut out = String::new();
    for (id, first, first_line, second, second_line) in &errors.located {
        for (file, line, other, other_line) in [
            (first, first_line, second, second_line),
            (second, second_line, first, first_line),
        ] {
            command(
                &mut out,
                "error",
                Some(file),
                Some(*line),
                None,
                "conflicting zone files",
                &format!(
                    "SPU {id} has another local endpoint in {other}, line {other_line}, for the same cluster"
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_as_the_runner_expects() {
        assert_eq!(escape("a:b,c%\n", true), "a%3Ab%2Cc%25%0A");
        assert_eq!(escape("a:b,c", false), "a:b,c");
        assert_eq!(
            escape("e\x1b[2J\u{202e}\n::x", false),
            "e\\e[2J\\u{202e}%0A::x"
        );
    }
}
