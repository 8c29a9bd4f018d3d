//! Rendering: plans, apply reports and SPU lists as text, JSON, Markdown, tables and CI
//! annotations. Renderers build strings; `output::Printer` decides where they go.

pub mod annotations;
pub mod markdown;
pub mod probe;
pub mod table;
pub mod text;

/// Pretty JSON with a trailing newline.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("documents serialize");
    text.push('\n');
    text
}
