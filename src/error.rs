//! The tool's errors and the exit code each one maps to. Printed once, at the edge.

use std::path::PathBuf;

use miette::Diagnostic;

use crate::address::AddressError;
use crate::cluster::sc::ProfileError;
use crate::cluster::ClusterError;
use crate::config::ConfigErrors;
use crate::journal::JournalError;
use crate::model::ClusterId;

/// Documented exit codes (README "Exit codes", `--help`).
pub mod exit {
    /// Success; no changes (or changes, without `--detailed-exitcode`).
    pub const OK: u8 = 0;
    /// An error not covered below.
    pub const ERROR: u8 = 1;
    /// Success with changes present (`--detailed-exitcode`), or drift found (`drift`).
    pub const CHANGES: u8 = 2;
    /// Invalid configuration: unreadable file, syntax, validation, unknown profile, or zone
    /// files of one cluster that contradict each other.
    pub const INVALID_CONFIG: u8 = 3;
    /// Cluster unreachable or incompatible, its metadata directory is in use, or `--wait`
    /// ran out.
    pub const UNREACHABLE: u8 = 4;
    /// A saved plan is stale: the cluster or the file moved since it was made.
    pub const STALE_PLAN: u8 = 5;
    /// The plan is refused: unknown or managed SPU, SC too old, unmanaged SPUs under
    /// `unmanaged = "error"`, or more changes than `max_changes`.
    pub const UNSAFE_PLAN: u8 = 6;
    /// Partial apply: some changes failed or were skipped; no SPU was lost.
    pub const PARTIAL_APPLY: u8 = 7;
    /// Changes are left in the journal (interrupted, or not verified); run `recover`.
    pub const RECOVERY_NEEDED: u8 = 8;
    /// The caller may not create custom SPUs, so a change (which deletes and re-creates an
    /// SPU) is refused before anything is written.
    pub const PERMISSION_DENIED: u8 = 9;
    /// `probe`: some local endpoints are unreachable from where it ran.
    pub const PROBE_UNREACHABLE: u8 = 10;
    /// The data plane was not proven: a restart command failed or a replication gate timed
    /// out (the run halted there), or the SC-offline route could not stop or start the SC.
    pub const DATA_PLANE: u8 = 11;
    /// Bad command-line usage.
    pub const USAGE: u8 = 64;
    /// An internal error: a bug in fluvio-endpoints itself (it panicked).
    pub const INTERNAL: u8 = 70;

