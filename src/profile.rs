//! The client side of a zone: the fluvio config's `use_spu_local_address`, which decides
//! whether a profile's clients dial local endpoints at all, and the config a zone's
//! clients read (`ZoneProfile`, written by `profile write`). Read and edited with
//! `toml_edit`, so an edit changes that one value and keeps every comment, key order and
//! blank line; written atomically (`atomic_write`: a temp file in the same directory,
//! fsynced, renamed over the original), so the file is always the old text or the new one.
//!
//! The file is `$FLV_PROFILE_PATH`, else `~/.fluvio/config`, as the fluvio CLI reads it:
//! `current_profile = "p"`, `[profile.p] cluster = "c"`, `[cluster.c] endpoint = ..`,
//! `use_spu_local_address = true|false` (absent means false).

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::{DocumentMut, Item, Value};

use crate::escape::visible;
use crate::model::{ClusterChoice, EndpointTls, HostPort};

const KEY: &str = "use_spu_local_address";

/// Why the fluvio config could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot find the fluvio config: neither FLV_PROFILE_PATH nor HOME is set")]
    NoPath,
    #[error("cannot read the fluvio config {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the fluvio config {} is not valid TOML: {message}", path.display())]
    NotToml { path: PathBuf, message: String },
    #[error("the fluvio config {} has no profile `{name}` (profiles: {})", path.display(), list(known))]
    UnknownProfile {
        path: PathBuf,
        name: String,
        known: Vec<String>,
    },
    #[error("profile `{profile}` names cluster `{cluster}`, which is not in the fluvio config {} (clusters: {})", path.display(), list(known))]
    UnknownCluster {
        path: PathBuf,
        profile: String,
        cluster: String,
        known: Vec<String>,
    },
    #[error("in the fluvio config {}: {message}", path.display())]
    Shape { path: PathBuf, message: String },
    #[error("cannot write the fluvio config {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ProfileError {
    /// True when the file itself is wrong (exit 3), not the machine (exit 1).
    pub fn is_config(&self) -> bool {
        !matches!(self, ProfileError::Write { .. })
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A fluvio config error without the lines of the file it quotes: a profile can hold a
/// private key inline, and a TOML error quotes the line it is on (line and column stay).
pub(crate) fn without_quoted_lines(text: &str) -> String {
    let quoted = |line: &str| {
        let rest = line
            .trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit());
        rest.trim_start().starts_with('|') || line.contains("-----BEGIN")
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !quoted(line) && !line.trim().is_empty())
        .collect();
    kept.join(": ")
}

/// The fluvio CLI's own directory, `$HOME/.fluvio` (its config, its extensions, and this
/// tool's journals); `None` when HOME is not set.
pub fn fluvio_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".fluvio"))
}

/// The fluvio config's path, as the fluvio CLI finds it.
pub fn config_path() -> Result<PathBuf, ProfileError> {
    if let Some(path) = std::env::var_os("FLV_PROFILE_PATH") {
        return Ok(PathBuf::from(path));
    }
    fluvio_home()
        .map(|home| home.join("config"))
        .ok_or(ProfileError::NoPath)
}

/// One profile and the setting that matters here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    pub profile: String,
    pub current: bool,
    pub cluster: String,
    pub endpoint: Option<String>,
    /// `None` when the key is absent (clients read false).
    pub use_spu_local_address: Option<bool>,
}

impl ProfileView {
    /// What clients of this profile do.
    pub fn uses_local(&self) -> bool {
        self.use_spu_local_address.unwrap_or(false)
    }
}

/// A parsed fluvio config, kept with its formatting.
pub struct FluvioConfig {
    path: PathBuf,
    doc: DocumentMut,
}

impl FluvioConfig {
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text =
            crate::input::read_to_string(path, &crate::input::FLUVIO_CONFIG).map_err(|source| {
                ProfileError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|source| ProfileError::NotToml {
                path: path.to_path_buf(),
                message: without_quoted_lines(&source.to_string()),
            })?;
        Ok(FluvioConfig {
            path: path.to_path_buf(),
            doc,
        })
    }

    fn table_names(&self, key: &str) -> Vec<String> {
        self.doc
            .get(key)
            .and_then(Item::as_table_like)
            .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
            .unwrap_or_default()
    }

    pub fn profiles(&self) -> Vec<String> {
        self.table_names("profile")
    }

