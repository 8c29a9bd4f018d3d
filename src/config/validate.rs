//! Semantic checks on a parsed file: hosts, ports, encryption, duplicate ids, conflicting
//! cluster settings. Produces a clean [`Desired`]; problems are appended, never thrown, so
//! the caller reports them all at once.

use std::collections::BTreeMap;

use super::raw::{Located, RawClient, RawConfig, RawLocal, RawMaxChanges, RawSpu};
use super::Problem;
use crate::address::{self, AddressError};
use crate::model::{
    ClientTable, ClusterTable, Desired, DesiredSpu, Encryption, HostPort, LocalDecl, MaxChanges,
    Policy, ProbePolicy, SpuId, SpuSpans, Unmanaged,
};
use crate::replication::StallPolicy;

/// Validates `raw`, pushing every problem found into `problems`.
pub fn validate(raw: &RawConfig, problems: &mut Vec<Problem>) -> Desired {
    let mut desired = Desired::default();
    if let Some(cluster) = &raw.cluster {
        desired.cluster = cluster_table(cluster, problems);
    }
    if let Some(client) = &raw.client {
        desired.client = client_table(client, problems);
    }
    if let Some(policy) = &raw.policy {
        desired.policy = self::policy(policy, problems);
    }
    let mut first_seen: BTreeMap<i64, std::ops::Range<usize>> = BTreeMap::new();
    for spu in &raw.spus {
        // Duplicates are found on the raw id, so an entry with other problems still counts.
        let mut duplicate = false;
        if let Some(id) = &spu.id {
            if let Some(first) = first_seen.get(&id.value) {
                duplicate = true;
                problems.push(
                    Problem::new(
                        format!("SPU {} is declared more than once", id.value),
                        id.span.clone(),
                        "declared again here",
                    )
                    .with_related(first.clone(), "first defined here")
                    .with_help("each SPU id may appear in one [[spu]] entry only"),
                );
            } else {
                first_seen.insert(id.value, id.span.clone());
            }
        }
        if let Some(entry) = self::spu(spu, problems) {
            if !duplicate {
                desired.spus.insert(entry.id, entry);
            }
        }
    }
    desired
}

fn address_problem(err: AddressError, span: std::ops::Range<usize>, what: &str) -> Problem {
    let problem = Problem::new(format!("invalid {what}: {err}"), span, err.to_string());
    match err.help() {
        Some(help) => problem.with_help(help),
        None => problem,
    }
}

fn cluster_table(raw: &super::raw::RawCluster, problems: &mut Vec<Problem>) -> ClusterTable {
    if let (Some(profile), Some(endpoint)) = (&raw.profile, &raw.endpoint) {
        problems.push(
            Problem::new(
                "[cluster] sets both `profile` and `endpoint`",
                endpoint.span.clone(),
                "endpoint set here",
            )
            .with_related(profile.span.clone(), "profile set here")
            .with_help("keep one: a profile from the fluvio config, or the SC address"),
        );
    }
    if let Some(profile) = &raw.profile {
        if profile.value.trim().is_empty() {
            problems.push(Problem::new(
                "empty profile name",
                profile.span.clone(),
                "empty",
            ));
        }
    }
    let normalized = raw
        .endpoint
        .as_ref()
        .and_then(|endpoint| sc_address(endpoint, "cluster endpoint", problems));
    ClusterTable {
        profile: raw.profile.as_ref().map(|p| p.value.clone()),
        endpoint: normalized,
    }
}