    /// The table printed in `--help`.
    pub const TABLE: &str = "Exit codes:
  0   success; no changes (or changes, without --detailed-exitcode)
  1   error
  2   changes present (--detailed-exitcode), or drift found (drift)
  3   invalid configuration (file, syntax, validation, unknown profile), or zone
      files of one cluster that give an SPU different local endpoints
  4   cluster unreachable or incompatible, metadata directory in use, or --wait ran out
  5   stale plan: the cluster or file changed since `plan --out`
  6   plan refused: unknown/managed SPU, SC too old, unmanaged policy, max_changes,
      an unreachable endpoint (--probe)
  7   partial apply: some changes failed or were skipped; no SPU lost
  8   an interrupted or unverified apply needs `recover`
  9   permission denied: no Create permission on CustomSpu; nothing was changed
  10  probe: some local endpoints are unreachable from here
  11  data plane not proven: a restart command failed or a replication gate timed
      out (the run halted there), or the SC-offline route could not stop or start the SC
  64  command-line usage error
  70  internal error: a bug in fluvio-endpoints (please report it)";
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error("cannot read {}", path.display())]
    #[diagnostic(code(endpoints::io::read))]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        /// What the file should have been (it differs for a zone file and a saved plan).
        #[help]
        help: &'static str,
    },

    #[error("cannot write {}", path.display())]
    #[diagnostic(code(endpoints::io::write))]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ConfigErrors>),

    /// Zone files of one cluster that give an SPU different local endpoints.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Ownership(Box<crate::ownership::OwnershipError>),

    #[error(transparent)]
    #[diagnostic(
        code(endpoints::cluster::profile),
        help("list profiles with `fluvio profile list` (each names a [cluster.<name>] of the fluvio config), or pass the SC address with --cluster HOST:PORT (TLS files: check the paths)")
    )]
    Profile(ProfileError),

    #[error("{0}")]
    #[diagnostic(
        code(endpoints::cluster::unreachable),
        help("check that the SC is running and the address is right (--cluster HOST:PORT or --profile NAME)")
    )]
    Unreachable(ClusterError),

    #[error("{0}")]
    #[diagnostic(
        code(endpoints::cluster::incompatible),
        help("fluvio-endpoints uses the Fluvio 0.50.1 client, which needs an SC of platform 0.11.10 or later")
    )]
    Incompatible(ClusterError),

    #[error("{0}")]
    #[diagnostic(code(endpoints::target::dir))]
    Store(ClusterError),

    #[error("{0}")]
    #[diagnostic(code(endpoints::cluster::request))]
    Request(ClusterError),

    #[error("the plan is refused")]
    #[diagnostic(code(endpoints::plan::refused), help("{help}"))]
    Refused {
        count: usize,
        help: String,
        #[source]
        first: RefusedReason,
    },

    #[error(transparent)]
    #[diagnostic(
        code(endpoints::plan::stale),
        help("run `plan --out` again, review it, then apply the new plan")
    )]
    Stale(Stale),

    #[error("invalid saved plan {}: {message}", path.display())]
    #[diagnostic(
        code(endpoints::plan::invalid),
        help("`apply PLAN` takes a plan saved by `plan --out`; to apply a zone file, give it with -f: `apply -f FILE`")
    )]
    BadSavedPlan { path: PathBuf, message: String },

    #[error("{not_applied} of {total} change(s) were not applied; see the report above")]
    #[diagnostic(code(endpoints::apply::partial))]
    Partial { not_applied: usize, total: usize },

    #[error("permission denied: the SC does not give this caller Create on CustomSpu, needed to re-create SPU {spu}{} after its delete; nothing was changed (the SC answered: {answer})", if *more > 0 { format!(" (and {more} more)") } else { String::new() })]
    #[diagnostic(
        code(endpoints::cluster::permission_denied),
        help("a change deletes and re-creates each SPU, and the SC checks only the create: run it with a role that has Create on CustomSpu (e.g. a TLS client certificate bound to such a role)")
    )]
    PermissionDenied {
        /// `id (name)` of the SPU checked.
        spu: String,
        /// How many other SPUs the run would have re-created.
        more: usize,
        /// The SC's own words (untrusted text).
        answer: String,
    },

    /// `--wait` ran out: the SC never answered, or the SPUs never came Online.
    #[error("{0}")]
    #[diagnostic(
        code(endpoints::wait),
        help("a longer --wait, or check that the cluster is starting at all (its logs)")
    )]
    WaitedInVain(String),

    #[error("{0}")]
    #[diagnostic(
        code(endpoints::apply::recovery_needed),
        help("run `fluvio-endpoints recover` for this cluster when it is reachable again")
    )]
    RecoveryNeeded(String),

    #[error("{0}")]
    #[diagnostic(
        code(endpoints::apply::data_plane),
        help("the report says what each SPU's restart and gate did; fix the restart command or the SPU, then run the same apply again: it changes only what still differs, and a changed SPU whose partitions still lag can be restarted by hand")
    )]
    DataPlane(String),

    /// The SC-offline route could not stop the SC, repair its files, or start it again.
    #[error("{0}")]
    #[diagnostic(
        code(endpoints::apply::sc_offline),
        help("the message says what was written and whether the SC runs; once it answers, `plan` with the same file shows what still differs (README: Replication)")
    )]
    ScOffline(String),

    #[error(transparent)]
    #[diagnostic(code(endpoints::journal))]
    Journal(#[from] JournalError),

    #[error("apply needs approval")]
    #[diagnostic(
        code(endpoints::apply::approval),
        help("run it on a terminal and answer `yes`, or pass --auto-approve (e.g. in CD)")
    )]
    NoApproval,

    #[error("apply cancelled")]
    #[diagnostic(code(endpoints::apply::cancelled))]
    Cancelled,

    /// `reconcile --listen ADDR` could not bind the address.
    #[error("cannot listen on {addr}: {cause}")]
    #[diagnostic(
        code(endpoints::reconcile::listen),
        help("another process may hold that port: pick another --listen address (port 0 picks a free one, logged at start)")
    )]
    Listen { addr: String, cause: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Usage(Usage),

    #[error("{unreachable} of {probed} SPUs are unreachable at their local endpoint from here")]
    #[diagnostic(
        code(endpoints::probe::unreachable),
        help("each SPU's lines above say what failed; clients in this zone cannot use those endpoints")
    )]
    ProbeUnreachable { unreachable: usize, probed: usize },

    #[error("nothing to probe: {what}")]
    #[diagnostic(code(endpoints::probe::nothing))]
    NothingToProbe { from_file: bool, what: String },

    #[error(transparent)]
    #[diagnostic(code(endpoints::profile))]
    ProfileFile(#[from] crate::profile::ProfileError),

    #[error("{} has no [client] table: `profile write` needs the SC's address as the zone's clients reach it", path.display())]
    #[diagnostic(
        code(endpoints::profile::no_client),
        help("add to the zone file:\n[client]\nendpoint = \"host.docker.internal:9003\"   # the SC, as the zone's clients dial it")
    )]
    NoClient { path: PathBuf },

    #[error("cannot take the TLS settings of the zone's clients from profile `{profile}`")]
    #[diagnostic(
        code(endpoints::profile::tls_from),
        help("`[client] tls_from` (else `[cluster] profile`) names a profile of the fluvio config on this machine ($FLV_PROFILE_PATH, else ~/.fluvio/config); list them with `fluvio-endpoints profile show`")
    )]
    ClientTls {
        profile: String,
        #[source]
        source: ProfileError,
    },

    #[error("profile `{profile}` keeps its TLS certificates and key inline (tls_source = \"inline\"); `profile write` copies TLS settings by reference only and does not copy key material into another file")]
    #[diagnostic(
        code(endpoints::profile::inline_tls),
        help("keep the certificates and key in files and name them in that profile (tls_source = \"files\"), or take the TLS settings from a profile that does: `[client] tls_from = \"PROFILE\"`")
    )]
    InlineTls { profile: String },

    #[error("{} exists; it was left as it is", path.display())]
    #[diagnostic(
        code(endpoints::io::exists),
        help("pass --force to replace it (atomically), or choose another --out")
    )]
    OutExists { path: PathBuf },

    /// Errors already printed (one per zone file); carries the aggregated exit code.
    #[error("{count} of the files failed")]
    Reported { count: usize, code: u8 },

    /// A panic in the tool's own code: a bug, not a problem with the input or the cluster.
    #[error("internal error (a bug in fluvio-endpoints): {0}")]
    #[diagnostic(
        code(endpoints::internal),
        help("this is a bug in fluvio-endpoints; nothing after it was done. Run with RUST_BACKTRACE=1 for a backtrace")
    )]
    Internal(String),
}

