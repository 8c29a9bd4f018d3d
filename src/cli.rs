//! Command-line arguments (clap derive only). Cluster and output options are global, so
//! they work before or after the subcommand, as with the fluvio CLI.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::HostPort;

#[derive(Debug, Parser)]
#[command(
    name = "fluvio-endpoints",
    version,
    about = "Declarative local endpoints for Fluvio SPUs: validate, plan, apply, verify",
    long_about = "Declarative local endpoints for Fluvio SPUs.\n\nA TOML file per environment or network zone declares each SPU's local endpoint \
(`public_endpoint_local`, used by clients whose profile sets use_spu_local_address = true). \
`plan` diffs it against the live SC, `apply` changes only local endpoints (delete + create, \
journaled, verified), `drift` audits read-only.",
    after_help = crate::error::exit::TABLE,
    propagate_version = true,
    args_override_self = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options that apply to every command.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Fluvio profile to use (from ~/.fluvio/config or $FLV_PROFILE_PATH). Like every option
    /// that takes one value, it may be given before or after the command, and the last one counts
    #[arg(short = 'P', long, global = true, value_name = "PROFILE", conflicts_with_all = ["cluster", "metadata_dir"])]
    pub profile: Option<String>,

    /// SC public address, HOST:PORT (overrides the file's [cluster] and the profile); the
    /// last one counts
    #[arg(
        short = 'c',
        long,
        global = true,
        value_name = "HOST:PORT",
        conflicts_with = "metadata_dir",
        value_parser = parse_cluster
    )]
    pub cluster: Option<HostPort>,

    /// Work on a stopped local cluster's metadata directory instead of a running SC
    #[arg(long, global = true, value_name = "DIR")]
    pub metadata_dir: Option<PathBuf>,

    /// Output format [plan, apply, drift: text|json|yaml|markdown; list: table|json|yaml]
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Text, short_alias = 'O')]
    pub output: Format,

    /// When to use colors (NO_COLOR is honoured)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// CI annotations at the file's lines (auto: under GitHub Actions)
    #[arg(long, global = true, value_enum, default_value_t = Annotations::Auto, value_name = "KIND")]
    pub annotations: Annotations,

    /// Where apply journals live
    #[arg(
        long,
        global = true,
        env = "FLUVIO_ENDPOINTS_JOURNAL_DIR",
        value_name = "DIR"
    )]
    pub journal_dir: Option<PathBuf>,

    /// Seconds one request to the SC may take before it counts as failed
    #[arg(long, global = true, default_value_t = 15.0, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: f64,

    #[command(flatten)]
    pub tls: TlsArgs,

    /// More detail on stderr: -v each request to the SC and its latency, -vv everything the
    /// client logs (RUST_LOG overrides both)
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// No progress bar on stderr
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,

    /// Wait up to this long (30s, 2m) for a cluster that is starting: retry the first connect until the SC answers, then (plan, apply, drift) until every SPU the file names is registered
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<std::time::Duration>,

    /// With --wait: also wait until those SPUs are Online
    #[arg(long, global = true, requires = "wait")]
    pub wait_online: bool,

    /// Wait up to this long for the cluster's lock when another run on this machine holds it (default 0: refuse at once)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

/// `30s`, `2m`, `1m30s`, or plain seconds; at most a week.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    const WEEK: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 && secs <= WEEK.as_secs_f64() => {
            std::time::Duration::from_secs_f64(secs)
        }
        Ok(_) => return Err(format!("`{text}` is not a duration from 0 to a week")),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("`{text}` is not a duration such as 30s or 2m: {e}"))?,
    };
    match duration <= WEEK {
        true => Ok(duration),
        false => Err(format!("`{text}` is longer than a week")),
    }
}

/// The fluvio CLI's TLS flags, for an SC given by address (-c/--cluster, or a zone file's
/// `[cluster] endpoint`); a profile carries its own TLS settings. `--tls` alone is
/// anonymous TLS (the SC's certificate is not verified); with `--enable-client-cert` the
/// SC is verified against `--ca-cert` for `--domain` and the client presents its own
/// certificate.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "TLS (with an SC address; a profile has its own)")]
pub struct TlsArgs {
    /// Connect with TLS (alone: anonymous, the SC's certificate is not verified)
    #[arg(long, global = true, conflicts_with_all = ["profile", "metadata_dir"])]
    pub tls: bool,

    /// Verify the SC and present a client certificate (needs --domain, --ca-cert, --client-cert, --client-key)
    #[arg(long, global = true, requires = "tls", requires_all = ["domain", "ca_cert", "client_cert", "client_key"])]
    pub enable_client_cert: bool,

