//! The file as written: every value with its byte span, and the structural problems
//! (syntax, unknown keys, wrong types) found while reading it.
//!
//! The walk is over `toml`'s spanned document (`DeTable`) rather than serde into structs
//! so that every unknown key and type error in the file is reported at once, not just
//! the first. `DeTable` borrows from the text and keeps no formatting, so a file of
//! thousands of entries parses several times faster than into an editable document.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::Problem;

/// A value and where it stands in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub span: Range<usize>,
}

#[derive(Debug, Default)]
pub struct RawConfig {
    pub cluster: Option<RawCluster>,
    pub client: Option<RawClient>,
    pub policy: Option<RawPolicy>,
    pub spus: Vec<RawSpu>,
}

#[derive(Debug, Default)]
pub struct RawCluster {
    pub span: Range<usize>,
    pub profile: Option<Located<String>>,
    pub endpoint: Option<Located<String>>,
}

/// `[client]`: the SC as the zone's clients reach it.
#[derive(Debug, Default)]
pub struct RawClient {
    /// The `client` key, for a problem about the table as a whole.
    pub span: Range<usize>,
    pub endpoint: Option<Located<String>>,
    pub tls_from: Option<Located<String>>,
    /// Whether `endpoint` is present, valid or not.
    pub has_endpoint: bool,
}

#[derive(Debug, Default)]
pub struct RawPolicy {
    pub unmanaged: Option<Located<String>>,
    pub max_changes: Option<Located<RawMaxChanges>>,
    pub probe: Option<Located<String>>,
    pub replication_stalls: Option<Located<String>>,
    pub restart_command: Option<Located<String>>,
}

/// `max_changes = 3` or `max_changes = "30%"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawMaxChanges {
    Count(i64),
    Text(String),
}

#[derive(Debug)]
pub enum RawLocal {
    /// `"host"`, `"host:port"` or `"none"`.
    Text(Located<String>),
    /// `{ host, port, encryption }`.
    Table {
        span: Range<usize>,
        host: Option<Located<String>>,
        port: Option<Located<i64>>,
        encryption: Option<Located<String>>,
    },
}

#[derive(Debug, Default)]
pub struct RawSpu {
    pub span: Range<usize>,
    pub id: Option<Located<i64>>,
    pub local: Option<RawLocal>,
    pub name: Option<Located<String>>,
    pub public: Option<Located<String>>,
    pub private: Option<Located<String>>,
    pub rack: Option<Located<String>>,
    /// Whether `id` / `local` are present, valid or not: a key with a bad value is not
    /// also "missing".
    pub has_id: bool,
    pub has_local: bool,
}

const TOP_KEYS: &[&str] = &["cluster", "client", "policy", "spu"];
const CLUSTER_KEYS: &[&str] = &["profile", "endpoint"];
const CLIENT_KEYS: &[&str] = &["endpoint", "tls_from"];
const POLICY_KEYS: &[&str] = &[
    "unmanaged",
    "max_changes",
    "probe",
    "replication_stalls",
    "restart_command",
];
const SPU_KEYS: &[&str] = &["id", "local", "name", "public", "private", "rack"];
const LOCAL_KEYS: &[&str] = &["host", "port", "encryption"];

type Item<'i> = Spanned<DeValue<'i>>;

/// At most this many lines with syntax errors are reported: past a few, the file is
/// usually not a zone file at all (a saved plan passed as `-f`, say).
const MAX_SYNTAX_LINES: usize = 20;

