//! The name patterns of path parameters and body fields (checked by the host before a
//! handler runs: a hostile name is a 422), and the full ZFS naming rules checked again in
//! the handler. Nested names arrive percent-encoded in one path segment (`tank%2Fapp`).

use infrastructor_sdk::prelude::*;

use crate::parse::names;

/// A pool name.
pub const POOL_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9_.:-]{0,254}$";
/// A dataset (filesystem, volume or clone): the pool, then `/component`s that do not start
/// with `.` (so `.`/`..` never pass).
pub const DATASET_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*$";
/// A full snapshot name, `dataset@name`.
pub const SNAPSHOT_PATTERN: &str =
    r"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*@[A-Za-z0-9_:][A-Za-z0-9_.:-]*$";
/// The short name of a snapshot (after `@`).
pub const SNAPSHOT_SHORT_PATTERN: &str = r"^[A-Za-z0-9_:][A-Za-z0-9_.:-]{0,254}$";

/// A name the ZFS rules refuse. The patterns say everything but the pool names ZFS
/// reserves (`mirror…`, `log`, `c0…`): no pool can have one, so a name in one names
/// nothing that exists (404), as any other pool that does not exist.
fn bad(what: &str, name: &str, why: String) -> Error {
    if why.contains("reserved") {
        return Error::not_found(format!("{what} `{name}` cannot exist: {why}"));
    }
    Error::bad_request(format!("{what} `{name}`: {why}"))
}

/// A pool name by ZFS's rules.
pub fn pool(name: &str) -> Result<&str, Error> {
    names::validate_pool(name).map_err(|e| bad("pool", name, e))?;
    Ok(name)
}

/// A dataset name by ZFS's rules.
pub fn dataset(name: &str) -> Result<&str, Error> {
    names::validate_dataset(name).map_err(|e| bad("dataset", name, e))?;
    Ok(name)
}

/// A full snapshot name (`dataset@snap`) by ZFS's rules.
pub fn snapshot(name: &str) -> Result<&str, Error> {
    names::validate_snapshot(name).map_err(|e| bad("snapshot", name, e))?;
    Ok(name)
}

/// The path parameter `name`, checked by `check`.
pub fn path<'a>(
    req: &'a Request,
    name: &str,
    check: fn(&str) -> Result<&str, Error>,
) -> Result<&'a str, Error> {
    let value = req.path(name)?;
    check(value)?;
    Ok(value)
}
