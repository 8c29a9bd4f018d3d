//! The streams a printer writes to and reads from: the process's stdout, stderr and stdin,
//! or writers and a scripted reader handed to it (`Streams::from_write`, as tests build
//! one). Also what the streams remember (the first write to stdout that failed), and the
//! task-local collection of [`collected`] and [`captured`].

use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock};

use super::progress::Slot;

/// What [`Streams::out_with`] hands its writer: a buffer over the stream (a concrete
/// type, so a serializer's many small writes are copies into the buffer, not calls).
pub type Buffered<'a> = std::io::BufWriter<&'a mut dyn Write>;

/// A printer's streams. Clones share them, with their state and progress bar.
#[derive(Clone)]
pub struct Streams(Arc<Inner>);

struct Inner {
    stdout: Mutex<Box<dyn Write + Send>>,
    stderr: Mutex<Box<dyn Write + Send>>,
    stdin: Mutex<Input>,
    /// The process's own streams (whether stderr and stdin are terminals is asked of them).
    process: bool,
    /// The first error a write to stdout met.
    stdout_error: OnceLock<std::io::ErrorKind>,
    /// The progress bar of the apply under way, if it shows one.
    progress: Slot,
}

/// Where the approval prompt reads its answer.
enum Input {
    /// The process's stdin: answers come only from a terminal.
    Process,
    /// Answers read from here, as from a terminal.
    Scripted(Box<dyn BufRead + Send>),
    /// No one to ask.
    Closed,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("process", &self.0.process)
            .finish_non_exhaustive()
    }
}

impl Streams {
    /// The process's stdout, stderr and stdin.
    pub fn process() -> Self {
        Self::build(
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            Input::Process,
            true,
        )
    }

    /// Writers for stdout and stderr and, when given, a reader that answers the approval
    /// prompt as a person at a terminal would (without one, no approval is given). No
    /// progress bar is drawn.
    pub fn from_write(
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
        stdin: Option<Box<dyn BufRead + Send>>,
    ) -> Self {
        let stdin = stdin.map_or(Input::Closed, Input::Scripted);
        Self::build(stdout, stderr, stdin, false)
    }

    fn build(
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
        stdin: Input,
        process: bool,
    ) -> Self {
        Streams(Arc::new(Inner {
            stdout: Mutex::new(stdout),
            stderr: Mutex::new(stderr),
            stdin: Mutex::new(stdin),
            process,
            stdout_error: OnceLock::new(),
            progress: Slot::default(),
        }))
    }