/// An SC's address, `host:port`, read as `-c` reads it.
fn sc_address(
    endpoint: &Located<String>,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<HostPort> {
    match address::parse_host_port(&endpoint.value) {
        Ok((host, Some(port))) => Some(HostPort::new(host, port)),
        Ok((_, None)) => {
            problems.push(
                Problem::new(
                    format!("the {what} needs a port"),
                    endpoint.span.clone(),
                    "no port",
                )
                .with_help("the SC's public port is usually 9003, e.g. \"127.0.0.1:9003\""),
            );
            None
        }
        Err(err) => {
            problems.push(address_problem(err, endpoint.span.clone(), what));
            None
        }
    }
}

/// `[client]`: the SC's address as the zone's clients dial it (required), and the profile
/// whose TLS settings they share.
fn client_table(raw: &RawClient, problems: &mut Vec<Problem>) -> Option<ClientTable> {
    let before = problems.len();
    if !raw.has_endpoint {
        problems.push(
            Problem::new("[client] has no `endpoint`", raw.span.clone(), "no endpoint")
                .with_help(
                    "add the SC's address as the zone's clients reach it, e.g. endpoint = \"host.docker.internal:9003\"",
                ),
        );
    }
    let endpoint = raw
        .endpoint
        .as_ref()
        .and_then(|e| sc_address(e, "client endpoint", problems));
    if let Some(from) = &raw.tls_from {
        if from.value.trim().is_empty() {
            problems.push(
                Problem::new("empty profile name", from.span.clone(), "empty").with_help(
                    "`tls_from` names a profile of the fluvio config whose TLS settings the zone's clients share; leave it out for the [cluster] profile's",
                ),
            );
        }
    }
    if problems.len() != before {
        return None;
    }
    Some(ClientTable {
        endpoint: endpoint?,
        tls_from: raw.tls_from.as_ref().map(|t| t.value.clone()),
    })
}

fn policy(raw: &super::raw::RawPolicy, problems: &mut Vec<Problem>) -> Policy {
    let mut policy = Policy::default();
    if let Some(unmanaged) = &raw.unmanaged {
        policy.unmanaged = keyword(
            unmanaged,
            "unmanaged",
            &[
                ("ignore", Unmanaged::Ignore),
                ("warn", Unmanaged::Warn),
                ("error", Unmanaged::Error),
            ],
            "expected ignore, warn or error",
            "`unmanaged` says what to do with SPUs in the cluster but not in the file",
            problems,
        );
    }
    if let Some(probe) = &raw.probe {
        policy.probe = keyword(
            probe,
            "probe",
            &[
                ("off", ProbePolicy::Off),
                ("warn", ProbePolicy::Warn),
                ("error", ProbePolicy::Error),
            ],
            "expected off, warn or error",
            "`probe` says whether plan and apply first check that the endpoints they set answer from here",
            problems,
        );
    }
    if let Some(stalls) = &raw.replication_stalls {
        policy.replication_stalls = keyword(
            stalls,
            "replication_stalls",
            &[("refuse", StallPolicy::Refuse), ("accept", StallPolicy::Accept)],
            "expected refuse or accept",
            "`replication_stalls` says whether a change may stall the replicated partitions its SPU follows until that SPU restarts",
            problems,
        );
    }
    if let Some(command) = &raw.restart_command {
        policy.restart_command = restart_command(command, problems);
    }
    if let Some(max) = &raw.max_changes {
        policy.max_changes = max_changes(max, problems);
    }
    policy
}

/// A `[policy]` key that takes one of a few words: its value, else a problem and the
/// default.
fn keyword<T: Copy + Default>(
    raw: &Located<String>,
    key: &str,
    words: &[(&str, T)],
    expected: &str,
    help: &str,
    problems: &mut Vec<Problem>,
) -> T {
    if let Some((_, value)) = words.iter().find(|(word, _)| *word == raw.value) {
        return *value;
    }
    problems.push(
        Problem::new(
            format!("unknown {key} policy `{}`", raw.value),
            raw.span.clone(),
            expected,
        )
        .with_help(help),
    );
    T::default()
}

fn restart_command(command: &Located<String>, problems: &mut Vec<Problem>) -> Option<String> {
    if command.value.trim().is_empty() {
        problems.push(
            Problem::new(
                "`restart_command` is empty",
                command.span.clone(),
                "no command",
            )
            .with_help(
                "a shell command that restarts one SPU's process, e.g. \"docker restart fluvio-spu-$SPU_ID\"; leave the key out for none",
            ),
        );
        None
    } else if command.value.contains('\0') {
        problems.push(Problem::new(
            "`restart_command` holds a NUL character, which no shell command can",
            command.span.clone(),
            "NUL",
        ));
        None
    } else {
        Some(command.value.clone())
    }
}

fn max_changes(max: &Located<RawMaxChanges>, problems: &mut Vec<Problem>) -> Option<MaxChanges> {
    let problem = match &max.value {
        RawMaxChanges::Count(n) => match usize::try_from(*n) {
            Ok(n) => return Some(MaxChanges::Count(n)),
            Err(_) => Problem::new(
                "`max_changes` must not be negative",
                max.span.clone(),
                "negative",
            ),
        },
        RawMaxChanges::Text(text) => match text.strip_suffix('%').map(|_| MaxChanges::parse(text)) {
            Some(Ok(pct)) => return Some(pct),
            Some(Err(why)) => Problem::new(
                format!("`max_changes`: {why}"),
                max.span.clone(),
                "not a percentage",
            ),
            None => Problem::new(
                "`max_changes` is a number of changes (3) or a percentage of the cluster's custom SPUs (\"30%\")",
                max.span.clone(),
                "neither",
            ),
        },
    };
    problems.push(problem);
    None
}

fn spu(raw: &RawSpu, problems: &mut Vec<Problem>) -> Option<DesiredSpu> {
    let before = problems.len();
    let id = spu_id(raw, problems);
    let (local, local_span) = spu_local(raw, id, problems);
    check_texts(raw, problems);
    let public = raw
        .public
        .as_ref()
        .and_then(|p| asserted_address(p, "public", problems));
    let private = raw
        .private
        .as_ref()
        .and_then(|p| asserted_address(p, "private", problems));
    if problems.len() != before {
        return None;
    }
    Some(DesiredSpu {
        id: id?,
        local: local?,
        name: raw.name.as_ref().map(|n| n.value.clone()),
        public,
        private,
        rack: raw.rack.as_ref().map(|r| r.value.clone()),
        spans: SpuSpans {
            entry: raw.span.clone(),
            local: local_span,
            name: raw.name.as_ref().map(|s| s.span.clone()),
            public: raw.public.as_ref().map(|s| s.span.clone()),
            private: raw.private.as_ref().map(|s| s.span.clone()),
            rack: raw.rack.as_ref().map(|s| s.span.clone()),
        },
    })
}

/// The entry's `id`, if it has a valid one (`None` and a problem otherwise, or `None`
/// alone when the key is there but was already found wrong).
fn spu_id(raw: &RawSpu, problems: &mut Vec<Problem>) -> Option<SpuId> {
    match &raw.id {
        None if raw.has_id => None,
        None => {
            problems.push(
                Problem::new("[[spu]] entry has no `id`", raw.span.clone(), "no id")
                    .with_help("add the SPU's id, e.g. `id = 5001`"),
            );
            None
        }
        Some(Located { value, span }) => match SpuId::try_from(*value) {
            Ok(id) if id >= 0 => Some(id),
            _ => {
                problems.push(Problem::new(
                    format!("SPU id {value} is out of range"),
                    span.clone(),
                    "expected 0 to 2147483647",
                ));
                None
            }
        },
    }
}

/// The entry's `local` declaration and its span.
fn spu_local(
    raw: &RawSpu,
    id: Option<SpuId>,
    problems: &mut Vec<Problem>,
) -> (Option<LocalDecl>, std::ops::Range<usize>) {
    match &raw.local {
        None if raw.has_local => (None, 0..0),
        None => {
            problems.push(
                Problem::new(
                    format!(
                        "SPU {} does not say its local endpoint",
                        id.map_or("entry".to_string(), |i| i.to_string())
                    ),
                    raw.id.as_ref().map_or(raw.span.clone(), |i| i.span.clone()),
                    "no `local` key",
                )
                .with_help(
                    "add `local = \"host[:port]\"`, or `local = \"none\"` for no local endpoint",
                ),
            );
            (None, 0..0)
        }
        Some(RawLocal::Text(text)) => (local_text(text, problems), text.span.clone()),
        Some(RawLocal::Table {
            span,
            host,
            port,
            encryption,
        }) => (
            local_table(span, host, port, encryption, problems),
            span.clone(),
        ),
    }
}

/// The SPU's name and rack, printed in plans: not empty, and without control characters.
fn check_texts(raw: &RawSpu, problems: &mut Vec<Problem>) {
    if let Some(name) = &raw.name {
        if name.value.trim().is_empty() {
            problems.push(Problem::new("empty SPU name", name.span.clone(), "empty"));
        }
    }
    // Asserted text is printed in plans: a control character (a newline starting a line
    // of CI workflow commands, say) has no place in an SPU name or rack.
    for (key, value) in [("name", &raw.name), ("rack", &raw.rack)] {
        if let Some(value) = value
            .as_ref()
            .filter(|v| v.value.chars().any(char::is_control))
        {
            problems.push(Problem::new(
                format!("`{key}` contains a control character"),
                value.span.clone(),
                "control character",
            ));
        }
    }
}

fn local_text(text: &Located<String>, problems: &mut Vec<Problem>) -> Option<LocalDecl> {
    if text.value.eq_ignore_ascii_case("none") {
        return Some(LocalDecl::None);
    }
    match address::parse_host_port(&text.value) {
        Ok((host, port)) => Some(LocalDecl::Set {
            host,
            port,
            encryption: None,
        }),
        Err(err) => {
            problems.push(address_problem(err, text.span.clone(), "local endpoint"));
            None
        }
    }
}

fn local_table(
    span: &std::ops::Range<usize>,
    host: &Option<Located<String>>,
    port: &Option<Located<i64>>,
    encryption: &Option<Located<String>>,
    problems: &mut Vec<Problem>,
) -> Option<LocalDecl> {
    let host = match host {
        None => {
            problems.push(
                Problem::new("`local` table has no `host`", span.clone(), "no host")
                    .with_help("e.g. local = { host = \"host.docker.internal\", port = 9010 }"),
            );
            None
        }
        Some(h) => match address::parse_host(&h.value) {
            Ok(host) => Some(host),
            Err(err) => {
                problems.push(address_problem(err, h.span.clone(), "local host"));
                None
            }
        },
    };
    let port = match port {
        None => Some(None),
        Some(p) => match address::check_port(p.value) {
            Ok(port) => Some(Some(port)),
            Err(err) => {
                problems.push(address_problem(err, p.span.clone(), "local port"));
                None
            }
        },
    };
    let encryption = match encryption {
        None => Some(None),
        Some(e) => match Encryption::parse(&e.value) {
            Some(enc) => Some(Some(enc)),
            None => {
                problems.push(
                    Problem::new(
                        format!("unknown encryption `{}`", e.value),
                        e.span.clone(),
                        "expected PLAINTEXT or SSL",
                    )
                    .with_help("omit it to use the SPU's public encryption"),
                );
                None
            }
        },
    };
    Some(LocalDecl::Set {
        host: host?,
        port: port?,
        encryption: encryption?,
    })
}

fn asserted_address(
    raw: &Located<String>,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    match address::parse_host_port(&raw.value) {
        Ok((host, Some(port))) => Some(format!("{host}:{port}")),
        Ok((_, None)) => {
            problems.push(
                Problem::new(
                    format!("the asserted {what} endpoint needs a port"),
                    raw.span.clone(),
                    "no port",
                )
                .with_help(format!(
                    "write it as Fluvio shows it, e.g. {what} = \"localhost:9010\""
                )),
            );
            None
        }
        Err(err) => {
            problems.push(address_problem(
                err,
                raw.span.clone(),
                &format!("{what} endpoint"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{load, SourceFile};
    use crate::model::{LocalDecl, MaxChanges, Unmanaged};

    fn file(text: &str) -> SourceFile {
        SourceFile::new("zone.toml", text)
    }

    fn messages(text: &str) -> Vec<String> {
        match load(&file(text)) {
            Ok(_) => vec![],
            Err(errors) => errors
                .located
                .iter()
                .map(|(p, _, _)| p.message.clone())
                .collect(),
        }
    }

    #[test]
    fn max_changes_is_a_count_or_a_percentage() {
        let policy = |value: &str| {
            load(&file(&format!("[policy]\nmax_changes = {value}\n")))
                .map(|d| d.policy.max_changes)
                .map_err(|e| {
                    e.located
                        .iter()
                        .map(|(p, _, _)| p.message.clone())
                        .collect::<Vec<_>>()
                })
        };
        assert_eq!(policy("\"30%\""), Ok(Some(MaxChanges::Percent(30))));
        assert_eq!(policy("\"100%\""), Ok(Some(MaxChanges::Percent(100))));
        assert_eq!(policy("4"), Ok(Some(MaxChanges::Count(4))));
        let problem = |value: &str| policy(value).unwrap_err().join("; ");
        assert!(problem("\"130%\"").contains("not a percentage from 0% to 100%"));
        assert!(problem("\"30\"").contains("a number of changes (3) or a percentage"));
        assert!(problem("-1").contains("must not be negative"));
        assert!(problem("1.5").contains("an integer or a percentage"));
    }

    #[test]
    fn replication_policies_are_checked_at_their_place() {
        let problems = messages(
            "[policy]\nreplication_stalls = \"sometimes\"\nrestart_command = \"  \"\n[[spu]]\nid = 1\nlocal = \"h\"\n",
        );
        assert_eq!(
            problems,
            [
                "unknown replication_stalls policy `sometimes`",
                "`restart_command` is empty"
            ]
        );
    }

    #[test]
    fn a_full_file_validates() {
        let desired = load(&file(
            r#"
[cluster]
profile = "docker"
[policy]
unmanaged = "error"
max_changes = 3
probe = "warn"
replication_stalls = "accept"
restart_command = "docker restart fluvio-spu-$SPU_ID"
[[spu]]
id = 5001
local = "host.docker.internal:9010"
public = "localhost:9010"
private = "localhost:9011"
name = "custom-spu-5001"
rack = "r1"
[[spu]]
id = 5002
local = "none"
[[spu]]
id = 5003
local = { host = "::1", encryption = "ssl" }
"#,
        ))
        .expect("valid");
        assert_eq!(desired.cluster.profile.as_deref(), Some("docker"));
        assert_eq!(desired.policy.unmanaged, Unmanaged::Error);
        assert_eq!(desired.policy.max_changes, Some(MaxChanges::Count(3)));
        assert_eq!(desired.policy.probe, crate::model::ProbePolicy::Warn);
        assert_eq!(
            desired.policy.replication_stalls,
            crate::replication::StallPolicy::Accept
        );
        assert_eq!(
            desired.policy.restart_command.as_deref(),
            Some("docker restart fluvio-spu-$SPU_ID")
        );
        assert_eq!(desired.spus.len(), 3);
        assert_eq!(desired.spus[&5002].local, LocalDecl::None);
        assert_eq!(
            desired.spus[&5003].local,
            LocalDecl::Set {
                host: "[::1]".into(),
                port: None,
                encryption: Some(crate::model::Encryption::Ssl)
            }
        );
        assert_eq!(
            desired.spus[&5001].public.as_deref(),
            Some("localhost:9010")
        );
    }

    #[test]
    fn the_client_table_is_read_and_checked() {
        let desired = load(&file(
            "[cluster]\nprofile = \"docker\"\n[client]\nendpoint = \" host.docker.internal:9003 \"\n",
        ))
        .expect("valid");
        let client = desired.client.as_ref().expect("[client]");
        assert_eq!(client.endpoint.to_string(), "host.docker.internal:9003");
        assert_eq!(client.tls_from, None);
        assert_eq!(
            desired.client_tls_profile(),
            Some("docker"),
            "the [cluster] profile's"
        );

        let desired = load(&file(
            "[cluster]\nprofile = \"docker\"\n[client]\nendpoint = \"[::1]:9003\"\ntls_from = \"ci\"\n",
        ))
        .expect("valid");
        assert_eq!(
            desired.client.as_ref().unwrap().endpoint.to_string(),
            "[::1]:9003"
        );
        assert_eq!(desired.client_tls_profile(), Some("ci"));
        let by_address = load(&file(
            "[cluster]\nendpoint = \"127.0.0.1:9003\"\n[client]\nendpoint = \"sc:9003\"\n",
        ))
        .expect("valid");
        assert_eq!(by_address.client_tls_profile(), None, "plain TCP");
        let without = load(&file("[cluster]\nprofile = \"docker\"\n")).unwrap();
        assert_eq!(without.client_tls_profile(), None, "no [client]");

        let cases = [
            (
                "[client]\ntls_from = \"ci\"\n",
                "[client] has no `endpoint`",
            ),
            (
                "[client]\nendpoint = \"host.docker.internal\"\n",
                "the client endpoint needs a port",
            ),
            (
                "[client]\nendpoint = \"bad host:9003\"\n",
                "invalid client endpoint: `bad host` is not a valid host name",
            ),
            (
                "[client]\nendpoint = \"h:9003\"\ntls_from = \" \"\n",
                "empty profile name",
            ),
            ("[client]\nendpoint = 9003\n", "`endpoint` must be a string"),
            ("client = \"h:9003\"\n", "`client` must be a table"),
            (
                "[client]\nendpoint = \"h:9003\"\nprofile = \"x\"\n",
                "unknown key `profile` in [client]",
            ),
        ];
        for (text, want) in cases {
            let found = messages(text);
            assert_eq!(found.len(), 1, "{text:?}: {found:#?}");
            assert!(found[0].starts_with(want), "{text:?}: {found:#?}");
        }
    }

    #[test]
    fn an_unknown_client_key_is_reported_at_its_line() {
        let text = "[client]\nendpoint = \"h:9003\"\ntls = \"ci\"\n";
        let errors = load(&file(text)).expect_err("unknown key");
        let (problem, line, col) = &errors.located[0];
        assert_eq!(problem.message, "unknown key `tls` in [client]");
        assert_eq!((*line, *col), (3, 1));
        assert_eq!(
            problem.help.as_deref(),
            Some("expected one of: endpoint, tls_from")
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let found = messages(
            r#"
colour = "blue"
[cluster]
profile = "a"
endpoint = "b:1"
[[spu]]
id = 1
local = "bad host:1"
typo = 3
[[spu]]
id = 1
local = "x:70000"
[[spu]]
id = 2
[[spu]]
id = 3
local = { host = "h", encryption = "tls" }
"#,
        );
        let expected = [
            "unknown key `colour` in the top level",
            "[cluster] sets both `profile` and `endpoint`",
            "invalid local endpoint: `bad host` is not a valid host name",
            "unknown key `typo` in [[spu]]",
            "SPU 1 is declared more than once",
            "invalid local endpoint: `70000` is not a valid port",
            "SPU 2 does not say its local endpoint",
            "unknown encryption `tls`",
        ];
        for e in expected {
            assert!(
                found.iter().any(|m| m.starts_with(e)),
                "missing {e:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn duplicate_ids_label_both_places() {
        let text = "[[spu]]\nid = 7\nlocal = \"none\"\n[[spu]]\nid = 7\nlocal = \"none\"\n";
        let errors = load(&file(text)).expect_err("duplicate");
        let (problem, line, _) = &errors.located[0];
        assert_eq!(problem.message, "SPU 7 is declared more than once");
        assert_eq!(*line, 5);
        let (related, label) = problem.related.clone().expect("first place");
        assert_eq!(&text[related], "7");
        assert_eq!(label, "first defined here");
    }

    #[test]
    fn syntax_errors_point_at_the_place() {
        let errors = load(&file("[[spu]]\nid = = 3\n")).expect_err("syntax");
        assert_eq!(errors.located.len(), 1);
        assert!(errors.located[0].0.message.starts_with("invalid TOML"));
        assert_eq!(errors.located[0].1, 2);
    }

    #[test]
    fn syntax_errors_on_several_lines_are_all_reported() {
        let errors = load(&file("[[spu]]\nid = = 3\nlocal = \"x\n")).expect_err("syntax");
        let lines: Vec<usize> = errors.located.iter().map(|l| l.1).collect();
        assert_eq!(lines, [2, 3], "{:#?}", errors.located);
        assert!(errors
            .located
            .iter()
            .all(|l| l.0.message.starts_with("invalid TOML")));
    }

    /// A file that is not TOML at all (here a JSON plan passed by mistake) is reported in
    /// a bounded number of problems, not one per line.
    #[test]
    fn a_file_that_is_not_toml_gives_a_bounded_report() {
        let mut text = String::from("{\n  \"changes\": [\n");
        for i in 0..5_000 {
            text.push_str(&format!(
                "    {{ \"id\": {i}, \"name\": \"custom-spu-{i}\" }},\n"
            ));
        }
        text.push_str("  ]\n}\n");
        let errors = load(&file(&text)).expect_err("not TOML");
        assert_eq!(errors.located.len(), 21, "{:#?}", &errors.located[..3]);
        assert!(errors.located[20].0.message.contains("more errors follow"));
        let lines: Vec<usize> = errors.located.iter().map(|l| l.1).collect();
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "one per line: {lines:?}"
        );
    }

    #[test]
    fn a_duplicate_key_is_named() {
        let found = messages("[[spu]]\nid = 1\nlocal = \"none\"\nlocal = \"h\"\n");
        assert_eq!(found, ["invalid TOML: duplicate key `local`"]);
    }

    #[test]
    fn control_characters_in_asserted_text_are_problems() {
        let found = messages(
            "[[spu]]\nid = 1\nlocal = \"none\"\nname = \"x\\n::error file=evil::injected\"\nrack = \"r\\u0007\"\n",
        );
        assert_eq!(
            found,
            [
                "`name` contains a control character",
                "`rack` contains a control character"
            ]
        );
    }

    /// Thousands of problems are all located (for annotations) and counted, but only the
    /// first are rendered with the text, then one line for the rest.
    #[test]
    fn thousands_of_problems_render_the_first_and_count_all() {
        let mut text = String::new();
        for i in 0..3_000 {
            text.push_str(&format!("[[spu]]\nid = {i}\nlocal = \"bad host\"\n"));
        }
        let errors = load(&file(&text)).expect_err("invalid");
        assert_eq!(errors.located.len(), 3_000);
        assert_eq!(errors.problems.len(), 51);
        assert_eq!(
            errors.to_string(),
            "zone.toml: 3000 problems in the configuration"
        );
        let rendered = format!("{:?}", errors.problems[50]);
        assert!(
            rendered.contains("and 2950 more problems, not shown here"),
            "{rendered}"
        );
    }

    #[test]
    fn integers_beyond_64_bits_are_problems() {
        let found = messages("[[spu]]\nid = 99999999999999999999\nlocal = \"none\"\n");
        assert_eq!(found, ["`id` does not fit in a 64-bit integer"]);
    }

    #[test]
    fn wrong_types_are_problems_not_panics() {
        let found = messages("cluster = 3\n[[spu]]\nid = \"x\"\nlocal = 5\n");
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].starts_with("`cluster` must be a table"));
        assert!(found[1].starts_with("`id` must be an integer"));
        assert!(found[2].starts_with("`local` must be a string or a table"));
    }

    #[test]
    fn line_and_column_of_offsets() {
        let f = file("ab\ncd\n\nx");
        let cases = [
            (0, (1, 1)),
            (1, (1, 2)),
            (2, (1, 3)),
            (3, (2, 1)),
            (6, (3, 1)),
            (7, (4, 1)),
            (99, (4, 2)),
        ];
        for (offset, want) in cases {
            assert_eq!(f.line_col(offset), want, "offset {offset}");
        }
    }

    /// Every prefix of a real zone file, and the same with each byte in turn replaced by
    /// a character TOML gives meaning to, either loads or gives located problems, each
    /// span inside the text: a torn or hand-mangled file never panics.
    #[test]
    fn torn_and_mangled_files_never_panic() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/zones/docker.toml"
        ))
        .expect("bundled zone file");
        let mut cases: Vec<String> = (0..=text.len())
            .filter(|i| text.is_char_boundary(*i))
            .map(|i| text[..i].to_string())
            .collect();
        for (i, _) in text.char_indices().filter(|(_, c)| c.is_ascii()) {
            for with in ["=", "\"", "[", "]", "{", "\n", "#", "é", "日本"] {
                let mut mangled = text.clone();
                mangled.replace_range(i..i + 1, with);
                cases.push(mangled);
            }
        }
        let mut rejected = 0;
        for case in &cases {
            if let Err(errors) = load(&file(case)) {
                rejected += 1;
                assert!(!errors.located.is_empty(), "an error names a problem");
                for (problem, _, _) in &errors.located {
                    assert!(
                        problem.span.start <= problem.span.end && problem.span.end <= case.len(),
                        "{problem:?} outside a text of {} bytes",
                        case.len()
                    );
                }
            }
        }
        assert!(rejected > cases.len() / 2, "most mangled files are invalid");
    }

    #[test]
    fn an_empty_file_is_an_empty_desire() {
        let desired = load(&file("")).expect("empty is valid");
        assert!(desired.spus.is_empty());
    }
}
