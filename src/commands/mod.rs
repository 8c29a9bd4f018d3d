//! One module per subcommand, each thin: arguments -> options -> operation (`ops`) ->
//! printer. A command never imports another; what they share lives in `ops` or `output`.

pub mod apply;
pub mod completions;
pub mod drift;
pub mod export;
pub mod install;
pub mod list;
pub mod plan;
pub mod probe;
pub mod profile;
pub mod reconcile;
pub mod recover;
pub mod update_local;
pub mod validate;

use std::time::Duration;

use crate::cli::{Global, TlsArgs};
use crate::cluster::sc::EndpointTls;
use crate::error::{Error, Result};
use crate::journal;
use crate::ops::session::{ClusterFlags, Connect};
use crate::output::Printer;

/// What every command gets.
pub struct Ctx {
    pub global: Global,
    pub printer: Printer,
    /// When the run began (`--wait` counts from here).
    pub started: std::time::Instant,
}

impl Ctx {
    /// The cluster and journal options, as the operations take them.
    pub fn connect(&self) -> Connect {
        let g = &self.global;
        Connect {
            flags: ClusterFlags {
                cluster: g.cluster.clone(),
                profile: g.profile.clone(),
                metadata_dir: g.metadata_dir.clone(),
                tls: tls_of(&g.tls),
            },
            journal_dir: g.journal_dir.clone().unwrap_or_else(journal::default_dir),
            timeout: Duration::from_secs_f64(g.timeout),
            wait: g
                .wait
                .filter(|w| !w.is_zero())
                .map(|limit| crate::ops::session::Wait {
                    until: self.started + limit,
                    limit,
                    online: g.wait_online,
                }),
            lock_timeout: g.lock_timeout.unwrap_or_default(),
        }
    }
}

/// The fluvio CLI's TLS flags as the connection's TLS (clap has checked that they go
/// together: `--domain` and the paths only with `--enable-client-cert`, which needs
/// all four).
fn tls_of(args: &TlsArgs) -> EndpointTls {
    let TlsArgs {
        tls,
        enable_client_cert,
        domain,
        ca_cert,
        client_cert,
        client_key,
    } = args.clone();
    if !tls {
        return EndpointTls::Disabled;
    }
    match (enable_client_cert, domain, ca_cert, client_cert, client_key) {
        (true, Some(domain), Some(ca_cert), Some(cert), Some(key)) => EndpointTls::Verified {
            domain,
            ca_cert,
            cert,
            key,
        },
        _ => EndpointTls::Anonymous,
    }
}

impl crate::cli::Safety {
    /// `--force` lifts the limit; `--max-changes` overrides the file's.
    pub fn limit(&self) -> crate::ops::ChangeLimit {
        if self.force {
            crate::ops::ChangeLimit::Ignore
        } else {
            crate::ops::ChangeLimit::Enforce(self.max_changes)
        }
    }
}

impl crate::cli::HealArgs {
    /// The rolling apply's commands and limits.
    pub fn healing(&self) -> crate::ops::route::Healing {
        crate::ops::route::Healing {
            restart_command: self.restart_command.clone(),
            restart_timeout: Duration::from_secs_f64(self.restart_timeout),
            gate_timeout: Duration::from_secs_f64(self.gate_timeout),
            accept_stalls: self.accept_stalls,
        }
    }
}

impl crate::cli::OfflineArgs {
    /// The SC-offline route, when asked for.
    pub fn offline(&self, heal: &crate::cli::HealArgs) -> Option<crate::ops::route::Offline> {
        let hook = |command: &Option<String>| crate::hook::Hook {
            command: command.clone().unwrap_or_default(),
            timeout: Duration::from_secs_f64(heal.restart_timeout),
        };
        self.sc_offline
            .as_ref()
            .map(|dir| crate::ops::route::Offline {
                dir: dir.clone(),
                stop: hook(&self.sc_stop),
                start: hook(&self.sc_start),
            })
    }
}

