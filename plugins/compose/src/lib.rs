//! The compose plugin (work in progress).
