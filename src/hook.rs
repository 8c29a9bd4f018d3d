//! Commands the user gives the tool to run: the restart command of a rolling apply
//! (`--restart-command`, `[policy] restart_command`) and the stop and start commands of the
//! SC-offline route (`--sc-stop`, `--sc-start`).
//!
//! Each runs as `sh -c COMMAND`, with what it is about only in environment variables
//! (`SPU_ID`, `SPU_NAME`, ...): names come from the cluster and are untrusted text, so they
//! are never spliced into the command. Its stdin is empty, its output goes to the tool's
//! stderr (stdout carries the tool's documents), and it runs in a process group of its own,
//! which is killed whole when the command outlives its time limit.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A command and how long it may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub command: String,
    pub timeout: Duration,
}

/// A command that ran to its end with exit status 0.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HookRun {
    /// How long it ran, in milliseconds.
    pub ms: f64,
}

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HookError {
    #[error("`{command}` could not be started: {cause}")]
    Spawn { command: String, cause: String },
    #[error("`{command}` exited with status {code}")]
    Exit { command: String, code: i32 },
    #[error("`{command}` was ended by signal {signal}")]
    Signal { command: String, signal: i32 },
    #[error("`{command}` did not finish within {secs} s; it was killed")]
    TimedOut { command: String, secs: f64 },
}

/// Where the commands' output goes instead of the tool's stderr, line by line, when set:
/// the reconcile agent logs it as events (a JSON log must not get raw lines).
static FORWARD: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Sends the output of every command run from now on to `forward`, one line at a time
/// (with its `\n`), instead of the tool's stderr. Set once per process.
pub fn forward_output(forward: fn(&str)) {
    let _ = FORWARD.set(forward);
}

/// How long output a command left in its pipes is still read after it exited.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// Reads a pipe of a command on a thread of its own, sending each line; once the receiver
/// is gone, reads on and drops what comes, until the pipe closes (so that a process the
/// command left running never writes into a closed pipe).
fn read_lines(fd: std::os::fd::OwnedFd, lines: tokio::sync::mpsc::UnboundedSender<String>) {
    use std::io::BufRead;
    let spawned = std::thread::Builder::new()
        .name("command output".into())
        .spawn(move || {
            let reader = std::io::BufReader::new(std::fs::File::from(fd));
            for line in reader.split(b'\n') {
                let Ok(line) = line else { break };
                let _ = lines.send(String::from_utf8_lossy(&line).into_owned());
            }
        });
    // without a thread the pipe's reading end closes with `fd`: the command's writes fail
    drop(spawned);
}

/// Waits for `child`, forwarding its piped output line by line while it runs and for a
/// moment after it exits.
async fn wait_forwarding(
    child: &mut tokio::process::Child,
    forward: fn(&str),
) -> std::io::Result<std::process::ExitStatus> {
    let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel();
    if let Some(fd) = child.stdout.take().and_then(|p| p.into_owned_fd().ok()) {
        read_lines(fd, sender.clone());
    }
    if let Some(fd) = child.stderr.take().and_then(|p| p.into_owned_fd().ok()) {
        read_lines(fd, sender.clone());
    }
    drop(sender);
    let forwarding = async {
        while let Some(line) = lines.recv().await {
            forward(&format!("{line}\n"));
        }
    };
    tokio::pin!(forwarding);
    let (status, forwarded_all) = tokio::select! {
        status = child.wait() => (status, false),
        () = &mut forwarding => (child.wait().await, true),
    };
    if !forwarded_all {
        let _ = tokio::time::timeout(OUTPUT_GRACE, &mut forwarding).await;
    }
    status
}

