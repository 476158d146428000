//! A plugin crate written by the server binary's `infrastructor plugins new`, tested and
//! built the way its author would (outside the workspace: its own `cargo test`, then
//! `cargo build --release --target wasm32-wasip2`), for the end-to-end test of the scaffold
//! and for tests that rebuild it at a new version ([`Scaffold::set_version`]).
//!
//! The nested cargo runs:
//! - use their own target directory ([`target_dir`], `<target>/scaffold-test`), never the
//!   outer cargo's, so they never wait for its lock; it is kept between runs, so the SDK and
//!   its dependencies compile once per machine and a warm run rebuilds only the scaffold;
//! - run with the outer cargo's environment removed, as the plugin builder's nested build
//!   does ([`KEPT_ENV`]);
//! - start from a `Cargo.lock` seeded from the workspace's, so the versions are the ones the
//!   SDK is tested with, and run `--offline` first (everything is in the registry cache
//!   once the workspace has built), online only when cargo says it needs the network.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use infrastructor_plugin_builder::{KEPT_ENV, WASI_TARGET, describe, ensure_target};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The nested builds' target directory: `scaffold-test` in `$CARGO_TARGET_DIR`, else in
/// `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("scaffold-test")
}

/// The cargo the tests run under (`$CARGO`), or `cargo` from `PATH`.
fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A cargo command with only [`KEPT_ENV`] of this process's environment.
fn clean_cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(cargo_program());
    cmd.env_clear().current_dir(dir);
    for key in KEPT_ENV {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs the cargo `args` in `dir` with the nested target directory, `--offline` first and
/// again online when the offline run failed for want of the network. Returns the output of
/// the run that succeeded.
fn nested_cargo(dir: &Path, args: &[&str]) -> Result<Output> {
    let run = |offline: bool| -> Result<(String, Output)> {
        let mut cmd = clean_cargo(dir);
        cmd.args(args).arg("--target-dir").arg(target_dir());
        if offline {
            cmd.arg("--offline");
        }
        let command = describe(&cmd);
        let output = cmd
            .output()
            .with_context(|| format!("cannot run `{command}`"))?;
        Ok((command, output))
    };
    let (command, output) = run(true)?;
    if output.status.success() {
        return Ok(output);
    }
    let offline_text = text(&output);
    if !offline_text.contains("offline") {
        bail!("`{command}` in {} failed:\n{offline_text}", dir.display());
    }
    let (command, output) = run(false)?;
    if !output.status.success() {
        bail!(
            "`{command}` in {} failed (offline first: {}):\n{}",
            dir.display(),
            offline_text.lines().last().unwrap_or_default(),
            text(&output)
        );
    }
    Ok(output)
}

/// The newest modification time of the files in `dir` whose name starts with `prefix`.
fn newest(dir: &Path, prefix: &str) -> Option<SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max()
}

/// The server binary: `$INFRASTRUCTOR_BIN`; else `infrastructor` in this test binary's
/// profile directory (`target/release/`) when it is at least as new as the server library
/// the tests link (`cargo test --workspace` builds both); else built there first with
/// `cargo build -p infrastructor --bin infrastructor` in that profile.
pub fn server_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("INFRASTRUCTOR_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("this test binary's path")?;
    // target/<profile>/deps/all-HASH → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("no profile directory above the test binary")?;
    let bin = profile_dir.join("infrastructor");
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let library = newest(&profile_dir.join("deps"), "libinfrastructor-");
    if let (Some(built), Some(library)) = (built, library)
        && built >= library
    {
        return Ok(bin);
    }
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = profile_dir.parent().context("no target directory")?;
    let mut cmd = Command::new(cargo_program());
    cmd.current_dir(workspace_root())
        .args([
            "build",
            "--locked",
            "-p",
            "infrastructor",
            "--bin",
            "infrastructor",
        ])
        .arg("--target-dir")
        .arg(target);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let command = describe(&cmd);
    let output = cmd
        .output()
        .with_context(|| format!("cannot run `{command}`"))?;
    if !output.status.success() || !bin.is_file() {
        bail!(
            "`{command}` did not build {}:\n{}",
            bin.display(),
            text(&output)
        );
    }
    Ok(bin)
}

/// The server binary without this process's `INFRA_*` variables (cargo sets
/// variables for the tests; an `INFRA_*` one the server would read as a configuration
/// key).
fn server_binary_command() -> Result<Command> {
    let mut cmd = Command::new(server_binary()?);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("INFRA_") {
            cmd.env_remove(key);
        }
    }
    Ok(cmd)
}