    pub fn current_profile(&self) -> Option<String> {
        self.doc
            .get("current_profile")
            .and_then(Item::as_str)
            .map(str::to_string)
    }

    fn shape(&self, message: String) -> ProfileError {
        ProfileError::Shape {
            path: self.path.clone(),
            message,
        }
    }

    /// The cluster a profile names, checked to exist.
    fn cluster_of(&self, profile: &str) -> Result<String, ProfileError> {
        let entry = self
            .doc
            .get("profile")
            .and_then(Item::as_table_like)
            .and_then(|t| t.get(profile))
            .ok_or_else(|| ProfileError::UnknownProfile {
                path: self.path.clone(),
                name: profile.into(),
                known: self.profiles(),
            })?;
        let cluster = entry
            .as_table_like()
            .and_then(|t| t.get("cluster"))
            .and_then(Item::as_str)
            .ok_or_else(|| self.shape(format!("profile `{profile}` has no `cluster` string")))?
            .to_string();
        let clusters = self.table_names("cluster");
        if !clusters.contains(&cluster) {
            return Err(ProfileError::UnknownCluster {
                path: self.path.clone(),
                profile: profile.into(),
                cluster,
                known: clusters,
            });
        }
        Ok(cluster)
    }

    fn cluster_table(&self, cluster: &str) -> Option<&dyn toml_edit::TableLike> {
        self.doc
            .get("cluster")
            .and_then(Item::as_table_like)
            .and_then(|t| t.get(cluster))
            .and_then(Item::as_table_like)
    }

    /// One profile as `profile show` prints it.
    pub fn view(&self, profile: &str) -> Result<ProfileView, ProfileError> {
        let cluster = self.cluster_of(profile)?;
        let table = self
            .cluster_table(&cluster)
            .ok_or_else(|| self.shape(format!("cluster `{cluster}` is not a table")))?;
        let setting = match table.get(KEY) {
            None => None,
            Some(item) => Some(item.as_bool().ok_or_else(|| {
                self.shape(format!("cluster `{cluster}`: {KEY} is not true or false"))
            })?),
        };
        Ok(ProfileView {
            profile: profile.into(),
            current: self.current_profile().as_deref() == Some(profile),
            endpoint: table.get("endpoint").and_then(Item::as_str).map(Into::into),
            cluster,
            use_spu_local_address: setting,
        })
    }

    /// Every profile, in file order.
    pub fn views(&self) -> Result<Vec<ProfileView>, ProfileError> {
        self.profiles().iter().map(|p| self.view(p)).collect()
    }

