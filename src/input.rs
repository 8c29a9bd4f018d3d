//! Reading the tool's input files with a size cap: zone files, saved plans, journals and
//! the metadata directory's SPU files.
//!
//! Every reader goes through [`read`] (or [`check_dir`], for files a Fluvio library reads
//! itself), so no input can make the tool read without end or wait forever:
//! - at most `cap + 1` bytes are read, whatever the file is: a regular file whose size is
//!   over the cap is refused before reading, and a device (`/dev/zero`) or a pipe that does
//!   not end is refused once it has given more than the cap;
//! - the file is opened with `O_NONBLOCK`, so opening a named pipe (FIFO) that has no writer
//!   returns at once instead of waiting for one; reads then block as usual (the flag is
//!   cleared), so a pipe whose writer is attached (`-f <(generate-zone)`) is read to its
//!   end. A pipe that gives nothing at all (no writer was attached when it was opened) is
//!   an error, not an empty file;
//! - journals and metadata files must be regular files: both are files the tool (or the
//!   SC) also writes, so a pipe or a device there is a mistake, never an input.
//!
//! Errors are `std::io::Error`s whose text names the file, its size (or that it gave more
//! than the cap) and the cap, so each caller keeps its own error type and exit code.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// What a kind of input may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The kind of input, as named in errors ("zone file").
    pub what: &'static str,
    /// The largest accepted size, in bytes.
    pub cap: u64,
    /// Refuse anything but a regular file (pipes, devices, sockets).
    pub regular_only: bool,
}

const MIB: u64 = 1 << 20;

/// Zone files: a 10,000-SPU file is about 0.5 MiB.
pub const ZONE_FILE: Limit = Limit {
    what: "zone file",
    cap: 16 * MIB,
    regular_only: false,
};

/// Saved plans (`plan --out`): a plan changing 10,000 SPUs is about 13 MiB (1.3 KiB a change).
pub const SAVED_PLAN: Limit = Limit {
    what: "saved plan",
    cap: 128 * MIB,
    regular_only: false,
};

/// Journals: an apply of 10,000 SPUs writes about 7 MiB (0.7 KiB an SPU) before it
/// compacts the file.
pub const JOURNAL: Limit = Limit {
    what: "journal",
    cap: 128 * MIB,
    regular_only: true,
};

/// One SPU's file in a metadata directory (`SPU/<name>.yaml`): about 1 KiB.
pub const METADATA_FILE: Limit = Limit {
    what: "metadata file",
    cap: MIB,
    regular_only: true,
};

/// The fluvio config (`$FLV_PROFILE_PATH`, `~/.fluvio/config`): a few KiB, more with
/// certificates inline.
pub const FLUVIO_CONFIG: Limit = Limit {
    what: "fluvio config",
    cap: 4 * MIB,
    regular_only: true,
};

impl Limit {
    fn too_large(&self, path: &Path, size: Option<u64>) -> io::Error {
        let cap = self.cap;
        let shown = if cap.is_multiple_of(MIB) {
            format!("{} MiB", cap / MIB)
        } else {
            format!("{cap} bytes")
        };
        let message = match size {
            Some(size) => format!(
                "{} is {size} bytes, over the {shown} ({cap} bytes) limit for a {}",
                path.display(),
                self.what
            ),
            None => format!(
                "{} gave more than the {shown} ({cap} bytes) limit for a {}; reading stopped there",
                path.display(),
                self.what
            ),
        };
        io::Error::new(io::ErrorKind::FileTooLarge, message)
    }

    fn not_regular(&self, path: &Path, kind: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {kind}, not a regular file; a {} must be a regular file",
                path.display(),
                self.what
            ),
        )
    }
}

/// What a file is, for messages.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_fifo() {
        "a pipe"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Clears `O_NONBLOCK` (set only so that opening a pipe without a writer cannot wait).
fn set_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function borrows from an open `File`; GETFL and
    // SETFL read and set status flags only and touch no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads a whole input file, refusing one over `limit` (see the module doc).
pub fn read(path: &Path, limit: &Limit) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    let file_type = meta.file_type();
    let regular = file_type.is_file();
    if !regular && limit.regular_only {
        return Err(limit.not_regular(path, kind_of(file_type)));
    }
    if regular && meta.len() > limit.cap {
        return Err(limit.too_large(path, Some(meta.len())));
    }
    set_blocking(&file)?;
    let mut bytes = Vec::with_capacity(if regular {
        meta.len().min(limit.cap) as usize
    } else {
        0
    });
    // One byte more than the cap tells a file at the cap from one over it (a regular file
    // can also grow after its size was read).
    file.take(limit.cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit.cap {
        return Err(limit.too_large(path, None));
    }
    if bytes.is_empty() && file_type.is_fifo() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{} is a pipe that gave nothing to read: no writer was attached when it was opened, or it closed without writing",
                path.display()
            ),
        ));
    }
    Ok(bytes)
}

