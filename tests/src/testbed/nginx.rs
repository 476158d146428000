//! `nginx -t` on a generated config (Debian `nginx`), with a private prefix: the config and its
//! stub includes are written to a temp dir, and nginx's pid file and error log point there, so
//! a check never touches `/etc/nginx`, `/run/nginx.pid` or `/var/log/nginx`.

use std::path::{Component, Path};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use super::run_with_timeout;
use super::tools::require;

/// The result of `nginx -t`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Whether nginx accepted the config (exit status 0).
    pub ok: bool,
    /// nginx's stderr: `syntax is ok` / `test is successful`, or its own message naming the
    /// file and line (`… in /tmp/…/nginx.conf:3`). Paths are inside a temp dir that is gone
    /// by the time this is returned.
    pub stderr: String,
}

/// Runs `nginx -t -c <tmp>/nginx.conf -p <tmp>/ -e <tmp>/logs/error.log` on `config` (the
/// main config) with `extra_files` (`(path relative to the prefix, contents)`, e.g. stub
/// includes such as `("proxy-confs/app.subdomain.conf", "…")`) beside it.
///
/// When `config` has no `pid` directive of its own, `-g "pid <tmp>/nginx.pid;"` is added (in
/// test mode nginx still creates the pid file, by default `/run/nginx.pid`). Relative paths in
/// the config (includes, logs) resolve against the temp prefix.
///
/// # Panics
/// When `nginx` is missing (Debian package nginx).
pub fn nginx_check(config: &str, extra_files: &[(&str, &str)]) -> Result<CheckOutcome> {
    let nginx = require("nginx", "nginx");
    let dir = tempfile::Builder::new()
        .prefix("tb-nginx-")
        .tempdir()
        .context("creating the nginx prefix")?;
    let prefix = dir.path();
    std::fs::create_dir(prefix.join("logs")).context("creating logs/")?;
    for (relative, contents) in extra_files {
        let relative = Path::new(relative);
        ensure!(
            relative
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir)),
            "extra file {} must be a relative path inside the prefix",
            relative.display()
        );
        let path = prefix.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    let main = prefix.join("nginx.conf");
    std::fs::write(&main, config).context("writing nginx.conf")?;

    let mut cmd = Command::new(nginx);
    cmd.arg("-t")
        .arg("-c")
        .arg(&main)
        .arg("-p")
        .arg(format!("{}/", prefix.display()))
        .arg("-e")
        .arg(prefix.join("logs/error.log"));
    if !has_main_directive(config, "pid") {
        cmd.arg("-g")
            .arg(format!("pid {};", prefix.join("nginx.pid").display()));
    }
    let output = run_with_timeout(&mut cmd, Duration::from_secs(60), "nginx -t")?;
    Ok(CheckOutcome {
        ok: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    })
}

/// Whether `config` has `directive` at the top level (outside every block), ignoring comments.
fn has_main_directive(config: &str, directive: &str) -> bool {
    let mut depth = 0usize;
    let mut at_statement_start = true;
    for line in config.lines() {
        let code = line.split('#').next().unwrap_or_default();
        let mut rest = code;
        while !rest.is_empty() {
            let trimmed = rest.trim_start();
            if trimmed.is_empty() {
                break;
            }
            if at_statement_start && depth == 0 {
                let word: String = trimmed
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if word == directive {
                    return true;
                }
            }
            let Some(c) = trimmed.chars().next() else {
                break;
            };
            match c {
                '{' => {
                    depth += 1;
                    at_statement_start = true;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    at_statement_start = true;
                }
                ';' => at_statement_start = true,
                _ => at_statement_start = false,
            }
            rest = &trimmed[c.len_utf8()..];
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_main_directive;

    #[test]
    fn finds_top_level_directives_only() {
        assert!(has_main_directive("pid /x;\nevents {}", "pid"));
        assert!(has_main_directive("user www-data; pid /x;", "pid"));
        assert!(!has_main_directive("events {}\nhttp { pid_x on; }", "pid"));
        assert!(!has_main_directive("# pid /x;\nevents {}", "pid"));
        assert!(!has_main_directive("http { server { pid /x; } }", "pid"));
        assert!(!has_main_directive("pidfile x;", "pid"));
    }
}