/// Parses the text. `None` only when the TOML itself does not parse; then the syntax
/// errors are reported, the first on each line (the rest of a line is usually the same
/// mistake seen again), for the first [`MAX_SYNTAX_LINES`] lines that have one.
pub fn parse(text: &str) -> (Option<RawConfig>, Vec<Problem>) {
    let mut problems = Vec::new();
    let (doc, mut errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
        // Lines are counted in bytes, once over the file, as the sorted errors advance.
        let bytes = text.as_bytes();
        let (mut counted_to, mut line) = (0, 0);
        let mut last_line = None;
        let mut lines = 0;
        for err in &errors {
            let span = err.span().unwrap_or(0..0);
            let start = span.start.min(bytes.len());
            line += bytes[counted_to..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = start;
            if last_line == Some(line) {
                continue;
            }
            last_line = Some(line);
            lines += 1;
            if lines > MAX_SYNTAX_LINES {
                problems.push(Problem::new(
                    "invalid TOML: more errors follow; only the first are shown",
                    span,
                    "and from here on",
                ));
                break;
            }
            let mut message = format!("invalid TOML: {}", err.message().trim());
            // Name the key a "duplicate key" error is about (the span is the second one).
            if let Some(key) = text.get(span.clone()).filter(|k| !k.trim().is_empty()) {
                if message.ends_with("duplicate key") {
                    message = format!("{message} `{}`", key.trim());
                }
            }
            problems.push(Problem::new(message, span, "here"));
        }
        return (None, problems);
    }
    let mut walker = Walker {
        problems: &mut problems,
    };
    let config = walker.top(doc.get_ref());
    (Some(config), problems)
}

struct Walker<'p> {
    problems: &'p mut Vec<Problem>,
}

