//! The write-ahead journal: the durable record of every replace in flight.
//!
//! One append-only JSON-lines file per cluster. Before an SPU is deleted (or rewritten),
//! a `begin` line with its full old and new spec is written and fsynced; an `end` line is
//! written once the outcome is known and verified. A `begin` without an `end` is a change
//! that may have been interrupted between delete and create: `recover` (and every `apply`,
//! first) resolves it. The file also carries the per-cluster lock, so two runs on one
//! machine never interleave their replaces.
//!
//! ## Group commit
//!
//! `begin_batch` writes the `begin` lines of several SPUs in one write and makes them
//! durable with one fsync; the engine calls it before the first delete of the batch, so
//! the rule "an SPU's `begin` is durable before its delete is sent" holds for every SPU of
//! the batch. `end` lines are written (one write each, so a killed process loses none of
//! them: they are in the page cache) but not fsynced on their own: the next `begin_batch`'s
//! fsync carries them to disk with it, and `compact` syncs them all when the run ends,
//! before it removes the file (and syncs the removal). Only a crash of the machine can
//! lose an `end`, and then only ones written after the last fsync: the file's tail. A lost
//! `end` leaves its change pending, so the next run's recovery re-reads that SPU, finds it
//! at its new spec (or old, or as someone else wrote it) and ends it without writing to
//! the cluster. The one `end` that must not be lost is that of a change which found its
//! SPU gone (deleted by someone else): recovery would find it missing and re-create it.
//! The engine writes the `end`s of changes that found their SPU gone or moved with
//! `end_durably`, an fsync each (rare). A lost `end` never makes an SPU missing; a lost
//! `begin` could, which is why every `begin` is fsynced before its delete.
//!
//! Crash points, and what the journal holds at each (the engine's side is in `apply.rs`):
//! - while the batch's `begin` lines are being written, before their fsync: no delete of
//!   the batch was sent, so any of the lines that reached the disk describes an SPU still at
//!   its old spec; a line cut short is a torn tail, ignored and cut by the next open;
//! - after the fsync, before or between the batch's deletes: every SPU of the batch is
//!   pending; recovery finds the ones never deleted at their old spec (`at_old`), the ones
//!   replaced at their new spec (`at_new`), and the one caught between delete and create
//!   missing, and re-creates it with its new spec;
//! - after an `end` is written: nothing is left to do for that SPU; if the machine lost the
//!   line, recovery re-checks the SPU as above and ends it again (an `end` for an SPU found
//!   gone is durable at once, see above);
//! - after the file is removed at the end of a clean run: the removal is synced, and every
//!   line was synced before it, so a crash brings back either no file or a file whose
//!   every change is ended.
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};

use crate::model::{ClusterId, SpuSpec};

/// Where journals live unless `--journal-dir` or `FLUVIO_ENDPOINTS_JOURNAL_DIR` says otherwise.
pub fn default_dir() -> PathBuf {
    let fluvio =
        crate::profile::fluvio_home().unwrap_or_else(|| PathBuf::from(".").join(".fluvio"));
    fluvio.join("endpoints").join("journal")
}

/// The journal format this build writes: each line carries it as `v`. Format 1 (lines
/// without `v`) is still read, so an apply left pending by an older build is recovered.
pub const FORMAT_VERSION: u32 = 2;

/// The highest sequence number a journal may hold: far beyond any real run (one per
/// change), and far enough from `u64::MAX` that counting on never overflows.
const MAX_SEQ: u64 = 1 << 53;

/// Lines written before the format was versioned.
fn legacy_format() -> u32 {
    1
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    #[serde(default = "legacy_format")]
    pub v: u32,
    #[serde(flatten)]
    pub record: Record,
}

/// What a line records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // written once per line; boxing buys nothing
pub enum Record {
    Begin {
        seq: u64,
        #[serde(rename = "target")]
        cluster: ClusterId,
        old: SpuSpec,
        new: SpuSpec,
        pid: u32,
        unix_ms: u64,
    },
    End {
        seq: u64,
        outcome: EndOutcome,
    },
}

