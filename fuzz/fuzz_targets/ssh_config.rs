//! ssh_config imports with `Include`s: the input split on NUL bytes is the main file, then
//! the files that `Include 1`, `Include 2`… name; and ssh's wildcard match.
#![no_main]
use infrastructor_plugin_devices::parse::ssh_config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let files: Vec<&str> = text.split('\0').collect();
    let _ = ssh_config::parse_ssh_config(files[0]);
    let _ = ssh_config::parse_ssh_config_with_includes(files[0], |path: &str| {
        let i: usize = path.parse().map_err(|_| format!("no file {path}"))?;
        files
            .get(i)
            .map(|t| {
                vec![ssh_config::IncludedFile {
                    name: path.to_string(),
                    text: (*t).to_string(),
                }]
            })
            .ok_or_else(|| format!("no file {path}"))
    });
    if let Some((pattern, name)) = files[0].split_once('\n') {
        let _ = ssh_config::wildcard(pattern.as_bytes(), name.as_bytes());
    }
});
