//! Saved plans (`plan --out`, `apply PLAN`): what makes one acceptable, and when it is
//! stale. Pure functions over the document and the live cluster; reading the file is the
//! caller's.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Error, Result, Stale};
use crate::model::{ClusterId, Live};
use crate::plan::Action;
use crate::report::{ConfigRef, PlanDoc, FORMAT_V1, FORMAT_VERSION};

/// Reads a saved plan and checks it (see `parse`).
pub fn load(path: &Path) -> Result<PlanDoc> {
    let text = crate::input::read_to_string(path, &crate::input::SAVED_PLAN).map_err(|source| {
        Error::ReadFile {
            path: path.to_path_buf(),
            source,
            help: "check the path; `apply PLAN` takes a plan saved by `plan --out`",
        }
    })?;
    parse(&text).map_err(|message| Error::BadSavedPlan {
        path: path.to_path_buf(),
        message,
    })
}

/// A saved plan's text as a document that may be applied: a supported format, not
/// refused, and each change exactly a local-endpoint change of a custom SPU (the live spec
/// with the new local endpoint and nothing else), to an endpoint a zone file could
/// declare, once per SPU. Its summary is recounted from its changes.
pub fn parse(text: &str) -> Result<PlanDoc, String> {
    let mut doc: PlanDoc = serde_json::from_str(text).map_err(|e| e.to_string())?;
    // Format 1 spelled out what each change creates; it must be exactly what format 2
    // derives from the change.
    let targets = match doc.format_version {
        FORMAT_VERSION => None,
        FORMAT_V1 => Some(
            serde_json::from_str::<V1Changes>(text)
                .map_err(|e| e.to_string())?
                .changes,
        ),
        other => return Err(format!("format_version {other} is not supported")),
    };
    doc.format_version = FORMAT_VERSION;
    if doc.is_blocked() {
        return Err("it is a refused plan".into());
    }
    let mut seen = BTreeSet::new();
    for (i, c) in doc.changes.iter().enumerate() {
        if !seen.insert(c.id) {
            return Err(format!("SPU {} has more than one change", c.id));
        }
        if let Some(after) = &c.after {
            let valid = crate::address::parse_host(&after.host).is_ok_and(|h| h == after.host)
                && after.port != 0;
            if !valid {
                return Err(format!(
                    "the new local endpoint of SPU {} ({}) is not a valid host and port; make the plan again with `plan --out`",
                    c.id,
                    after.describe()
                ));
            }
        }
        let next = c.next();
        let consistent = c.id == c.live.id
            && c.name == c.live.name
            && c.before == c.live.local
            && c.live.is_local_change(&next)
            && c.action == Action::between(&c.before, &c.after)
            && targets
                .as_ref()
                .is_none_or(|t| t.get(i).and_then(|t| t.target.as_ref()) == Some(&next));
        if c.live_fingerprint != c.live.fingerprint() {
            return Err(format!(
                "the fingerprint of SPU {} does not match its recorded spec; make the plan again with `plan --out`",
                c.id
            ));
        }
        if !consistent {
            return Err(format!(
                "the change for SPU {} is not a local-endpoint change of a custom SPU; make the plan again with `plan --out`",
                c.id
            ));
        }
    }
    doc.recount();
    Ok(doc)
}

/// What a format-1 plan adds to each change: the spec it creates.
#[derive(serde::Deserialize)]
struct V1Changes {
    changes: Vec<V1Change>,
}

#[derive(serde::Deserialize)]
struct V1Change {
    target: Option<crate::model::SpuSpec>,
}