/// Reads a whole input file as UTF-8 text, refusing one over `limit`.
pub fn read_to_string(path: &Path, limit: &Limit) -> io::Result<String> {
    String::from_utf8(read(path, limit)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not valid UTF-8 text", path.display()),
        )
    })
}

/// Checks the file at `path` against `limit` without opening it, for a file another library
/// opens and reads whole (the fluvio client's config). A file that does not exist passes:
/// the reader says so in its own words.
pub fn check_file(path: &Path, limit: &Limit) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) => check_meta(path, &meta, limit),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(cannot_read(path, e)),
    }
}

fn cannot_read(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
}

/// Another library's reader opens the file blocking and reads it to its end: it must be a
/// regular file, whatever the limit allows the tool's own reads, and within the cap.
fn check_meta(path: &Path, meta: &std::fs::Metadata, limit: &Limit) -> io::Result<()> {
    if !meta.is_file() {
        return Err(limit.not_regular(path, kind_of(meta.file_type())));
    }
    if meta.len() > limit.cap {
        return Err(limit.too_large(path, Some(meta.len())));
    }
    Ok(())
}

/// Checks every `*.<extension>` file in `dir` (following symbolic links, as a reader
/// opening them would) against `limit`, for files that another library opens and reads
/// whole: Fluvio's metadata store opens each SPU file with a blocking open and reads it to
/// its end. A directory that does not exist passes (the store creates it).
///
/// A file swapped between this check and the read is not caught: the directory is a
/// stopped cluster's own, on this machine.
pub fn check_dir(dir: &Path, extension: &str, limit: &Limit) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != extension) {
            continue;
        }
        // Listed, so a file that cannot be looked at (a dangling link) is an error here.
        let meta = std::fs::metadata(&path).map_err(|e| cannot_read(&path, e))?;
        check_meta(&path, &meta, limit)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limit = Limit {
        what: "test file",
        cap: 8,
        regular_only: false,
    };

    fn fifo(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("fifo");
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        path
    }

    #[test]
    fn a_file_at_the_cap_is_read_and_one_over_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("at");
        std::fs::write(&at, b"12345678").unwrap();
        assert_eq!(read(&at, &SMALL).unwrap(), b"12345678");
        let over = dir.path().join("over");
        std::fs::write(&over, b"123456789").unwrap();
        let err = read(&over, &SMALL).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        let text = err.to_string();
        assert!(text.contains(&*over.to_string_lossy()), "{text}");
        assert!(text.contains("is 9 bytes"), "{text}");
        assert!(text.contains("(8 bytes) limit for a test file"), "{text}");
    }

    #[test]
    fn a_device_that_never_ends_is_read_to_the_cap_only() {
        let err = read(Path::new("/dev/zero"), &SMALL).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert!(
            err.to_string().contains("/dev/zero gave more than"),
            "{err}"
        );
    }

    #[test]
    fn a_pipe_without_a_writer_is_an_error_not_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = fifo(dir.path());
        let err = read(&path, &SMALL).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            err.to_string().contains("is a pipe that gave nothing"),
            "{err}"
        );
    }

    #[test]
    fn a_pipe_with_a_writer_is_read_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = fifo(dir.path());
        // A reader that never reads keeps the pipe (and what is written to it) alive, and
        // lets the writer open without waiting; the writer is attached before the read, as
        // with `-f <(cmd)`, and whichever runs first, the read gets every byte and then
        // the end at the writer's close.
        let keep_open = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        let mut writer = OpenOptions::new().write(true).open(&path).unwrap();
        let reader = std::thread::spawn({
            let path = path.clone();
            move || read(&path, &SMALL)
        });
        std::io::Write::write_all(&mut writer, b"abcde").unwrap();
        drop(writer);
        assert_eq!(reader.join().unwrap().unwrap(), b"abcde");
        drop(keep_open);
    }

    #[test]
    fn journals_and_metadata_files_must_be_regular() {
        let regular = Limit {
            regular_only: true,
            ..SMALL
        };
        let err = read(Path::new("/dev/zero"), &regular).unwrap_err();
        assert!(
            err.to_string()
                .contains("/dev/zero is a character device, not a regular file"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = fifo(dir.path());
        let err = read(&path, &regular).unwrap_err();
        assert!(
            err.to_string().contains("is a pipe, not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn check_dir_refuses_an_oversized_or_irregular_file_of_the_extension_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), b"small").unwrap();
        std::fs::write(dir.path().join("big.txt"), b"123456789").unwrap();
        assert!(check_dir(dir.path(), "yaml", &SMALL).is_ok());
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("z.yaml")).unwrap();
        let err = check_dir(dir.path(), "yaml", &SMALL).unwrap_err();
        assert!(
            err.to_string().contains("z.yaml is a character device"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("z.yaml")).unwrap();
        std::fs::write(dir.path().join("big.yaml"), b"123456789").unwrap();
        let err = check_dir(dir.path(), "yaml", &SMALL).unwrap_err();
        assert!(err.to_string().contains("big.yaml is 9 bytes"), "{err}");
        assert!(check_dir(&dir.path().join("missing"), "yaml", &SMALL).is_ok());
    }
}
