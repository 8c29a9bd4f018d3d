//! What people copy: every example zone file validates and does what it says against the
//! test SC; every `fluvio-endpoints` command line in the CI workflow examples parses with
//! the real command-line definition; the completions and the man page are generated from
//! that same definition and are well formed.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use fluvio_endpoints::cli::Annotations;
use fluvio_endpoints::cli::Format;
use fluvio_endpoints::cli::{Cli, Command};

use crate::support::cli::Env;
use crate::support::test_sc::{
    local_spu_name, CustomSpuSpec, EncryptionEnum, Endpoint, Health, IngressAddr, IngressPort,
    TestSc, TestScConfig,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files under `dir` (recursively) whose name ends with `suffix`, sorted.
fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn zone_files() -> Vec<PathBuf> {
    files_under(&root().join("examples/zones"), ".toml")
}

fn workflow_files() -> Vec<PathBuf> {
    files_under(&root().join("examples/ci"), ".yml")
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// Zone files

#[test]
fn the_four_settings_each_have_a_zone_file_that_says_when_to_use_it() {
    let names: Vec<String> = zone_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "docker.toml",
        "hybrid-cloud.toml",
        "isolated-dns.toml",
        "ci.toml",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for file in zone_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        // The comment block that opens the file (after the `#:schema` line) says when to
        // use it, and how clients come to dial the endpoints it sets.
        let header: String = text
            .lines()
            .skip_while(|l| l.starts_with("#:schema"))
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(header.contains("Use it when"), "{}: {header}", rel(&file));
        assert!(
            header.contains("use_spu_local_address = true"),
            "{}: {header}",
            rel(&file)
        );
        // Each kind of line says what it does where it first appears (`id` speaks for
        // itself; the assertions, public, private, name and rack, are one kind).
        let mut explained: Vec<&str> = vec!["id"];
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.starts_with('#'))
        {
            let Some((key, _)) = line.split_once('=') else {
                continue;
            };
            // The comment stands at the end of the line or on the line above.
            let above = i.checked_sub(1).and_then(|j| lines[j].strip_prefix("# "));
            let key = match key.trim() {
                "public" | "private" | "name" | "rack" => "assertion",
                key => key,
            };
            if !explained.contains(&key) {
                let comment = line.split_once(" # ").map(|(_, c)| c).or(above);
                assert!(
                    comment.is_some_and(|c| key != "assertion" || c.contains("assertion")),
                    "{}: the first `{key}` line does not say what it does: {line}",
                    rel(&file)
                );
                explained.push(key);
            }
        }
        assert!(explained.contains(&"local"), "{}", rel(&file));
    }
}

/// The state of one SPU as the example file describes it.
struct ExampleSpu {
    id: i32,
    name: Option<String>,
    public: Option<(String, u16)>,
    private: Option<(String, u16)>,
    rack: Option<String>,
    /// `None`: no local endpoint; else host, port (None: the public port), encryption.
    local: Option<(String, Option<u16>, Option<String>)>,
}

