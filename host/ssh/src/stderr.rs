//! A remote command's stderr as it arrives: the wrapper every command runs under prints the
//! command's process group first, on a marker line (see [`crate::command`]); that line is
//! split off here, so what is kept is the command's own stderr, and a command given up on
//! can still be stopped by its group.

use crate::command::take_pgid;

/// Stderr bytes of one command, with its process group once the marker line was seen.
#[derive(Debug, Default)]
pub(crate) struct RemoteStderr {
    bytes: Vec<u8>,
    /// True once the first line (or more than 64 bytes) arrived: the marker, when there
    /// is one, has been split off, and every later byte is the command's own.
    marker_seen: bool,
    pgid: Option<u32>,
}

impl RemoteStderr {
    /// Appends `data`, splitting off the process-group marker line when it comes first.
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if !self.marker_seen && (self.bytes.contains(&b'\n') || self.bytes.len() > 64) {
            self.marker_seen = true;
            self.split_marker();
        }
    }

    /// At the command's end: a marker still pending (stderr shorter than a line) is split
    /// off too.
    pub(crate) fn settle(&mut self) {
        if !self.marker_seen {
            self.split_marker();
        }
    }

    fn split_marker(&mut self) {
        let (found, rest) = take_pgid(&self.bytes);
        if let Some(n) = found {
            self.pgid = Some(n);
            self.bytes = rest.to_vec();
        }
    }

    /// True once the marker line (or what stands in its place) has been read.
    pub(crate) fn marker_seen(&self) -> bool {
        self.marker_seen
    }

    /// The command's process group, once its marker was read.
    pub(crate) fn pgid(&self) -> Option<u32> {
        self.pgid
    }

    /// Bytes of the command's own stderr held.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when no stderr of the command's own is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Takes the held bytes, leaving none (the marker state stays).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    /// The held bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_line_is_split_off_even_when_it_arrives_in_pieces() {
        let mut stderr = RemoteStderr::default();
        stderr.push(b"__infra_pgid=42");
        assert!(!stderr.marker_seen());
        stderr.push(b"17\nboom\n");
        assert!(stderr.marker_seen());
        assert_eq!(stderr.pgid(), Some(4217));
        assert_eq!(stderr.into_bytes(), b"boom\n");
    }

    #[test]
    fn a_marker_without_its_newline_is_split_off_at_the_end() {
        let mut stderr = RemoteStderr::default();
        stderr.push(b"__infra_pgid=9");
        stderr.settle();
        assert_eq!(stderr.pgid(), Some(9));
        assert!(stderr.is_empty());
    }

    #[test]
    fn stderr_without_a_marker_is_kept_whole() {
        let mut stderr = RemoteStderr::default();
        stderr.push(b"plain error\nmore\n");
        stderr.settle();
        assert_eq!(stderr.pgid(), None);
        assert_eq!(stderr.len(), 17);
        assert_eq!(stderr.take(), b"plain error\nmore\n");
        assert!(stderr.is_empty());
    }
}
