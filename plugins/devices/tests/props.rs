//! Property tests of the devices plugin's parsers (`/proc` files, `df`, `lsblk`,
//! `smartctl`, `ssh_config`, os-release, uptime): random text and mangled real fixtures
//! never panic, always return, and keep what each parser promises.

#[path = "../../parsers/tests/support/mod.rs"]
mod support;

use crate::parse::{
    cpuinfo, df, diskstats, loadavg, lsblk, meminfo, net_dev, os_release, proc_stat, smartctl,
    ssh_config, uptime,
};
use proptest::prelude::*;
use support::{config, finishes, fixture_texts, inputs, json_mangled, line_count, noise};

fn system() -> Vec<String> {
    fixture_texts(&["system", "system/proc"])
}

fn smart() -> Vec<String> {
    fixture_texts(&["smart"])
}

/// Counters of one CPU line, from small to the largest a `u64` holds.
fn cpu_times() -> impl Strategy<Value = proc_stat::CpuTimes> {
    let n = prop_oneof![
        0u64..1_000_000,
        Just(u64::MAX),
        Just(u64::MAX / 2),
        any::<u64>()
    ];
    prop::collection::vec(n, 10).prop_map(|v| times(&v))
}

fn times(v: &[u64]) -> proc_stat::CpuTimes {
    proc_stat::CpuTimes {
        user: v[0],
        nice: v[1],
        system: v[2],
        idle: v[3],
        iowait: v[4],
        irq: v[5],
        softirq: v[6],
        steal: v[7],
        guest: v[8],
        guest_nice: v[9],
    }
}

/// Two samples of the same counters, the second never behind the first (mostly), with
/// deltas of every size.
fn cpu_samples() -> impl Strategy<Value = (proc_stat::CpuTimes, proc_stat::CpuTimes)> {
    let before = prop_oneof![
        Just(vec![0u64; 10]),
        prop::collection::vec(0u64..1 << 40, 10)
    ];
    let delta = prop::collection::vec(prop_oneof![0u64..1000, Just(u64::MAX), any::<u64>()], 10);
    prop_oneof![
        4 => (before, delta).prop_map(|(b, d)| {
            let a: Vec<u64> = b.iter().zip(&d).map(|(b, d)| b.saturating_add(*d)).collect();
            (times(&b), times(&a))
        }),
        1 => (cpu_times(), cpu_times()),
    ]
}