/// Splits `host[:port]`, with IPv6 literals bracketed.
fn host_port(text: &str) -> (String, Option<u16>) {
    let (host, port) = if let Some(end) = text.find(']') {
        (&text[..=end], text[end + 1..].strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    (host.to_string(), port.map(|p| p.parse().expect("a port")))
}

fn example_spus(path: &Path) -> Vec<ExampleSpu> {
    let value: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let with_port = |s: &str| {
        let (h, p) = host_port(s);
        (h, p.expect("assertions give a port"))
    };
    value["spu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|spu| {
            let text = |key: &str| spu.get(key).and_then(|v| v.as_str()).map(str::to_string);
            let local = match &spu["local"] {
                toml::Value::String(s) if s == "none" => None,
                toml::Value::String(s) => {
                    let (h, p) = host_port(s);
                    Some((h, p, None))
                }
                toml::Value::Table(t) => Some((
                    t["host"].as_str().unwrap().to_string(),
                    t.get("port").map(|p| p.as_integer().unwrap() as u16),
                    t.get("encryption").map(|e| e.as_str().unwrap().to_string()),
                )),
                other => panic!("{}: local = {other}", path.display()),
            };
            ExampleSpu {
                id: spu["id"].as_integer().unwrap() as i32,
                name: text("name"),
                public: text("public").map(|s| with_port(&s)),
                private: text("private").map(|s| with_port(&s)),
                rack: text("rack"),
                local,
            }
        })
        .collect()
}

/// A custom SPU the way the example expects to find it (its assertions hold), with no
/// local endpoint yet.
fn live_spu(spu: &ExampleSpu) -> CustomSpuSpec {
    let index = (spu.id - 5001) as u16;
    let (public_host, public_port) = spu
        .public
        .clone()
        .unwrap_or(("localhost".into(), 9010 + 10 * index));
    let (private_host, private_port) = spu
        .private
        .clone()
        .unwrap_or(("localhost".into(), public_port + 1));
    CustomSpuSpec {
        id: spu.id,
        public_endpoint: IngressPort {
            port: public_port,
            ingress: vec![IngressAddr::from_host(public_host)],
            encryption: EncryptionEnum::PLAINTEXT,
        },
        private_endpoint: Endpoint {
            host: private_host,
            port: private_port,
            encryption: EncryptionEnum::PLAINTEXT,
        },
        rack: spu.rack.clone(),
        public_endpoint_local: None,
    }
}

/// Each example zone file, against a cluster that matches its assertions: validate passes,
/// the plan has changes, apply makes them, the cluster then holds exactly the endpoints
/// the file declares, and plan and drift find nothing left.
#[tokio::test(flavor = "multi_thread")]
async fn every_example_zone_file_validates_and_applies_as_written() {
    let files = zone_files();
    assert!(files.len() >= 4, "{files:?}");
    for file in files {
        let env = Env::new();
        let path = file.to_str().unwrap();
        env.run(&["validate", "-f", path]).expect(0);

        let spus = example_spus(&file);
        let sc = TestSc::start(TestScConfig::default()).await.unwrap();
        for spu in &spus {
            let name = spu.name.clone().unwrap_or_else(|| local_spu_name(spu.id));
            assert_eq!(name, local_spu_name(spu.id), "the seeded name");
            sc.seed_custom(live_spu(spu), Health::Online).await.unwrap();
        }
        let cluster = sc.endpoint();
        let with_cluster = |command: &str, extra: &[&str]| {
            let mut all = vec![command, "-c", cluster.as_str(), "-f", path];
            all.extend_from_slice(extra);
            env.run(&all)
        };
        let plan = with_cluster("plan", &["--detailed-exitcode"]).expect(2);
        assert!(
            plan.stdout.contains("Plan: "),
            "{}: {}",
            rel(&file),
            plan.stdout
        );
        with_cluster("apply", &["--auto-approve"]).expect(0);

        let live = sc.spus().await;
        for spu in &spus {
            let (_, spec, _) = live
                .iter()
                .find(|(_, s, _)| s.id == spu.id)
                .unwrap_or_else(|| panic!("{}: SPU {} is gone", rel(&file), spu.id));
            let got = spec.public_endpoint_local.as_ref();
            match &spu.local {
                None => assert!(got.is_none(), "{}: SPU {}: {got:?}", rel(&file), spu.id),
                Some((host, port, encryption)) => {
                    let got = got.unwrap_or_else(|| panic!("{}: SPU {}", rel(&file), spu.id));
                    assert_eq!(&got.host, host, "{}", rel(&file));
                    assert_eq!(
                        got.port,
                        port.unwrap_or(spec.public_endpoint.port),
                        "{}",
                        rel(&file)
                    );
                    let want = match encryption.as_deref() {
                        Some("SSL") => EncryptionEnum::SSL,
                        _ => EncryptionEnum::PLAINTEXT,
                    };
                    assert_eq!(got.encryption, want, "{}", rel(&file));
                }
            }
        }
        with_cluster("plan", &["--detailed-exitcode"]).expect(0);
        with_cluster("drift", &[]).expect(0);
        sc.shutdown().await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// CI workflows

/// The shell scripts of a workflow: GitHub's `run`, GitLab's `script`, `before_script`
/// and `after_script` (a string or a list of strings), wherever they stand.
fn scripts(value: &serde_yaml::Value, out: &mut Vec<String>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (key, value) in map {
                let is_script = matches!(
                    key.as_str(),
                    Some("run" | "script" | "before_script" | "after_script")
                );
                match value {
                    serde_yaml::Value::String(s) if is_script => out.push(s.clone()),
                    serde_yaml::Value::Sequence(items) if is_script => {
                        for item in items {
                            out.push(
                                item.as_str()
                                    .unwrap_or_else(|| panic!("a script line: {item:?}"))
                                    .to_string(),
                            );
                        }
                    }
                    _ => scripts(value, out),
                }
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| scripts(v, out)),
        serde_yaml::Value::Tagged(tagged) => scripts(&tagged.value, out),
        _ => {}
    }
}

/// Words after which a shell expects a command.
const COMMAND_START: &[&str] = &[
    "&&", "||", "|", ";", "&", "!", "(", "{", "then", "do", "else", "elif", "if", "while", "until",
    "time",
];

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// A redirection, and whether its target is the next word (`>` alone) or attached (`>f`).
fn redirection(word: &str) -> Option<bool> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
    let op = ["<<<", ">>", ">&", "<&", ">|", ">", "<"]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    Some(rest.len() == op.len())
}

/// Every `fluvio-endpoints` command line in a script, as the shell would split its words
/// (quotes removed; variables and globs left as written), with its 1-based line.
fn invocations(script: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    // A backslash at the end of a line continues the command on the next one.
    let joined = script.replace("\\\n", " ");
    for (index, line) in joined.split('\n').enumerate() {
        if !line.contains("fluvio-endpoints") {
            continue;
        }
        let words = shlex::split(line)
            .unwrap_or_else(|| panic!("line {} does not split as shell words: {line}", index + 1));
        let mut at_start = true;
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            assert!(
                !word.contains("$(fluvio-endpoints") && !word.contains("`fluvio-endpoints"),
                "line {}: run the tool as a command of its own, not in a substitution: {line}",
                index + 1
            );
            if !(at_start && word == "fluvio-endpoints") {
                at_start = COMMAND_START.contains(&word.as_str())
                    || word.ends_with(';')
                    || (at_start && is_assignment(word));
                i += 1;
                continue;
            }
            let mut args = vec![word.clone()];
            i += 1;
            while i < words.len() {
                let word = &words[i];
                if COMMAND_START.contains(&word.as_str()) {
                    break;
                }
                if let Some(alone) = redirection(word) {
                    i += if alone { 2 } else { 1 };
                    continue;
                }
                if let Some(last) = word.strip_suffix(';') {
                    args.push(last.to_string());
                    break;
                }
                args.push(word.clone());
                i += 1;
            }
            found.push((index + 1, args));
            at_start = true;
            i += 1;
        }
    }
    found
}

