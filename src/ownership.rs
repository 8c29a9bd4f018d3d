//! Several zone files, one cluster: Fluvio keeps one local endpoint per SPU, so two files
//! that give the same SPU different local endpoints on the same cluster would revert each
//! other on every apply, and `drift` would never clear. Finding those conflicts is pure:
//! the callers say which files share a cluster (as written, for `validate`; as resolved,
//! for runs that reach the cluster) and what each file wants of each SPU.

use std::ops::Range;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};

use crate::config::SourceFile;
use crate::model::{Desired, Endpoint, LocalDecl, SpuId};

/// What one file wants of one SPU's local endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// As written (`validate`): port and encryption may be left to the SPU's public ones.
    Declared(LocalDecl),
    /// As the run would set it, against the live SPU.
    Resolved(Option<Endpoint>),
}

impl Wanted {
    /// True when the two cannot be the same endpoint. As written, an omitted port or
    /// encryption could be anything the SPU's public endpoint says, so only what both
    /// spell out is compared.
    fn differs(&self, other: &Wanted) -> bool {
        match (self, other) {
            (Wanted::Resolved(a), Wanted::Resolved(b)) => a != b,
            (Wanted::Declared(a), Wanted::Declared(b)) => match (a, b) {
                (LocalDecl::None, LocalDecl::None) => false,
                (
                    LocalDecl::Set {
                        host: h1,
                        port: p1,
                        encryption: e1,
                    },
                    LocalDecl::Set {
                        host: h2,
                        port: p2,
                        encryption: e2,
                    },
                    // hosts as written: the SC keeps the text, so two spellings flip it
                ) => h1 != h2 || both_differ(*p1, *p2) || both_differ(*e1, *e2),
                _ => true,
            },
            _ => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            Wanted::Declared(LocalDecl::None) | Wanted::Resolved(None) => "none".to_string(),
            Wanted::Declared(LocalDecl::Set {
                host,
                port,
                encryption,
            }) => {
                let mut text = host.clone();
                if let Some(port) = port {
                    text.push_str(&format!(":{port}"));
                }
                if let Some(e) = encryption {
                    text.push_str(&format!(" ({})", e.as_str()));
                }
                text
            }
            Wanted::Resolved(Some(endpoint)) => endpoint.describe(),
        }
    }
}

/// True when both are given and differ.
fn both_differ<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
    a.zip(b).is_some_and(|(a, b)| a != b)
}

/// One file of the run, with what it wants of each SPU it declares.
pub struct Zone<'a> {
    pub file: &'a SourceFile,
    pub desired: &'a Desired,
    /// How the run names its cluster, for messages (`sc://127.0.0.1:9003`, a profile).
    pub cluster: String,
    pub wanted: Vec<(SpuId, Wanted)>,
}

impl<'a> Zone<'a> {
    /// A file as written.
    pub fn declared(file: &'a SourceFile, desired: &'a Desired, cluster: String) -> Self {
        let wanted = desired
            .spus
            .iter()
            .map(|(id, s)| (*id, Wanted::Declared(s.local.clone())))
            .collect();
        Zone {
            file,
            desired,
            cluster,
            wanted,
        }
    }
}

/// Two files that want different local endpoints for one SPU of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub id: SpuId,
    /// Indexes into the zones given, the first one given first.
    pub first: usize,
    pub second: usize,
    pub first_wants: String,
    pub second_wants: String,
}

/// Every conflict among `zones`, where `same_cluster(i, j)` says whether zones `i` and `j`
/// target one cluster. The same value in two files is not a conflict.
pub fn conflicts(zones: &[Zone<'_>], same_cluster: impl Fn(usize, usize) -> bool) -> Vec<Conflict> {
    let mut found = Vec::new();
    for i in 0..zones.len() {
        for j in i + 1..zones.len() {
            if !same_cluster(i, j) {
                continue;
            }
            let theirs: std::collections::HashMap<SpuId, &Wanted> =
                zones[j].wanted.iter().map(|(id, w)| (*id, w)).collect();
            for (id, mine) in &zones[i].wanted {
                if let Some(other) = theirs.get(id).filter(|other| mine.differs(other)) {
                    found.push(Conflict {
                        id: *id,
                        first: i,
                        second: j,
                        first_wants: mine.describe(),
                        second_wants: other.describe(),
                    });
                }
            }
        }
    }
    found
}

/// The conflicts as one report: each SPU's two entries, each at its place in its file.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{} SPU{} given different local endpoints by zone files of one cluster", .conflicts.len(), if .conflicts.len() == 1 { " is" } else { "s are" })]
#[diagnostic(
    code(endpoints::config::ownership),
    help("Fluvio keeps one local endpoint per SPU: give it in one file, or the same value in each. For more than one zone per SPU, use one name that each zone's resolver answers differently (README: Zones)")
)]
pub struct OwnershipError {
    #[related]
    pub conflicts: Vec<ConflictDiagnostic>,
    /// The conflicts, each file with the line of its entry (for annotations).
    pub located: Vec<(SpuId, String, usize, String, usize)>,
}