    /// The name the SC's certificate must be valid for
    #[arg(
        long,
        global = true,
        value_name = "DOMAIN",
        requires = "enable_client_cert"
    )]
    pub domain: Option<String>,

    /// The CA certificate (PEM) that signed the SC's certificate
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        requires = "enable_client_cert"
    )]
    pub ca_cert: Option<PathBuf>,

    /// The client certificate (PEM)
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        requires = "enable_client_cert"
    )]
    pub client_cert: Option<PathBuf>,

    /// The client certificate's private key (PEM)
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        requires = "enable_client_cert"
    )]
    pub client_key: Option<PathBuf>,
}

/// `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[value(alias = "table")]
    Text,
    Json,
    Yaml,
    Markdown,
}

impl From<Format> for crate::output::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => Self::Text,
            Format::Json => Self::Json,
            Format::Yaml => Self::Yaml,
            Format::Markdown => Self::Markdown,
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl From<ColorChoice> for crate::render::style::ColorChoice {
    fn from(choice: ColorChoice) -> Self {
        match choice {
            ColorChoice::Auto => Self::Auto,
            ColorChoice::Always => Self::Always,
            ColorChoice::Never => Self::Never,
        }
    }
}

/// `--annotations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Annotations {
    /// Under GitHub Actions (`GITHUB_ACTIONS=true`), else none.
    #[default]
    Auto,
    Github,
    None,
}

impl Annotations {
    pub fn enabled(self) -> bool {
        match self {
            Annotations::Auto => std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            Annotations::Github => true,
            Annotations::None => false,
        }
    }
}