impl Walker<'_> {
    fn key_span(table: &DeTable<'_>, key: &str) -> Range<usize> {
        table.get_key_value(key).map_or(0..0, |(k, _)| k.span())
    }

    fn unknown_keys(&mut self, table: &DeTable<'_>, allowed: &[&str], what: &str) {
        for key in table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                self.problems.push(
                    Problem::new(
                        format!("unknown key `{}` in {what}", key.get_ref()),
                        key.span(),
                        "not a known key",
                    )
                    .with_help(format!("expected one of: {}", allowed.join(", "))),
                );
            }
        }
    }

    fn wrong_type(&mut self, item: &Item<'_>, key: &str, expected: &str) {
        self.problems.push(Problem::new(
            format!(
                "`{key}` must be {expected}, found {}",
                type_name(item.get_ref())
            ),
            item.span(),
            format!("expected {expected}"),
        ));
    }

    fn string(&mut self, table: &DeTable<'_>, key: &str) -> Option<Located<String>> {
        let item = table.get(key)?;
        match item.get_ref().as_str() {
            Some(s) => Some(Located {
                value: s.to_string(),
                span: item.span(),
            }),
            None => {
                self.wrong_type(item, key, "a string");
                None
            }
        }
    }

    fn integer(&mut self, table: &DeTable<'_>, key: &str) -> Option<Located<i64>> {
        let item = table.get(key)?;
        let Some(n) = item.get_ref().as_integer() else {
            self.wrong_type(item, key, "an integer");
            return None;
        };
        match i64::from_str_radix(n.as_str(), n.radix()) {
            Ok(value) => Some(Located {
                value,
                span: item.span(),
            }),
            Err(_) => {
                self.problems.push(Problem::new(
                    format!("`{key}` does not fit in a 64-bit integer"),
                    item.span(),
                    "out of range",
                ));
                None
            }
        }
    }

    /// An integer, or a string (a percentage, checked by validation).
    fn max_changes(&mut self, table: &DeTable<'_>) -> Option<Located<RawMaxChanges>> {
        const KEY: &str = "max_changes";
        let item = table.get(KEY)?;
        if item.get_ref().as_str().is_some() {
            return self.string(table, KEY).map(|s| Located {
                value: RawMaxChanges::Text(s.value),
                span: s.span,
            });
        }
        if item.get_ref().as_integer().is_none() {
            self.wrong_type(item, KEY, "an integer or a percentage such as \"30%\"");
            return None;
        }
        self.integer(table, KEY).map(|n| Located {
            value: RawMaxChanges::Count(n.value),
            span: n.span,
        })
    }

    fn top(&mut self, table: &DeTable<'_>) -> RawConfig {
        self.unknown_keys(table, TOP_KEYS, "the top level");
        let mut config = RawConfig::default();
        if let Some(item) = table.get("cluster") {
            match item.get_ref().as_table() {
                Some(t) => {
                    self.unknown_keys(t, CLUSTER_KEYS, "[cluster]");
                    config.cluster = Some(RawCluster {
                        span: Self::key_span(table, "cluster"),
                        profile: self.string(t, "profile"),
                        endpoint: self.string(t, "endpoint"),
                    });
                }
                None => self.wrong_type(item, "cluster", "a table"),
            }
        }
        if let Some(item) = table.get("client") {
            match item.get_ref().as_table() {
                Some(t) => {
                    self.unknown_keys(t, CLIENT_KEYS, "[client]");
                    config.client = Some(RawClient {
                        span: Self::key_span(table, "client"),
                        endpoint: self.string(t, "endpoint"),
                        tls_from: self.string(t, "tls_from"),
                        has_endpoint: t.contains_key("endpoint"),
                    });
                }
                None => self.wrong_type(item, "client", "a table"),
            }
        }
        if let Some(item) = table.get("policy") {
            match item.get_ref().as_table() {
                Some(t) => {
                    self.unknown_keys(t, POLICY_KEYS, "[policy]");
                    config.policy = Some(RawPolicy {
                        unmanaged: self.string(t, "unmanaged"),
                        max_changes: self.max_changes(t),
                        probe: self.string(t, "probe"),
                        replication_stalls: self.string(t, "replication_stalls"),
                        restart_command: self.string(t, "restart_command"),
                    });
                }
                None => self.wrong_type(item, "policy", "a table"),
            }
        }
        if let Some(item) = table.get("spu") {
            self.spus(item, &mut config.spus);
        }
        config
    }

    /// `[[spu]]` tables, or an inline array of tables.
    fn spus(&mut self, item: &Item<'_>, out: &mut Vec<RawSpu>) {
        let Some(entries) = item.get_ref().as_array() else {
            self.wrong_type(item, "spu", "an array of tables ([[spu]])");
            return;
        };
        out.reserve(entries.len());
        for entry in entries.iter() {
            match entry.get_ref().as_table() {
                Some(t) => out.push(self.spu(t, entry.span())),
                None => self.problems.push(Problem::new(
                    format!(
                        "each `spu` entry must be a table, found {}",
                        type_name(entry.get_ref())
                    ),
                    entry.span(),
                    "expected a table",
                )),
            }
        }
    }

    fn spu(&mut self, t: &DeTable<'_>, span: Range<usize>) -> RawSpu {
        self.unknown_keys(t, SPU_KEYS, "[[spu]]");
        let local = t.get("local").and_then(|item| self.local(item));
        RawSpu {
            span,
            id: self.integer(t, "id"),
            local,
            name: self.string(t, "name"),
            public: self.string(t, "public"),
            private: self.string(t, "private"),
            rack: self.string(t, "rack"),
            has_id: t.contains_key("id"),
            has_local: t.contains_key("local"),
        }
    }

    fn local(&mut self, item: &Item<'_>) -> Option<RawLocal> {
        if let Some(s) = item.get_ref().as_str() {
            return Some(RawLocal::Text(Located {
                value: s.to_string(),
                span: item.span(),
            }));
        }
        match item.get_ref().as_table() {
            Some(t) => {
                self.unknown_keys(t, LOCAL_KEYS, "`local`");
                Some(RawLocal::Table {
                    span: item.span(),
                    host: self.string(t, "host"),
                    port: self.integer(t, "port"),
                    encryption: self.string(t, "encryption"),
                })
            }
            None => {
                self.wrong_type(
                    item,
                    "local",
                    "a string or a table { host, port, encryption }",
                );
                None
            }
        }
    }
}

/// The TOML type of a value, as a reader of the file would name it.
fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
    }
}
