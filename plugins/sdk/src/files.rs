//! Reading files from the directories the operator granted the plugin (`read-dir` grants).
//!
//! A guest built for `wasm32-unknown-unknown`, without WASI's standard library (as the plugin
//! builder builds every built-in), has no working `std::fs`, so a plugin that reads files
//! does it here; it works the same in a `wasm32-wasip2` guest. In a guest these are the WASI filesystem
//! imports (`wasi:filesystem/preopens`, `wasi:filesystem/types`), which only a guest calling
//! them imports; the host opens each granted directory read-only at the guest path the
//! grant names, and nothing else exists. Natively (unit tests) they are the real files.
//!
//! Paths are absolute guest paths (`/import/ssh_config`); symbolic links are followed
//! inside the granted directory only (the host refuses a way out).

/// Why a file or directory could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// Nothing exists at the path (or it is outside every granted directory, or the name
    /// cannot be one: too long, not valid for the filesystem).
    NotFound,
    /// The path is not a regular file (a directory, a device, a socket…).
    NotAFile,
    /// The path is not a directory.
    NotADirectory,
    /// The file is larger than the caller's limit (bytes).
    TooLarge(u64),
    /// The file is not UTF-8 text.
    NotUtf8,
    /// Any other failure, as the host reported it.
    Other(String),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such file or directory"),
            Self::NotAFile => f.write_str("not a regular file"),
            Self::NotADirectory => f.write_str("not a directory"),
            Self::TooLarge(max) => write!(f, "larger than {max} bytes"),
            Self::NotUtf8 => f.write_str("not UTF-8 text"),
            Self::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for FileError {}

/// The text of the regular file at `path`, refused without reading it when it is larger
/// than `max_bytes`.
pub fn read_text(path: &str, max_bytes: u64) -> Result<String, FileError> {
    let bytes = imp::read(path, max_bytes)?;
    String::from_utf8(bytes).map_err(|_| FileError::NotUtf8)
}

/// The names of the entries of the directory at `path`, in no particular order (`.` and
/// `..` excluded).
pub fn list_dir(path: &str) -> Result<Vec<String>, FileError> {
    imp::list(path)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::FileError;
    use wasip2::filesystem::preopens::get_directories;
    use wasip2::filesystem::types::{
        Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
    };

    /// The most one host read returns.
    const CHUNK: u64 = 64 * 1024;

    impl From<ErrorCode> for FileError {
        fn from(code: ErrorCode) -> Self {
            match code {
                ErrorCode::NoEntry
                | ErrorCode::NameTooLong
                | ErrorCode::IllegalByteSequence
                | ErrorCode::Invalid => FileError::NotFound,
                ErrorCode::IsDirectory => FileError::NotAFile,
                ErrorCode::NotDirectory => FileError::NotADirectory,
                other => FileError::Other(other.message().to_owned()),
            }
        }
    }

    /// Opens `path` under the granted directory that holds it.
    fn open(path: &str, flags: OpenFlags) -> Result<Descriptor, FileError> {
        for (dir, name) in get_directories() {
            let name = name.trim_end_matches('/');
            let rest = if path == name {
                Some(".")
            } else {
                path.strip_prefix(name)
                    .and_then(|r| r.strip_prefix('/'))
                    .map(|r| r.trim_start_matches('/'))
                    .map(|r| if r.is_empty() { "." } else { r })
            };
            if let Some(rest) = rest {
                return Ok(dir.open_at(
                    PathFlags::SYMLINK_FOLLOW,
                    rest,
                    flags,
                    DescriptorFlags::READ,
                )?);
            }
        }
        Err(FileError::NotFound)
    }

    pub(super) fn read(path: &str, max_bytes: u64) -> Result<Vec<u8>, FileError> {
        let file = open(path, OpenFlags::empty())?;
        let stat = file.stat()?;
        if stat.type_ != DescriptorType::RegularFile {
            return Err(FileError::NotAFile);
        }
        if stat.size > max_bytes {
            return Err(FileError::TooLarge(max_bytes));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(stat.size).unwrap_or(0));
        loop {
            let offset = bytes.len() as u64;
            // One byte past the limit tells a file that grew since its `stat`.
            let want = max_bytes
                .saturating_add(1)
                .saturating_sub(offset)
                .min(CHUNK);
            let (chunk, end) = file.read(want, offset)?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Err(FileError::TooLarge(max_bytes));
            }
            if end || chunk.is_empty() {
                return Ok(bytes);
            }
        }
    }

    pub(super) fn list(path: &str) -> Result<Vec<String>, FileError> {
        let dir = open(path, OpenFlags::DIRECTORY)?;
        let entries = dir.read_directory()?;
        let mut names = Vec::new();
        while let Some(entry) = entries.read_directory_entry()? {
            if entry.name != "." && entry.name != ".." {
                names.push(entry.name);
            }
        }
        Ok(names)
    }
}

// Native only (unit tests): real files, which the guests' ban on `std::fs` is not about.
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::disallowed_methods)]
mod imp {
    use super::FileError;
    use std::io::{ErrorKind, Read};

    fn classify(e: std::io::Error) -> FileError {
        match e.kind() {
            ErrorKind::NotFound | ErrorKind::InvalidFilename => FileError::NotFound,
            ErrorKind::IsADirectory => FileError::NotAFile,
            ErrorKind::NotADirectory => FileError::NotADirectory,
            _ => FileError::Other(e.to_string()),
        }
    }

    pub(super) fn read(path: &str, max_bytes: u64) -> Result<Vec<u8>, FileError> {
        let file = std::fs::File::open(path).map_err(classify)?;
        let meta = file.metadata().map_err(classify)?;
        if !meta.is_file() {
            return Err(FileError::NotAFile);
        }
        if meta.len() > max_bytes {
            return Err(FileError::TooLarge(max_bytes));
        }
        let mut bytes = Vec::new();
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(classify)?;
        if bytes.len() as u64 > max_bytes {
            return Err(FileError::TooLarge(max_bytes));
        }
        Ok(bytes)
    }

    pub(super) fn list(path: &str) -> Result<Vec<String>, FileError> {
        let entries = std::fs::read_dir(path).map_err(classify)?;
        Ok(entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "infrastructor-sdk-files-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn reads_text_within_the_limit_and_refuses_the_rest() {
        let dir = scratch("read");
        std::fs::write(dir.join("a"), "Host x\n").expect("write");
        std::fs::write(dir.join("bin"), [0xff, 0xfe]).expect("write");
        let path = |n: &str| dir.join(n).to_string_lossy().into_owned();
        assert_eq!(read_text(&path("a"), 7), Ok("Host x\n".to_owned()));
        assert_eq!(read_text(&path("a"), 6), Err(FileError::TooLarge(6)));
        assert_eq!(read_text(&path("a"), u64::MAX), Ok("Host x\n".to_owned()));
        assert_eq!(read_text(&path("bin"), 10), Err(FileError::NotUtf8));
        assert_eq!(read_text(&path("missing"), 10), Err(FileError::NotFound));
        assert_eq!(
            read_text(&dir.to_string_lossy(), 10),
            Err(FileError::NotAFile)
        );
        let mut names = list_dir(&dir.to_string_lossy()).expect("list");
        names.sort();
        assert_eq!(names, ["a", "bin"]);
        assert_eq!(list_dir(&path("a")), Err(FileError::NotADirectory));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