/// How a journaled change ended; spelled as format 1 wrote it, so old journals read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndOutcome {
    /// Replaced and verified.
    Applied,
    /// The change failed and the old spec is intact.
    Failed,
    /// Nothing was written for it: someone else deleted or changed the SPU just before
    /// the change, the re-read before it failed or found it already as declared, an
    /// earlier change of the run was left unresolved, or the run was stopped first.
    Skipped,
    /// Someone else re-created the SPU during the change.
    Conflict,
    /// The new spec was refused and the old one re-created.
    RolledBack,
    /// The re-read after the change found another spec.
    VerifyFailed,
    /// A later run resolved it (`recover`, or an apply recovering first).
    Recovered,
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

type Result<T, E = JournalError> = std::result::Result<T, E>;

/// Why the journal cannot be used. Before the first `begin` is durable the run stops
/// without touching the cluster; after it, an apply ends with what is still pending left
/// for `recover` (exit 8, see `ops::apply`).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {}: {what}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {}: line {line} is unreadable; repair or move the file after checking its SPUs: refusing to guess what it held", path.display())]
    Unreadable {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("journal {}: line {line} is in journal format {version}, newer than this build reads ({FORMAT_VERSION}); use the fluvio-endpoints that wrote it", path.display())]
    Newer {
        path: PathBuf,
        line: usize,
        version: u32,
    },
    #[error("journal {}: line {line} {why}; repair or move the file after checking its SPUs: refusing to act on it", path.display())]
    NotAChange {
        path: PathBuf,
        line: usize,
        why: &'static str,
    },
    #[error("another fluvio-endpoints run is changing {cluster} (lock {} is held); wait for it to finish", lock.display())]
    Locked { cluster: ClusterId, lock: PathBuf },
}

fn io_err(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io { path, what, source }
}

