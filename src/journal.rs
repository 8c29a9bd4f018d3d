//! The write-ahead journal: the durable record of every replace in flight.
//!
//! One append-only JSON-lines file per cluster. Before an SPU is deleted (or rewritten),
//! a `begin` line with its full old and new spec is written and fsynced; an `end` line is
//! written once the outcome is known and verified. A `begin` without an `end` is a change
//! that may have been interrupted between delete and create: `recover` (and every `apply`,
//! first) resolves it. The file also carries the per-cluster lock, so two runs on one
//! machine never interleave their replaces.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::SpuSpec;

/// Where journals live unless `--journal-dir` or `FLUVIO_ENDPOINTS_JOURNAL_DIR` says otherwise.
pub fn default_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".fluvio").join("endpoints").join("journal")
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // written once per line; boxing buys nothing
pub enum Record {
    Begin {
        seq: u64,
        target: String,
        old: SpuSpec,
        new: SpuSpec,
        pid: u32,
        unix_ms: u64,
    },
    End {
        seq: u64,
        outcome: String,
    },
}

/// An unfinished change: begun, never ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub seq: u64,
    pub old: SpuSpec,
    pub new: SpuSpec,
}

/// An open, locked journal for one cluster.
pub struct Journal {
    path: PathBuf,
    /// Opened on first append, so a run that changes nothing leaves no file behind.
    file: Option<File>,
    _lock: File,
    next_seq: u64,
    pending: Vec<Pending>,
}

fn file_key(identity: &str) -> String {
    use sha2::{Digest, Sha256};
    let readable: String = identity
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(60)
        .collect();
    let digest = Sha256::digest(identity.as_bytes());
    format!("{readable}-{}", hex::encode(&digest[..6]))
}

fn journal_err(path: &Path, what: &str, err: impl std::fmt::Display) -> Error {
    Error::Journal(format!("journal {}: {what}: {err}", path.display()))
}

/// A journal file's bytes; none when it does not exist yet.
fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    match crate::input::read(path, &crate::input::JOURNAL) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(journal_err(path, "cannot open", e)),
    }
}

/// Reads the unfinished changes of a journal file without locking it.
pub fn read_pending(path: &Path) -> Result<(Vec<Pending>, u64)> {
    parse(path, &read_bytes(path)?)
}

/// The unfinished changes recorded in `bytes` (the file at `path`), and the highest seq.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<(Vec<Pending>, u64)> {
    // Every record ends with '\n'; a last line without one is a write that never completed.
    let torn_tail = !bytes.is_empty() && !bytes.ends_with(b"\n");
    let lines: Vec<String> = BufReader::new(bytes)
        .lines()
        .collect::<std::io::Result<_>>()
        .map_err(|e| journal_err(path, "cannot read", e))?;
    let last = torn_tail.then(|| lines.len() - 1);
    let mut pending: Vec<Pending> = Vec::new();
    let mut max_seq = 0;
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = match serde_json::from_str(line) {
            Ok(r) => r,
            // A torn last line is a write that never completed: its change never started.
            Err(_) if Some(n) == last => continue,
            // A complete line that does not parse could hide a pending change: stop rather
            // than guess.
            Err(e) => {
                return Err(journal_err(
                    path,
                    &format!(
                    "line {} is unreadable ({e}); repair or move the file after checking its SPUs",
                    n + 1
                ),
                    "refusing to guess what it held",
                ))
            }
        };
        match record {
            Record::Begin { seq, old, new, .. } => {
                max_seq = max_seq.max(seq);
                pending.push(Pending { seq, old, new });
            }
            Record::End { seq, .. } => pending.retain(|p| p.seq != seq),
        }
    }
    Ok((pending, max_seq))
}

/// Cuts a torn last line (one without its '\n') off the file, under the lock, so the next
/// record starts on a line of its own instead of joining the fragment.
fn cut_torn_tail(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(keep as u64).and_then(|()| f.sync_data()))
        .map_err(|e| journal_err(path, "cannot cut a torn last line", e))
}

impl Journal {
    /// The journal file for a target identity under `dir`.
    pub fn path_for(dir: &Path, identity: &str) -> PathBuf {
        dir.join(format!("{}.jsonl", file_key(identity)))
    }

