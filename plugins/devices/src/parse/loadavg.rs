//! `/proc/loadavg`.

use serde::Serialize;

use super::ParseError;

const CMD: &str = "/proc/loadavg";

/// Load averages and task counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadAvg {
    /// 1-minute load average.
    pub min1: f64,
    /// 5-minute load average.
    pub min5: f64,
    /// 15-minute load average.
    pub min15: f64,
    /// Runnable tasks now.
    pub running: u64,
    /// Tasks (threads) in existence.
    pub total_tasks: u64,
    /// PID most recently assigned.
    pub last_pid: u64,
}

/// Parses `/proc/loadavg` (`0.21 0.37 0.39 1/719 19737`).
pub fn parse_loadavg(text: &str) -> Result<LoadAvg, ParseError> {
    let w: Vec<&str> = text.split_whitespace().collect();
    if w.len() != 5 {
        return Err(ParseError::new(
            CMD,
            format!("expected 5 fields, found {}", w.len()),
        ));
    }
    let load = |i: usize| -> Result<f64, ParseError> {
        w[i].parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                ParseError::new(CMD, format!("field {}: `{}` is not a load", i + 1, w[i]))
            })
    };
    let (running, total_tasks) = w[3]
        .split_once('/')
        .and_then(|(r, t)| Some((r.parse().ok()?, t.parse().ok()?)))
        .ok_or_else(|| ParseError::new(CMD, format!("field 4: `{}` is not running/total", w[3])))?;
    let last_pid = w[4]
        .parse()
        .map_err(|_| ParseError::new(CMD, format!("field 5: `{}` is not a PID", w[4])))?;
    Ok(LoadAvg {
        min1: load(0)?,
        min5: load(1)?,
        min15: load(2)?,
        running,
        total_tasks,
        last_pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    #[test]
    fn fixtures() {
        let l = parse_loadavg(&fixture("system/proc/jc_loadavg")).expect("jc");
        assert_eq!(
            l,
            LoadAvg {
                min1: 0.0,
                min5: 0.01,
                min15: 0.03,
                running: 2,
                total_tasks: 111,
                last_pid: 2039
            }
        );
        let l = parse_loadavg(&fixture("system/proc/node_exporter_loadavg")).expect("ne");
        assert_eq!((l.min1, l.min15, l.total_tasks), (0.21, 0.39, 719));
    }

    #[test]
    fn odd_input() {
        assert!(parse_loadavg("").is_err());
        assert!(parse_loadavg("0.1 0.2").is_err());
        assert!(parse_loadavg("0.1 0.2 0.3 1-2 3").is_err());
        assert!(parse_loadavg("a 0.2 0.3 1/2 3").is_err());
        assert!(parse_loadavg("NaN 0.2 0.3 1/2 3").is_err());
        assert!(parse_loadavg("0.1 0.2 0.3 1/2 3 extra").is_err());
    }
}
