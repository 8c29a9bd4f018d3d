//! Rendering: plans, apply reports and SPU lists as text, JSON, Markdown, tables and CI
//! annotations. Renderers build strings; `output::Printer` decides where they go.

pub mod annotations;
/// The escaping rule lives below every layer (`crate::escape`); the old path still names it.
pub use crate::escape;
pub mod markdown;
pub mod probe;
pub mod style;
pub mod table;
pub mod text;

/// Pretty JSON with a trailing newline. JSON escapes the control characters below U+0020
/// itself; the others it leaves raw (DEL, C1 controls, bidirectional formatting, line
/// separators) are escaped here too (`\u202e`). They occur only inside strings, so the
/// document parses to the exact values and still shows inert in a log.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    let text = serde_json::to_string_pretty(value).expect("documents serialize");
    let raw = |c: char| c >= '\u{7f}' && crate::escape::needs_escape(c);
    // Below DEL no character is raw: a document of plain ASCII (the usual one, megabytes
    // for a large plan) is passed on after one fast look at its bytes.
    let mut text = if text.bytes().any(|b| b >= 0x7f) && text.chars().any(raw) {
        text.chars()
            .fold(String::with_capacity(text.len()), |mut out, c| {
                if raw(c) {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push(c);
                }
                out
            })
    } else {
        text
    };
    text.push('\n');
    text
}