/// A journal file's bytes; none when it does not exist yet.
fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    match crate::input::read(path, &crate::input::JOURNAL) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(path, "cannot open")(e)),
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
        .map_err(io_err(path, "cannot read"))?;
    let last = torn_tail.then(|| lines.len() - 1);
    let mut pending: Vec<Pending> = Vec::new();
    let mut max_seq = 0;
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = match serde_json::from_str::<Line>(line) {
            Ok(Line { v, .. }) if v > FORMAT_VERSION => {
                return Err(JournalError::Newer {
                    path: path.to_path_buf(),
                    line: n + 1,
                    version: v,
                })
            }
            // A torn last line is a write that never completed (its change never started),
            // even when what reached the disk happens to parse: it is cut from the file at
            // the next open, so it must not count here either.
            _ if Some(n) == last => continue,
            Ok(Line { record, .. }) => record,
            // A complete line that does not parse could hide a pending change: stop rather
            // than guess.
            Err(source) => {
                return Err(JournalError::Unreadable {
                    path: path.to_path_buf(),
                    line: n + 1,
                    source,
                })
            }
        };
        match record {
            Record::Begin { seq, old, new, .. } => {
                // Recovery re-creates what a begin line says: only ever the tool's own
                // kind of change, and numbers that can still be counted up from.
                let why = if seq > MAX_SEQ {
                    Some("has a sequence number out of range")
                } else if !old.is_local_change(&new) {
                    Some("is not a local-endpoint change of a custom SPU")
                } else {
                    None
                };
                if let Some(why) = why {
                    return Err(JournalError::NotAChange {
                        path: path.to_path_buf(),
                        line: n + 1,
                        why,
                    });
                }
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
        .map_err(io_err(path, "cannot cut a torn last line"))
}

impl Journal {
    /// The journal file for a cluster under `dir`.
    pub fn path_for(dir: &Path, cluster: &ClusterId) -> PathBuf {
        dir.join(format!("{}.jsonl", file_key(&cluster.to_string())))
    }

    /// Opens and locks the journal. Fails at once if another run holds the lock.
    pub fn open(dir: &Path, cluster: &ClusterId) -> Result<Journal> {
        std::fs::create_dir_all(dir).map_err(io_err(dir, "cannot create"))?;
        let path = Self::path_for(dir, cluster);
        let lock_path = path.with_extension("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path, "cannot open"))?;
        match lock.try_lock_exclusive() {
            Ok(true) => {}
            Ok(false) => {
                return Err(JournalError::Locked {
                    cluster: cluster.clone(),
                    lock: lock_path,
                })
            }
            Err(e) => return Err(io_err(&lock_path, "cannot lock")(e)),
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

    /// Appends `records` in one write; with `durable`, fsyncs the file before returning
    /// (which also makes every earlier line durable).
    fn append(&mut self, records: Vec<Record>, durable: bool) -> Result<()> {
        let mut bytes = Vec::new();
        for record in records {
            let line = Line {
                v: FORMAT_VERSION,
                record,
            };
            serde_json::to_writer(&mut bytes, &line).expect("records serialize");
            bytes.push(b'\n');
        }
        if self.file.is_none() {
            let existed = self.path.exists();
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(io_err(&self.path, "cannot open"))?;
            // A new file's name is durable only once its directory is synced; without it a
            // crash of the machine could lose the whole journal, fsynced lines and all.
            if !existed {
                if let Some(dir) = self.path.parent() {
                    File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(io_err(dir, "cannot sync"))?;
                }
            }
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("opened above");
        file.write_all(&bytes)
            .and_then(|()| if durable { file.sync_data() } else { Ok(()) })
            .map_err(io_err(&self.path, "cannot write"))
    }

    /// Durably records a change about to start; returns its sequence number.
    pub fn begin(&mut self, cluster: &ClusterId, old: &SpuSpec, new: &SpuSpec) -> Result<u64> {
        Ok(self.begin_batch(cluster, &[(old, new)])?[0])
    }

    /// Durably records several changes about to start (`(old, new)` each), with one write
    /// and one fsync; returns their sequence numbers, in order. Nothing of the batch may be
    /// written to the cluster before this returns.
    pub fn begin_batch(
        &mut self,
        cluster: &ClusterId,
        changes: &[(&SpuSpec, &SpuSpec)],
    ) -> Result<Vec<u64>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let first = self.next_seq;
        let seqs: Vec<u64> = (first..first + changes.len() as u64).collect();
        let records = changes
            .iter()
            .zip(&seqs)
            .map(|((old, new), &seq)| Record::Begin {
                seq,
                cluster: cluster.clone(),
                old: (*old).clone(),
                new: (*new).clone(),
                pid: std::process::id(),
                unix_ms,
            })
            .collect();
        // The numbers are used up even if the write fails: a seq is never reused.
        self.next_seq += changes.len() as u64;
        self.append(records, true)?;
        for ((old, new), &seq) in changes.iter().zip(&seqs) {
            self.pending.push(Pending {
                seq,
                old: (*old).clone(),
                new: (*new).clone(),
            });
        }
        Ok(seqs)
    }

    /// Records that a change is finished (applied and verified, rolled back, or skipped).
    /// Written at once but not fsynced on its own (see the module comment): for an SPU
    /// that is at its old or new spec a lost `end` only makes recovery re-check it.
    pub fn end(&mut self, seq: u64, outcome: EndOutcome) -> Result<()> {
        self.append(vec![Record::End { seq, outcome }], false)?;
        self.pending.retain(|p| p.seq != seq);
        Ok(())
    }

    /// `end`, made durable before it returns: for a change that found its SPU gone or
    /// changed by someone else, whose `end`, if a crash of the machine lost it, would let
    /// recovery re-create an SPU that someone deleted on purpose.
    pub fn end_durably(&mut self, seq: u64, outcome: EndOutcome) -> Result<()> {
        self.append(vec![Record::End { seq, outcome }], true)?;
        self.pending.retain(|p| p.seq != seq);
        Ok(())
    }

    /// Makes every line written so far durable; then, once nothing is pending, removes the
    /// file (so a clean cluster has no journal) and makes the removal durable too. The
    /// order matters for a crash of the machine: until the removal is on disk the file
    /// may come back, and then it must come back with every `end`, or recovery would
    /// re-check (and could re-create) SPUs this run had finished with.
    pub fn compact(&mut self) -> Result<()> {
        if let Some(file) = &self.file {
            file.sync_data()
                .map_err(io_err(&self.path, "cannot sync"))?;
        }
        if !self.pending.is_empty() {
            return Ok(());
        }
        self.file = None;
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(&self.path, "cannot remove")(e)),
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir, "cannot sync"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    /// What reading a journal file holding `text` gives.
    fn read_text(text: &str) -> Result<(Vec<Pending>, u64)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, text).unwrap();
        read_pending(&path)
    }

    fn sc(addr: &str) -> ClusterId {
        ClusterId::Sc(addr.into())
    }

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
            let mut j = Journal::open(dir.path(), &sc("a:1")).unwrap();
            let s1 = j.begin(&sc("a:1"), &spec(None), &spec(Some("x"))).unwrap();
            let _s2 = j
                .begin(&sc("a:1"), &spec(Some("x")), &spec(Some("y")))
                .unwrap();
            j.end(s1, EndOutcome::Applied).unwrap();
        }
        let j = Journal::open(dir.path(), &sc("a:1")).unwrap();
        assert_eq!(j.pending().len(), 1);
        assert_eq!(j.pending()[0].new.local.as_ref().unwrap().host, "y");
        assert_eq!(j.next_seq, 3);
    }

    #[test]
    fn a_second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Journal::open(dir.path(), &sc("a:1")).unwrap();
        let second = Journal::open(dir.path(), &sc("a:1"));
        assert!(
            matches!(second, Err(e @ JournalError::Locked { .. }) if e.to_string().contains("another fluvio-endpoints run"))
        );
        assert!(
            Journal::open(dir.path(), &sc("b:1")).is_ok(),
            "other clusters are independent"
        );
    }

    #[test]
    fn an_unreadable_line_before_the_last_is_an_error() {
        let read =
            read_text("{\"op\":\"end\",\"se\n{\"op\":\"end\",\"seq\":1,\"outcome\":\"x\"}\n");
        assert!(
            matches!(read, Err(e @ JournalError::Unreadable { .. }) if e.to_string().contains("line 1 is unreadable"))
        );
    }

    /// A journal under `dir` with one change begun, then `tail` appended as a write that
    /// stopped before its '\n'; its path.
    fn begun_then_torn(dir: &Path, tail: &[u8]) -> PathBuf {
        let path = {
            let mut j = Journal::open(dir, &sc("t")).unwrap();
            j.begin(&sc("t"), &spec(None), &spec(Some("x"))).unwrap();
            j.path().to_path_buf()
        };
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(tail).unwrap();
        path
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = begun_then_torn(dir.path(), b"{\"op\":\"end\",\"se");
        let (pending, _) = read_pending(&path).unwrap();
        assert_eq!(pending.len(), 1);
        // The next run appends after the cut, on a line of its own: nothing is lost.
        let mut j = Journal::open(dir.path(), &sc("t")).unwrap();
        j.begin(&sc("t"), &spec(Some("x")), &spec(Some("y")))
            .unwrap();
        drop(j);
        let (pending, _) = read_pending(&path).unwrap();
        assert_eq!(pending.len(), 2);
    }

    #[test]
    fn a_last_line_without_its_newline_is_torn_even_when_it_parses() {
        let dir = tempfile::tempdir().unwrap();
        // A complete `end` record whose '\n' never reached the disk: the open that reads it
        // cuts it, so it must not end the change in memory either.
        let path = begun_then_torn(
            dir.path(),
            b"{\"v\":2,\"op\":\"end\",\"seq\":1,\"outcome\":\"applied\"}",
        );
        let j = Journal::open(dir.path(), &sc("t")).unwrap();
        assert_eq!(j.pending().len(), 1, "in memory");
        drop(j);
        let (pending, _) = read_pending(&path).unwrap();
        assert_eq!(pending.len(), 1, "on disk, after the cut");
    }

    #[test]
    fn compact_removes_a_finished_journal() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), &sc("t")).unwrap();
        let s = j.begin(&sc("t"), &spec(None), &spec(Some("x"))).unwrap();
        j.end(s, EndOutcome::Applied).unwrap();
        j.compact().unwrap();
        assert!(!j.path().exists());
    }

    /// Lines exactly as format 1 wrote them (no `v`, outcomes as text): an apply left
    /// pending by the earlier build is still found, and one it ended is not.
    #[test]
    fn a_format_1_journal_is_read() {
        let old = serde_json::to_string(&spec(None)).unwrap();
        let new = serde_json::to_string(&spec(Some("x"))).unwrap();
        let begin = |seq: u64| {
            format!(
                "{{\"op\":\"begin\",\"seq\":{seq},\"target\":\"sc://a:1\",\"old\":{old},\"new\":{new},\"pid\":7,\"unix_ms\":1}}\n"
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let path = Journal::path_for(dir.path(), &sc("a:1"));
        let mut text = begin(1) + &begin(2) + &begin(3);
        text += "{\"op\":\"end\",\"seq\":1,\"outcome\":\"rolled_back\"}\n";
        text += "{\"op\":\"end\",\"seq\":3,\"outcome\":\"verify_failed\"}\n";
        std::fs::write(&path, text).unwrap();

        let mut j = Journal::open(dir.path(), &sc("a:1")).unwrap();
        let pending: Vec<u64> = j.pending().iter().map(|p| p.seq).collect();
        assert_eq!(pending, [2]);
        assert_eq!(j.pending()[0].new, spec(Some("x")));
        // The next line is written in the current format, after the old ones.
        j.end(2, EndOutcome::Recovered).unwrap();
        let last = std::fs::read_to_string(&path).unwrap();
        let last: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
        assert_eq!(
            last,
            serde_json::json!({"v": FORMAT_VERSION, "op": "end", "seq": 2, "outcome": "recovered"})
        );
        assert!(read_pending(&path).unwrap().0.is_empty());
    }

    #[test]
    fn a_batch_of_begins_is_pending_across_opens_and_ends_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (spec(None), spec(Some("x")), spec(Some("y")));
        let path = {
            let mut j = Journal::open(dir.path(), &sc("a:1")).unwrap();
            let seqs = j
                .begin_batch(&sc("a:1"), &[(&a, &b), (&b, &c), (&a, &c)])
                .unwrap();
            assert_eq!(seqs, [1, 2, 3]);
            // An end is written at once (not buffered): a killed process loses none.
            j.end(2, EndOutcome::Skipped).unwrap();
            let (pending, _) = read_pending(j.path()).unwrap();
            assert_eq!(pending.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 3]);
            // compact keeps a journal with pending changes.
            j.compact().unwrap();
            assert!(j.path().exists());
            j.path().to_path_buf()
        };
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        let mut j = Journal::open(dir.path(), &sc("a:1")).unwrap();
        let pending: Vec<(u64, SpuSpec, SpuSpec)> = j
            .pending()
            .iter()
            .map(|p| (p.seq, p.old.clone(), p.new.clone()))
            .collect();
        assert_eq!(pending, [(1, a.clone(), b), (3, a.clone(), c.clone())]);
        assert_eq!(j.begin(&sc("a:1"), &a, &c).unwrap(), 4);
        assert!(j.begin_batch(&sc("a:1"), &[]).unwrap().is_empty());
    }

    #[test]
    fn a_newer_format_is_refused() {
        let read = read_text("{\"v\":99,\"op\":\"end\",\"seq\":1,\"outcome\":\"applied\"}\n");
        assert!(matches!(read, Err(JournalError::Newer { version: 99, .. })));
    }

    /// A begin line recovery must not act on: another kind of change, or a number that
    /// cannot be counted on from. Written by the journal itself, then read back.
    #[test]
    fn a_begin_that_is_not_a_local_endpoint_change_is_refused() {
        let (a, b) = (spec(None), spec(Some("b")));
        let mut moved = b.clone();
        moved.id = 7777;
        let mut managed = a.clone();
        managed.kind = SpuKind::Managed;
        let mut same = a.clone();
        same.rack = Some("r".into());
        let line_of = |old: &SpuSpec, new: &SpuSpec| {
            let (dir, cluster) = (tempfile::tempdir().unwrap(), sc("a:1"));
            let mut j = Journal::open(dir.path(), &cluster).unwrap();
            j.begin(&cluster, old, new).unwrap();
            std::fs::read_to_string(j.path()).unwrap()
        };
        for (old, new) in [
            (&a, &moved),
            (&managed, &managed.with_local(b.local.clone())),
            (&a, &same),
            (&a, &a),
        ] {
            let read = read_text(&line_of(old, new));
            assert!(
                matches!(read, Err(JournalError::NotAChange { line: 1, why, .. }) if why.contains("not a local-endpoint change")),
                "{old:?} -> {new:?}: {read:?}"
            );
        }
        let text = line_of(&a, &b);
        assert!(read_text(&text).is_ok());
        let huge = text.replacen("\"seq\":1,", &format!("\"seq\":{},", u64::MAX), 1);
        assert_ne!(huge, text);
        let read = read_text(&huge);
        assert!(
            matches!(read, Err(JournalError::NotAChange { why, .. }) if why.contains("out of range")),
            "{read:?}"
        );
    }
}
