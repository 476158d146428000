//! `/proc/uptime`.

use serde::Serialize;

use super::ParseError;

const CMD: &str = "/proc/uptime";

/// Seconds since boot and idle seconds (summed over CPUs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    /// Seconds since boot.
    pub seconds: f64,
    /// Idle seconds, summed over all CPUs.
    pub idle_seconds: f64,
}

/// Parses `/proc/uptime` (`46901.13 46856.66`).
pub fn parse_uptime(text: &str) -> Result<Uptime, ParseError> {
    let w: Vec<&str> = text.split_whitespace().collect();
    if w.len() != 2 {
        return Err(ParseError::new(
            CMD,
            format!("expected 2 fields, found {}", w.len()),
        ));
    }
    let num = |s: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| ParseError::new(CMD, format!("`{s}` is not a number of seconds")))
    };
    Ok(Uptime {
        seconds: num(w[0])?,
        idle_seconds: num(w[1])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    #[test]
    fn fixture_and_odd_input() {
        let u = parse_uptime(&fixture("system/proc/jc_uptime")).expect("uptime");
        assert_eq!(u.seconds, 46901.13);
        assert_eq!(u.idle_seconds, 46856.66);
        assert!(parse_uptime("").is_err());
        assert!(parse_uptime("12.5").is_err());
        assert!(parse_uptime("x 1").is_err());
        assert!(parse_uptime("-1 1").is_err());
    }
}