/// Refuses a saved plan if anything it would touch moved since it was made: the cluster
/// is another one, the zone file (when given) changed, or an SPU it changes is not the
/// spec it was planned from.
pub fn check_fresh(
    doc: &PlanDoc,
    cluster: &ClusterId,
    live: &Live,
    file: Option<&ConfigRef>,
) -> Result<(), Stale> {
    if doc.cluster != *cluster {
        return Err(Stale::OtherCluster {
            planned: doc.cluster.clone(),
            now: cluster.clone(),
        });
    }
    if let (Some(now), Some(then)) = (file, &doc.config) {
        if now.sha256 != then.sha256 {
            return Err(Stale::FileChanged {
                path: now.path.clone(),
            });
        }
    }
    let moved: Vec<String> = doc
        .changes
        .iter()
        .filter(|c| live.spus.get(&c.id).is_none_or(|l| *l.spec != *c.live))
        .map(|c| format!("{} ({})", c.id, c.name))
        .collect();
    if moved.is_empty() {
        Ok(())
    } else {
        Err(Stale::Moved { spus: moved })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpuKind;
    use crate::plan::plan;
    use crate::plan::tests::{desired, spec, want};

    fn sc() -> ClusterId {
        ClusterId::Sc("127.0.0.1:9003".into())
    }

    /// The live cluster (SPUs 1 and 2, no local endpoints) and a saved plan setting both.
    fn saved() -> (Live, PlanDoc) {
        let live = Live::from_specs([
            spec(1, SpuKind::Custom, None),
            spec(2, SpuKind::Custom, None),
        ]);
        let desired = desired(vec![want(1, Some("h.example")), want(2, Some("h.example"))]);
        let doc = PlanDoc::new(plan(&desired, &live), &sc(), None, None).fingerprinted();
        (live, doc)
    }

    fn text(doc: &PlanDoc) -> String {
        crate::render::json(doc)
    }

    #[test]
    fn what_a_saved_plan_may_hold() {
        let (_, good) = saved();
        assert_eq!(parse(&text(&good)), Ok(good.clone()));
        type Edit = fn(&mut PlanDoc);
        let cases: [(&str, Edit, &str); 7] = [
            (
                "format",
                |d| d.format_version = 99,
                "format_version 99 is not supported",
            ),
            (
                "refused",
                |d| {
                    d.blockers.push(crate::report::BlockerDoc {
                        kind: crate::plan::BlockerKind::UnknownSpu,
                        message: "m".into(),
                        help: "h".into(),
                        spu: None,
                        line: None,
                    })
                },
                "it is a refused plan",
            ),
            (
                "twice",
                |d| {
                    let again = d.changes[0].clone();
                    d.changes.push(again)
                },
                "SPU 1 has more than one change",
            ),
            (
                "bad host",
                |d| {
                    let after = d.changes[0].after.as_mut().unwrap();
                    after.host = "a..b".into();
                },
                "the new local endpoint of SPU 1 (a..b:9010) is not a valid host and port",
            ),
            (
                "managed",
                |d| {
                    std::sync::Arc::make_mut(&mut d.changes[1].live).kind = SpuKind::Managed;
                    d.changes[1].live_fingerprint = d.changes[1].live.fingerprint();
                },
                "the change for SPU 2 is not a local-endpoint change",
            ),
            (
                "fingerprint",
                |d| std::sync::Arc::make_mut(&mut d.changes[0].live).rack = Some("r".into()),
                "the fingerprint of SPU 1 does not match",
            ),
            (
                "action",
                |d| d.changes[0].action = Action::Clear,
                "the change for SPU 1 is not a local-endpoint change",
            ),
        ];
        for (name, edit, expected) in cases {
            let mut doc = good.clone();
            edit(&mut doc);
            let err = parse(&text(&doc)).expect_err(name);
            assert!(err.starts_with(expected), "{name}: {err}");
        }
        let unknown = text(&good).replace("sc://127.0.0.1:9003", "tcp://x");
        assert!(parse(&unknown)
            .unwrap_err()
            .contains("unknown target `tcp://x`"));
    }

    /// `good` as format 1 wrote it: each change with its `target`, `edit`ed.
    fn v1(good: &PlanDoc, edit: impl Fn(&mut serde_json::Value)) -> String {
        let mut doc = serde_json::to_value(good).unwrap();
        doc["format_version"] = FORMAT_V1.into();
        for (c, change) in good.changes.iter().enumerate() {
            doc["changes"][c]["target"] = serde_json::to_value(change.next()).unwrap();
        }
        edit(&mut doc);
        doc.to_string()
    }

    #[test]
    fn a_format_1_plan_is_read_when_its_targets_are_what_the_changes_create() {
        let (_, good) = saved();
        assert_eq!(parse(&v1(&good, |_| {})), Ok(good.clone()));
        type Edit = fn(&mut serde_json::Value);
        let cases: [(&str, Edit); 3] = [
            ("another field", |d| {
                d["changes"][0]["target"]["rack"] = "r".into()
            }),
            ("another endpoint", |d| {
                d["changes"][1]["target"]["local"]["port"] = 1.into()
            }),
            ("no target", |d| {
                d["changes"][0].as_object_mut().unwrap().remove("target");
            }),
        ];
        for (name, edit) in cases {
            let err = parse(&v1(&good, edit)).expect_err(name);
            assert!(
                err.contains("is not a local-endpoint change of a custom SPU"),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn a_saved_summary_is_recounted() {
        let (_, mut doc) = saved();
        doc.summary.set = 40;
        assert_eq!(parse(&text(&doc)).unwrap().summary.set, 2);
    }

    #[test]
    fn when_a_saved_plan_is_stale() {
        let (live, doc) = saved();
        let file = |sha: &str| ConfigRef {
            path: "zone.toml".into(),
            sha256: sha.into(),
        };
        let mut with_file = doc.clone();
        with_file.config = Some(file("a"));
        let mut moved = live.clone();
        std::sync::Arc::make_mut(&mut moved.spus.get_mut(&2).unwrap().spec).rack = Some("r".into());
        let mut gone = live.clone();
        gone.spus.remove(&1);
        let other = ClusterId::MetadataDir("/m".into());
        type Case<'a> = (
            &'a str,
            &'a PlanDoc,
            &'a ClusterId,
            &'a Live,
            Option<ConfigRef>,
            Result<(), Stale>,
        );
        let cases: [Case; 6] = [
            ("fresh", &doc, &sc(), &live, None, Ok(())),
            (
                "same file",
                &with_file,
                &sc(),
                &live,
                Some(file("a")),
                Ok(()),
            ),
            (
                "other cluster",
                &doc,
                &other,
                &live,
                None,
                Err(Stale::OtherCluster {
                    planned: sc(),
                    now: other.clone(),
                }),
            ),
            (
                "file changed",
                &with_file,
                &sc(),
                &live,
                Some(file("b")),
                Err(Stale::FileChanged {
                    path: "zone.toml".into(),
                }),
            ),
            (
                "spu moved",
                &doc,
                &sc(),
                &moved,
                None,
                Err(Stale::Moved {
                    spus: vec!["2 (custom-spu-2)".into()],
                }),
            ),
            (
                "spu gone",
                &doc,
                &sc(),
                &gone,
                None,
                Err(Stale::Moved {
                    spus: vec!["1 (custom-spu-1)".into()],
                }),
            ),
        ];
        for (name, doc, cluster, live, file, expected) in cases {
            assert_eq!(
                check_fresh(doc, cluster, live, file.as_ref()),
                expected,
                "{name}"
            );
        }
        assert_eq!(
            Stale::Moved {
                spus: vec!["1 (a)".into(), "2 (b)".into()]
            }
            .to_string(),
            "the cluster changed since the plan was made: SPU 1 (a), 2 (b) no longer match it"
        );
    }
}