fn parse_cluster(text: &str) -> Result<HostPort, String> {
    match crate::address::parse_host_port(text) {
        Ok((host, Some(port))) => Ok(HostPort::new(host, port)),
        Ok((_, None)) => Err("expected HOST:PORT, e.g. 127.0.0.1:9003".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    crate::address::parse_port(text).map_err(|e| e.to_string())
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        Ok(v) if v > 3600.0 => Err("the timeout is at most 3600 seconds".to_string()),
        Ok(v) if v.is_nan() => Err("expected a number of seconds, e.g. 15".to_string()),
        Ok(_) => Err("the timeout must be more than 0 seconds".to_string()),
        Err(_) => Err("expected a number of seconds, e.g. 15".to_string()),
    }
}

fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err("expected a number from 1 to 1024".to_string()),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check zone files offline: every problem at once, with its place in the file
    Validate(FilesArgs),
    /// Show what apply would change (reads the cluster, writes nothing)
    Plan(PlanArgs),
    /// Change local endpoints to match a file (or a saved plan), then verify
    Apply(ApplyArgs),
    /// Read-only audit: exit 2 when the cluster differs from the file, 6 if the plan is refused
    Drift(DriftArgs),
    /// List SPUs: ID NAME STATUS TYPE RACK PUBLIC PRIVATE LOCAL
    List,
    /// Set (or clear) one SPU's local endpoint
    UpdateLocal(UpdateLocalArgs),
    /// Finish or undo an interrupted apply so that every SPU exists
    Recover,
    /// Keep zones converged: watch the cluster, report drift, and (with --remediate) apply
    Reconcile(ReconcileArgs),
    /// Write a zone file from the live cluster
    Export(ExportArgs),
    /// From here, prove a Fluvio SPU answers at each local endpoint (a file's, or the cluster's)
    Probe(ProbeArgs),
    /// Show or set use_spu_local_address (whether a profile's clients use local endpoints)
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
    /// Print a shell completion script (e.g. `source <(fluvio-endpoints completions bash)`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Install this binary as a fluvio CLI extension, so that `fluvio endpoints ...` runs it
    InstallExtension {
        /// The extension directory [default: $FLUVIO_EXTENSIONS_DIR, else ~/.fluvio/extensions]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print the man page, or write one page per command into a directory
    Man {
        /// Write fluvio-endpoints.1 and fluvio-endpoints-COMMAND.1 here instead
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Print a JSON Schema: of the zone file, of `plan -o json`, or of `apply -o json`
    #[command(hide = true)]
    Schema {
        #[arg(value_enum, default_value_t = SchemaKind::Config)]
        kind: SchemaKind,
    },
    /// Extension metadata for `fluvio help`
    #[command(hide = true)]
    Metadata,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Config,
    Plan,
    Apply,
    Probe,
}

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Zone file(s); several are handled concurrently, each against its own cluster
    #[arg(short = 'f', long = "file", required = true, num_args = 1.., value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `--spu` / `--exclude-spu`: a run over part of a zone.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Targeting")]
pub struct TargetArgs {
    /// Plan (and apply) only this SPU of the file; repeatable. Every file given must declare it
    #[arg(long = "spu", value_name = "ID", value_parser = clap::value_parser!(i32).range(0..))]
    pub spu: Vec<i32>,
    /// Leave this SPU out of the plan (and the apply); repeatable
    #[arg(long = "exclude-spu", value_name = "ID", value_parser = clap::value_parser!(i32).range(0..))]
    pub exclude_spu: Vec<i32>,
}

impl TargetArgs {
    pub fn targeting(&self) -> crate::model::Targeting {
        crate::model::Targeting {
            spus: self.spu.iter().copied().collect(),
            exclude: self.exclude_spu.iter().copied().collect(),
        }
    }
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub files: FilesArgs,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct Safety {
    /// Refuse plans with more changes than this: N, or N% of the cluster's custom SPUs (overrides [policy] max_changes)
    #[arg(long, value_name = "N|N%", value_parser = crate::model::MaxChanges::parse)]
    pub max_changes: Option<crate::model::MaxChanges>,
    /// Ignore max_changes (and make an unreachable endpoint under --probe a warning)
    #[arg(long)]
    pub force: bool,
}

/// A rolling apply's options: how to heal the replication stall a change causes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Replication (see the README's Replication section)")]
pub struct HealArgs {
    /// Restart each changed SPU that follows a replicated partition with this shell command (run by `sh -c`, with SPU_ID and SPU_NAME in its environment), then wait until its partitions commit, one SPU at a time (overrides [policy] restart_command)
    #[arg(long, value_name = "CMD", value_parser = parse_command)]
    pub restart_command: Option<String>,
    /// Seconds a restart command (or --sc-stop, --sc-start) may run before it is killed and the run halts
    #[arg(long, default_value_t = 120.0, value_name = "SECS", value_parser = parse_timeout)]
    pub restart_timeout: f64,
    /// Seconds to wait for a restarted SPU to be Online with its partitions caught up (offline: for the SC to stop, and to answer again)
    #[arg(long, default_value_t = 120.0, value_name = "SECS", value_parser = parse_timeout)]
    pub gate_timeout: f64,
    /// Change SPUs that follow replicated partitions without a restart: those partitions stop committing until the SPU's process restarts (as [policy] replication_stalls = "accept")
    #[arg(long, conflicts_with = "restart_command")]
    pub accept_stalls: bool,
}

/// The SC-offline route's options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Replication (see the README's Replication section)")]
pub struct OfflineArgs {
    /// Apply with the SC stopped: DIR is its local metadata directory (`fluvio-run sc --local DIR`); the SC is stopped with --sc-stop, DIR changed in place, the SC started with --sc-start and the result verified through it. No SPU is re-registered, so nothing stalls
    #[arg(long, value_name = "DIR", requires_all = ["sc_stop", "sc_start"], conflicts_with_all = ["restart_command", "accept_stalls", "metadata_dir"])]
    pub sc_offline: Option<PathBuf>,
    /// With --sc-offline: the shell command that stops the SC (only the SC: its SPUs keep running)
    #[arg(long, value_name = "CMD", requires = "sc_offline", value_parser = parse_command)]
    pub sc_stop: Option<String>,
    /// With --sc-offline: the shell command that starts the SC again, returning once it is started (e.g. `systemctl start`, or `fluvio-run sc --local DIR ... >sc.log 2>&1 &`)
    #[arg(long, value_name = "CMD", requires = "sc_offline", value_parser = parse_command)]
    pub sc_start: Option<String>,
}

fn parse_encryption(text: &str) -> Result<crate::model::Encryption, String> {
    crate::model::Encryption::parse(text)
        .ok_or_else(|| format!("`{text}` is not an encryption: PLAINTEXT or SSL"))
}

fn parse_command(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("the command is empty".to_string())
    } else {
        Ok(text.to_string())
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub files: FilesArgs,
    /// Exit 2 when there are changes (0: none, 1+: errors), as Terraform
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan (JSON) for `apply PLAN`; one file only
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// From here, probe the local endpoints the plan would set; an unreachable one refuses the plan (--force: a warning)
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub safety: Safety,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub heal: HealArgs,
    #[command(flatten)]
    pub offline: OfflineArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan --out`; refused if the cluster moved since
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// Zone file to plan and apply (with PLAN: refuse if the file changed since); repeat -f for several, each against its own cluster, clusters concurrently
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        required_unless_present = "plan"
    )]
    pub file: Vec<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// Do every check (journal, plan, staleness, safety), print the plan, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Before any write, probe the local endpoints the plan would set; an unreachable one refuses the plan (--force: a warning)
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub safety: Safety,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub heal: HealArgs,
    #[command(flatten)]
    pub offline: OfflineArgs,
}

/// How the agent writes its log on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line per event, for people
    Text,
    /// One JSON object per line, for log pipelines
    Json,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub files: FilesArgs,
    /// Apply a zone when its cluster drifts from it (as `apply --auto-approve`); without it the agent only reports
    #[arg(long)]
    pub remediate: bool,
    /// Read every zone's cluster again this often, whatever the watch says
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_interval)]
    pub resync: std::time::Duration,
    /// After a change, wait this long before reading the cluster (changes in the window are read once)
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub debounce: std::time::Duration,
    /// At most one apply per zone in this interval (after failures: doubled per failure, up to 5m)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub min_interval: std::time::Duration,
    /// Suspend a zone's remediation after this many failed applies in a row, until its file or its SPUs change
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_failures: u32,
    /// A remediation undone this soon (the drift is back: another zone file, agent or script sets the same SPUs) counts as a failure; 0s: never
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub undone_within: std::time::Duration,
    /// Serve /metrics (Prometheus), /healthz and /readyz on this address (e.g. 127.0.0.1:9464; port 0 picks one)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// How to write the log on stderr
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub safety: Safety,
    #[command(flatten)]
    pub heal: HealArgs,
}

/// A duration of at least 100 ms (an interval the agent waits between reads).
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let duration = parse_duration(text)?;
    match duration >= std::time::Duration::from_millis(100) {
        true => Ok(duration),
        false => Err(format!("`{}` is shorter than 100ms", text.trim())),
    }
}

#[derive(Debug, Args)]
pub struct UpdateLocalArgs {
    /// SPU id
    #[arg(value_parser = clap::value_parser!(i32).range(0..))]
    pub id: i32,
    /// Local host: a DNS name, IPv4, [IPv6], HOST:PORT, or `none` to clear it
    pub host: String,
    /// Port (default: the SPU's public port)
    #[arg(long, value_parser = parse_port)]
    pub port: Option<u16>,
    /// PLAINTEXT or SSL (default: the SPU's public encryption)
    #[arg(long, value_name = "PLAINTEXT|SSL", value_parser = parse_encryption)]
    pub encryption: Option<crate::model::Encryption>,
    #[command(flatten)]
    pub heal: HealArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The `#:schema` path to put at the top
    #[arg(
        long,
        value_name = "PATH",
        default_value = "../schemas/fluvio-endpoints.schema.json"
    )]
    pub schema: String,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 every probed SPU answered; 10 some local endpoints are unreachable;\n\
3 bad file, 4 cluster unreachable, 1 other errors (the probe could not run)."
)]
pub struct ProbeArgs {
    /// Probe the endpoints this zone file declares (else the cluster's live local endpoints)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Also probe each SPU's public endpoint (shown for comparison; it does not decide the exit code)
    #[arg(long)]
    pub public: bool,
    /// Seconds one address may take to connect and answer the SPU handshake
    #[arg(long = "probe-timeout", default_value_t = 3.0, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: f64,
    /// Seconds the whole probe may take
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = parse_timeout)]
    pub deadline: f64,
    /// Addresses probed at once
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = parse_concurrency)]
    pub concurrency: usize,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Show profiles (or one) with their cluster, endpoint and use_spu_local_address
    Show {
        /// A profile name (default: all)
        name: Option<String>,
    },
    /// Set use_spu_local_address = true for a profile's cluster (--off: false), keeping the file's layout
    UseLocal {
        /// The profile
        name: String,
        /// Set it to false instead
        #[arg(long)]
        off: bool,
    },
    /// Write the fluvio config of a zone's clients from the zone file's [client] table: one profile at its endpoint, use_spu_local_address = true, TLS settings copied by reference (certificate file paths) from its tls_from profile, else the [cluster] profile
    Write(ProfileWriteArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "The zone's clients read it with FLV_PROFILE_PATH=CONFIG (the fluvio CLI and client alike).\n\
Exit codes: 3 the file has no [client], or its TLS profile cannot be read or keeps its key inline; 1 CONFIG exists (without --force) or cannot be written."
)]
pub struct ProfileWriteArgs {
    /// The zone file, with a [client] table
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// The fluvio config to write
    #[arg(long, value_name = "CONFIG")]
    pub out: PathBuf,
    /// The profile's name, and its cluster's [default: the zone file's name without .toml]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Replace CONFIG if it exists
    #[arg(long)]
    pub force: bool,
}