/// The worst of several exit codes, as one run of several files ends: a bug first, then
/// what needs a person most (recovery, the data plane, a partial apply), then refusals
/// and errors that changed nothing.
pub fn worst(codes: impl Iterator<Item = u8>) -> u8 {
    use exit::*;
    const ORDER: [u8; 14] = [
        INTERNAL,
        RECOVERY_NEEDED,
        DATA_PLANE,
        PARTIAL_APPLY,
        STALE_PLAN,
        PERMISSION_DENIED,
        UNSAFE_PLAN,
        UNREACHABLE,
        INVALID_CONFIG,
        USAGE,
        PROBE_UNREACHABLE,
        ERROR,
        CHANGES,
        OK,
    ];
    codes
        .min_by_key(|c| ORDER.iter().position(|o| o == c).unwrap_or(ORDER.len()))
        .unwrap_or(OK)
}

/// Why a saved plan no longer applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    #[error("the plan was made for {planned}, not {now}")]
    OtherCluster { planned: ClusterId, now: ClusterId },
    #[error("{path} changed since the plan was made")]
    FileChanged { path: String },
    #[error("the cluster changed since the plan was made: SPU {} no longer match{} it", .spus.join(", "), if .spus.len() == 1 { "es" } else { "" })]
    Moved {
        /// `id (name)` of each SPU that moved.
        spus: Vec<String>,
    },
}

/// A command line that parses but asks for something impossible.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Usage {
    #[error("--out saves the plan of one file; give a single -f")]
    #[diagnostic(code(endpoints::usage))]
    OutNeedsOneFile,
    #[error("`none` clears the local endpoint; it takes no --port or --encryption")]
    #[diagnostic(code(endpoints::usage))]
    NoneTakesNoPort,
    #[error("give the port once: in HOST:PORT or with --port")]
    #[diagnostic(code(endpoints::usage))]
    PortTwice,
    #[error("invalid host `{host}`")]
    #[diagnostic(code(endpoints::usage))]
    InvalidHost {
        host: String,
        #[source]
        source: AddressError,
        #[help]
        help: Option<&'static str>,
    },
    #[error("--spu {id}: {file} declares no SPU {id}")]
    #[diagnostic(
        code(endpoints::usage),
        help("--spu names SPUs that every file given declares; `fluvio-endpoints list` shows the cluster's ids")
    )]
    NotDeclared { id: i32, file: String },
    #[error(
        "--max-changes is checked when a plan is made: a saved plan was within its limit then"
    )]
    #[diagnostic(
        code(endpoints::usage),
        help("pass --max-changes to `plan --out` instead")
    )]
    SavedPlanLimit,
    #[error("--spu {0} and --exclude-spu {0}: the SPU cannot be both planned and left out")]
    #[diagnostic(code(endpoints::usage))]
    TargetedAndExcluded(i32),
    #[error("--exclude-spu {id}: {file} declares no SPU {id}, and the cluster has none")]
    #[diagnostic(
        code(endpoints::usage),
        help("--exclude-spu names an SPU of the file (or one the cluster has that the file does not list); `fluvio-endpoints list` shows the cluster's ids")
    )]
    ExcludedNowhere { id: i32, file: String },
    #[error("a saved plan covers the SPUs it was made for; --spu and --exclude-spu go with `plan --out`")]
    #[diagnostic(code(endpoints::usage))]
    SavedPlanTargeted,
    #[error("{0}")]
    #[diagnostic(
        code(endpoints::usage),
        help("apply several files with --auto-approve (CD) or --dry-run; a saved plan or --sc-offline takes one file")
    )]
    SeveralFiles(&'static str),
    #[error("list prints table, json or yaml")]
    #[diagnostic(code(endpoints::usage))]
    ListFormat,
    #[error("`{name}` cannot name a profile: {why}")]
    #[diagnostic(
        code(endpoints::usage),
        help("give the profile a name with --name NAME")
    )]
    ProfileName { name: String, why: &'static str },
    #[error("--tls needs an SC address: -c/--cluster HOST:PORT or the file's [cluster] endpoint")]
    #[diagnostic(
        code(endpoints::usage),
        help("a profile carries its own TLS settings ([cluster.<name>.tls] in the fluvio config)")
    )]
    TlsNeedsAddress,
}

