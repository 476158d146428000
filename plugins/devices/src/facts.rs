//! Parsers of the host facts behind `/metrics`: `/proc/stat`, `/proc/meminfo`,
//! `/proc/loadavg`, `/proc/uptime`, `/proc/net/dev` and `df -P -B1`. Pure functions; a parser
//! meeting output it does not understand returns an error naming the command.

use std::collections::BTreeMap;

use serde::Serialize;

/// A parse failure naming the command and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(command: &str, message: impl std::fmt::Display) -> ParseError {
    ParseError(format!("{command}: {message}"))
}

/// Aggregate CPU jiffies from the `cpu ` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CpuTimes {
    /// user
    pub user: u64,
    /// nice
    pub nice: u64,
    /// system
    pub system: u64,
    /// idle
    pub idle: u64,
    /// iowait
    pub iowait: u64,
    /// irq
    pub irq: u64,
    /// softirq
    pub softirq: u64,
    /// steal
    pub steal: u64,
}

impl CpuTimes {
    fn total(&self) -> u64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }
}

/// `/proc/stat`: the aggregate line and the number of `cpuN` lines.
pub fn parse_proc_stat(text: &str) -> Result<(CpuTimes, usize), ParseError> {
    let mut total = None;
    let mut cpus = 0;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("cpu") => {
                let n: Vec<u64> = words
                    .map(|w| {
                        w.parse::<u64>()
                            .map_err(|_| err("/proc/stat", format!("bad number `{w}`")))
                    })
                    .collect::<Result<_, _>>()?;
                if n.len() < 4 {
                    return Err(err("/proc/stat", "the cpu line has fewer than 4 fields"));
                }
                let at = |i: usize| n.get(i).copied().unwrap_or(0);
                total = Some(CpuTimes {
                    user: at(0),
                    nice: at(1),
                    system: at(2),
                    idle: at(3),
                    iowait: at(4),
                    irq: at(5),
                    softirq: at(6),
                    steal: at(7),
                });
            }
            Some(w) if w.starts_with("cpu") && w[3..].chars().all(|c| c.is_ascii_digit()) => {
                cpus += 1
            }
            _ => {}
        }
    }
    total
        .map(|t| (t, cpus))
        .ok_or_else(|| err("/proc/stat", "no aggregate `cpu` line"))
}

/// CPU use between two samples, in percent of all CPU time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuPercent {
    /// Busy (everything but idle and iowait).
    pub total: f64,
    /// user + nice
    pub user: f64,
    /// system + irq + softirq
    pub system: f64,
    /// idle
    pub idle: f64,
    /// iowait
    pub iowait: f64,
    /// steal
    pub steal: f64,
}

/// CPU percentages from two `/proc/stat` samples (a then b).
pub fn cpu_percent(a: &CpuTimes, b: &CpuTimes) -> CpuPercent {
    let d = |x: u64, y: u64| y.saturating_sub(x) as f64;
    let all = d(a.total(), b.total()).max(1.0);
    let pct = |v: f64| (v * 10_000.0 / all).round() / 100.0;
    let idle = d(a.idle, b.idle);
    let iowait = d(a.iowait, b.iowait);
    CpuPercent {
        total: pct(all - idle - iowait),
        user: pct(d(a.user, b.user) + d(a.nice, b.nice)),
        system: pct(d(a.system, b.system) + d(a.irq, b.irq) + d(a.softirq, b.softirq)),
        idle: pct(idle),
        iowait: pct(iowait),
        steal: pct(d(a.steal, b.steal)),
    }
}

/// `/proc/meminfo` as bytes per key (`kB` values × 1024; unit-less counts as they are).
pub fn parse_meminfo(text: &str) -> Result<BTreeMap<String, u64>, ParseError> {
    let mut out = BTreeMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let (key, rest) = line
            .split_once(':')
            .ok_or_else(|| err("/proc/meminfo", format!("line {}: no `:`", i + 1)))?;
        let mut words = rest.split_whitespace();
        let value: u64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| err("/proc/meminfo", format!("line {}: no number", i + 1)))?;
        let bytes = match words.next() {
            Some("kB") => value * 1024,
            _ => value,
        };
        out.insert(key.trim().to_string(), bytes);
    }
    if !out.contains_key("MemTotal") {
        return Err(err("/proc/meminfo", "no MemTotal"));
    }
    Ok(out)
}

