//! `/proc/stat`: aggregate and per-CPU jiffies, and CPU use computed from two samples.

use serde::Serialize;

use super::ParseError;

const CMD: &str = "/proc/stat";

/// CPU time counters of one `cpu`/`cpuN` line, in jiffies (USER_HZ ticks). Kernels before
/// 2.6.11 print fewer columns; the missing ones are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CpuTimes {
    /// Time in user mode (includes `guest`).
    pub user: u64,
    /// Time in user mode with low priority (includes `guest_nice`).
    pub nice: u64,
    /// Time in kernel mode.
    pub system: u64,
    /// Idle time.
    pub idle: u64,
    /// Waiting for I/O.
    pub iowait: u64,
    /// Servicing hardware interrupts.
    pub irq: u64,
    /// Servicing soft interrupts.
    pub softirq: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
    /// Running a guest (already counted in `user`).
    pub guest: u64,
    /// Running a niced guest (already counted in `nice`).
    pub guest_nice: u64,
}

impl CpuTimes {
    /// All CPU time: user + nice + system + idle + iowait + irq + softirq + steal (guest time
    /// is part of user/nice, so it is not added twice).
    pub fn total(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.idle)
            .saturating_add(self.iowait)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
    }

    /// Idle time including I/O wait.
    pub fn idle_all(&self) -> u64 {
        self.idle.saturating_add(self.iowait)
    }
}

/// One `cpuN` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerCpu {
    /// The CPU number `N` of `cpuN`.
    pub cpu: u32,
    /// Its counters.
    pub times: CpuTimes,
}

/// One sample of `/proc/stat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcStat {
    /// The aggregate `cpu` line.
    pub total: CpuTimes,
    /// The `cpuN` lines, in file order.
    pub cpus: Vec<PerCpu>,
    /// `ctxt`: context switches since boot.
    pub context_switches: Option<u64>,
    /// `btime`: boot time, seconds since the epoch.
    pub boot_time: Option<u64>,
    /// `processes`: forks since boot.
    pub processes_created: Option<u64>,
    /// `procs_running`: runnable tasks.
    pub procs_running: Option<u64>,
    /// `procs_blocked`: tasks blocked on I/O.
    pub procs_blocked: Option<u64>,
}

/// CPU use between two samples, in percent of the elapsed CPU time (two decimals).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CpuUsage {
    /// Busy: everything but idle and iowait.
    pub total: f64,
    /// user + nice.
    pub user: f64,
    /// system + irq + softirq.
    pub system: f64,
    /// idle.
    pub idle: f64,
    /// iowait.
    pub iowait: f64,
    /// steal.
    pub steal: f64,
}

fn parse_times(line_no: usize, label: &str, words: &[&str]) -> Result<CpuTimes, ParseError> {
    if words.len() < 4 {
        return Err(ParseError::at(
            CMD,
            line_no,
            format!(
                "`{label}` has {} counters, expected at least 4",
                words.len()
            ),
        ));
    }
    // Columns a future kernel appends are checked to be numbers and otherwise ignored.
    let mut n = [0u64; 10];
    for (i, w) in words.iter().enumerate() {
        let v: u64 = w.parse().map_err(|_| {
            ParseError::at(CMD, line_no, format!("`{label}`: `{w}` is not a counter"))
        })?;
        if let Some(slot) = n.get_mut(i) {
            *slot = v;
        }
    }
    Ok(CpuTimes {
        user: n[0],
        nice: n[1],
        system: n[2],
        idle: n[3],
        iowait: n[4],
        irq: n[5],
        softirq: n[6],
        steal: n[7],
        guest: n[8],
        guest_nice: n[9],
    })
}

fn single_value(line_no: usize, key: &str, words: &[&str]) -> Result<u64, ParseError> {
    match words {
        [w] => w
            .parse()
            .map_err(|_| ParseError::at(CMD, line_no, format!("`{key}`: `{w}` is not a number"))),
        _ => Err(ParseError::at(
            CMD,
            line_no,
            format!("`{key}` should have one value"),
        )),
    }
}

