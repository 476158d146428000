//! Compiles guest plugin crates of this workspace to WebAssembly components, from a build
//! script.
//!
//! Guests are compiled for `wasm32-unknown-unknown`, without WASI's standard library, and
//! each core module is then made a component with `wit-component` (what `wasm-component-ld`
//! does for `wasm32-wasip2`). A guest so imports only the plugin API interfaces it uses, plus
//! the WASI clocks or filesystem when it reads them through the SDK (`clock`, `files`): a
//! `wasm32-wasip2` build links 13 WASI interfaces into every guest, which every instance
//! then pays for (instantiation ≈ 4.4 µs instead of ≈ 2.9 µs for the same trivial plugin).
//!
//! The guests are built by ONE nested `cargo build` with its own target directory
//! (`<workspace>/target/wasm-guests`), so it never waits for the outer cargo's lock, and with
//! the outer cargo's build-script environment removed, so nothing meant for the host crate
//! (`RUSTFLAGS`, `CARGO_CFG_*`, `TARGET`, profile and feature variables…) leaks into the
//! guests:
//!
//! ```text
//! $CARGO build --target wasm32-unknown-unknown --profile wasm-guest \
//!     --manifest-path <root>/Cargo.toml --target-dir <root>/target/wasm-guests -p A -p B …
//! ```
//!
//! ```no_run
//! // build.rs
//! use std::path::{Path, PathBuf};
//!
//! let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
//! let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("plugins");
//! let built = infrastructor_plugin_builder::build_guests(root, &["test-plugin-hello"], &out)
//!     .unwrap_or_else(|e| panic!("{e}"));
//! assert_eq!(built[0].path, out.join("test_plugin_hello.wasm"));
//! ```

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target triple guests are compiled for (no WASI standard library: see the crate doc).
pub const GUEST_TARGET: &str = "wasm32-unknown-unknown";

/// The target a third-party plugin scaffolded by `infrastructor plugins new` builds for with
/// a plain `cargo build` (it links WASI's standard library, and needs no componentizing).
pub const WASI_TARGET: &str = "wasm32-wasip2";

/// The cargo profile guests are compiled with (defined in the workspace's `Cargo.toml`).
pub const GUEST_PROFILE: &str = "wasm-guest";

/// The environment variables the nested cargo keeps; every other one is removed.
pub const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "TMPDIR",
];

/// A guest compiled to a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltGuest {
    /// The cargo package name (`test-plugin-hello`).
    pub package: String,
    /// The library crate name (`test_plugin_hello`); the file is `<crate_name>.wasm`.
    pub crate_name: String,
    /// Where the component was copied (`<out_dir>/<crate_name>.wasm`).
    pub path: PathBuf,
    /// The component's size in bytes.
    pub size: u64,
}

/// Why guests could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The nested cargo could not be started.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The program (the outer cargo).
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// `cargo metadata` failed or printed something unexpected.
    #[error("cannot read the workspace metadata: {0}")]
    Metadata(String),
    /// A requested package is not a member of the workspace.
    #[error("`{0}` is not a package of the workspace")]
    UnknownPackage(String),
    /// A requested package has no library target to build as a `cdylib`.
    #[error("package `{0}` has no library target (guests must be `cdylib` crates)")]
    NoLibrary(String),
    /// The nested build failed; carries cargo's standard error.
    #[error("building guest plugins failed ({status}):\n$ {command}\n{stderr}")]
    Cargo {
        /// The command that was run.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error.
        stderr: String,
    },
    /// The build succeeded but a component is not where it should be.
    #[error("cargo built `{package}` but {path} does not exist")]
    MissingArtifact {
        /// The package.
        package: String,
        /// The expected path.
        path: PathBuf,
    },
    /// A target's standard library is not installed for the toolchain in use and could not
    /// be added; carries the one command that adds it.
    #[error(
        "the Rust toolchain in use has no `{target}` standard library, and adding it failed ({reason}).\nRun: {command}"
    )]
    MissingTarget {
        /// The target (`wasm32-unknown-unknown`).
        target: String,
        /// The command the user should run (`rustup target add … --toolchain …`).
        command: String,
        /// Why the automatic install did not work.
        reason: String,
    },
    /// A built core module could not be made a component (its component-type sections,
    /// written by `wit-bindgen`, do not match what it imports and exports).
    #[error("cannot make a component of `{package}`: {reason}")]
    Componentize {
        /// The package.
        package: String,
        /// What `wit-component` reported.
        reason: String,
    },
    /// Writing a component or creating the output directory failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// The cargo the build script runs under (`$CARGO`), or `cargo` from `PATH`.
fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A cargo command with the outer build's environment removed (see [`KEPT_ENV`]).
fn clean_cargo() -> Command {
    let mut cmd = Command::new(cargo_program());
    cmd.env_clear();
    for key in KEPT_ENV {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd
}

/// A workspace package as `cargo metadata` describes it.
#[derive(Debug)]
struct Package {
    name: String,
    dir: PathBuf,
    lib_name: Option<String>,
}

/// Every package of the workspace (`cargo metadata --no-deps`).
fn workspace_packages(root: &Path) -> Result<Vec<Package>, BuildError> {
    let mut cmd = clean_cargo();
    cmd.current_dir(root)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"));
    let output = cmd.output().map_err(|source| BuildError::Spawn {
        program: cargo_program().to_string_lossy().into_owned(),
        source,
    })?;
    if !output.status.success() {
        return Err(BuildError::Metadata(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| BuildError::Metadata(format!("invalid JSON: {e}")))?;
    let packages = metadata["packages"]
        .as_array()
        .ok_or_else(|| BuildError::Metadata("no `packages` array".to_owned()))?;
    packages
        .iter()
        .map(|package| {
            let name = package["name"]
                .as_str()
                .ok_or_else(|| BuildError::Metadata("a package has no name".to_owned()))?;
            let dir = package["manifest_path"]
                .as_str()
                .and_then(|m| Path::new(m).parent())
                .map(Path::to_path_buf)
                .ok_or_else(|| BuildError::Metadata(format!("no manifest path for `{name}`")))?;
            let lib_name = package["targets"].as_array().and_then(|targets| {
                targets
                    .iter()
                    .find(|t| {
                        t["kind"]
                            .as_array()
                            .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib" || k == "lib"))
                    })
                    .and_then(|t| t["name"].as_str())
                    .map(|n| n.replace('-', "_"))
            });
            Ok(Package {
                name: name.to_owned(),
                dir,
                lib_name,
            })
        })
        .collect()
}

/// The linker flags every guest is built with: an initial linear memory of
/// [`GUEST_INITIAL_MEMORY`] bytes.
pub fn guest_rustflags() -> String {
    format!("-Clink-arg=--initial-memory={GUEST_INITIAL_MEMORY}")
}

/// The variable carrying [`guest_rustflags`] to a nested build for `target` (its artifacts
/// only: build scripts and proc macros are untouched):
/// `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS`.
pub fn rustflags_var(target: &str) -> String {
    format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        target.to_ascii_uppercase().replace(['-', '.'], "_")
    )
}

/// The initial linear memory of a guest (8 MiB): enough that a call rarely grows it. A
/// call that grows memory costs two `mprotect`s (the growth, and the reset when its pooled
/// slot is reused), each a TLB shootdown on every core; pages that are never touched cost
/// nothing.
pub const GUEST_INITIAL_MEMORY: u64 = 8 << 20;

/// The nested build command for `packages` and `target` (without running it).
pub fn guest_build_command(workspace_root: &Path, packages: &[&str], target: &str) -> Command {
    let mut cmd = clean_cargo();
    cmd.env(rustflags_var(target), guest_rustflags());
    cmd.current_dir(workspace_root)
        .args(["build", "--target", target, "--profile", GUEST_PROFILE])
        .arg("--manifest-path")
        .arg(workspace_root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(guest_target_dir(workspace_root));
    for package in packages {
        cmd.args(["-p", package]);
    }
    cmd
}

/// The nested build's target directory, `<root>/target/wasm-guests`.
pub fn guest_target_dir(workspace_root: &Path) -> PathBuf {
    workspace_root.join("target").join("wasm-guests")
}

/// A command as one line (program and arguments), for error messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds `packages` (workspace package names) with one nested cargo, makes each core module
/// a component ([`componentize`]) and writes it to `out_dir` as `<crate_name>.wasm` (created
/// if needed; a file whose content did not change is left alone so its timestamp does not
/// trigger rebuilds of crates embedding it).
///
/// Prints `cargo:rerun-if-changed` for each guest crate's directory, `plugins/sdk`, `wit/`,
/// `Cargo.lock` and the workspace `Cargo.toml` (whose `[profile.wasm-guest]` shapes the
/// build), so a build script calling it reruns exactly when a guest may have changed.
///
/// A failed build becomes [`BuildError::Cargo`] with cargo's standard error.
pub fn build_guests(
    workspace_root: &Path,
    packages: &[&str],
    out_dir: &Path,
) -> Result<Vec<BuiltGuest>, BuildError> {
    let resolved = resolve_packages(workspace_root, packages)?;
    // Build-script directives: printed here, by the build scripts' entry point only.
    for (_, _, dir) in &resolved {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    for path in ["plugins/sdk", "wit", "Cargo.lock", "Cargo.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace_root.join(path).display()
        );
    }
    build_resolved(workspace_root, resolved, GUEST_TARGET, out_dir)
}

/// [`build_guests`] for `target`, outside a build script (it prints no `cargo:` directive):
/// [`GUEST_TARGET`] (made components here), or [`WASI_TARGET`] (made components by the
/// toolchain's linker: the build a third-party plugin makes with `cargo build`, for
/// comparisons).
pub fn build_guests_for(
    workspace_root: &Path,
    packages: &[&str],
    target: &str,
    out_dir: &Path,
) -> Result<Vec<BuiltGuest>, BuildError> {
    let resolved = resolve_packages(workspace_root, packages)?;
    build_resolved(workspace_root, resolved, target, out_dir)
}

/// A package to build: (package name, crate name, crate directory).
type Resolved<'a> = (&'a str, String, PathBuf);

/// Finds each of `packages` in the workspace, with its library's crate name.
fn resolve_packages<'a>(
    workspace_root: &Path,
    packages: &[&'a str],
) -> Result<Vec<Resolved<'a>>, BuildError> {
    let workspace = workspace_packages(workspace_root)?;
    packages
        .iter()
        .map(|name| {
            let package = workspace
                .iter()
                .find(|p| p.name == *name)
                .ok_or_else(|| BuildError::UnknownPackage((*name).to_owned()))?;
            let crate_name = package
                .lib_name
                .clone()
                .ok_or_else(|| BuildError::NoLibrary((*name).to_owned()))?;
            Ok((*name, crate_name, package.dir.clone()))
        })
        .collect()
}

/// Builds the resolved packages for `target` with one nested cargo and writes each
/// component to `out_dir`.
fn build_resolved(
    workspace_root: &Path,
    resolved: Vec<Resolved<'_>>,
    target: &str,
    out_dir: &Path,
) -> Result<Vec<BuiltGuest>, BuildError> {
    let packages: Vec<&str> = resolved.iter().map(|(name, _, _)| *name).collect();
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    ensure_target(target)?;

    let mut cmd = guest_build_command(workspace_root, &packages, target);
    let command = describe(&cmd);
    let output = cmd.output().map_err(|source| BuildError::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    if !output.status.success() {
        return Err(BuildError::Cargo {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }

    fs::create_dir_all(out_dir).map_err(|source| BuildError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let artifacts = guest_target_dir(workspace_root)
        .join(target)
        .join(GUEST_PROFILE);
    let mut built = Vec::with_capacity(resolved.len());
    for (package, crate_name, _) in resolved {
        let file = format!("{crate_name}.wasm");
        let from = artifacts.join(&file);
        let core = fs::read(&from).map_err(|_| BuildError::MissingArtifact {
            package: package.to_owned(),
            path: from.clone(),
        })?;
        let bytes = if target == WASI_TARGET {
            core
        } else {
            componentize(&core).map_err(|reason| BuildError::Componentize {
                package: package.to_owned(),
                reason,
            })?
        };
        let to = out_dir.join(&file);
        if fs::read(&to).ok().as_deref() != Some(bytes.as_slice()) {
            fs::write(&to, &bytes).map_err(|source| BuildError::Io {
                path: to.clone(),
                source,
            })?;
        }
        built.push(BuiltGuest {
            package: package.to_owned(),
            crate_name,
            path: to,
            size: bytes.len() as u64,
        });
    }
    Ok(built)
}

/// Makes a component of a core module built with `wit-bindgen`: the component-type custom
/// sections it carries (the SDK's plugin API world, and the WASI interfaces the SDK's `clock`
/// and `files` use) say which interface each import and export belongs to; only the
/// interfaces the module really imports become the component's imports.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(core)
        .map_err(|e| format!("{e:#}"))?
        .encode()
        .map_err(|e| format!("{e:#}"))
}

/// The names of what a component imports: interfaces (`wasi:clocks/wall-clock@0.2.12`,
/// `infrastructor:plugin/ssh@0.2.0`) and free functions, in the component's order.
pub fn component_imports(component: &[u8]) -> Result<Vec<String>, String> {
    match wit_component::decode(component).map_err(|e| format!("{e:#}"))? {
        wit_component::DecodedWasm::Component(resolve, world) => Ok(resolve.worlds[world]
            .imports
            .keys()
            .map(|key| resolve.name_world_key(key))
            .collect()),
        wit_component::DecodedWasm::WitPackage(..) => {
            Err("a WIT package, not a component".to_owned())
        }
    }
}

/// The sysroot of the compiler the outer build uses (`$RUSTC --print sysroot`).
fn sysroot() -> Option<PathBuf> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(text.trim()))
}

/// True when `sysroot` holds the standard library of `target`.
pub fn has_target(sysroot: &Path, target: &str) -> bool {
    sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// The rustup toolchain name of a build: `$RUSTUP_TOOLCHAIN` when rustup's proxy set it,
/// else the name of the sysroot directory (`~/.rustup/toolchains/<name>`).
pub fn toolchain_name(rustup_toolchain: Option<&str>, sysroot: &Path) -> Option<String> {
    rustup_toolchain
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            let parent = sysroot.parent()?;
            (parent.file_name()? == "toolchains")
                .then(|| sysroot.file_name()?.to_str().map(str::to_owned))
                .flatten()
        })
}

/// The command that adds `target` to `toolchain` (or to the default toolchain).
pub fn target_add_command(target: &str, toolchain: Option<&str>) -> Vec<String> {
    let mut argv: Vec<String> = ["rustup", "target", "add", target]
        .map(str::to_owned)
        .to_vec();
    if let Some(t) = toolchain {
        argv.extend(["--toolchain".to_owned(), t.to_owned()]);
    }
    argv
}

/// Makes sure the toolchain in use can build guests ([`GUEST_TARGET`]).
pub fn ensure_guest_target() -> Result<(), BuildError> {
    ensure_target(GUEST_TARGET)
}

/// Makes sure the toolchain in use has the standard library of `target`.
///
/// rustup adds the targets of `rust-toolchain.toml` only when it installs a toolchain, never
/// to one already installed, and a build script's `$CARGO` is the toolchain's own cargo (past
/// rustup's proxy). So: when the sysroot lacks `target`, run `rustup target add` for the
/// toolchain in use; when that is impossible, fail with the exact command to run.
pub fn ensure_target(target: &str) -> Result<(), BuildError> {
    let Some(sysroot) = sysroot() else {
        // Cannot tell; the nested cargo will say what is wrong.
        return Ok(());
    };
    if has_target(&sysroot, target) {
        return Ok(());
    }
    let toolchain = toolchain_name(std::env::var("RUSTUP_TOOLCHAIN").ok().as_deref(), &sysroot);
    let argv = target_add_command(target, toolchain.as_deref());
    let command = argv.join(" ");
    println!("cargo:warning=installing the {target} target: {command}");
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    // rustup must act for the toolchain named, whatever an outer override says.
    cmd.env_remove("RUSTUP_TOOLCHAIN");
    let result = cmd.output();
    // Another build script may have installed it meanwhile: what counts is the sysroot.
    if has_target(&sysroot, target) {
        return Ok(());
    }
    let reason = match result {
        Ok(out) => format!(
            "`{command}` exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("cannot run `rustup`: {e}"),
    };
    Err(BuildError::MissingTarget {
        target: target.to_owned(),
        command,
        reason,
    })
}

/// Crates directly under `dir` (`dir/*/Cargo.toml`) with a `[package]` table, as
/// `(package name, crate directory)` sorted by name, for which `keep` returns true when given
/// the parsed manifest. Unreadable or invalid manifests are skipped (cargo reports them).
pub fn discover_packages(
    dir: &Path,
    keep: impl Fn(&toml::Table) -> bool,
) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|crate_dir| {
            let text = fs::read_to_string(crate_dir.join("Cargo.toml")).ok()?;
            let manifest: toml::Table = text.parse().ok()?;
            let name = manifest.get("package")?.get("name")?.as_str()?.to_owned();
            keep(&manifest).then_some((name, crate_dir))
        })
        .collect();
    found.sort();
    found
}