    /// Writes data to stdout (inside [`collected`], to what it keeps). A failed write (e.g.
    /// a closed pipe) is remembered, not fatal: an apply in progress must finish and verify
    /// its SPUs whoever stopped reading.
    pub(super) fn out(&self, text: &str) {
        if kept(&STDOUT_SINK, text) {
            return;
        }
        // (a panic caught elsewhere does not silence the output)
        let mut out = self.0.stdout.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            let _ = self.0.stdout_error.set(e.kind());
        }
    }

    /// Writes data to stdout as `write` produces it, through a buffer (inside
    /// [`collected`], whole to what it keeps); a failed write is remembered as by `out`.
    pub(super) fn out_with(&self, write: impl FnOnce(&mut Buffered<'_>) -> std::io::Result<()>) {
        if STDOUT_SINK.try_with(|_| ()).is_ok() {
            let mut text = Vec::new();
            let mut buffered = std::io::BufWriter::new(&mut text as &mut dyn Write);
            let written = write(&mut buffered).and_then(|()| buffered.flush());
            drop(buffered);
            self.out(&String::from_utf8_lossy(&text));
            if let Err(e) = written {
                let _ = self.0.stdout_error.set(e.kind());
            }
            return;
        }
        let mut out = self.0.stdout.lock().unwrap_or_else(|e| e.into_inner());
        let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut **out as &mut dyn Write);
        let written = write(&mut buffered).and_then(|()| buffered.flush());
        // After a failed write, what is left in the buffer is dropped, not tried again.
        let _ = buffered.into_parts();
        if let Err(e) = written.and_then(|()| out.flush()) {
            let _ = self.0.stdout_error.set(e.kind());
        }
    }

    /// Writes a diagnostic or progress line to stderr (inside [`captured`], to what it
    /// keeps). A failed write is ignored.
    pub(super) fn err(&self, text: &str) {
        if kept(&STDERR_SINK, text) {
            return;
        }
        let mut err = self.0.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
    }

    /// True when some output could not be written to stdout.
    pub fn stdout_failed(&self) -> bool {
        self.0.stdout_error.get().is_some()
    }

    /// True when the output stopped only because its reader went away (a closed pipe, as
    /// after `| head`), not for another error such as a full disk.
    pub fn stdout_reader_left(&self) -> bool {
        self.0.stdout_error.get() == Some(&std::io::ErrorKind::BrokenPipe)
    }

    /// True when stderr is a terminal (a progress bar can be drawn on it).
    pub(super) fn stderr_is_terminal(&self) -> bool {
        self.0.process && std::io::stderr().is_terminal()
    }

    /// True when someone can answer a prompt: stdin is a terminal, or a scripted reader.
    pub(super) fn can_ask(&self) -> bool {
        match self.0.stdin.lock().as_deref() {
            Ok(Input::Process) => std::io::stdin().is_terminal(),
            Ok(Input::Scripted(_)) => true,
            Ok(Input::Closed) | Err(_) => false,
        }
    }

    /// One line of answer (empty at the end of input).
    pub(super) fn read_line(&self) -> std::io::Result<String> {
        let mut answer = String::new();
        let mut stdin = self
            .0
            .stdin
            .lock()
            .map_err(|_| std::io::Error::other("the prompt's input was poisoned"))?;
        match &mut *stdin {
            Input::Process => std::io::stdin().lock().read_line(&mut answer)?,
            Input::Scripted(reader) => reader.read_line(&mut answer)?,
            Input::Closed => 0,
        };
        Ok(answer)
    }

    pub(super) fn progress(&self) -> &Slot {
        &self.0.progress
    }
}

/// A writer into memory whose clones share what was written: hand one to
/// [`Streams::from_write`] and read it back with [`Buffer::text`].
#[derive(Debug, Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    /// What was written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("the buffer was poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

tokio::task_local! {
    /// Where stdout goes inside [`collected`]: one file's part of a run of several, kept
    /// to be printed in the order the files were given.
    static STDOUT_SINK: std::cell::RefCell<String>;
}

tokio::task_local! {
    /// Where stderr goes inside [`captured`].
    static STDERR_SINK: std::cell::RefCell<String>;
}

/// True when `text` went to the task's sink, as one is set.
fn kept(sink: &'static tokio::task::LocalKey<std::cell::RefCell<String>>, text: &str) -> bool {
    sink.try_with(|sink| sink.borrow_mut().push_str(text))
        .is_ok()
}

/// Runs `work` with what every printer writes to stdout kept instead of printed; returns
/// its result and what it printed. Stderr (progress, notes, diagnostics) goes out as it
/// comes.
pub async fn collected<T>(work: impl std::future::Future<Output = T>) -> (T, String) {
    STDOUT_SINK
        .scope(std::cell::RefCell::new(String::new()), async {
            let result = work.await;
            let kept = STDOUT_SINK.with(|sink| sink.take());
            (result, kept)
        })
        .await
}

/// Runs `work` with both its stdout and its stderr kept instead of printed (the reconcile
/// agent logs what an apply it runs would have printed); returns its result, its stdout
/// and its stderr.
pub async fn captured<T>(work: impl std::future::Future<Output = T>) -> (T, String, String) {
    STDERR_SINK
        .scope(std::cell::RefCell::new(String::new()), async {
            let (result, out) = collected(work).await;
            let err = STDERR_SINK.with(|sink| sink.take());
            (result, out, err)
        })
        .await
}

/// Writes a line to the process's stderr (inside [`captured`], to what it keeps): for
/// output written where no printer is at hand (the reconcile agent's restart commands,
/// through `hook::forward_output`).
pub fn stderr(text: &str) {
    if kept(&STDERR_SINK, text) {
        return;
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