/// The server binary with an environment that reads no configuration file and keeps its
/// state under `state` (used by `plugins check`).
pub fn server_command(state: &Path) -> Result<Command> {
    let mut cmd = server_binary_command()?;
    cmd.env("INFRA_PLUGINS__DIR", state.join("no-plugins"))
        .env("INFRA_DATABASE__PATH", state.join("db.sqlite"))
        .env("INFRA_PLUGINS__CACHE_DIR", state.join("cache"));
    Ok(cmd)
}

/// A plugin crate written by `infrastructor plugins new`.
#[derive(Debug, Clone)]
pub struct Scaffold {
    /// The plugin's name.
    pub name: String,
    /// The crate's directory.
    pub dir: PathBuf,
    /// What `plugins new` printed.
    pub printed: String,
}

/// Runs the server binary's `plugins new NAME --dir PARENT` and seeds the crate's
/// `Cargo.lock` from the workspace's (see the module's documentation).
pub fn scaffold(parent: &Path, name: &str) -> Result<Scaffold> {
    let mut cmd = server_binary_command()?;
    cmd.args(["plugins", "new", name, "--dir"]).arg(parent);
    let command = describe(&cmd);
    let output = cmd
        .output()
        .with_context(|| format!("cannot run `{command}`"))?;
    if !output.status.success() {
        bail!("`{command}` failed:\n{}", text(&output));
    }
    let dir = parent.join(name);
    let lock = workspace_root().join("Cargo.lock");
    std::fs::copy(&lock, dir.join("Cargo.lock"))
        .with_context(|| format!("seeding Cargo.lock from {}", lock.display()))?;
    Ok(Scaffold {
        name: name.to_owned(),
        dir,
        printed: String::from_utf8_lossy(&output.stdout).into_owned(),
    })
}

impl Scaffold {
    /// The library crate's name (the component is `<crate_name>.wasm`).
    pub fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }

    /// Runs the crate's own tests (`cargo test`); returns their output.
    pub fn cargo_test(&self) -> Result<String> {
        let output = nested_cargo(&self.dir, &["test"])?;
        Ok(text(&output))
    }

    /// Sets the crate's version (`version = "…"` of `[package]`), as an author releasing a
    /// new build would.
    pub fn set_version(&self, version: &str) -> Result<()> {
        let path = self.dir.join("Cargo.toml");
        let manifest = std::fs::read_to_string(&path)?;
        let mut done = false;
        let updated: Vec<String> = manifest
            .lines()
            .map(|line| {
                if !done && line.starts_with("version = ") {
                    done = true;
                    format!("version = \"{version}\"")
                } else {
                    line.to_owned()
                }
            })
            .collect();
        if !done {
            bail!("no `version = ` line in {}", path.display());
        }
        std::fs::write(&path, updated.join("\n") + "\n")?;
        Ok(())
    }

    /// Every file `plugins new` wrote (not the seeded `Cargo.lock`), with its line count.
    pub fn line_counts(&self) -> Result<Vec<(PathBuf, usize)>> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, usize)>) -> Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                let relative = path.strip_prefix(root)?.to_path_buf();
                if path.is_dir() {
                    walk(root, &path, out)?;
                } else if relative != Path::new("Cargo.lock") {
                    out.push((relative, std::fs::read_to_string(&path)?.lines().count()));
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        // Only what was written: no build output (there is none inside the crate: the
        // nested target directory is elsewhere).
        walk(&self.dir, &self.dir, &mut out)?;
        out.sort();
        Ok(out)
    }

    /// Builds the component as the crate's README says (`cargo build --release --target
    /// wasm32-wasip2`) and returns the path of a copy beside the crate's directory
    /// (`<parent>/<crate_name>.wasm`: builds of other scaffolds in the shared target
    /// directory never change it). The toolchain must have the `wasm32-wasip2`
    /// standard library: when it lacks it, the plugin builder's check adds it, or fails
    /// with the `rustup target add …` command to run.
    pub fn build_component(&self) -> Result<PathBuf> {
        ensure_target(WASI_TARGET).map_err(|e| anyhow::anyhow!("{e}"))?;
        nested_cargo(&self.dir, &["build", "--release", "--target", WASI_TARGET])?;
        let wasm = target_dir()
            .join(WASI_TARGET)
            .join("release")
            .join(format!("{}.wasm", self.crate_name()));
        let copy = self
            .dir
            .parent()
            .unwrap_or(&self.dir)
            .join(format!("{}.wasm", self.crate_name()));
        std::fs::copy(&wasm, &copy).with_context(|| {
            format!(
                "cargo built {} but cannot copy {}",
                self.name,
                wasm.display()
            )
        })?;
        Ok(copy)
    }
}
