//! The built-in zfs plugin, mounted at `/api/zfs`.

pub mod parse;
