//! `export`: a zone file from the live cluster. Planning it right back is empty.

use super::read::read;
use super::session::Connect;
use crate::config::schema::{
    ClusterTable, EncryptionName, LocalTable, LocalValue, SpuEntry, ZoneFile,
};
use crate::error::Result;
use crate::model::{Encryption, Live, SpuKind};
use crate::output::Printer;

fn encryption(e: Encryption) -> EncryptionName {
    match e {
        Encryption::Plaintext => EncryptionName::Plaintext,
        Encryption::Ssl => EncryptionName::Ssl,
    }
}

/// Every custom SPU with its local endpoint, and its name/public/private/rack as assertions.
pub fn zone_file(live: &Live, cluster: Option<ClusterTable>) -> ZoneFile {
    let spu = live
        .spus
        .values()
        .filter(|s| s.spec.kind == SpuKind::Custom)
        .map(|s| {
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
            SpuEntry {
                id: spec.id,
                local,
                name: Some(spec.name.clone()),
                // Written the way a zone file must spell them, so planning back is empty.
                public: spec.public.assertion(),
                private: (!spec.private.host.is_empty())
                    .then(|| spec.private.host_port().to_string()),
                rack: spec.rack.clone(),
            }
        })
        .collect();
    ZoneFile {
        cluster,
        policy: None,
        spu,
    }
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
    let body = toml::to_string(&zone_file(&live, cluster)).expect("zone files serialize");
    Ok(format!(
        "#:schema {}\n# Exported by fluvio-endpoints {} from {id}.\n\n{body}",
        options.schema,
        env!("CARGO_PKG_VERSION"),
    ))
}
