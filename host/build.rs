//! Compiles the built-in plugins (crates under `plugins/` marked
//! `[package.metadata.infrastructor] builtin = true`) to wasm32-wasip2 components and
//! generates `builtin_plugins.rs`, which embeds them in the binary.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("workspace root").to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", root.join("plugins").display());

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BUILD_RUSTC_VERSION={}", version.trim());

    let builtins = infrastructor_plugin_builder::discover_builtin_plugins(&root);
    let names: Vec<&str> = builtins.iter().map(|(name, _)| name.as_str()).collect();
    let wasm_dir = out_dir.join("builtin-plugins");
    let built = if names.is_empty() {
        Vec::new()
    } else {
        match infrastructor_plugin_builder::build_guests(&root, &names, &wasm_dir) {
            Ok(b) => b,
            Err(e) => panic!("building built-in plugins failed:\n{e}"),
        }
    };
    let mut code =
        String::from("/// Every built-in plugin.\npub static PLUGINS: &[BuiltinPlugin] = &[\n");
    for guest in &built {
        let name = guest
            .package
            .strip_prefix("infrastructor-plugin-")
            .unwrap_or(&guest.package);
        // The hash is taken here so the server never reads an embedded component whose
        // compiled artifact is already cached (its pages then stay out of memory).
        let wasm = std::fs::read(&guest.path).expect("read built guest");
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm));
        writeln!(
            code,
            "    BuiltinPlugin {{ name: {name:?}, wasm: include_bytes!({:?}), sha256: {sha256:?} }},",
            guest.path.display().to_string()
        )
        .expect("write");
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), code).expect("write builtin_plugins.rs");
}
