//! Builds every test plugin (`tests/plugins/*`) to a component in `$OUT_DIR/plugins` and
//! tells the tests where: `env!("INFRASTRUCTOR_TEST_PLUGIN_DIR")`.

use std::path::PathBuf;

use infrastructor_plugin_builder::{build_guests, discover_packages};

fn main() {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(root) = manifest_dir.parent() else {
        fail("tests/ has no parent directory");
    };
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        fail("OUT_DIR is not set");
    };
    let plugins_dir = PathBuf::from(out_dir).join("plugins");

    let test_plugins = manifest_dir.join("plugins");
    println!("cargo:rerun-if-changed={}", test_plugins.display());
    let packages = discover_packages(&test_plugins, |_| true);
    if packages.is_empty() {
        fail(&format!(
            "no test plugins found in {}",
            test_plugins.display()
        ));
    }
    let names: Vec<&str> = packages.iter().map(|(name, _)| name.as_str()).collect();

    if let Err(e) = build_guests(root, &names, &plugins_dir) {
        fail(&e.to_string());
    }
    // Not `INFRA_…`: cargo also sets it when it runs the tests, and the server reads every
    // `INFRA_*` variable as a configuration key (a reload reading the configuration again
    // would refuse it).
    println!(
        "cargo:rustc-env=INFRASTRUCTOR_TEST_PLUGIN_DIR={}",
        plugins_dir.display()
    );
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