/// One conflict: the first file's entry, with the second's as related.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("SPU {id}: {first_wants} in {first_name}, {second_wants} in {second_name} ({cluster})")]
pub struct ConflictDiagnostic {
    id: SpuId,
    first_wants: String,
    second_wants: String,
    first_name: String,
    second_name: String,
    cluster: String,
    #[source_code]
    src: NamedSource<Arc<str>>,
    #[label(primary, "local = {first_wants}")]
    span: SourceSpan,
    #[related]
    other: Vec<EntryDiagnostic>,
}

/// The other file's entry.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("SPU {id} in {name}")]
pub struct EntryDiagnostic {
    id: SpuId,
    name: String,
    #[source_code]
    src: NamedSource<Arc<str>>,
    #[label(primary, "local = {wants}")]
    span: SourceSpan,
    wants: String,
}

fn source(file: &SourceFile) -> NamedSource<Arc<str>> {
    NamedSource::new(
        crate::escape::visible(&file.name),
        Arc::from(file.text.as_str()),
    )
    .with_language("TOML")
}

fn local_span(zone: &Zone<'_>, id: SpuId) -> Range<usize> {
    zone.desired
        .spus
        .get(&id)
        .map_or(0..0, |s| s.spans.local.clone())
}

impl OwnershipError {
    pub fn new(zones: &[Zone<'_>], conflicts: &[Conflict]) -> Self {
        let visible = |s: &str| crate::escape::visible(s).into_owned();
        let mut located = Vec::new();
        let rendered = conflicts
            .iter()
            .map(|c| {
                let (a, b) = (&zones[c.first], &zones[c.second]);
                let (sa, sb) = (local_span(a, c.id), local_span(b, c.id));
                located.push((
                    c.id,
                    a.file.name.clone(),
                    a.file.line_col(sa.start).0,
                    b.file.name.clone(),
                    b.file.line_col(sb.start).0,
                ));
                ConflictDiagnostic {
                    id: c.id,
                    first_wants: visible(&c.first_wants),
                    second_wants: visible(&c.second_wants),
                    first_name: visible(&a.file.name),
                    second_name: visible(&b.file.name),
                    cluster: visible(&a.cluster),
                    src: source(a.file),
                    span: sa.into(),
                    other: vec![EntryDiagnostic {
                        id: c.id,
                        name: visible(&b.file.name),
                        src: source(b.file),
                        span: sb.into(),
                        wants: visible(&c.second_wants),
                    }],
                }
            })
            .collect();
        OwnershipError {
            conflicts: rendered,
            located,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;
    use crate::model::Encryption;

    fn zone(name: &str, body: &str) -> (SourceFile, Desired) {
        let file = SourceFile::new(name, body);
        let desired = load(&file).expect("valid");
        (file, desired)
    }

    fn set(host: &str, port: Option<u16>, encryption: Option<Encryption>) -> Wanted {
        Wanted::Declared(LocalDecl::Set {
            host: host.into(),
            port,
            encryption,
        })
    }

    #[test]
    fn as_written_only_what_both_spell_out_is_compared() {
        let plain = Some(Encryption::Plaintext);
        assert!(!set("h", None, None).differs(&set("h", Some(9010), plain)));
        // the SC keeps the text: another spelling would change it on every apply
        assert!(set("h", None, None).differs(&set("H", None, None)));
        assert!(set("h", Some(9010), None).differs(&set("h", Some(9011), None)));
        assert!(set("a", None, None).differs(&set("b", None, None)));
        assert!(set("h", None, plain).differs(&set("h", None, Some(Encryption::Ssl))));
        let none = Wanted::Declared(LocalDecl::None);
        assert!(none.differs(&set("h", None, None)));
        assert!(!none.differs(&none));
    }

    #[test]
    fn conflicts_are_found_per_spu_between_files_of_one_cluster_only() {
        let (fa, da) = zone(
            "a.toml",
            "[[spu]]\nid = 1\nlocal = \"a\"\n[[spu]]\nid = 2\nlocal = \"same\"\n",
        );
        let (fb, db) = zone(
            "b.toml",
            "[[spu]]\nid = 1\nlocal = \"b\"\n[[spu]]\nid = 2\nlocal = \"same\"\n",
        );
        let (fc, dc) = zone("c.toml", "[[spu]]\nid = 1\nlocal = \"c\"\n");
        let zones = [
            Zone::declared(&fa, &da, "x".into()),
            Zone::declared(&fb, &db, "x".into()),
            Zone::declared(&fc, &dc, "y".into()),
        ];
        let found = conflicts(&zones, |i, j| zones[i].cluster == zones[j].cluster);
        assert_eq!(
            found,
            [Conflict {
                id: 1,
                first: 0,
                second: 1,
                first_wants: "a".into(),
                second_wants: "b".into()
            }]
        );
        let error = OwnershipError::new(&zones, &found);
        assert_eq!(error.located, [(1, "a.toml".into(), 3, "b.toml".into(), 3)]);
        assert_eq!(
            error.conflicts[0].to_string(),
            "SPU 1: a in a.toml, b in b.toml (x)"
        );
    }
}
