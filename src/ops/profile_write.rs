//! `profile write -f FILE --out CONFIG`: the fluvio config of a zone's clients, from the
//! zone file's `[client]` table: one profile and one cluster at the SC's address as those
//! clients dial it, `use_spu_local_address = true`, and the TLS settings of a profile of
//! this machine's fluvio config copied by reference (the same certificate file paths; a
//! profile that holds its key inline is refused, never copied). Touches no cluster.

use std::path::{Path, PathBuf};

use super::load_file;
use crate::atomic_write::{self, Existing};
use crate::cluster::sc::{profile_tls, TlsSettings};
use crate::error::{Error, Result, Usage};
use crate::model::EndpointTls;
use crate::profile::ZoneProfile;

/// What to write, and where.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The zone file.
    pub file: PathBuf,
    /// The config to write.
    pub out: PathBuf,
    /// The profile's (and its cluster's) name; default: the zone file's stem.
    pub name: Option<String>,
    /// Replace `out` if it exists.
    pub force: bool,
}

/// A new config holds paths, never key material: readable by the zone's clients, which
/// may run as another user (a container's).
const MODE: u32 = 0o644;

/// Writes the config; returns what it holds.
pub fn run(options: &WriteOptions) -> Result<ZoneProfile> {
    let (source, desired) = load_file(&options.file)?;
    let client = desired.client.as_ref().ok_or_else(|| Error::NoClient {
        path: options.file.clone(),
    })?;
    let name = profile_name(options.name.as_deref(), &options.file)?;
    let tls_from = desired.client_tls_profile().map(str::to_string);
    let tls = match &tls_from {
        None => EndpointTls::Disabled,
        Some(profile) => match profile_tls(profile) {
            Ok(TlsSettings::ByReference(tls)) => tls,
            Ok(TlsSettings::Inline) => {
                return Err(Error::InlineTls {
                    profile: profile.clone(),
                })
            }
            Err(source) => {
                return Err(Error::ClientTls {
                    profile: profile.clone(),
                    source,
                })
            }
        },
    };
    let zone = ZoneProfile {
        name,
        endpoint: client.endpoint.clone(),
        tls,
        source: source.name.clone(),
        tls_from,
    };
    let existing = match options.force {
        true => Existing::Replace,
        false => Existing::Refuse,
    };
    atomic_write::write(&options.out, zone.text().as_bytes(), existing, MODE).map_err(
        |e| match e.kind() {
            std::io::ErrorKind::AlreadyExists if !options.force => Error::OutExists {
                path: options.out.clone(),
            },
            _ => Error::WriteFile {
                path: options.out.clone(),
                source: e,
            },
        },
    )?;
    Ok(zone)
}

/// `--name`, else the zone file's stem (`zones/docker.toml`: `docker`).
fn profile_name(given: Option<&str>, file: &Path) -> Result<String> {
    let name = match given {
        Some(name) => name.to_string(),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let why = if name.trim().is_empty() {
        Some("it is empty")
    } else if name.chars().any(crate::escape::needs_escape) {
        Some("it holds a control or bidirectional formatting character")
    } else if name.contains('\u{fffd}') && given.is_none() {
        Some("the file name is not UTF-8")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::Usage(Usage::ProfileName {
            name: crate::escape::visible(&name).into_owned(),
            why,
        })),
        None => Ok(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_given_or_the_file_stem() {
        let file = Path::new("zones/docker.toml");
        assert_eq!(profile_name(None, file).unwrap(), "docker");
        assert_eq!(profile_name(Some("ci"), file).unwrap(), "ci");
        for bad in ["", "  ", "a\nb", "a\u{202e}b"] {
            assert!(
                matches!(
                    profile_name(Some(bad), file),
                    Err(Error::Usage(Usage::ProfileName { .. }))
                ),
                "{bad:?}"
            );
        }
        assert!(profile_name(None, Path::new("/")).is_err());
    }
}