/// The built-in plugins: crates under `<root>/plugins/*/` whose `Cargo.toml` says
/// `[package.metadata.infrastructor] builtin = true`, as `(package name, crate directory)`
/// sorted by name. (`plugins/sdk` and `plugins/builder` are not plugins and say nothing.)
///
/// A build script using it should also print `cargo:rerun-if-changed=<root>/plugins` so a
/// newly added plugin is picked up.
pub fn discover_builtin_plugins(workspace_root: &Path) -> Vec<(String, PathBuf)> {
    discover_packages(&workspace_root.join("plugins"), |manifest| {
        manifest
            .get("package")
            .and_then(|p| p.get("metadata"))
            .and_then(|m| m.get("infrastructor"))
            .and_then(|i| i.get("builtin"))
            .and_then(toml::Value::as_bool)
            == Some(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("workspace root")
            .to_path_buf()
    }

    /// A private directory for one test, removed when it is dropped (also when the test
    /// fails).
    struct Scratch(tempfile::TempDir);

    impl std::ops::Deref for Scratch {
        type Target = Path;
        fn deref(&self) -> &Path {
            self.0.path()
        }
    }

    fn scratch(name: &str) -> Scratch {
        Scratch(
            tempfile::Builder::new()
                .prefix(&format!("infrastructor-builder-{name}-"))
                .tempdir()
                .expect("scratch dir"),
        )
    }

    #[test]
    fn discovers_only_builtin_plugins() {
        let root = scratch("discover");
        let write = |dir: &str, text: &str| {
            let d = root.join("plugins").join(dir);
            fs::create_dir_all(&d).expect("dir");
            fs::write(d.join("Cargo.toml"), text).expect("write");
        };
        write("sdk", "[package]\nname = \"infrastructor-sdk\"\n");
        write(
            "zfs",
            "[package]\nname = \"plugin-zfs\"\n[package.metadata.infrastructor]\nbuiltin = true\n",
        );
        write(
            "devices",
            "[package]\nname = \"plugin-devices\"\n\n[package.metadata.infrastructor]\nbuiltin = true\n",
        );
        write(
            "third",
            "[package]\nname = \"third\"\n[package.metadata.infrastructor]\nbuiltin = false\n",
        );
        write("broken", "[package\nname = ");
        let found = discover_builtin_plugins(&root);
        assert_eq!(
            found,
            [
                ("plugin-devices".to_owned(), root.join("plugins/devices")),
                ("plugin-zfs".to_owned(), root.join("plugins/zfs")),
            ]
        );
        assert!(discover_builtin_plugins(&root.join("nowhere")).is_empty());
    }

    #[test]
    fn the_real_workspace_has_the_builtin_plugins_and_the_test_plugins() {
        let root = workspace_root();
        let builtins = discover_builtin_plugins(&root);
        for (name, dir) in [
            ("infrastructor-plugin-containers", "plugins/containers"),
            ("infrastructor-plugin-devices", "plugins/devices"),
        ] {
            assert!(
                builtins.contains(&(name.to_owned(), root.join(dir))),
                "{name} in {dir}: {builtins:?}"
            );
        }
        assert!(
            builtins.iter().all(
                |(name, dir)| dir.parent() == Some(root.join("plugins").as_path())
                    && name != "infrastructor-sdk"
                    && name != "infrastructor-plugin-builder"
            ),
            "{builtins:?}"
        );
        // Every crate directory under tests/plugins is a test plugin.
        let crate_dirs = fs::read_dir(root.join("tests/plugins"))
            .expect("tests/plugins")
            .filter_map(Result::ok)
            .filter(|e| e.path().join("Cargo.toml").is_file())
            .count();
        let tests = discover_packages(&root.join("tests/plugins"), |_| true);
        assert_eq!(tests.len(), crate_dirs, "{tests:?}");
        for name in ["test-plugin-hello", "test-plugin-remote"] {
            assert!(tests.iter().any(|(n, _)| n == name), "{name}: {tests:?}");
        }
    }

    #[test]
    fn command_line() {
        let root = Path::new("/ws");
        let cmd = guest_build_command(root, &["a", "b-c"], GUEST_TARGET);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "build",
                "--target",
                "wasm32-unknown-unknown",
                "--profile",
                "wasm-guest",
                "--manifest-path",
                "/ws/Cargo.toml",
                "--target-dir",
                "/ws/target/wasm-guests",
                "-p",
                "a",
                "-p",
                "b-c"
            ]
        );
        let envs: Vec<_> = cmd
            .get_envs()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        // The outer build's environment is gone; the only variable set is the guests' own
        // linker flags.
        assert!(
            envs.iter().all(|k| KEPT_ENV.contains(&k.as_str())
                || k == "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS"),
            "{envs:?}"
        );
        assert_eq!(
            rustflags_var(WASI_TARGET),
            "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS"
        );
        assert!(
            cmd.get_envs()
                .any(|(k, v)| k == rustflags_var(GUEST_TARGET).as_str()
                    && v.is_some_and(|v| v.to_string_lossy() == guest_rustflags())),
        );
    }

    #[test]
    fn the_toolchain_is_named_from_rustup_or_from_the_sysroot() {
        let sysroot = Path::new("/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu");
        assert_eq!(
            toolchain_name(Some("1.95.0-x86_64-unknown-linux-gnu"), sysroot).as_deref(),
            Some("1.95.0-x86_64-unknown-linux-gnu")
        );
        assert_eq!(
            toolchain_name(None, sysroot).as_deref(),
            Some("stable-x86_64-unknown-linux-gnu")
        );
        assert_eq!(toolchain_name(Some(""), Path::new("/usr")), None);
        assert_eq!(
            target_add_command(GUEST_TARGET, Some("stable")),
            [
                "rustup",
                "target",
                "add",
                "wasm32-unknown-unknown",
                "--toolchain",
                "stable"
            ]
        );
        assert_eq!(
            target_add_command(WASI_TARGET, None),
            ["rustup", "target", "add", "wasm32-wasip2"]
        );
        let err = BuildError::MissingTarget {
            target: WASI_TARGET.into(),
            command: "rustup target add wasm32-wasip2".into(),
            reason: "cannot run `rustup`".into(),
        };
        assert!(
            err.to_string()
                .ends_with("\nRun: rustup target add wasm32-wasip2"),
            "{err}"
        );
    }

    #[test]
    fn the_toolchain_in_use_has_the_guest_target_once_ensured() {
        ensure_guest_target().unwrap_or_else(|e| panic!("{e}"));
        let sysroot = sysroot().expect("sysroot");
        assert!(has_target(&sysroot, GUEST_TARGET), "{}", sysroot.display());
    }

    #[test]
    fn unknown_packages_are_reported() {
        let err = build_guests(&workspace_root(), &["no-such-package"], &scratch("unknown"))
            .expect_err("unknown");
        assert!(matches!(err, BuildError::UnknownPackage(ref p) if p == "no-such-package"));
    }

    /// Runs the real nested build of every test plugin (slow).
    #[test]
    fn builds_the_test_plugins() {
        let root = workspace_root();
        let packages = discover_packages(&root.join("tests/plugins"), |_| true);
        let names: Vec<&str> = packages.iter().map(|(n, _)| n.as_str()).collect();
        let out = scratch("build");
        let built = build_guests(&root, &names, &out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(built.len(), names.len());
        for guest in &built {
            let bytes = fs::read(&guest.path).expect("copied");
            // A component: `\0asm`, version 0x0d, layer 1.
            assert_eq!(bytes[..8], *b"\0asm\x0d\x00\x01\x00", "{}", guest.package);
            assert_eq!(bytes.len() as u64, guest.size);
            // Built without WASI's standard library, and none of them reads the clock or a
            // file: not one WASI import.
            let imports = component_imports(&bytes).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                imports.iter().all(|i| i.starts_with("infrastructor:")),
                "{}: {imports:?}",
                guest.package
            );
            println!(
                "{} {} bytes, imports {imports:?}",
                guest.path.display(),
                guest.size
            );
        }
    }

    /// A scratch workspace with one guest crate whose `lib.rs` is `source`.
    fn scratch_workspace(name: &str, source: &str) -> Scratch {
        let root = scratch(name);
        fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nresolver = \"3\"\nmembers = [\"guest\"]\n\n\
             [profile.wasm-guest]\ninherits = \"release\"\n",
        )
        .expect("workspace manifest");
        fs::create_dir_all(root.join("guest/src")).expect("guest dir");
        fs::write(
            root.join("guest/Cargo.toml"),
            "[package]\nname = \"scratch-guest\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
             [lib]\ncrate-type = [\"cdylib\"]\n",
        )
        .expect("guest manifest");
        fs::write(root.join("guest/src/lib.rs"), source).expect("guest source");
        root
    }

    #[test]
    fn failed_builds_carry_cargo_stderr() {
        let root = scratch_workspace("broken", "pub fn broken( {}\n");
        let err = build_guests(&root, &["scratch-guest"], &root.join("out")).expect_err("fails");
        match &err {
            BuildError::Cargo {
                stderr, command, ..
            } => {
                assert!(stderr.contains("error"), "{stderr}");
                assert!(stderr.contains("src/lib.rs"), "{stderr}");
                assert!(command.contains("--profile wasm-guest"), "{command}");
            }
            other => panic!("unexpected error: {other}"),
        }
        assert!(err.to_string().contains("building guest plugins failed"));
    }

    #[test]
    fn builds_a_scratch_guest_into_a_component() {
        let root = scratch_workspace("ok", "pub fn answer() -> u32 { 42 }\n");
        let out = root.join("out");
        let built = build_guests(&root, &["scratch-guest"], &out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(built.len(), 1);
        assert_eq!(built[0].crate_name, "scratch_guest");
        assert_eq!(built[0].path, out.join("scratch_guest.wasm"));
        let bytes = fs::read(&built[0].path).expect("copied");
        assert_eq!(bytes[..8], *b"\0asm\x0d\x00\x01\x00");
    }
}