/// What a plan's route flags ask for.
pub fn route_request(
    heal: &crate::cli::HealArgs,
    offline: &crate::cli::OfflineArgs,
) -> crate::ops::route::RouteRequest {
    crate::ops::route::RouteRequest {
        restart: heal.restart_command.is_some(),
        offline: offline.sc_offline.is_some(),
        accept_stalls: heal.accept_stalls,
    }
}

/// Several files' errors: each printed as it comes; the first one's exit code is the run's.
pub fn aggregate(errors: &[Error]) -> Result<()> {
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(Error::Reported {
            count: errors.len(),
            code: first.exit_code(),
        }),
    }
}

/// Plans every file concurrently, prints each in the order given (`each` sees each plan
/// after it is printed), and aggregates: any error -> that error (the first), else
/// changes if any file has some. `plan` and `drift`, as their end: each plan document is
/// left to the process's exit once printed, not freed (`ops::leave_for_exit`).
pub async fn plan_many(
    ctx: &Ctx,
    files: &[std::path::PathBuf],
    options: crate::ops::plan::PlanOptions<'_>,
    mut each: impl FnMut(&crate::report::PlanDoc) -> Result<()>,
) -> Result<crate::ops::RunOutcome> {
    let printer = &ctx.printer;
    let options = crate::ops::plan::PlanOptions {
        ownership: files.len() > 1,
        ..options
    };
    let results = crate::ops::plan::plan_files(&ctx.connect(), files, options, printer).await;
    // Files of one cluster that contradict each other: refused before any plan is shown.
    let owned: Vec<crate::ops::ownership::Owned> = Vec::new();
    let (mut results, owned) = results.into_iter().fold(
        (Vec::with_capacity(files.len()), owned),
        |(mut results, mut owned), result| {
            results.push(result.map(|(doc, o)| {
                owned.extend(o);
                doc
            }));
            (results, owned)
        },
    );
    // A command line that asks for the impossible (an --spu one file lacks) prints no plan.
    if let Some(i) = results
        .iter()
        .position(|r| matches!(r, Err(Error::Usage(_))))
    {
        results.swap_remove(i)?;
    }
    crate::ops::ownership::check_resolved(&owned).await?;
    let single = files.len() == 1;
    let mut stream = printer.plans(files.len());
    let mut outcome = crate::ops::RunOutcome::default();
    let mut errors: Vec<Error> = Vec::new();
    for result in results {
        let checked = result.and_then(|doc| {
            stream.push(&doc);
            each(&doc)?;
            outcome.changes |= doc.has_changes();
            let checked = match doc.is_blocked() {
                true => Err(crate::ops::refused(&doc)),
                false => Ok(()),
            };
            crate::ops::leave_for_exit(doc);
            checked
        });
        if let Err(e) = checked {
            if single {
                return Err(e);
            }
            printer.error(&e);
            errors.push(e);
        }
    }
    stream.finish();
    aggregate(&errors).map(|()| outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_flags_mean_what_they_mean_in_the_fluvio_cli() {
        let none = TlsArgs::default();
        assert_eq!(tls_of(&none), EndpointTls::Disabled);
        let anonymous = TlsArgs {
            tls: true,
            ..TlsArgs::default()
        };
        assert_eq!(tls_of(&anonymous), EndpointTls::Anonymous);
        let verified = TlsArgs {
            tls: true,
            enable_client_cert: true,
            domain: Some("sc.example.com".into()),
            ca_cert: Some("ca.crt".into()),
            client_cert: Some("client.crt".into()),
            client_key: Some("client.key".into()),
        };
        assert_eq!(
            tls_of(&verified),
            EndpointTls::Verified {
                domain: "sc.example.com".into(),
                ca_cert: "ca.crt".into(),
                cert: "client.crt".into(),
                key: "client.key".into(),
            }
        );
    }
}
