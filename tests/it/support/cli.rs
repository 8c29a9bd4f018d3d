//! Runs the real `fluvio-endpoints` binary in an isolated environment: its own HOME,
//! fluvio config path and journal directory, no color.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What one run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// An isolated home for the binary.
pub struct Env {
    home: tempfile::TempDir,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Self {
        Env {
            home: tempfile::tempdir().expect("temp home"),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.home.path().join("journal")
    }

    /// Writes a file under the home and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    /// Writes the fluvio config the binary reads (`FLV_PROFILE_PATH`): one profile and
    /// cluster named `test`, current, at `endpoint`, with `tls`.
    pub fn write_profile(&self, endpoint: &str, tls: &ProfileTls) -> PathBuf {
        let mut text = format!(
            "version = \"2\"\ncurrent_profile = \"test\"\n\n[profile.test]\ncluster = \"test\"\n\n\
             [cluster.test]\nendpoint = {}\n",
            quoted(endpoint)
        );
        text.push_str(&tls.toml("test"));
        self.write("fluvio-config", &text)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fluvio-endpoints"));
        cmd.args(args)
            .current_dir(self.home.path())
            .env("HOME", self.home.path())
            .env("FLV_PROFILE_PATH", self.home.path().join("fluvio-config"))
            .env("FLUVIO_ENDPOINTS_JOURNAL_DIR", self.journal_dir())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .stdin(Stdio::null());
        cmd
    }

    /// Starts the binary with its output captured; `finish` waits for it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fluvio-endpoints")
    }

    /// `plan -f FILE --out PLAN`: saves the plan of `file` for a later `apply PLAN`.
    pub fn save_plan(&self, file: impl AsRef<Path>, plan: impl AsRef<Path>) -> Run {
        let file = file.as_ref().to_str().expect("a UTF-8 path");
        let plan = plan.as_ref().to_str().expect("a UTF-8 path");
        self.run(&["plan", "-f", file, "--out", plan])
    }

    /// Runs the binary to completion, failing the test (not hanging it) past [`WATCHDOG`].
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_within(args, WATCHDOG)
    }

    /// Runs the binary to completion, killing it and failing the test past `limit`.
    pub fn run_within(&self, args: &[&str], limit: std::time::Duration) -> Run {
        let child = self.spawn(args);
        let pid = child.id();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let dog = std::thread::spawn(move || match finished.recv_timeout(limit) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                true
            }
            _ => false,
        });
        let out = child.wait_with_output().expect("wait for fluvio-endpoints");
        let _ = done.send(());
        let fired = dog.join().expect("the watchdog");
        assert!(
            !fired,
            "fluvio-endpoints {args:?} ran past {limit:?} and was killed\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// How long one run of the binary may take in a test before it is killed and the test
/// fails (the slowest runs, a rolling apply under traffic, take seconds).
pub const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(180);

/// Waits for a binary started with `Env::spawn`, without blocking the runtime's threads.
pub async fn finish(child: Child) -> Run {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait for fluvio-endpoints");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the binary, failing the test (not hanging it) past `secs`: the watchdog kills it.
pub async fn within(env: &Env, args: &[&str], secs: u64) -> Run {
    let child = env.spawn(args);
    let pid = child.id();
    match tokio::time::timeout(std::time::Duration::from_secs(secs), finish(child)).await {
        Ok(run) => run,
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("fluvio-endpoints {args:?} ran past {secs} s");
        }
    }
}

/// A free loopback port (free when asked: bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An address that accepts connections and never answers: an SC that hangs.
pub fn silent_sc() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let _kept: Vec<_> = listener.incoming().take(50).collect();
    });
    addr
}

/// Each SPU's local host in a `list -o json` document, in its order (`-` for none).
pub fn locals(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("a list of SPUs")
        .iter()
        .map(|s| {
            s["spec"]["publicEndpointLocal"]["host"]
                .as_str()
                .unwrap_or("-")
                .to_string()
        })
        .collect()
}

/// The local host of SPU `id` in a `list -o json` document (`-` for none).
pub fn local_of(list: &serde_json::Value, id: i64) -> String {
    let spus = list.as_array().expect("a list of SPUs");
    let i = spus
        .iter()
        .position(|s| s["spec"]["spuId"] == id)
        .unwrap_or_else(|| panic!("SPU {id} is not listed"));
    locals(list).swap_remove(i)
}

/// A diagnostic as one line: the renderer wraps long messages at its width.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The JSON a `-o json` run printed on stdout.
#[track_caller]
pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("-o json prints JSON ({e}):\n{}", run.stdout))
}

/// The `[cluster.X.tls]` table of a fluvio profile, in each form fluvio 0.50.1 reads.
#[derive(Debug, Clone)]
pub enum ProfileTls<'a> {
    /// No table at all (plain TCP).
    None,
    /// `tls_policy = "disabled"`
    Disabled,
    /// `tls_policy = "anonymous"`: TLS without verifying the SC and without a client
    /// certificate.
    Anonymous,
    /// `tls_policy = "verified"`, `tls_source = "files"`: paths to PEM files.
    Files {
        domain: &'a str,
        key: &'a Path,
        cert: &'a Path,
        ca_cert: &'a Path,
    },
    /// `tls_policy = "verified"`, `tls_source = "inline"`: the PEM text itself.
    Inline {
        domain: &'a str,
        key: &'a str,
        cert: &'a str,
        ca_cert: &'a str,
    },
}

impl ProfileTls<'_> {
    pub fn toml(&self, cluster: &str) -> String {
        let table = format!("\n[cluster.{cluster}.tls]\n");
        let certs = |source: &str, domain: &str, key: &str, cert: &str, ca_cert: &str| {
            format!(
                "{table}tls_policy = \"verified\"\ntls_source = \"{source}\"\n\n\
                 [cluster.{cluster}.tls.certs]\ndomain = {}\nkey = {}\ncert = {}\nca_cert = {}\n",
                quoted(domain),
                quoted(key),
                quoted(cert),
                quoted(ca_cert)
            )
        };
        match self {
            ProfileTls::None => String::new(),
            ProfileTls::Disabled => format!("{table}tls_policy = \"disabled\"\n"),
            ProfileTls::Anonymous => format!("{table}tls_policy = \"anonymous\"\n"),
            ProfileTls::Files {
                domain,
                key,
                cert,
                ca_cert,
            } => certs(
                "files",
                domain,
                &key.to_string_lossy(),
                &cert.to_string_lossy(),
                &ca_cert.to_string_lossy(),
            ),
            ProfileTls::Inline {
                domain,
                key,
                cert,
                ca_cert,
            } => certs("inline", domain, key, cert, ca_cert),
        }
    }
}

/// A TOML string literal (escaped; multi-line text becomes `\n` escapes).
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}
