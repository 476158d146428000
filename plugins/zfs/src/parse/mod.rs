//! Pure parsers of the ZFS tools' outputs (OpenZFS 2.x text and JSON, and zfs-fuse), unit
//! tested on `tests/fixtures/zfs`.
