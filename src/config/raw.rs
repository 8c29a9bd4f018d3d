//! The file as written: every value with its byte span, and the structural problems
//! (syntax, unknown keys, wrong types) found while reading it.
//!
//! The walk is over a `toml_edit` document rather than serde so that every unknown key
//! and type error in the file is reported at once, not just the first.

use std::ops::Range;

use toml_edit::{ImDocument, Item, TableLike, Value};

use super::Problem;

/// A value and where it stands in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

#[derive(Debug, Default)]
pub struct RawConfig {
    pub cluster: Option<RawCluster>,
    pub policy: Option<RawPolicy>,
    pub spus: Vec<RawSpu>,
}

#[derive(Debug, Default)]
pub struct RawCluster {
    pub span: Range<usize>,
    pub profile: Option<Sp<String>>,
    pub endpoint: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct RawPolicy {
    pub unmanaged: Option<Sp<String>>,
    pub max_changes: Option<Sp<i64>>,
}

#[derive(Debug)]
pub enum RawLocal {
    /// `"host"`, `"host:port"` or `"none"`.
    Text(Sp<String>),
    /// `{ host, port, encryption }`.
    Table {
        span: Range<usize>,
        host: Option<Sp<String>>,
        port: Option<Sp<i64>>,
        encryption: Option<Sp<String>>,
    },
}

#[derive(Debug, Default)]
pub struct RawSpu {
    pub span: Range<usize>,
    pub id: Option<Sp<i64>>,
    pub local: Option<RawLocal>,
    pub name: Option<Sp<String>>,
    pub public: Option<Sp<String>>,
    pub private: Option<Sp<String>>,
    pub rack: Option<Sp<String>>,
    /// Whether `id` / `local` are present, valid or not: a key with a bad value is not
    /// also "missing".
    pub has_id: bool,
    pub has_local: bool,
}

const TOP_KEYS: &[&str] = &["cluster", "policy", "spu"];
const CLUSTER_KEYS: &[&str] = &["profile", "endpoint"];
const POLICY_KEYS: &[&str] = &["unmanaged", "max_changes"];
const SPU_KEYS: &[&str] = &["id", "local", "name", "public", "private", "rack"];
const LOCAL_KEYS: &[&str] = &["host", "port", "encryption"];

/// Parses the text. `None` only when the TOML itself does not parse.
pub fn parse(text: &str) -> (Option<RawConfig>, Vec<Problem>) {
    let mut problems = Vec::new();
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            let message = err.message().trim().to_string();
            problems.push(Problem::new(
                format!("invalid TOML: {message}"),
                span,
                "here",
            ));
            return (None, problems);
        }
    };
    let mut walker = Walker {
        problems: &mut problems,
        len: text.len(),
    };
    let config = walker.top(doc.as_table());
    (Some(config), problems)
}

struct Walker<'p> {
    problems: &'p mut Vec<Problem>,
    len: usize,
}

impl Walker<'_> {
    fn span_of_item(&self, item: &Item) -> Range<usize> {
        item.span().unwrap_or(0..0)
    }

    fn key_span(&self, table: &dyn TableLike, key: &str) -> Range<usize> {
        table
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .unwrap_or(0..self.len.min(1))
    }

    fn unknown_keys(&mut self, table: &dyn TableLike, allowed: &[&str], what: &str) {
        for (key, _) in table.iter() {
            if !allowed.contains(&key) {
                let span = self.key_span(table, key);
                self.problems.push(
                    Problem::new(
                        format!("unknown key `{key}` in {what}"),
                        span,
                        "not a known key",
                    )
                    .with_help(format!("expected one of: {}", allowed.join(", "))),
                );
            }
        }
    }

    fn wrong_type(&mut self, item: &Item, key: &str, expected: &str) {
        let span = self.span_of_item(item);
        self.problems.push(Problem::new(
            format!("`{key}` must be {expected}, found {}", item.type_name()),
            span,
            format!("expected {expected}"),
        ));
    }

    fn string(&mut self, table: &dyn TableLike, key: &str) -> Option<Sp<String>> {
        let item = table.get(key)?;
        match item.as_str() {
            Some(s) => Some(Sp {
                value: s.to_string(),
                span: self.span_of_item(item),
            }),
            None => {
                self.wrong_type(item, key, "a string");
                None
            }
        }
    }

    fn integer(&mut self, table: &dyn TableLike, key: &str) -> Option<Sp<i64>> {
        let item = table.get(key)?;
        match item.as_integer() {
            Some(n) => Some(Sp {
                value: n,
                span: self.span_of_item(item),
            }),
            None => {
                self.wrong_type(item, key, "an integer");
                None
            }
        }
    }

    fn top(&mut self, table: &toml_edit::Table) -> RawConfig {
        self.unknown_keys(table, TOP_KEYS, "the top level");
        let mut config = RawConfig::default();
        if let Some(item) = table.get("cluster") {
            match item.as_table_like() {
                Some(t) => {
                    self.unknown_keys(t, CLUSTER_KEYS, "[cluster]");
                    config.cluster = Some(RawCluster {
                        span: self.key_span(table, "cluster"),
                        profile: self.string(t, "profile"),
                        endpoint: self.string(t, "endpoint"),
                    });
                }
                None => self.wrong_type(item, "cluster", "a table"),
            }
        }
        if let Some(item) = table.get("policy") {
            match item.as_table_like() {
                Some(t) => {
                    self.unknown_keys(t, POLICY_KEYS, "[policy]");
                    config.policy = Some(RawPolicy {
                        unmanaged: self.string(t, "unmanaged"),
                        max_changes: self.integer(t, "max_changes"),
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

    fn spus(&mut self, item: &Item, out: &mut Vec<RawSpu>) {
        match item {
            Item::ArrayOfTables(tables) => {
                for t in tables.iter() {
                    let span = t.span().unwrap_or(0..0);
                    out.push(self.spu(t, span));
                }
            }
            Item::Value(Value::Array(array)) => {
                for value in array.iter() {
                    match value.as_inline_table() {
                        Some(t) => out.push(self.spu(t, t.span().unwrap_or(0..0))),
                        None => self.problems.push(Problem::new(
                            format!(
                                "each `spu` entry must be a table, found {}",
                                value.type_name()
                            ),
                            value.span().unwrap_or(0..0),
                            "expected a table",
                        )),
                    }
                }
            }
            other => self.wrong_type(other, "spu", "an array of tables ([[spu]])"),
        }
    }

    fn spu(&mut self, t: &dyn TableLike, span: Range<usize>) -> RawSpu {
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

    fn local(&mut self, item: &Item) -> Option<RawLocal> {
        if let Some(s) = item.as_str() {
            return Some(RawLocal::Text(Sp {
                value: s.to_string(),
                span: self.span_of_item(item),
            }));
        }
        match item.as_table_like() {
            Some(t) => {
                self.unknown_keys(t, LOCAL_KEYS, "`local`");
                Some(RawLocal::Table {
                    span: self.span_of_item(item),
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