#[test]
fn the_script_reader_finds_command_lines_as_a_shell_would() {
    let script = "set -e\n\
        command -v fluvio-endpoints || cargo install --git \"$URL\" fluvio-endpoints\n\
        code=0\n\
        fluvio-endpoints plan -f \"zones/a b.toml\" > plan.md 2>&1 -o json || code=$?\n\
        for f in x; do fluvio-endpoints drift -f \"$f\"; done\n\
        # fluvio-endpoints recover (a comment)\n\
        NO_COLOR=1 fluvio-endpoints list \\\n  -c 127.0.0.1:9003\n\
        echo \"fluvio-endpoints is here\"\n";
    let found: Vec<Vec<String>> = invocations(script).into_iter().map(|(_, a)| a).collect();
    let want: Vec<Vec<&str>> = vec![
        vec![
            "fluvio-endpoints",
            "plan",
            "-f",
            "zones/a b.toml",
            "-o",
            "json",
        ],
        vec!["fluvio-endpoints", "drift", "-f", "$f"],
        vec!["fluvio-endpoints", "list", "-c", "127.0.0.1:9003"],
    ];
    assert_eq!(found, want);
}

/// One parsed command line of a workflow, with where it stands.
struct Invocation {
    place: String,
    /// `None` for `--version` or `--help`.
    cli: Option<Cli>,
}