/// Parses several `/proc/stat` samples concatenated (as `cat /proc/stat; sleep 1; cat
/// /proc/stat` prints them): a new sample starts at each aggregate `cpu` line.
pub fn parse_proc_stat_samples(text: &str) -> Result<Vec<ProcStat>, ParseError> {
    let mut samples: Vec<ProcStat> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&key, rest)) = words.split_first() else {
            continue;
        };
        if key == "cpu" {
            samples.push(ProcStat {
                total: parse_times(line_no, key, rest)?,
                cpus: Vec::new(),
                context_switches: None,
                boot_time: None,
                processes_created: None,
                procs_running: None,
                procs_blocked: None,
            });
            continue;
        }
        let Some(sample) = samples.last_mut() else {
            if key.starts_with("cpu") || key == "intr" || key == "ctxt" || key == "btime" {
                return Err(ParseError::at(
                    CMD,
                    line_no,
                    format!("`{key}` before the aggregate `cpu` line"),
                ));
            }
            return Err(ParseError::at(
                CMD,
                line_no,
                format!("unexpected `{key}`: not /proc/stat output"),
            ));
        };
        if let Some(n) = key.strip_prefix("cpu") {
            let cpu: u32 = n
                .parse()
                .map_err(|_| ParseError::at(CMD, line_no, format!("`{key}` is not a cpuN line")))?;
            let times = parse_times(line_no, key, rest)?;
            sample.cpus.push(PerCpu { cpu, times });
            continue;
        }
        match key {
            "ctxt" => sample.context_switches = Some(single_value(line_no, key, rest)?),
            "btime" => sample.boot_time = Some(single_value(line_no, key, rest)?),
            "processes" => sample.processes_created = Some(single_value(line_no, key, rest)?),
            "procs_running" => sample.procs_running = Some(single_value(line_no, key, rest)?),
            "procs_blocked" => sample.procs_blocked = Some(single_value(line_no, key, rest)?),
            // intr, softirq, page, swap, disk_io: (2.4), preempt… are not used.
            _ if key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') => {}
            _ => {
                return Err(ParseError::at(
                    CMD,
                    line_no,
                    format!("unexpected `{key}`: not /proc/stat output"),
                ));
            }
        }
    }
    if samples.is_empty() {
        return Err(ParseError::new(CMD, "no aggregate `cpu` line"));
    }
    Ok(samples)
}

/// Parses one `/proc/stat` sample. Two concatenated samples are an error here (see
/// [`parse_proc_stat_samples`]).
pub fn parse_proc_stat(text: &str) -> Result<ProcStat, ParseError> {
    let mut samples = parse_proc_stat_samples(text)?;
    if samples.len() > 1 {
        return Err(ParseError::new(
            CMD,
            format!(
                "{} aggregate `cpu` lines: several samples concatenated",
                samples.len()
            ),
        ));
    }
    samples
        .pop()
        .ok_or_else(|| ParseError::new(CMD, "no aggregate `cpu` line"))
}

/// CPU use between sample `before` and sample `after` of the same counters. `None` when no
/// CPU time elapsed or a counter went backwards (a reboot or CPU hot-plug in between).
pub fn cpu_usage(before: &CpuTimes, after: &CpuTimes) -> Option<CpuUsage> {
    // Each counter's delta, summed in u128: counters near u64::MAX (a corrupt or hostile
    // sample) neither overflow nor saturate, so every share stays within 0–100 %.
    let d = |a: u64, b: u64| b.checked_sub(a).map(u128::from);
    let idle = d(before.idle, after.idle)?;
    let iowait = d(before.iowait, after.iowait)?;
    let user = d(before.user, after.user)? + d(before.nice, after.nice)?;
    let system = d(before.system, after.system)?
        + d(before.irq, after.irq)?
        + d(before.softirq, after.softirq)?;
    let steal = d(before.steal, after.steal)?;
    let elapsed = user + system + idle + iowait + steal;
    if elapsed == 0 {
        return None;
    }
    let pct = |v: u128| (v as f64 * 10_000.0 / elapsed as f64).round() / 100.0;
    Some(CpuUsage {
        total: pct(elapsed - idle - iowait),
        user: pct(user),
        system: pct(system),
        idle: pct(idle),
        iowait: pct(iowait),
        steal: pct(steal),
    })
}

