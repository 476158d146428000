//! Programs the testbed needs: found on `PATH` (plus the `sbin` directories, which a CI
//! runner's `PATH` may lack), or a failing test naming the Debian package to install.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Directories searched after `PATH`.
const EXTRA_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The full path of `program` (searched on `PATH`, then in the `sbin` directories), if it
/// exists and is executable.
pub fn find(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The full path of `program`.
///
/// # Panics
/// When `program` is missing, with a message naming `debian_package` (for example "needs
/// `sshd` (Debian package openssh-server): run scripts/install-testbed"). A test that needs
/// an absent tool fails; it is never skipped silently.
pub fn require(program: &str, debian_package: &str) -> PathBuf {
    find(program).unwrap_or_else(|| {
        panic!(
            "the testbed needs `{program}` (Debian package {debian_package}), which is not \
             installed: run scripts/install-testbed"
        )
    })
}

/// Like [`require`], but prefers `preferred` (an absolute path, e.g. the Debian package's own
/// copy when another version sits earlier on `PATH`) when it exists.
pub fn require_preferring(preferred: &str, program: &str, debian_package: &str) -> PathBuf {
    let preferred = PathBuf::from(preferred);
    if is_executable(&preferred) {
        preferred
    } else {
        require(program, debian_package)
    }
}