fn workflow_invocations(path: &Path) -> (serde_yaml::Value, Vec<Invocation>) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", rel(path)));
    let mut all = Vec::new();
    scripts(&doc, &mut all);
    assert!(!all.is_empty(), "{} has no scripts", rel(path));
    let mut parsed = Vec::new();
    for script in &all {
        for (line, args) in invocations(script) {
            let place = format!("{} (script line {line}): {}", rel(path), args.join(" "));
            assert!(
                !args.iter().any(|a| a.contains("${{")),
                "{place}: pass workflow expressions through `env:`, not into the command line"
            );
            let cli = match Cli::try_parse_from(&args) {
                Ok(cli) => Some(cli),
                Err(e)
                    if matches!(
                        e.kind(),
                        clap::error::ErrorKind::DisplayVersion
                            | clap::error::ErrorKind::DisplayHelp
                    ) =>
                {
                    None
                }
                Err(e) => panic!("{place}: does not parse:\n{e}"),
            };
            parsed.push(Invocation { place, cli });
        }
    }
    assert!(
        !parsed.is_empty(),
        "{} runs no fluvio-endpoints command",
        rel(path)
    );
    (doc, parsed)
}

fn commands(invocations: &[Invocation]) -> Vec<(&str, &Cli)> {
    invocations
        .iter()
        .filter_map(|i| i.cli.as_ref().map(|c| (i.place.as_str(), c)))
        .collect()
}

#[test]
fn every_workflow_parses_and_every_command_line_in_it_parses_with_the_cli() {
    let files = workflow_files();
    let names: Vec<String> = files.iter().map(|p| rel(p)).collect();
    for want in [
        "examples/ci/github/plan.yml",
        "examples/ci/github/apply.yml",
        "examples/ci/github/drift.yml",
        "examples/ci/gitlab-ci.yml",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    let mut total = 0;
    for file in &files {
        let (doc, invocations) = workflow_invocations(file);
        total += invocations.len();
        if rel(file).contains("/github/") {
            assert!(doc.get("on").is_some(), "{}: no triggers", rel(file));
            assert!(doc.get("jobs").is_some(), "{}: no jobs", rel(file));
        } else {
            assert!(doc.get("stages").is_some(), "{}: no stages", rel(file));
        }
    }
    assert!(total >= 10, "only {total} command lines found");
}

#[test]
fn the_github_workflows_plan_with_a_comment_apply_saved_plans_and_audit_drift() {
    let github = root().join("examples/ci/github");
    let (doc, plan) = workflow_invocations(&github.join("plan.yml"));
    assert!(doc["on"].get("pull_request").is_some());
    let md_plan = commands(&plan).into_iter().find(|(_, c)| {
        matches!(&c.command, Command::Plan(p) if p.detailed_exitcode)
            && c.global.output == Format::Markdown
            && c.global.annotations == Annotations::Github
    });
    assert!(
        md_plan.is_some(),
        "plan.yml plans as Markdown with annotations"
    );
    let text = std::fs::read_to_string(github.join("plan.yml")).unwrap();
    assert!(
        text.contains("gh pr comment"),
        "plan.yml posts the plan as a comment"
    );
    assert!(commands(&plan)
        .iter()
        .any(|(_, c)| matches!(c.command, Command::Validate(_))));

    let (doc, apply) = workflow_invocations(&github.join("apply.yml"));
    assert!(doc["on"]["push"].get("branches").is_some());
    let apply = commands(&apply);
    assert!(apply
        .iter()
        .any(|(_, c)| matches!(&c.command, Command::Plan(p) if p.out.is_some())));
    let saved: Vec<_> = apply
        .iter()
        .filter(|(_, c)| matches!(c.command, Command::Apply(_)))
        .collect();
    assert!(!saved.is_empty());
    for (place, cli) in saved {
        let Command::Apply(args) = &cli.command else {
            unreachable!()
        };
        assert!(
            args.plan.is_some() && !args.auto_approve,
            "{place}: applies a saved plan"
        );
    }

    let (doc, drift) = workflow_invocations(&github.join("drift.yml"));
    assert!(doc["on"].get("schedule").is_some());
    assert!(commands(&drift)
        .iter()
        .any(|(_, c)| matches!(c.command, Command::Drift(_))));
}

#[test]
fn the_gitlab_pipeline_plans_applies_saved_plans_and_audits_drift() {
    let (doc, all) = workflow_invocations(&root().join("examples/ci/gitlab-ci.yml"));
    let all = commands(&all);
    let has = |f: &dyn Fn(&Cli) -> bool| all.iter().any(|(_, c)| f(c));
    assert!(has(&|c| matches!(c.command, Command::Validate(_))));
    assert!(has(
        &|c| matches!(&c.command, Command::Plan(p) if p.detailed_exitcode)
            && c.global.output == Format::Markdown
    ));
    assert!(has(
        &|c| matches!(&c.command, Command::Plan(p) if p.out.is_some())
    ));
    assert!(has(
        &|c| matches!(&c.command, Command::Apply(a) if a.plan.is_some())
    ));
    assert!(has(&|c| matches!(c.command, Command::Drift(_))));
    assert_eq!(doc["apply"]["rules"][0]["when"], "manual");
    assert_eq!(
        doc["drift"]["rules"][0]["if"],
        "$CI_PIPELINE_SOURCE == \"schedule\""
    );
}

// ---------------------------------------------------------------------------------------
// Completions and man page

/// The subcommands a user sees in `--help`.
fn visible_subcommands() -> Vec<String> {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    for want in ["plan", "apply", "completions", "man"] {
        assert!(names.iter().any(|n| n == want), "{names:?}");
    }
    names
}

#[test]
fn completions_for_every_shell_name_every_subcommand_and_option() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = env.run(&["completions", shell]).expect(0);
        assert!(!out.stdout.trim().is_empty(), "{shell}");
        assert!(out.stderr.is_empty(), "{shell}: {}", out.stderr);
        for sub in visible_subcommands() {
            assert!(out.stdout.contains(&sub), "{shell}: {sub}");
        }
        for option in ["metadata-dir", "detailed-exitcode", "auto-approve"] {
            assert!(out.stdout.contains(option), "{shell}: {option}");
        }
    }
    let bad = env.run(&["completions", "tcsh"]).expect(64);
    assert!(bad.stderr.contains("tcsh"), "{}", bad.stderr);
    env.run(&["completions"]).expect(64);
}

