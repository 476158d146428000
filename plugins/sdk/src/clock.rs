//! Time for plugins: the wall clock and a stopwatch.
//!
//! A guest built for `wasm32-unknown-unknown`, without WASI's standard library (as the plugin
//! builder builds every built-in), has no working `std::time`, so a plugin reads the time
//! here; it works the same in a `wasm32-wasip2` guest. In a guest these are the two WASI clock
//! imports (`wasi:clocks/wall-clock`, `wasi:clocks/monotonic-clock`), and only a guest that
//! calls them imports them. The host serves them as granted: a plugin without the `clock`
//! grant reads a frozen clock (the Unix epoch, and a stopwatch that never advances).
//! Natively (unit tests) they are the system's clocks.

use std::time::Duration;

/// The time since the Unix epoch (zero when the clock is before it).
#[allow(clippy::disallowed_methods)] // natively the std clock, which exists there
pub fn unix_now() -> Duration {
    #[cfg(target_arch = "wasm32")]
    {
        let now = wasip2::clocks::wall_clock::now();
        Duration::new(now.seconds, now.nanoseconds)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// Measures how long something took, on a monotonic clock.
///
/// ```
/// let watch = infrastructor_sdk::clock::Stopwatch::start();
/// assert!(watch.elapsed_ms() < 60_000);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    started: Monotonic,
}

#[cfg(target_arch = "wasm32")]
type Monotonic = u64;
#[cfg(not(target_arch = "wasm32"))]
type Monotonic = std::time::Instant;

impl Stopwatch {
    /// Starts measuring now.
    #[allow(clippy::disallowed_methods)] // natively the std clock, which exists there
    pub fn start() -> Self {
        #[cfg(target_arch = "wasm32")]
        let started = wasip2::clocks::monotonic_clock::now();
        #[cfg(not(target_arch = "wasm32"))]
        let started = std::time::Instant::now();
        Self { started }
    }

    /// The time since [`Stopwatch::start`].
    pub fn elapsed(&self) -> Duration {
        #[cfg(target_arch = "wasm32")]
        {
            Duration::from_nanos(
                wasip2::clocks::monotonic_clock::now().saturating_sub(self.started),
            )
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.started.elapsed()
        }
    }

    /// [`Stopwatch::elapsed`] in whole milliseconds (saturating).
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_is_past_2020() {
        assert!(unix_now() > Duration::from_secs(1_577_836_800));
    }

    #[test]
    fn stopwatch_advances() {
        let watch = Stopwatch::start();
        std::thread::sleep(Duration::from_millis(2));
        assert!(watch.elapsed() >= Duration::from_millis(2));
        assert!(watch.elapsed_ms() >= 2);
    }
}