/// `/proc/loadavg`: 1, 5 and 15 minute averages, running and total tasks.
pub fn parse_loadavg(text: &str) -> Result<(f64, f64, f64, u64, u64), ParseError> {
    let w: Vec<&str> = text.split_whitespace().collect();
    let f = |i: usize| -> Result<f64, ParseError> {
        w.get(i)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| err("/proc/loadavg", format!("field {} is not a number", i + 1)))
    };
    let (running, total) = w
        .get(3)
        .and_then(|s| s.split_once('/'))
        .and_then(|(r, t)| Some((r.parse().ok()?, t.parse().ok()?)))
        .ok_or_else(|| err("/proc/loadavg", "field 4 is not running/total"))?;
    Ok((f(0)?, f(1)?, f(2)?, running, total))
}

/// `/proc/uptime`: seconds since boot.
pub fn parse_uptime(text: &str) -> Result<f64, ParseError> {
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err("/proc/uptime", "no seconds"))
}

/// One interface of `/proc/net/dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetDev {
    /// Interface name.
    pub interface_name: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Receive drops.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Send drops.
    pub tx_dropped: u64,
}

/// `/proc/net/dev`.
pub fn parse_net_dev(text: &str) -> Result<Vec<NetDev>, ParseError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.contains(':')) {
        let (name, rest) = line.split_once(':').unwrap_or_default();
        let n: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if n.len() < 16 {
            if name.contains('|') {
                continue;
            }
            return Err(err(
                "/proc/net/dev",
                format!(
                    "interface `{}` has {} counters, expected 16",
                    name.trim(),
                    n.len()
                ),
            ));
        }
        out.push(NetDev {
            interface_name: name.trim().to_string(),
            rx_bytes: n[0],
            rx_packets: n[1],
            rx_errors: n[2],
            rx_dropped: n[3],
            tx_bytes: n[8],
            tx_packets: n[9],
            tx_errors: n[10],
            tx_dropped: n[11],
        });
    }
    Ok(out)
}

/// One filesystem of `df -P -B1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filesystem {
    /// Device.
    pub device_name: String,
    /// Mount point.
    pub mount_point: String,
    /// Size in bytes.
    pub size: u64,
    /// Used bytes.
    pub used: u64,
    /// Available bytes.
    pub free: u64,
    /// Used percent as df prints it.
    pub percent: u64,
    /// Filesystem type (`df -PT` output only).
    pub fs_type: Option<String>,
}

/// `df -P -B1` (POSIX format, byte blocks). A device name too long for its column may stand
/// alone on its line with the numbers on the next one.
pub fn parse_df(text: &str) -> Result<Vec<Filesystem>, ParseError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| err("df", "empty output"))?;
    if !header.starts_with("Filesystem") {
        return Err(err("df", "no header line"));
    }
    let typed = header.split_whitespace().nth(1) == Some("Type");
    let columns = if typed { 7 } else { 6 };
    let blocks = header
        .split_whitespace()
        .nth(if typed { 2 } else { 1 })
        .unwrap_or_default();
    let unit = block_unit(blocks).ok_or_else(|| {
        err(
            "df",
            format!("unsupported size column `{blocks}` (use df -P -B1)"),
        )
    })?;
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for (i, line) in lines.enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (device, rest) = match pending.take() {
            None if words.len() == 1 => {
                pending = Some(words[0].to_string());
                continue;
            }
            Some(dev) if words.len() + 1 >= columns => (dev, &words[..]),
            None if words.len() >= columns => (words[0].to_string(), &words[1..]),
            _ => {
                return Err(err(
                    "df",
                    format!("line {}: expected {columns} columns", i + 2),
                ));
            }
        };
        let (fs_type, rest) = if typed {
            (Some(rest[0].to_string()), &rest[1..])
        } else {
            (None, rest)
        };
        let num = |s: &str| -> Result<u64, ParseError> {
            s.trim_end_matches('%')
                .parse()
                .map_err(|_| err("df", format!("line {}: `{s}` is not a number", i + 2)))
        };
        out.push(Filesystem {
            device_name: device,
            size: num(rest[0])? * unit,
            used: num(rest[1])? * unit,
            free: num(rest[2])? * unit,
            percent: if rest[3] == "-" { 0 } else { num(rest[3])? },
            mount_point: rest[4..].join(" "),
            fs_type,
        });
    }
    Ok(out)
}

