//! `export`: a zone file from the live cluster. Planning it right back is empty. It has no
//! `[client]` table: where a zone's clients are is not in the cluster (a file's `[client]`
//! carries over to an export as it is).
//!
//! The cluster's values are untrusted: one may be something no zone file can state (a
//! local endpoint `a..b:0`, an empty host, an IPv6 literal stored without brackets). Each
//! SPU's entry is therefore checked the way `plan` would read it (parse, validate, plan
//! against the same live state) before it is written: a local endpoint that does not come
//! back unchanged leaves its SPU out, an assertion that does not leaves just itself out,
//! and a comment at the top of the file says which and why.

use super::read::read;
use super::session::Connect;
use crate::config::schema::{
    ClusterTable, EncryptionName, LocalTable, LocalValue, SpuEntry, ZoneFile,
};
use crate::config::SourceFile;
use crate::error::Result;
use crate::escape::visible;
use crate::model::{Encryption, Live, LiveSpu, SpuKind};
use crate::output::Printer;
use crate::plan::DriftField;

fn encryption(e: Encryption) -> EncryptionName {
    match e {
        Encryption::Plaintext => EncryptionName::Plaintext,
        Encryption::Ssl => EncryptionName::Ssl,
    }
}

/// Every custom SPU with its local endpoint, and its name/public/private/rack as assertions,
/// as far as a zone file can state them; the second part says what was left out, and why.
pub fn zone_file(live: &Live, cluster: Option<ClusterTable>) -> (ZoneFile, Vec<String>) {
    let mut omitted = Vec::new();
    let spu = live
        .spus
        .values()
        .filter(|s| s.spec.kind == SpuKind::Custom)
        .filter_map(|s| entry(s, live, &mut omitted))
        .collect();
    // `[client]` says where the zone's clients are, which the cluster does not know.
    let file = ZoneFile {
        cluster,
        client: None,
        policy: None,
        spu,
    };
    (file, omitted)
}

/// One SPU's entry, checked field by field; `None` when its local endpoint cannot be stated.
fn entry(s: &LiveSpu, live: &Live, omitted: &mut Vec<String>) -> Option<SpuEntry> {
    let spec = &s.spec;
    let local = match &spec.local {
        None => LocalValue::Text("none".into()),
        Some(l) if l.encryption == spec.public.encryption => {
            LocalValue::Text(l.host_port().to_string())
        }
        Some(l) => LocalValue::Table(LocalTable {
            host: l.host.clone(),
            port: Some(l.port),
            encryption: Some(encryption(l.encryption)),
        }),
    };
    let bare = SpuEntry {
        id: spec.id,
        local,
        name: None,
        public: None,
        private: None,
        rack: None,
    };
    if let Err(why) = reads_back(&bare, live) {
        omitted.push(format!(
            "SPU {} ({}) is left out: its local endpoint {} cannot be written so that it plans back unchanged ({why}).",
            spec.id,
            visible(&spec.name),
            visible(&crate::plan::describe_endpoint(&spec.local)),
        ));
        return None;
    }
    // Written the way a zone file must spell them, so planning back is empty.
    let assertions = [
        (DriftField::Name, Some(spec.name.clone())),
        (DriftField::Public, spec.public.assertion()),
        (
            DriftField::Private,
            (!spec.private.host.is_empty()).then(|| spec.private.host_port().to_string()),
        ),
        (DriftField::Rack, spec.rack.clone()),
    ];
    let mut kept = bare.clone();
    for (field, value) in assertions {
        let Some(value) = value else { continue };
        let mut one = bare.clone();
        set(&mut one, field, value.clone());
        // A file shows a bidirectional override reordered: never written, even if valid.
        let checked = if value.chars().any(crate::escape::needs_escape) {
            Err("it holds a control or bidirectional formatting character".to_string())
        } else {
            reads_back(&one, live)
        };
        match checked {
            Ok(()) => set(&mut kept, field, value),
            Err(why) => omitted.push(format!(
                "SPU {}: its {} {} is not asserted: it cannot be written so that it plans back unchanged ({why}).",
                spec.id,
                field.as_str(),
                visible(&value),
            )),
        }
    }
    Some(kept)
}

/// Asserts `field` (a field a file can assert, as drift names them) in `entry`.
fn set(entry: &mut SpuEntry, field: DriftField, value: String) {
    let slot = match field {
        DriftField::Name => &mut entry.name,
        DriftField::Public => &mut entry.public,
        DriftField::Private => &mut entry.private,
        DriftField::Rack => &mut entry.rack,
    };
    *slot = Some(value);
}