    /// Opens and locks the journal. Fails at once if another run holds the lock.
    pub fn open(dir: &Path, identity: &str) -> Result<Journal> {
        std::fs::create_dir_all(dir).map_err(|e| journal_err(dir, "cannot create", e))?;
        let path = Self::path_for(dir, identity);
        let lock_path = path.with_extension("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| journal_err(&lock_path, "cannot open", e))?;
        match lock.try_lock_exclusive() {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::Journal(format!(
                    "another fluvio-endpoints run is changing {identity} (lock {} is held); wait for it to finish",
                    lock_path.display()
                )))
            }
            Err(e) => return Err(journal_err(&lock_path, "cannot lock", e)),
        }
        // Read once, under the lock: parsed, then the torn tail (if any) cut from the same bytes.
        let bytes = read_bytes(&path)?;
        let (pending, max_seq) = parse(&path, &bytes)?;
        cut_torn_tail(&path, &bytes)?;
        Ok(Journal {
            path,
            file: None,
            _lock: lock,
            next_seq: max_seq + 1,
            pending,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes begun by an earlier run and never ended.
    pub fn pending(&self) -> &[Pending] {
        &self.pending
    }

    fn append(&mut self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        if self.file.is_none() {
            let existed = self.path.exists();
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| journal_err(&self.path, "cannot open", e))?;
            // A new file's name is durable only once its directory is synced; without it a
            // crash of the machine could lose the whole journal, fsynced lines and all.
            if !existed {
                if let Some(dir) = self.path.parent() {
                    File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(|e| journal_err(dir, "cannot sync", e))?;
                }
            }
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("opened above");
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|e| journal_err(&self.path, "cannot write", e))
    }

    /// Durably records a change about to start; returns its sequence number.
    pub fn begin(&mut self, target: &str, old: &SpuSpec, new: &SpuSpec) -> Result<u64> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.append(&Record::Begin {
            seq,
            target: target.to_string(),
            old: old.clone(),
            new: new.clone(),
            pid: std::process::id(),
            unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        })?;
        self.pending.push(Pending {
            seq,
            old: old.clone(),
            new: new.clone(),
        });
        Ok(seq)
    }

    /// Records that a change is finished (applied and verified, rolled back, or skipped).
    pub fn end(&mut self, seq: u64, outcome: &str) -> Result<()> {
        self.append(&Record::End {
            seq,
            outcome: outcome.to_string(),
        })?;
        self.pending.retain(|p| p.seq != seq);
        Ok(())
    }

    /// Removes the file once nothing is pending, so a clean cluster has no journal.
    pub fn compact(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            self.file = None;
            match std::fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(journal_err(&self.path, "cannot remove", e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn spec(local: Option<&str>) -> SpuSpec {
        SpuSpec {
            name: "custom-spu-1".into(),
            id: 1,
            kind: SpuKind::Custom,
            public: Ingress {
                port: 9010,
                addrs: vec![],
                encryption: Encryption::Plaintext,
            },
            private: Endpoint {
                host: "p".into(),
                port: 9011,
                encryption: Encryption::Plaintext,
            },
            rack: None,
            local: local.map(|h| Endpoint {
                host: h.into(),
                port: 1,
                encryption: Encryption::Plaintext,
            }),
        }
    }

    #[test]
    fn begun_and_not_ended_is_pending_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut j = Journal::open(dir.path(), "sc://a:1").unwrap();
            let s1 = j.begin("sc://a:1", &spec(None), &spec(Some("x"))).unwrap();
            let _s2 = j
                .begin("sc://a:1", &spec(Some("x")), &spec(Some("y")))
                .unwrap();
            j.end(s1, "applied").unwrap();
        }
        let j = Journal::open(dir.path(), "sc://a:1").unwrap();
        assert_eq!(j.pending().len(), 1);
        assert_eq!(j.pending()[0].new.local.as_ref().unwrap().host, "y");
        assert_eq!(j.next_seq, 3);
    }

    #[test]
    fn a_second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Journal::open(dir.path(), "sc://a:1").unwrap();
        let second = Journal::open(dir.path(), "sc://a:1");
        assert!(
            matches!(second, Err(Error::Journal(m)) if m.contains("another fluvio-endpoints run"))
        );
        assert!(
            Journal::open(dir.path(), "sc://b:1").is_ok(),
            "other clusters are independent"
        );
    }

    #[test]
    fn an_unreadable_line_before_the_last_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(
            &path,
            "{\"op\":\"end\",\"se\n{\"op\":\"end\",\"seq\":1,\"outcome\":\"x\"}\n",
        )
        .unwrap();
        assert!(
            matches!(read_pending(&path), Err(Error::Journal(m)) if m.contains("line 1 is unreadable"))
        );
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = {
            let mut j = Journal::open(dir.path(), "t").unwrap();
            j.begin("t", &spec(None), &spec(Some("x"))).unwrap();
            j.path().to_path_buf()
        };
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"op\":\"end\",\"se").unwrap();
        let (pending, _) = read_pending(&path).unwrap();
        assert_eq!(pending.len(), 1);
        // The next run appends after the cut, on a line of its own: nothing is lost.
        let mut j = Journal::open(dir.path(), "t").unwrap();
        j.begin("t", &spec(Some("x")), &spec(Some("y"))).unwrap();
        drop(j);
        let (pending, _) = read_pending(&path).unwrap();
        assert_eq!(pending.len(), 2);
    }

    #[test]
    fn compact_removes_a_finished_journal() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), "t").unwrap();
        let s = j.begin("t", &spec(None), &spec(Some("x"))).unwrap();
        j.end(s, "applied").unwrap();
        j.compact().unwrap();
        assert!(!j.path().exists());
    }
}