/// Per-CPU use between two samples, matched by CPU number (CPUs present in only one sample
/// are left out, as are CPUs without elapsed time).
pub fn per_cpu_usage(before: &ProcStat, after: &ProcStat) -> Vec<(u32, CpuUsage)> {
    after
        .cpus
        .iter()
        .filter_map(|a| {
            let b = before.cpus.iter().find(|b| b.cpu == a.cpu)?;
            Some((a.cpu, cpu_usage(&b.times, &a.times)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (property tests): counters near `u64::MAX` overflowed the sums of deltas
    /// (a panic in debug builds, shares over 100 % in release).
    #[test]
    fn cpu_usage_of_huge_counters_stays_a_share() {
        let before = CpuTimes::default();
        let after = CpuTimes {
            idle: u64::MAX,
            iowait: u64::MAX,
            user: u64::MAX,
            nice: u64::MAX,
            ..CpuTimes::default()
        };
        let u = cpu_usage(&before, &after).expect("time elapsed");
        assert_eq!(
            (u.user, u.idle, u.iowait, u.total),
            (50.0, 25.0, 25.0, 50.0)
        );
    }
    use crate::parse::fixture;

    #[test]
    fn jc_stat() {
        let s = parse_proc_stat(&fixture("system/proc/jc_stat")).expect("jc_stat");
        assert_eq!(s.total.user, 6002);
        assert_eq!(s.total.idle, 3_444_436);
        assert_eq!(s.total.softirq, 1174);
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(s.cpus[1].cpu, 1);
        assert_eq!(s.cpus[1].times.system, 4031);
        assert_eq!(s.context_switches, Some(4_622_716));
        assert_eq!(s.boot_time, Some(1_662_154_781));
        assert_eq!(s.processes_created, Some(9831));
        assert_eq!(s.procs_running, Some(1));
        assert_eq!(s.procs_blocked, Some(0));
    }

    #[test]
    fn node_exporter_stat_has_guest_columns() {
        let s = parse_proc_stat(&fixture("system/proc/node_exporter_stat")).expect("stat");
        assert_eq!(s.cpus.len(), 8);
        assert_eq!(s.total.guest, 44);
        assert_eq!(s.total.guest_nice, 36);
        assert_eq!(s.cpus[7].times.guest_nice, 8);
        // Guest time is inside user/nice, not added twice.
        assert_eq!(
            s.total.total(),
            301_854 + 612 + 111_922 + 8_979_004 + 3552 + 2 + 3944
        );
    }

    #[test]
    fn jc_stat2_is_two_old_kernel_samples() {
        // The fixture is two /proc/stat files of 2.6-era kernels (7 counters, no steal)
        // concatenated: one sample with one CPU, then one with eight.
        let text = fixture("system/proc/jc_stat2");
        let err = parse_proc_stat(&text).expect_err("two samples");
        assert!(err.to_string().contains("several samples"), "{err}");
        let samples = parse_proc_stat_samples(&text).expect("samples");
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].cpus.len(), 1);
        assert_eq!(samples[1].cpus.len(), 8);
        assert_eq!(samples[1].total.steal, 0);
        assert_eq!(samples[1].total.softirq, 27168);
        assert_eq!(samples[0].boot_time, Some(1_093_631_447));
        assert_eq!(samples[1].boot_time, Some(1_078_711_415));
        // Different machines: counters went backwards, so no usage.
        assert_eq!(cpu_usage(&samples[0].total, &samples[1].total), None);
    }

    #[test]
    fn usage_from_two_samples() {
        let a = "cpu  100 0 100 800 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0\n";
        let b = "cpu  200 0 200 1500 100 0 0 0\ncpu0 150 0 50 800 0 0 0 0\ncpu1 50 0 150 700 100 0 0 0\n";
        let (a, b) = (
            parse_proc_stat(a).expect("a"),
            parse_proc_stat(b).expect("b"),
        );
        let u = cpu_usage(&a.total, &b.total).expect("usage");
        assert_eq!(u.total, 20.0);
        assert_eq!(u.user, 10.0);
        assert_eq!(u.system, 10.0);
        assert_eq!(u.idle, 70.0);
        assert_eq!(u.iowait, 10.0);
        let per = per_cpu_usage(&a, &b);
        assert_eq!(per.len(), 2);
        assert_eq!(per[0].0, 0);
        assert_eq!(per[0].1.total, 20.0);
        assert_eq!(per[1].1.iowait, 20.0);
        assert_eq!(cpu_usage(&a.total, &a.total), None, "no time elapsed");
    }

    #[test]
    fn odd_input() {
        assert!(parse_proc_stat("").is_err());
        assert!(parse_proc_stat("intr 1 2 3\n").is_err());
        let e = parse_proc_stat("cpu 1 x 3 4\n").expect_err("bad number");
        assert_eq!(
            e.to_string(),
            "/proc/stat: line 1: `cpu`: `x` is not a counter"
        );
        assert!(parse_proc_stat("cpu 1 2\n").is_err());
        let future = parse_proc_stat("cpu 1 2 3 4 5 6 7 8 9 10 11\n").expect("11 columns");
        assert_eq!(future.total.guest_nice, 10);
        assert!(parse_proc_stat("cpu 1 2 3 4 5 6 7 8 9 10 x\n").is_err());
        assert!(parse_proc_stat("cpu 1 2 3 4\ndisk_io: (3,0):(1,2,3,4,5)\n").is_ok());
        assert!(parse_proc_stat("cpu 1 2 3 4\ncpuX 1 2 3 4\n").is_err());
        assert!(parse_proc_stat("cpu 1 2 3 4\nctxt\n").is_err());
        assert!(parse_proc_stat("<html>garbage</html>\n").is_err());
        assert!(parse_proc_stat("cpu 1 2 3 4\n{\"json\": 1}\n").is_err());
    }
}