/// The tool's stderr, for a child's stdout and stderr; the null device when it cannot be
/// shared.
fn stderr() -> Stdio {
    use std::os::fd::AsFd;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

impl Hook {
    /// Runs the command with `env` added to the tool's environment, and waits for it.
    pub async fn run(&self, env: &[(&str, &str)]) -> Result<HookRun, HookError> {
        let started = Instant::now();
        let forward = FORWARD.get().copied();
        let out = || match forward {
            Some(_) => Stdio::piped(),
            None => stderr(),
        };
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&self.command)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out())
            .stderr(out())
            // its own process group, so that a timeout ends everything it started and a
            // terminal's Ctrl-C goes to the tool, which finishes the SPU in flight
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| HookError::Spawn {
            command: self.command.clone(),
            cause: e.to_string(),
        })?;
        let waited = async {
            match forward {
                Some(forward) => wait_forwarding(&mut child, forward).await,
                None => child.wait().await,
            }
        };
        let status = match tokio::time::timeout(self.timeout, waited).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                return Err(HookError::Spawn {
                    command: self.command.clone(),
                    cause: e.to_string(),
                })
            }
            Err(_) => {
                if let Some(pid) = child.id() {
                    // SAFETY: kill(2) with a negative pid signals that process group only.
                    unsafe {
                        libc::kill(-(pid as i32), libc::SIGKILL);
                    }
                }
                let _ = child.wait().await;
                return Err(HookError::TimedOut {
                    command: self.command.clone(),
                    secs: self.timeout.as_secs_f64(),
                });
            }
        };
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(HookRun {
                ms: started.elapsed().as_secs_f64() * 1000.0,
            }),
            (Some(code), _) => Err(HookError::Exit {
                command: self.command.clone(),
                code,
            }),
            (None, Some(signal)) => Err(HookError::Signal {
                command: self.command.clone(),
                signal,
            }),
            (None, None) => Err(HookError::Exit {
                command: self.command.clone(),
                code: -1,
            }),
        }
    }
}

/// Restarts one SPU's process: the restart command ([`RestartHook`]), or a test's script.
pub trait Restart {
    /// Restarts the process of `spu` and returns once the restart is done (or failed).
    fn restart<'a>(
        &'a mut self,
        spu: &'a crate::model::SpuSpec,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<HookRun, String>> + 'a>>;
}

/// The restart command of a rolling apply: `SPU_ID` and `SPU_NAME` in its environment.
pub struct RestartHook(pub Hook);

impl Restart for RestartHook {
    fn restart<'a>(
        &'a mut self,
        spu: &'a crate::model::SpuSpec,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<HookRun, String>> + 'a>> {
        Box::pin(async move {
            let id = spu.id.to_string();
            self.0
                .run(&[("SPU_ID", &id), ("SPU_NAME", &spu.name)])
                .await
                .map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(command: &str, secs: f64) -> Hook {
        Hook {
            command: command.into(),
            timeout: Duration::from_secs_f64(secs),
        }
    }

    #[tokio::test]
    async fn a_command_sees_its_subject_only_in_its_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let command = format!(
            "printf '%s|%s' \"$SPU_ID\" \"$SPU_NAME\" > '{}'",
            out.display()
        );
        // a name that would run a command if it were spliced into the text
        let name = "x'; touch pwned; '$(touch pwned2)";
        hook(&command, 10.0)
            .run(&[("SPU_ID", "5001"), ("SPU_NAME", name)])
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("5001|{name}")
        );
        assert!(!dir.path().join("pwned").exists());
    }

    #[tokio::test]
    async fn a_failing_command_says_how_it_failed() {
        assert_eq!(
            hook("exit 3", 10.0).run(&[]).await,
            Err(HookError::Exit {
                command: "exit 3".into(),
                code: 3
            })
        );
        assert!(matches!(
            hook("kill -9 $$", 10.0).run(&[]).await,
            Err(HookError::Signal { signal: 9, .. })
        ));
    }

    #[tokio::test]
    async fn a_command_past_its_time_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let late = dir.path().join("late");
        // a child of the shell that would write after the timeout
        let command = format!("(sleep 1; touch '{}') & sleep 30", late.display());
        let started = Instant::now();
        let result = hook(&command, 0.3).run(&[]).await;
        assert!(
            matches!(result, Err(HookError::TimedOut { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!late.exists(), "the process group was not killed");
    }
}