/// The first reason of a refused plan, kept as the error's source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RefusedReason(pub String);

impl Error {
    pub fn exit_code(&self) -> u8 {
        use exit::*;
        match self {
            Error::ReadFile { .. }
            | Error::Config(_)
            | Error::Ownership(_)
            | Error::Profile(_)
            | Error::BadSavedPlan { .. }
            | Error::NoClient { .. }
            | Error::ClientTls { .. }
            | Error::InlineTls { .. } => INVALID_CONFIG,
            Error::Unreachable(_)
            | Error::Incompatible(_)
            | Error::Store(_)
            | Error::WaitedInVain(_) => UNREACHABLE,
            Error::Refused { .. } => UNSAFE_PLAN,
            Error::Stale(_) => STALE_PLAN,
            Error::Partial { .. } => PARTIAL_APPLY,
            Error::RecoveryNeeded(_) => RECOVERY_NEEDED,
            Error::PermissionDenied { .. } => PERMISSION_DENIED,
            Error::Usage(_) => USAGE,
            Error::ProbeUnreachable { .. } => PROBE_UNREACHABLE,
            Error::DataPlane(_) | Error::ScOffline(_) => DATA_PLANE,
            Error::NothingToProbe { from_file, .. } => {
                if *from_file {
                    INVALID_CONFIG
                } else {
                    ERROR
                }
            }
            Error::ProfileFile(e) => {
                if e.is_config() {
                    INVALID_CONFIG
                } else {
                    ERROR
                }
            }
            Error::Reported { code, .. } => *code,
            Error::Internal(_) => INTERNAL,
            Error::WriteFile { .. }
            | Error::OutExists { .. }
            | Error::Request(_)
            | Error::Journal(_)
            | Error::NoApproval
            | Error::Listen { .. }
            | Error::Cancelled => ERROR,
        }
    }

    /// A fluvio config that cannot be read or changed.
    pub fn from_profile(err: crate::profile::ProfileError) -> Self {
        Error::ProfileFile(err)
    }

    /// Maps a cluster failure met while reading or connecting.
    pub fn from_cluster(err: ClusterError) -> Self {
        match err {
            ClusterError::Unreachable { .. } => Error::Unreachable(err),
            ClusterError::Incompatible { .. } => Error::Incompatible(err),
            ClusterError::Store(_) => Error::Store(err),
            _ => Error::Request(err),
        }
    }
}

impl From<Box<ConfigErrors>> for Error {
    fn from(e: Box<ConfigErrors>) -> Self {
        Error::Config(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error's causes on one line live below every layer (`crate::causes`); the old path
/// still names it.
pub use crate::causes::one_line;

#[cfg(test)]
mod tests {
    use super::exit::*;
    use super::worst;

    #[test]
    fn the_worst_exit_code_is_what_needs_a_person_most() {
        assert_eq!(worst([OK, CHANGES].into_iter()), CHANGES);
        assert_eq!(
            worst([UNSAFE_PLAN, PARTIAL_APPLY, OK].into_iter()),
            PARTIAL_APPLY
        );
        assert_eq!(
            worst([DATA_PLANE, RECOVERY_NEEDED].into_iter()),
            RECOVERY_NEEDED
        );
        assert_eq!(
            worst([INVALID_CONFIG, UNSAFE_PLAN].into_iter()),
            UNSAFE_PLAN
        );
        assert_eq!(
            worst([ERROR, INTERNAL, RECOVERY_NEEDED].into_iter()),
            INTERNAL
        );
        assert_eq!(worst(std::iter::empty()), OK);
    }
}