    /// Sets the profile's cluster's `use_spu_local_address` in the document. Returns the
    /// cluster and whether the text changed.
    pub fn set_use_local(
        &mut self,
        profile: &str,
        on: bool,
    ) -> Result<(String, bool), ProfileError> {
        let before = self.view(profile)?;
        let cluster = before.cluster.clone();
        if before.use_spu_local_address == Some(on) {
            return Ok((cluster, false));
        }
        let path = self.path.clone();
        let table = self
            .doc
            .get_mut("cluster")
            .and_then(Item::as_table_like_mut)
            .and_then(|t| t.get_mut(&cluster))
            .and_then(Item::as_table_like_mut)
            .ok_or_else(|| ProfileError::Shape {
                path,
                message: format!("cluster `{cluster}` is not a table"),
            })?;
        match table.get_mut(KEY) {
            // Replace the value only, keeping its comments and spacing.
            Some(Item::Value(v)) => {
                let decor = v.decor().clone();
                *v = Value::from(on);
                *v.decor_mut() = decor;
            }
            _ => {
                table.insert(KEY, toml_edit::value(on));
            }
        }
        Ok((cluster, true))
    }

    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Writes the document atomically over the file (through a symlink to its target),
    /// keeping the file's permissions.
    pub fn save(&self) -> Result<(), ProfileError> {
        crate::atomic_write::write(
            &self.path,
            self.text().as_bytes(),
            crate::atomic_write::Existing::Replace,
            0o600,
        )
        .map_err(|source| ProfileError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

/// A zone's clients' fluvio config (`profile write`): one profile and one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneProfile {
    /// The profile's name, and its cluster's.
    pub name: String,
    /// The SC's address as the zone's clients dial it.
    pub endpoint: HostPort,
    /// Copied by reference: certificate files by path, never their contents.
    pub tls: EndpointTls,
    /// The zone file it is written from, for the comment at the top.
    pub source: String,
    /// The profile whose TLS settings were copied, for that comment.
    pub tls_from: Option<String>,
}

impl ZoneProfile {
    /// The TLS settings in words, as the comment at the top and the command's note say them
    /// (unescaped: each escapes it for its place).
    pub fn tls_summary(&self) -> String {
        let from = self
            .tls_from
            .as_deref()
            .map_or(String::new(), |p| format!(" (from profile `{p}`)"));
        match &self.tls {
            EndpointTls::Disabled => format!("none, plain TCP{from}"),
            EndpointTls::Anonymous => format!("anonymous{from}"),
            EndpointTls::Verified { .. } => format!("verified, certificate files by path{from}"),
        }
    }

    /// The config as the fluvio client (`ConfigFile`, format 2.0) reads it, with
    /// `use_spu_local_address = true`: the zone's clients dial the local endpoints.
    pub fn text(&self) -> String {
        use toml_edit::{value, Table};
        // A path from a fluvio config is TOML text, so UTF-8: nothing is lost here.
        let path = |p: &Path| value(p.to_string_lossy().into_owned());
        let name = self.name.as_str();
        let mut cluster = Table::new();
        cluster["endpoint"] = value(self.endpoint.to_string());
        cluster[KEY] = value(true);
        match &self.tls {
            EndpointTls::Disabled => {}
            EndpointTls::Anonymous => {
                let mut tls = Table::new();
                tls["tls_policy"] = value("anonymous");
                cluster.insert("tls", Item::Table(tls));
            }
            EndpointTls::Verified {
                domain,
                ca_cert,
                cert,
                key,
            } => {
                let mut tls = Table::new();
                tls["tls_policy"] = value("verified");
                tls["tls_source"] = value("files");
                let mut certs = Table::new();
                certs["domain"] = value(domain.as_str());
                certs["key"] = path(key);
                certs["cert"] = path(cert);
                certs["ca_cert"] = path(ca_cert);
                tls.insert("certs", Item::Table(certs));
                cluster.insert("tls", Item::Table(tls));
            }
        }
        let mut profile = Table::new();
        profile["cluster"] = value(name);
        let parent = |key: &str, child: Table| {
            let mut table = Table::new();
            table.set_implicit(true);
            table.insert(key, Item::Table(child));
            Item::Table(table)
        };
        let mut doc = DocumentMut::new();
        doc["version"] = value("2.0");
        doc["current_profile"] = value(name);
        doc.insert("profile", parent(name, profile));
        doc.insert("cluster", parent(name, cluster));
        format!(
            "# The fluvio config of the clients of zone {}, written by `fluvio-endpoints profile write`.\n\
             # Use it with FLV_PROFILE_PATH=<this file>. TLS: {}.\n{doc}",
            visible(&self.source),
            visible(&self.tls_summary())
        )
    }
}

/// A warning when the profile `choice` connects through (`-P`, the zone file's `profile`,
/// or the current one) has local endpoints off; `None` when it has them on, when the
/// choice is an address, or when the config cannot say (the command itself reports a
/// config it needs and cannot read).
pub fn local_off_warning(choice: &ClusterChoice) -> Option<String> {
    let path = config_path().ok()?;
    if !path.exists() {
        return None;
    }
    let config = FluvioConfig::load(&path).ok()?;
    let name = match choice {
        ClusterChoice::Profile(name) => name.clone(),
        ClusterChoice::Current => config.current_profile()?,
        ClusterChoice::Endpoint(..) | ClusterChoice::Client { .. } => return None,
    };
    let view = config.view(&name).ok()?;
    (!view.uses_local()).then(|| {
        format!(
            "profile `{name}` (cluster `{}`) has {KEY} = {}: its clients ignore every local endpoint and dial the public ones; set it with `fluvio-endpoints profile use-local {name}`",
            view.cluster,
            match view.use_spu_local_address {
                Some(v) => v.to_string(),
                None => "false (not set)".into(),
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"version = "2"
current_profile = "docker"   # picked by `fluvio profile switch`

[profile.docker]
cluster = "docker"

[profile.ci]
cluster = "gone"

# the local cluster, seen from a container
[cluster.docker]
endpoint = "host.docker.internal:9003"
use_spu_local_address = false   # flipped by hand before

[cluster.docker.tls]
tls_policy = "disabled"

[cluster.plain]
endpoint = "127.0.0.1:9003"
"#;

    fn config(text: &str) -> FluvioConfig {
        FluvioConfig {
            path: PathBuf::from("config"),
            doc: text.parse().unwrap(),
        }
    }

    #[test]
    fn flips_one_value_and_keeps_the_rest() {
        let mut c = config(CONFIG);
        assert_eq!(
            c.set_use_local("docker", true).unwrap(),
            ("docker".into(), true)
        );
        let expected = CONFIG.replace(
            "use_spu_local_address = false   # flipped",
            "use_spu_local_address = true   # flipped",
        );
        assert_eq!(c.text(), expected);
        assert!(!c.set_use_local("docker", true).unwrap().1, "already on");
    }

    #[test]
    fn adds_the_key_when_absent() {
        let mut c = config(&CONFIG.replace("cluster = \"gone\"", "cluster = \"plain\""));
        assert_eq!(c.view("ci").unwrap().use_spu_local_address, None);
        c.set_use_local("ci", true).unwrap();
        assert!(c.text().contains(
            "[cluster.plain]\nendpoint = \"127.0.0.1:9003\"\nuse_spu_local_address = true\n"
        ));
        assert!(c
            .text()
            .starts_with("version = \"2\"\ncurrent_profile = \"docker\"   # picked"));
    }

    fn zone(tls: EndpointTls) -> ZoneProfile {
        ZoneProfile {
            name: "docker".into(),
            endpoint: HostPort::new("host.docker.internal", 9003),
            tls,
            source: "zones/docker.toml".into(),
            tls_from: Some("local".into()),
        }
    }

    #[test]
    fn a_zone_profile_is_one_profile_and_one_cluster() {
        let plain = zone(EndpointTls::Disabled).text();
        assert_eq!(
            plain,
            "# The fluvio config of the clients of zone zones/docker.toml, written by `fluvio-endpoints profile write`.\n\
             # Use it with FLV_PROFILE_PATH=<this file>. TLS: none, plain TCP (from profile `local`).\n\
             version = \"2.0\"\ncurrent_profile = \"docker\"\n\n\
             [profile.docker]\ncluster = \"docker\"\n\n\
             [cluster.docker]\nendpoint = \"host.docker.internal:9003\"\nuse_spu_local_address = true\n"
        );
        let verified = zone(EndpointTls::Verified {
            domain: "sc.example.com".into(),
            ca_cert: "/etc/fluvio/ca.crt".into(),
            cert: "/etc/fluvio/client.crt".into(),
            key: "/etc/fluvio/client.key".into(),
        })
        .text();
        assert!(
            verified.ends_with(
                "use_spu_local_address = true\n\n\
                 [cluster.docker.tls]\ntls_policy = \"verified\"\ntls_source = \"files\"\n\n\
                 [cluster.docker.tls.certs]\ndomain = \"sc.example.com\"\nkey = \"/etc/fluvio/client.key\"\n\
                 cert = \"/etc/fluvio/client.crt\"\nca_cert = \"/etc/fluvio/ca.crt\"\n"
            ),
            "{verified}"
        );
        let anonymous = zone(EndpointTls::Anonymous).text();
        assert!(
            anonymous.ends_with("[cluster.docker.tls]\ntls_policy = \"anonymous\"\n"),
            "{anonymous}"
        );
    }

    #[test]
    fn a_zone_profile_quotes_what_toml_must_and_comments_stay_comments() {
        let mut odd = zone(EndpointTls::Disabled);
        odd.name = "zone a.b".into();
        odd.source = "evil\nversion = \"9\".toml".into();
        let text = odd.text();
        let doc: DocumentMut = text.parse().expect("TOML");
        assert_eq!(doc["version"].as_str(), Some("2.0"));
        assert_eq!(doc["current_profile"].as_str(), Some("zone a.b"));
        assert_eq!(
            doc["profile"]["zone a.b"]["cluster"].as_str(),
            Some("zone a.b")
        );
        assert!(text.contains("evil\\nversion"), "{text}");
    }

    #[test]
    fn names_what_exists_when_refusing() {
        let mut c = config(CONFIG);
        let unknown = c.set_use_local("prod", true).unwrap_err().to_string();
        assert!(
            unknown.contains("no profile `prod`") && unknown.contains("`docker`, `ci`"),
            "{unknown}"
        );
        let gone = c.set_use_local("ci", true).unwrap_err().to_string();
        assert!(
            gone.contains("cluster `gone`") && gone.contains("`docker`, `plain`"),
            "{gone}"
        );
    }
}
