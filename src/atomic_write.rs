//! Writing a whole file so that a reader sees the old text or the new one, never part of
//! either: a temp file in the target's directory, fsynced, renamed over the target, and
//! the directory fsynced so that the rename survives a crash.

use std::io::Write;
use std::path::{Path, PathBuf};

/// What to do when the target exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it (through a symlink: its target), keeping its permissions.
    Replace,
    /// Leave it alone: the write fails with `ErrorKind::AlreadyExists`. The check and the
    /// rename are one step, so a file that appears in between is not replaced either.
    Refuse,
}

/// Writes `bytes` to `path`. A new file gets `mode` (less the umask); an existing one that
/// is replaced keeps its own permissions.
pub fn write(path: &Path, bytes: &[u8], existing: Existing, mode: u32) -> std::io::Result<()> {
    let (target, permissions) = match std::fs::canonicalize(path) {
        Ok(_) if existing == Existing::Refuse => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the file exists",
            ))
        }
        Ok(target) => {
            let metadata = std::fs::metadata(&target)?;
            if !metadata.is_file() {
                // A device, a pipe or a terminal (`--out /dev/stdout`): written to, never
                // replaced by a regular file (which a rename would do, as root, to /dev/null).
                return std::fs::write(&target, bytes);
            }
            (target, Some(metadata.permissions()))
        }
        // No file there (or a symlink to nothing, which a rename replaces).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (path.to_path_buf(), None),
        Err(e) => return Err(e),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder.tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    if let Some(permissions) = permissions {
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.as_file().sync_all()?;
    match existing {
        Existing::Replace => tmp.persist(&target).map(drop).map_err(|e| e.error)?,
        Existing::Refuse => tmp
            .persist_noclobber(&target)
            .map(drop)
            .map_err(|e| e.error)?,
    }
    // The rename is durable once the directory is.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_device_is_written_to_not_replaced() {
        // /dev/null stays the device it is (as root, a rename would replace it)
        write(Path::new("/dev/null"), b"gone", Existing::Replace, 0o644).unwrap();
        let null = std::fs::metadata("/dev/null").unwrap();
        assert!(!null.is_file(), "still a device");
        // a pipe gets the bytes
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write(&fifo, b"through", Existing::Replace, 0o644).unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
        assert_eq!(names(dir.path()), ["fifo"]);
    }

    #[test]
    fn a_new_file_an_existing_one_and_a_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        write(&path, b"one", Existing::Refuse, 0o644).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        let refused = write(&path, b"two", Existing::Refuse, 0o644).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"one", "left alone");
        write(&path, b"two", Existing::Replace, 0o644).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["config"], "no temp file is left");
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_kept_and_a_symlink_is_written_through() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write(&link, b"new", Existing::Replace, 0o600).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // A symlink to nothing counts as a file there for a refusal.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).unwrap();
        let refused = write(&dangling, b"x", Existing::Refuse, 0o644).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::AlreadyExists);
    }
}
