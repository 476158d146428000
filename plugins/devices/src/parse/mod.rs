//! Pure parsers of the command outputs the devices plugin collects over SSH.
//!
//! One module per command (`ss -tulpn`/`netstat -tulpn`, which more than one plugin reads, is
//! in `infrastructor_parsers::ss`). Every parser is a plain function from the command's text (or
//! bytes) to typed, serde-serialisable structs, unit-tested natively on the real outputs in
//! `tests/fixtures`. A parser never panics on odd input and never answers an empty success
//! for output it does not understand: it returns a [`ParseError`] naming the command (and
//! the line, where there is one), e.g. `df: line 3: expected 6 columns, found 2`.

pub mod cpuinfo;
pub mod df;
pub mod diskstats;
pub use infrastructor_parsers::journal;
pub mod loadavg;
pub mod lsblk;
pub mod meminfo;
pub mod net_dev;
pub mod os_release;
pub mod proc_stat;
pub mod smartctl;
pub mod ssh_config;
pub mod uptime;

// The error type and the size, number and calendar helpers are shared with other plugins'
// parsers and live in the SDK; re-exported so `super::ParseError` etc. keep working.
pub use infrastructor_sdk::text::{
    ParseError, civil_from_days, parse_grouped_u64, parse_human_size, rfc3339_from_micros,
};

// The column tokeniser is shared with the `ss`/`netstat` parser, which lives in
// `infrastructor-parsers` (it is used by more than one plugin).
pub(crate) use infrastructor_parsers::tokens::spans;

#[cfg(test)]
pub(crate) use infrastructor_sdk::testing::{fixture, fixture_dir};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every parser on prefixes and line-shuffled copies of every fixture: errors are fine,
    /// panics are not.
    #[test]
    fn no_parser_panics_on_mangled_input() {
        let mut texts: Vec<String> = Vec::new();
        for dir in ["system", "system/proc", "system/ssh_config", "smart"] {
            for f in fixture_dir(dir) {
                let path = format!("{}/{dir}/{f}", infrastructor_sdk::testing::root());
                if std::path::Path::new(&path).is_file() {
                    texts.push(fixture(&format!("{dir}/{f}")));
                }
            }
        }
        assert!(texts.len() > 100);
        let parsers: &[fn(&str)] = &[
            |t| drop(cpuinfo::parse_cpuinfo(t)),
            |t| drop(df::parse_df(t)),
            |t| drop(diskstats::parse_diskstats(t)),
            |t| drop(journal::parse_journal_json(t)),
            |t| drop(journal::journal_since(t)),
            |t| drop(loadavg::parse_loadavg(t)),
            |t| drop(lsblk::parse_lsblk_json(t)),
            |t| drop(lsblk::parse_lsblk_text(t)),
            |t| drop(meminfo::parse_meminfo(t)),
            |t| drop(net_dev::parse_net_dev(t)),
            |t| drop(os_release::parse_os_release(t)),
            |t| drop(proc_stat::parse_proc_stat_samples(t)),
            |t| drop(smartctl::parse_smartctl_json(t)),
            |t| drop(smartctl::parse_smartctl_text(t)),
            |t| drop(smartctl::parse_smartctl_scan_json(t)),
            |t| drop(smartctl::parse_smartctl_scan_text(t)),
            |t| drop(infrastructor_parsers::ss::parse_ss(t)),
            |t| drop(infrastructor_parsers::ss::parse_netstat(t)),
            |t| drop(ssh_config::parse_ssh_config(t)),
            |t| drop(uptime::parse_uptime(t)),
        ];
        for text in &texts {
            let variants = infrastructor_sdk::testing::mangled_variants(text, 8);
            for v in &variants {
                for p in parsers {
                    p(v);
                }
            }
        }
    }
}
