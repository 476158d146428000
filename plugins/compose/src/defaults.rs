//! Defaults of the request bodies (serde `default = "…"` functions), in one place.

/// `true`.
pub fn yes() -> bool {
    true
}

/// First port of a scanned or assigned range.
pub fn port_range_start() -> u16 {
    8000
}

/// Last port of a scanned or assigned range.
pub fn port_range_end() -> u16 {
    9000
}
