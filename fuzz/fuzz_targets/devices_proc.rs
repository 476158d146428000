//! `/proc` files and os-release, and CPU use between two `/proc/stat` samples.
#![no_main]
use infrastructor_plugin_devices::parse::{
    cpuinfo, diskstats, loadavg, meminfo, net_dev, os_release, proc_stat, uptime,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = cpuinfo::parse_cpuinfo(&text);
    let _ = loadavg::parse_loadavg(&text);
    let _ = meminfo::parse_meminfo(&text);
    let _ = os_release::parse_os_release(&text);
    let _ = uptime::parse_uptime(&text);
    let _ = diskstats::parse_diskstats(&text);
    let _ = net_dev::parse_net_dev(&text);
    if let Ok(samples) = proc_stat::parse_proc_stat_samples(&text) {
        for pair in samples.windows(2) {
            if let Some(u) = proc_stat::cpu_usage(&pair[0].total, &pair[1].total) {
                for v in [u.total, u.user, u.system, u.idle, u.iowait, u.steal] {
                    assert!((0.0..=100.0).contains(&v), "{u:?}");
                }
            }
            let _ = proc_stat::per_cpu_usage(&pair[0], &pair[1]);
        }
    }
});
