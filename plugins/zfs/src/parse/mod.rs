//! Pure parsers of the outputs of `zpool`, `zfs` and the ZFS kstats, for both OpenZFS 2.x
//! and the old zfs-fuse (pool version 23) the testbed runs.
//!
//! One module per command or format:
//!
//! * [`names`]: the ZFS naming rules (pools, datasets, snapshots, bookmarks), checked before
//!   a name goes on a command line;
//! * [`size`]: the numbers zfs prints (`-p` integers, `1.50G`, `45%`, `1.00x`);
//! * [`time`]: `creation` (epoch seconds with `-p`, `Wed Dec  2 07:44 2026` without) to
//!   RFC 3339;
//! * [`zpool_list`]: `zpool list -H [-p] -o …`, the plain `zpool list` table and
//!   `zpool list -j`;
//! * [`zfs_list`]: `zfs list -H [-p] -o …` for datasets and snapshots, and `zfs list -j`;
//! * [`zfs_get`]: `zfs get` / `zpool get` (`-H -o property,value,source`,
//!   `-o name,property,value,source`, the text table and `-j`);
//! * [`zpool_status`]: `zpool status [-v]` (OpenZFS `scan:` and the old `scrub:` form) and
//!   `zpool status -j`;
//! * [`arcstats`]: `/proc/spl/kstat/zfs/arcstats` (and the other `name type data` kstats);
//! * [`iostat`]: `zpool iostat [-v]`;
//! * [`diff`]: `zfs diff [-F]`.
//!
//! Every parser is a plain function from the command's text to typed, serde-serialisable
//! structs, unit-tested on the real outputs in `tests/fixtures/zfs`. A parser never panics
//! and never answers an empty success for output it does not understand: it returns a
//! [`ParseError`] naming the command (and the line, where there is one). Legitimately empty
//! output (no pools, no datasets) is an empty success.

pub mod arcstats;
mod common;
pub mod diff;
pub mod iostat;
pub mod names;
pub mod size;
pub mod time;
pub mod zfs_get;
pub mod zfs_list;
pub mod zpool_list;
pub mod zpool_status;

pub use infrastructor_sdk::text::ParseError;

#[cfg(test)]
mod tests;
