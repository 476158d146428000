//! Identity (private key) files: only regular files of at most [`MAX_IDENTITY_BYTES`] inside
//! the allowed key directories, opened without blocking (a FIFO or a device node never
//! stalls a thread) and read on a blocking thread, never on the async runtime.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Largest identity file read.
pub const MAX_IDENTITY_BYTES: u64 = 64 * 1024;

/// Why an identity file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// It does not exist or cannot be resolved.
    #[error("`{0}` does not exist or cannot be opened")]
    Missing(String),
    /// It resolves outside every allowed key directory.
    #[error("`{path}` is outside the allowed key directories ({allowed})")]
    OutsideDirs {
        /// The path as given.
        path: String,
        /// The allowed directories.
        allowed: String,
    },
    /// It is not a regular file (a directory, FIFO, socket or device).
    #[error("`{0}` is not a regular file")]
    NotAFile(String),
    /// It is larger than [`MAX_IDENTITY_BYTES`].
    #[error("`{0}` is larger than {MAX_IDENTITY_BYTES} bytes")]
    TooLarge(String),
}

/// The allowed directories, canonicalised (those that do not exist are dropped).
pub fn canonical_dirs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    dirs.iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .collect()
}

/// Checks `path` against `dirs` (already canonical) and reads it: blocking, call it from a
/// blocking thread. The file is opened with `O_NONBLOCK` and checked on the open descriptor,
/// so swapping it for a FIFO between the check and the read changes nothing.
pub fn read_identity(path: &Path, dirs: &[PathBuf]) -> Result<String, IdentityError> {
    let (file, shown) = open_checked(path, dirs)?;
    let mut text = String::new();
    file.take(MAX_IDENTITY_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|_| IdentityError::NotAFile(shown.clone()))?;
    if text.len() as u64 > MAX_IDENTITY_BYTES {
        return Err(IdentityError::TooLarge(shown));
    }
    Ok(text)
}

/// The checks of [`read_identity`] without reading the key: what a device's
/// `ssh_identity_file` must pass when it is registered. Blocking, like [`read_identity`].
pub fn check_identity(path: &Path, dirs: &[PathBuf]) -> Result<(), IdentityError> {
    open_checked(path, dirs).map(|_| ())
}

/// Opens `path` without blocking and checks it on the open descriptor: inside `dirs`, a
/// regular file, at most [`MAX_IDENTITY_BYTES`]. Returns the file and its shown name.
fn open_checked(path: &Path, dirs: &[PathBuf]) -> Result<(std::fs::File, String), IdentityError> {
    let shown = path.display().to_string();
    let real = std::fs::canonicalize(path).map_err(|_| IdentityError::Missing(shown.clone()))?;
    if !dirs.iter().any(|d| real.starts_with(d)) {
        return Err(IdentityError::OutsideDirs {
            path: shown,
            allowed: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    const O_NONBLOCK: i32 = 0o4000;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(&real)
        .map_err(|_| IdentityError::Missing(shown.clone()))?;
    let meta = file
        .metadata()
        .map_err(|_| IdentityError::Missing(shown.clone()))?;
    if !meta.is_file() {
        return Err(IdentityError::NotAFile(shown));
    }
    if meta.len() > MAX_IDENTITY_BYTES {
        return Err(IdentityError::TooLarge(shown));
    }
    Ok((file, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_inside_the_allowed_dirs() {
        let dir = tempfile_dir();
        let key = dir.join("id_test");
        std::fs::write(&key, "-----BEGIN OPENSSH PRIVATE KEY-----\n").expect("write");
        let dirs = canonical_dirs(std::slice::from_ref(&dir));
        assert!(read_identity(&key, &dirs).is_ok());
        assert!(matches!(
            read_identity(Path::new("/etc/hostname"), &dirs),
            Err(IdentityError::OutsideDirs { .. })
        ));
        assert!(matches!(
            read_identity(&dir.join("missing"), &dirs),
            Err(IdentityError::Missing(_))
        ));
        let big = dir.join("big");
        std::fs::write(&big, vec![b'x'; (MAX_IDENTITY_BYTES + 1) as usize]).expect("write");
        assert!(matches!(
            read_identity(&big, &dirs),
            Err(IdentityError::TooLarge(_))
        ));
        assert!(matches!(
            read_identity(&dir, &dirs),
            Err(IdentityError::NotAFile(_))
        ));
        // A symlink from inside to a device node outside: resolved, then refused.
        let link = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
        assert!(matches!(
            read_identity(&link, &dirs),
            Err(IdentityError::OutsideDirs { .. })
        ));
        let dev_dirs = canonical_dirs(&[PathBuf::from("/dev")]);
        assert!(matches!(
            read_identity(Path::new("/dev/zero"), &dev_dirs),
            Err(IdentityError::NotAFile(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("infra-identity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }
}
