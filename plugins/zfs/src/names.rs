//! The name patterns of path parameters and body fields (checked by the host before a
//! handler runs: a hostile name is a 422), and the full ZFS naming rules checked again in
//! the handler. Nested names arrive percent-encoded in one path segment (`tank%2Fapp`).

use infrastructor_sdk::prelude::*;

use crate::parse::names::{self, NameError};

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
fn bad(what: &str, name: &str, why: NameError) -> Error {
    match why {
        NameError::Reserved(why) => {
            Error::not_found(format!("{what} `{name}` cannot exist: {why}"))
        }
        NameError::Invalid(why) => Error::bad_request(format!("{what} `{name}`: {why}")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_pool_names_name_nothing_and_other_bad_names_are_refused() {
        fn status(r: Result<&str, Error>) -> Result<&str, u16> {
            r.map_err(|e| e.status())
        }
        assert_eq!(status(pool("mirror0")), Err(404));
        assert_eq!(status(pool("c0t0d0")), Err(404));
        assert_eq!(status(dataset("log/app")), Err(404));
        assert_eq!(status(snapshot("spare1/a@s")), Err(404));
        assert_eq!(status(pool("1tank")), Err(400));
        assert_eq!(status(dataset("tank/a b")), Err(400));
        assert_eq!(status(snapshot("tank@-x")), Err(400));
        assert_eq!(status(pool("tank")), Ok("tank"));
    }
}
