//! Structured logs, tagged by the host with the plugin's name and the request id (the `log`
//! import). Natively (in unit tests) events go to the installed mock host, or to standard
//! error when there is none.

/// A log event's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// Something failed.
    Error,
}

/// A level in the plugin API's type.
pub(crate) fn to_wit(level: Level) -> crate::bindings::infrastructor::plugin::log::Level {
    use crate::bindings::infrastructor::plugin::log::Level as L;
    match level {
        Level::Trace => L::Trace,
        Level::Debug => L::Debug,
        Level::Info => L::Info,
        Level::Warn => L::Warn,
        Level::Error => L::Error,
    }
}

/// Writes one event with `fields` as key/value pairs.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    use crate::bindings::infrastructor::plugin::types::Pair;
    let fields: Vec<Pair> = fields
        .iter()
        .map(|(name, value)| Pair {
            name: (*name).to_owned(),
            value: (*value).to_owned(),
        })
        .collect();
    crate::host::log::log(to_wit(level), message, &fields);
}

/// Logs at trace level.
pub fn trace(message: &str, fields: &[(&str, &str)]) {
    log(Level::Trace, message, fields);
}

/// Logs at debug level.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    log(Level::Debug, message, fields);
}

/// Logs at info level.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    log(Level::Info, message, fields);
}

/// Logs at warn level.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, message, fields);
}

/// Logs at error level.
pub fn error(message: &str, fields: &[(&str, &str)]) {
    log(Level::Error, message, fields);
}