/// Runs bash with the generated completion loaded and asks it to complete `line`, through
/// the function the script registers with `complete -F`.
fn bash_complete(script: &Path, line: &str) -> Vec<String> {
    let text = std::fs::read_to_string(script).unwrap();
    let function = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("complete -F "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the script registers a completion function");
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        "source {script}\n\
         complete -p fluvio-endpoints > /dev/null || exit 9\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE={line:?}\n\
         COMP_POINT={point}\n\
         {function} fluvio-endpoints {current:?} {previous:?}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        words = words
            .iter()
            .map(|w| format!("{w:?}"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
        point = line.len(),
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_bash_completion_is_valid_bash_and_completes_commands_and_options() {
    let env = Env::new();
    let out = env.run(&["completions", "bash"]).expect(0);
    let script = env.write("fluvio-endpoints.bash", &out.stdout);
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    assert_eq!(
        bash_complete(&script, "fluvio-endpoints pl"),
        ["plan"],
        "a subcommand"
    );
    assert!(
        bash_complete(&script, "fluvio-endpoints plan --detailed")
            .contains(&"--detailed-exitcode".to_string()),
        "an option of the subcommand"
    );
    let formats = bash_complete(&script, "fluvio-endpoints plan -o ");
    for format in ["text", "json", "yaml", "markdown"] {
        assert!(formats.contains(&format.to_string()), "{formats:?}");
    }
}

/// The requests a man page from clap may use: anything else is a malformed line.
const ROFF_REQUESTS: &[&str] = &[
    "TH", "SH", "SS", "PP", "TP", "IP", "RS", "RE", "B", "I", "BR", "IR", "RB", "RI", "br", "sp",
    "ie", "el", "ds", "nf", "fi", "in", "ti", "HP", "LP", "P",
];

#[track_caller]
fn assert_well_formed_man(page: &str, name: &str) {
    let first_request = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .unwrap_or_else(|| panic!("no .TH: {page}"));
    assert!(
        first_request.starts_with(&format!(".TH {name} 1 ")),
        "{first_request}"
    );
    assert_eq!(page.matches("\n.TH ").count(), 1, "one title: {page}");
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"] {
        assert!(
            page.lines().any(|l| l == format!(".SH {section}")),
            "{name}: {section}"
        );
    }
    for line in page.lines().filter(|l| l.starts_with('.')) {
        let request = line[1..].split_whitespace().next().unwrap_or("");
        assert!(
            ROFF_REQUESTS.contains(&request),
            "{name}: unknown request in {line:?}"
        );
    }
    // Free text never starts a line with a request character by accident.
    let quoted: Vec<&str> = page.lines().filter(|l| l.starts_with('\'')).collect();
    assert!(
        quoted.is_empty(),
        "{name}: lines start with a quote: {quoted:?}"
    );
}

#[test]
fn the_man_page_names_every_subcommand_and_pages_are_written_per_command() {
    let env = Env::new();
    let out = env.run(&["man"]).expect(0);
    assert_well_formed_man(&out.stdout, "fluvio-endpoints");
    assert!(out.stdout.contains(".SH SUBCOMMANDS"));
    for sub in visible_subcommands() {
        assert!(
            out.stdout
                .contains(&format!("fluvio\\-endpoints\\-{}", sub.replace('-', "\\-"))),
            "{sub} in the SUBCOMMANDS section"
        );
    }
    assert!(out.stdout.contains("Exit codes"), "the exit-code table");

    let dir = env.home().join("man1");
    env.run(&["man", "--out-dir", dir.to_str().unwrap()])
        .expect(0);
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut want: Vec<String> = visible_subcommands()
        .iter()
        .map(|s| format!("fluvio-endpoints-{s}.1"))
        .chain(["fluvio-endpoints.1".to_string()])
        .collect();
    want.sort();
    assert_eq!(written, want);
    let top = std::fs::read_to_string(dir.join("fluvio-endpoints.1")).unwrap();
    assert_eq!(
        top, out.stdout,
        "the same page on stdout and in the directory"
    );
    let plan = std::fs::read_to_string(dir.join("fluvio-endpoints-plan.1")).unwrap();
    assert_well_formed_man(&plan, "fluvio-endpoints-plan");
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");

    // A directory that cannot be written is an error naming it, not a panic.
    let blocker = env.write("not-a-dir", "");
    let bad = env
        .run(&["man", "--out-dir", blocker.join("sub").to_str().unwrap()])
        .expect(1);
    assert!(bad.stderr.contains("not-a-dir"), "{}", bad.stderr);
}

/// A pipe whose reader is already gone: every write to it fails with a broken pipe.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer
}

#[test]
fn a_reader_that_stops_early_ends_completions_and_man_quietly_but_not_a_document() {
    let env = Env::new();
    for args in [&["completions", "bash"][..], &["man"]] {
        let out = env
            .command(args)
            .stdout(closed_pipe())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
    // A document (here a schema; the same for plans and reports) that did not reach its
    // reader is not a success.
    let out = env
        .command(&["schema", "plan"])
        .stdout(closed_pipe())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: could not write all output to stdout\n"
    );
}

/// README: output that does not reach its reader is exit 1, but an apply still finishes,
/// verifies and journals its SPUs first.
#[tokio::test(flavor = "multi_thread")]
async fn an_apply_whose_reader_left_still_applies_and_leaves_no_open_change() {
    use crate::support::fixtures::{local, sc_with, spec_of};
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", "[[spu]]\nid = 5001\nlocal = \"h.example\"\n");
    let mut cmd = env.command(&[
        "apply",
        "-f",
        file.to_str().unwrap(),
        "-c",
        &sc.endpoint(),
        "--auto-approve",
    ]);
    cmd.stdout(closed_pipe());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.ends_with("error: could not write all output to stdout\n"),
        "{stderr}"
    );
    let spec = spec_of(&sc, 5001).await.expect("the SPU exists");
    assert_eq!(spec.public_endpoint_local, local("h.example", 9010));
    // a clean run leaves no journal file: nothing is left open
    let journals = std::fs::read_dir(env.journal_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(journals, 0);
}

/// README: a full disk is not a closed pipe: even `completions` fails, and a document
/// that did not reach the disk is exit 1.
#[test]
fn output_to_a_full_disk_is_an_error_even_for_reference_text() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: this system has no /dev/full");
        return;
    }
    let env = Env::new();
    for args in [&["schema", "plan"][..], &["completions", "bash"], &["man"]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = env.command(args).stdout(full).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr, "error: could not write all output to stdout\n",
            "{args:?}"
        );
    }
}