proptest! {
    #![proptest_config(config(160))]

    #[test]
    fn proc_files(text in inputs(system())) {
        let counts = finishes(&text, |t| {
            let _ = cpuinfo::parse_cpuinfo(&t);
            let _ = loadavg::parse_loadavg(&t);
            let _ = meminfo::parse_meminfo(&t);
            let _ = os_release::parse_os_release(&t);
            let _ = uptime::parse_uptime(&t);
            let _ = proc_stat::parse_proc_stat(&t);
            (
                diskstats::parse_diskstats(&t).map(|v| v.len()),
                net_dev::parse_net_dev(&t).map(|v| v.len()),
                proc_stat::parse_proc_stat_samples(&t).map(|v| v.len()),
            )
        });
        let lines = line_count(&text);
        if let Ok(n) = counts.0 { prop_assert!(n <= lines); }
        if let Ok(n) = counts.1 { prop_assert!(n <= lines); }
        if let Ok(n) = counts.2 { prop_assert!(n <= lines); }
    }

    #[test]
    fn df_and_lsblk_text(text in inputs(system())) {
        let (d, l) = finishes(&text, |t| (
            df::parse_df(&t),
            lsblk::parse_lsblk_text(&t).map(|v| v.iter().map(|d| d.walk().len()).sum::<usize>()),
        ));
        if let Ok(d) = d {
            prop_assert!(d.filesystems.len() <= line_count(&text));
            for f in &d.filesystems {
                prop_assert!(f.use_percent.is_none_or(|p| p <= 100) || f.used_bytes > f.size_bytes, "{f:?}");
            }
        }
        if let Ok(n) = l { prop_assert!(n <= line_count(&text)); }
    }

    #[test]
    fn lsblk_json(text in json_mangled(fixture_texts(&["system"]))) {
        let devices = finishes(&text, |t| lsblk::parse_lsblk_json(&t));
        if let Ok(devices) = devices {
            for d in devices.iter().flat_map(|d| d.walk()) {
                let _ = lsblk::is_drive_name(&d.name);
            }
            let disks = lsblk::select_disks(&devices, true).len();
            prop_assert!(lsblk::select_disks(&devices, false).len() <= disks);
        }
    }

    /// CPU use between two samples: every share within 0–100 %, busy + idle + iowait = 100 %
    /// (to rounding), whatever the counters hold.
    #[test]
    fn cpu_usage_is_a_share((before, after) in cpu_samples()) {
        if let Some(u) = proc_stat::cpu_usage(&before, &after) {
            for (name, v) in [("total", u.total), ("user", u.user), ("system", u.system), ("idle", u.idle), ("iowait", u.iowait), ("steal", u.steal)] {
                prop_assert!((0.0..=100.0).contains(&v), "{name} = {v} in {u:?}");
            }
            prop_assert!((u.total + u.idle + u.iowait - 100.0).abs() <= 0.05, "{u:?}");
            prop_assert!(u.user + u.system + u.idle + u.iowait + u.steal <= 100.05, "{u:?}");
        }
    }

    #[test]
    fn smartctl_text(text in inputs(smart()), status in proptest::option::of(any::<u8>())) {
        finishes(&text, move |t| {
            let _ = smartctl::parse_smartctl_text(&t);
            let _ = smartctl::parse_smartctl_text_with_status(&t, status);
            let _ = smartctl::parse_smartctl_scan_text(&t);
        });
    }

    #[test]
    fn smartctl_json(text in json_mangled(smart())) {
        let n = finishes(&text, |t| {
            let _ = smartctl::parse_smartctl_json(&t);
            smartctl::parse_smartctl_scan_json(&t).map(|v| v.len())
        });
        if let Ok(n) = n {
            let objects = text.matches('{').count();
            prop_assert!(n <= objects);
        }
    }

    #[test]
    fn ssh_configs(text in inputs(fixture_texts(&["system/ssh_config"]))) {
        let parsed = finishes(&text, |t| ssh_config::parse_ssh_config(&t));
        if let Ok(parsed) = parsed {
            prop_assert!(parsed.hosts.len() <= text.split_whitespace().count());
            for h in &parsed.hosts {
                prop_assert!(!h.alias.contains(['*', '?', '!']), "{h:?}");
            }
        }
    }

    /// A file that includes itself ends with the nesting error; a tree of distinct files,
    /// each including the next level several times, ends too (it would otherwise read an
    /// exponential number of copies).
    #[test]
    fn ssh_config_include_bombs(per_line in 1usize..12, lines in 1usize..4, host in "[a-z]{1,8}") {
        let level = move |k: usize| {
            if k >= 15 {
                "User leaf\n".to_string()
            } else {
                let paths: Vec<String> = (0..per_line).map(|_| (k + 1).to_string()).collect();
                format!("Include {}\n", paths.join(" ")).repeat(lines)
            }
        };
        let text = format!("Host {host}\n  HostName h\n{}", level(0));
        let out = finishes(&text, move |t| {
            ssh_config::parse_ssh_config_with_includes(&t, move |path: &str| {
                let k: usize = path.parse().map_err(|_| format!("no file {path}"))?;
                Ok::<_, String>(vec![ssh_config::IncludedFile { name: path.into(), text: level(k) }])
            })
            .map(|parsed| parsed.hosts.len())
        });
        if per_line.pow(15) * lines > ssh_config::MAX_INCLUDED_FILES {
            prop_assert!(out.is_err(), "{out:?}");
        }
        let cyclic = finishes("Include self self\n", |t| {
            let me = t.clone();
            ssh_config::parse_ssh_config_with_includes(&t, move |_: &str| {
                Ok::<_, String>(vec![ssh_config::IncludedFile { name: "self".into(), text: me.clone() }])
            })
            .map(|parsed| parsed.hosts.len())
        });
        prop_assert!(cyclic.is_err());
    }

    /// `wildcard` agrees with a plain recursive matcher on short inputs, and stays fast on
    /// hostile patterns.
    #[test]
    fn ssh_wildcards(pattern in "[a*?.]{0,12}", name in "[aA.b]{0,12}") {
        fn slow(p: &[u8], n: &[u8]) -> bool {
            match (p.first(), n.first()) {
                (None, None) => true,
                (Some(b'*'), _) => slow(&p[1..], n) || (!n.is_empty() && slow(p, &n[1..])),
                (Some(b'?'), Some(_)) => slow(&p[1..], &n[1..]),
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b) && slow(&p[1..], &n[1..]),
                _ => false,
            }
        }
        prop_assert_eq!(ssh_config::wildcard(pattern.as_bytes(), name.as_bytes()), slow(pattern.as_bytes(), name.as_bytes()));
        let hostile = format!("{}b", "*a".repeat(2000));
        let long = "a".repeat(5000);
        finishes(&hostile, move |p| ssh_config::wildcard(p.as_bytes(), long.as_bytes()));
    }

    #[test]
    fn noise_everywhere(text in noise()) {
        finishes(&text, |t| {
            let _ = lsblk::parse_lsblk_json(&t);
            let _ = lsblk::is_drive_name(&t);
            let _ = smartctl::parse_smartctl_json(&t);
            let _ = ssh_config::parse_ssh_config(&t);
        });
    }
}