/// Whether a file holding just `entry` validates and plans against `live` with no change,
/// drift or refusal for its SPU; else the first reason, escaped to one line.
fn reads_back(entry: &SpuEntry, live: &Live) -> std::result::Result<(), String> {
    let file = ZoneFile {
        cluster: None,
        client: None,
        policy: None,
        spu: vec![entry.clone()],
    };
    let text = toml::to_string(&file).map_err(|e| visible(&e.to_string()).into_owned())?;
    let desired = crate::config::load(&SourceFile::new("export", text)).map_err(|errors| {
        let first = errors
            .located
            .first()
            .map_or("it does not validate".to_string(), |(p, _, _)| {
                p.message.clone()
            });
        visible(&first).into_owned()
    })?;
    let plan = crate::plan::plan(&desired, live);
    let id = entry.id;
    if let Some(c) = plan.changes.iter().find(|c| c.id == id) {
        return Err(format!(
            "it would read back as {}",
            visible(&crate::plan::describe_endpoint(&c.after))
        ));
    }
    if let Some(d) = plan.drift.iter().find(|d| d.id == id) {
        return Err(format!("it would read back as {}", visible(&d.expected)));
    }
    if let Some(b) = plan.blockers.iter().find(|b| b.spu() == Some(id)) {
        return Err(visible(&b.message()).into_owned());
    }
    Ok(())
}

/// `export`'s options.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The `#:schema` path to put at the top.
    pub schema: String,
}

/// The zone file's text for the cluster the flags pick; its `[cluster]` says what the
/// flags said.
pub async fn run(connect: &Connect, options: &ExportOptions, printer: &Printer) -> Result<String> {
    let (id, live) = read(connect, printer).await?;
    let flags = &connect.flags;
    let cluster = match (&flags.cluster, &flags.profile) {
        (Some(endpoint), _) => Some(ClusterTable {
            profile: None,
            endpoint: Some(endpoint.to_string()),
        }),
        (None, Some(profile)) => Some(ClusterTable {
            profile: Some(profile.clone()),
            endpoint: None,
        }),
        _ => None,
    };
    let (file, omitted) = zone_file(&live, cluster);
    let body = toml::to_string(&file).expect("zone files serialize");
    let mut notes = String::new();
    for why in &omitted {
        notes.push_str(&format!("# {}\n", visible(why)));
    }
    Ok(format!(
        "#:schema {}\n# Exported by fluvio-endpoints {} from {}.\n{notes}\n{body}",
        options.schema,
        env!("CARGO_PKG_VERSION"),
        visible(&id.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Endpoint;

    fn spu(id: i32, name: &str, local: Option<(&str, u16)>, rack: Option<&str>) -> LiveSpu {
        let mut spu = crate::plan::tests::spec(id, SpuKind::Custom, None);
        let spec = std::sync::Arc::make_mut(&mut spu.spec);
        spec.name = name.into();
        spec.rack = rack.map(str::to_owned);
        spec.local = local.map(|(host, port)| Endpoint {
            host: host.into(),
            port,
            encryption: Encryption::Plaintext,
        });
        spu
    }

    #[test]
    fn what_a_zone_file_cannot_state_is_left_out_with_a_one_line_reason() {
        let live = Live::from_specs([
            spu(1, "ok", Some(("spu-1.example", 9010)), Some("rack-a")),
            spu(2, "dots", Some(("a..b", 0)), None),
            spu(3, "empty", Some(("", 9010)), None),
            spu(4, "v6", Some(("::1", 9010)), None),
            spu(5, "v6-bracketed", Some(("[::1]", 9010)), None),
            spu(6, "bad\nname", None, Some("r\u{1b}[2J")),
            spu(7, "seven", None, Some("rack\u{202e}a")),
        ]);
        let (file, omitted) = zone_file(&live, None);
        let ids: Vec<i32> = file.spu.iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 5, 6, 7], "{omitted:#?}");
        assert_eq!(file.spu[3].rack, None, "{omitted:#?}");
        assert_eq!(file.spu[3].name.as_deref(), Some("seven"));
        assert!(omitted
            .iter()
            .any(|o| o.contains("SPU 7: its rack rack\\u{202e}a is not asserted")));
        for id in [2, 3, 4] {
            assert!(
                omitted
                    .iter()
                    .any(|o| o.starts_with(&format!("SPU {id} ")) && o.contains("left out")),
                "{id}: {omitted:#?}"
            );
        }
        let six = &file.spu[2];
        assert_eq!((six.name.as_deref(), six.rack.as_deref()), (None, None));
        assert!(omitted
            .iter()
            .any(|o| o.contains("bad\\nname") && o.contains("not asserted")));
        for line in &omitted {
            assert!(!line.chars().any(crate::escape::needs_escape), "{line:?}");
        }
        let text = toml::to_string(&file).unwrap();
        let desired = crate::config::load(&SourceFile::new("export", text)).expect("validates");
        let plan = crate::plan::plan(&desired, &live);
        assert!(
            plan.changes.is_empty() && plan.drift.is_empty() && plan.blockers.is_empty(),
            "{plan:#?}"
        );
    }
}