/// Bytes per block of a df size header: `1-blocks`, `1B-blocks`, `512-blocks`,
/// `1K-blocks`, `1024-blocks`, `1M-blocks`.
fn block_unit(header: &str) -> Option<u64> {
    let size = header.strip_suffix("-blocks")?;
    let (digits, scale) = match size.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (size, 1),
        Some((i, _)) => (
            &size[..i],
            match &size[i..] {
                "B" => 1,
                "K" | "KiB" => 1024,
                "M" | "MiB" => 1024 * 1024,
                "kB" => 1000,
                _ => return None,
            },
        ),
    };
    digits.parse::<u64>().ok().map(|n| n * scale)
}

/// Splits a script's output into sections introduced by lines `@@infra:NAME@@`.
pub fn sections(text: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("@@infra:")
            .and_then(|s| s.strip_suffix("@@"))
        {
            current = Some(name.to_string());
            out.entry(name.to_string()).or_default();
        } else if let Some(name) = &current
            && let Some(body) = out.get_mut(name)
        {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../../shared/fixtures/system/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
    }

    #[test]
    fn proc_stat_fixtures() {
        for f in ["proc/jc_stat", "proc/jc_stat2", "proc/node_exporter_stat"] {
            let (cpu, n) = parse_proc_stat(&fixture(f)).expect(f);
            assert!(cpu.idle > 0 && n >= 1, "{f}: {cpu:?} {n}");
        }
        let a = CpuTimes {
            user: 100,
            idle: 800,
            system: 100,
            ..Default::default()
        };
        let b = CpuTimes {
            user: 200,
            idle: 1600,
            system: 200,
            ..Default::default()
        };
        let p = cpu_percent(&a, &b);
        assert_eq!(p.total, 20.0);
        assert_eq!(p.idle, 80.0);
        assert!(parse_proc_stat("intr 1 2 3\n").is_err());
        assert!(parse_proc_stat("cpu 1 x 3 4\n").is_err());
    }

    #[test]
    fn meminfo_loadavg_uptime_fixtures() {
        for f in ["proc/jc_meminfo", "proc/node_exporter_meminfo"] {
            let m = parse_meminfo(&fixture(f)).expect(f);
            assert!(m["MemTotal"] > m["MemFree"], "{f}");
            assert_eq!(m["MemTotal"] % 1024, 0, "kB converted to bytes");
        }
        for f in ["proc/jc_loadavg", "proc/node_exporter_loadavg"] {
            let (one, _, _, running, total) = parse_loadavg(&fixture(f)).expect(f);
            assert!(one >= 0.0 && running <= total, "{f}");
        }
        assert!(parse_uptime(&fixture("proc/jc_uptime")).expect("uptime") > 0.0);
        assert!(parse_meminfo("garbage").is_err());
        assert!(parse_loadavg("0.1 0.2").is_err());
        assert!(parse_uptime("").is_err());
    }

    #[test]
    fn net_dev_and_df() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1234 10 0 0 0 0 0 0 1234 10 0 0 0 0 0 0\n  eth0: 9876543 2000 1 2 0 0 0 5 123456 1000 3 4 0 0 0 0\n";
        let devs = parse_net_dev(text).expect("net/dev");
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[1].interface_name, "eth0");
        assert_eq!(
            (devs[1].rx_bytes, devs[1].tx_bytes, devs[1].tx_dropped),
            (9_876_543, 123_456, 4)
        );
        assert!(parse_net_dev("eth0: 1 2 3\n").is_err());

        let fs = parse_df(&fixture("df_ubuntu-18.04.out")).expect("df");
        let root = fs.iter().find(|f| f.mount_point == "/").expect("root");
        assert_eq!(root.device_name, "/dev/sda2");
        assert_eq!(root.percent, 30);
        let long = parse_df(&fixture("df-long-filesystem.out")).expect("wrapped device names");
        assert!(!long.is_empty());
        assert!(parse_df("").is_err());
        assert_eq!(block_unit("1-blocks"), Some(1));
        assert_eq!(block_unit("1K-blocks"), Some(1024));
        assert_eq!(block_unit("512-blocks"), Some(512));
        assert_eq!(block_unit("Size"), None);
        assert!(parse_df("Filesystem 1B-blocks\n/dev/x 1 2\n").is_err());
    }

    #[test]
    fn script_sections() {
        let s = sections("@@infra:a@@\nx\ny\n@@infra:b@@\nz\n");
        assert_eq!(s["a"], "x\ny\n");
        assert_eq!(s["b"], "z\n");
    }
}
