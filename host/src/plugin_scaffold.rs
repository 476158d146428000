//! `infrastructor plugins new NAME [--dir D] [--sdk-path P]`: writes an out-of-tree plugin
//! crate at `D/NAME` that passes its own tests (`cargo test`) and builds to a component the
//! server loads (`cargo build --release --target wasm32-wasip2`) at once.
//!
//! The crate (templates in `host/templates/plugin/`, embedded in the binary):
//! - `Cargo.toml`: a `cdylib` + `rlib` with its own `[workspace]` table (it builds wherever it
//!   is), the SDK as a dependency and, with its `testing` feature, as a dev-dependency, and a
//!   release profile for small components;
//! - `.cargo/config.toml`: the `wasm32-wasip2` linker flags the server's plugin builder gives
//!   every guest ([`infrastructor_plugin_builder::guest_rustflags`], so they never diverge);
//! - `src/lib.rs`: one GET route running a remote command through the host and parsing its
//!   output, a native unit test of the parser and handler tests through the SDK's test host;
//! - `README.md` (test, build, check, install with grants and a `sha256` pin, run) and
//!   `.gitignore`.
//!
//! The SDK dependency is a `path` dependency on this server's source tree when the binary was
//! built from one that still exists (or on `--sdk-path`), else a `git` dependency on the
//! repository at the tag of this server's version ([`SdkSource`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use infrastructor_plugin_builder::{WASI_TARGET, guest_rustflags};

use crate::config::is_plugin_name;
use crate::plugins::bindings::ApiVersion;

/// The template of `Cargo.toml`.
const CARGO_TOML: &str = include_str!("../templates/plugin/Cargo.toml.tmpl");
/// The template of `.cargo/config.toml`.
const CARGO_CONFIG: &str = include_str!("../templates/plugin/cargo-config.toml.tmpl");
/// The template of `src/lib.rs`.
const LIB_RS: &str = include_str!("../templates/plugin/lib.rs.tmpl");
/// The template of `README.md`.
const README: &str = include_str!("../templates/plugin/README.md.tmpl");
/// The template of `.gitignore`.
const GITIGNORE: &str = include_str!("../templates/plugin/gitignore.tmpl");

/// The SDK's package name.
pub const SDK_PACKAGE: &str = "infrastructor-sdk";

/// The repository a `git` SDK dependency points at (the workspace's `repository`).
pub const SDK_GIT_URL: &str = env!("CARGO_PKG_REPOSITORY");

/// The rule a plugin name follows (checked by [`is_plugin_name`]).
pub const NAME_RULE: &str = "1–64 lower-case letters, digits, `-` or `_`";

/// The extra rule a scaffold's name follows, because it is also the crate's name.
pub const CRATE_NAME_RULE: &str = "as the crate's name too, it must start with a letter \
     and not be a Rust keyword or `test`, `std`, `core`, `alloc`, `proc_macro`";

/// Names cargo or rustc refuse for a crate (with `-` read as `_`): Rust's keywords (strict,
/// reserved and edition 2024's) and the built-in crates.
const RESERVED: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc_macro",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// Why a scaffold could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name breaks the plugin-name rule (or the crate-name rule on top of it).
    #[error("`{name}` is not a valid plugin name: {rule}")]
    InvalidName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The crate's directory exists and is not empty (or is not a directory).
    #[error("{} already exists and {what}; choose another name or `--dir`", path.display())]
    Exists {
        /// The directory.
        path: PathBuf,
        /// What is in the way (`is not empty`, `is not a directory`).
        what: &'static str,
    },
    /// `--sdk-path` is not the SDK crate's directory.
    #[error("--sdk-path {}: {reason}", path.display())]
    SdkPath {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading the directory or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// Where the generated crate takes the SDK from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// The SDK crate's directory (absolute).
    Path(PathBuf),
    /// The repository at a tag.
    Git {
        /// The repository URL.
        url: String,
        /// The tag (`v` and this server's version).
        tag: String,
    },
}

impl SdkSource {
    /// The SDK of the source tree this binary was built from (`<repo>/plugins/sdk`, found
    /// from the host crate's directory at build time), when it still exists; else the
    /// repository at the tag of this server's version.
    pub fn detect() -> SdkSource {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk");
        match fs::canonicalize(&sdk) {
            Ok(dir) if is_sdk_dir(&dir) => SdkSource::Path(dir),
            _ => SdkSource::git(),
        }
    }

    /// The repository at the tag of this server's version.
    pub fn git() -> SdkSource {
        SdkSource::Git {
            url: SDK_GIT_URL.to_owned(),
            tag: format!("v{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The SDK at `path`, checked to be the SDK crate's directory.
    pub fn path(path: &Path) -> Result<SdkSource, ScaffoldError> {
        let refuse = |reason: String| ScaffoldError::SdkPath {
            path: path.to_path_buf(),
            reason,
        };
        let dir = fs::canonicalize(path).map_err(|e| refuse(e.to_string()))?;
        if !is_sdk_dir(&dir) {
            return Err(refuse(format!(
                "no Cargo.toml of the `{SDK_PACKAGE}` package there (it is `plugins/sdk` in the Infrastructor repository)"
            )));
        }
        Ok(SdkSource::Path(dir))
    }

    /// The dependency as an inline TOML table, with `features`.
    fn dependency(&self, features: &[&str]) -> String {
        let mut fields = match self {
            SdkSource::Path(dir) => vec![format!("path = {}", toml_string(&dir.to_string_lossy()))],
            SdkSource::Git { url, tag } => vec![
                format!("git = {}", toml_string(url)),
                format!("tag = {}", toml_string(tag)),
            ],
        };
        if !features.is_empty() {
            let list: Vec<String> = features.iter().map(|f| toml_string(f)).collect();
            fields.push(format!("features = [{}]", list.join(", ")));
        }
        format!("{{ {} }}", fields.join(", "))
    }

    /// The comment above the dependency in `Cargo.toml`.
    fn comment(&self) -> String {
        match self {
            SdkSource::Path(_) => "# The SDK from the Infrastructor source tree this crate was generated with. Elsewhere:\n\
                 # `{ git = \"<repository>\", tag = \"v<server version>\" }` (or `rev = \"<commit>\"`)."
                .to_owned(),
            SdkSource::Git { tag, .. } => format!(
                "# The SDK from the Infrastructor repository at `{tag}`, the release of the server that\n\
                 # generated this crate. Target another release by changing `tag` (here and below),\n\
                 # or a commit with `rev = \"<commit>\"` instead of `tag`; or point both at a checkout\n\
                 # with `path = \"<checkout>/plugins/sdk\"`."
            ),
        }
    }

    /// One line for the summary.
    fn describe(&self) -> String {
        match self {
            SdkSource::Path(dir) => format!("path {}", dir.display()),
            SdkSource::Git { url, tag } => format!("git {url} at tag {tag}"),
        }
    }
}

/// True when `dir/Cargo.toml` declares the SDK package.
fn is_sdk_dir(dir: &Path) -> bool {
    fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_owned))
        .is_some_and(|name| name == SDK_PACKAGE)
}

/// A TOML basic string (quoted and escaped).
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Checks `name` as a plugin name ([`NAME_RULE`]) and as a crate name ([`CRATE_NAME_RULE`]).
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let invalid = |rule| ScaffoldError::InvalidName {
        name: name.to_owned(),
        rule,
    };
    if !is_plugin_name(name) {
        return Err(invalid(NAME_RULE));
    }
    let crate_name = crate_name(name);
    if !name.starts_with(|c: char| c.is_ascii_lowercase())
        || RESERVED.contains(&crate_name.as_str())
    {
        return Err(invalid(CRATE_NAME_RULE));
    }
    Ok(())
}

/// The library crate's name, which names the component file (`<crate_name>.wasm`).
pub fn crate_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The generated files: `(path relative to the crate, content)`.
pub fn render(name: &str, sdk: &SdkSource) -> Vec<(PathBuf, String)> {
    let rustflags: Vec<String> = guest_rustflags()
        .split_whitespace()
        .map(toml_string)
        .collect();
    let vars: [(&str, String); 8] = [
        ("{{name}}", name.to_owned()),
        ("{{crate_name}}", crate_name(name)),
        ("{{sdk_comment}}", sdk.comment()),
        ("{{sdk_testing}}", sdk.dependency(&["testing"])),
        ("{{sdk}}", sdk.dependency(&[])),
        ("{{rustflags}}", rustflags.join(", ")),
        ("{{api_version}}", ApiVersion::CURRENT.as_str().to_owned()),
        ("{{server_version}}", env!("CARGO_PKG_VERSION").to_owned()),
    ];
    let fill = |template: &str| {
        vars.iter().fold(template.to_owned(), |text, (key, value)| {
            text.replace(key, value)
        })
    };
    [
        ("Cargo.toml", CARGO_TOML),
        (".cargo/config.toml", CARGO_CONFIG),
        ("src/lib.rs", LIB_RS),
        ("README.md", README),
        (".gitignore", GITIGNORE),
    ]
    .into_iter()
    .map(|(path, template)| (PathBuf::from(path), fill(template)))
    .collect()
}

/// What `plugins new` asks for.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    /// The plugin's name (also the crate's and the mount's).
    pub name: String,
    /// The directory the crate's directory is created in.
    pub parent: PathBuf,
    /// The SDK to depend on.
    pub sdk: SdkSource,
}

/// A written crate.
#[derive(Debug, Clone)]
pub struct Scaffold {
    /// The plugin's name.
    pub name: String,
    /// The crate's directory.
    pub dir: PathBuf,
    /// The files written, relative to [`Scaffold::dir`].
    pub files: Vec<PathBuf>,
    /// Where its SDK comes from.
    pub sdk: SdkSource,
}

impl Scaffold {
    /// What `plugins new` prints: what was written and the next commands.
    pub fn summary(&self) -> String {
        let dir = self.dir.display();
        let wasm = format!(
            "target/{WASI_TARGET}/release/{}.wasm",
            crate_name(&self.name)
        );
        let mut text = format!(
            "created plugin `{}` in {dir} ({} files; SDK: {})\n",
            self.name,
            self.files.len(),
            self.sdk.describe()
        );
        if let SdkSource::Git { tag, .. } = &self.sdk {
            text.push_str(&format!(
                "note: the SDK is a git dependency at tag `{tag}`; if that release is not tagged, \
                 edit Cargo.toml (or run again with --sdk-path <checkout>/plugins/sdk)\n"
            ));
        }
        text.push_str(&format!(
            "next:\n  cd {dir}\n  cargo test\n  cargo build --release --target {WASI_TARGET}\n  \
             infrastructor plugins check {wasm}\nthen install it as README.md says (plugins.dir, grants, sha256 pin)\n"
        ));
        text
    }
}

/// Writes the crate of `request` at `parent/name`: refuses an invalid name, an existing file
/// there and a non-empty directory; creates the directory (and `parent`) when missing.
pub fn create(request: &NewPlugin) -> Result<Scaffold, ScaffoldError> {
    check_name(&request.name)?;
    let dir = request.parent.join(&request.name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    if dir.exists() {
        if !dir.is_dir() {
            return Err(ScaffoldError::Exists {
                path: dir,
                what: "is not a directory",
            });
        }
        if fs::read_dir(&dir).map_err(io(&dir))?.next().is_some() {
            return Err(ScaffoldError::Exists {
                path: dir,
                what: "is not empty",
            });
        }
    }
    let files = render(&request.name, &request.sdk);
    for (relative, content) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        fs::write(&path, content).map_err(io(&path))?;
    }
    Ok(Scaffold {
        name: request.name.clone(),
        dir,
        files: files.into_iter().map(|(path, _)| path).collect(),
        sdk: request.sdk.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk_dir() -> PathBuf {
        fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk"))
            .expect("the SDK of this tree")
    }

    #[test]
    fn names_follow_the_plugin_rule_and_the_crate_rule() {
        for good in ["uptime", "my-plugin_2", "a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(65);
        for (bad, rule) in [
            ("", NAME_RULE),
            ("Uptime", NAME_RULE),
            ("up time", NAME_RULE),
            ("../x", NAME_RULE),
            (long.as_str(), NAME_RULE),
            ("2fa", CRATE_NAME_RULE),
            ("-x", CRATE_NAME_RULE),
            ("_x", CRATE_NAME_RULE),
            ("test", CRATE_NAME_RULE),
            ("match", CRATE_NAME_RULE),
            ("proc-macro", CRATE_NAME_RULE),
        ] {
            let err = check_name(bad).expect_err(bad);
            assert!(
                matches!(&err, ScaffoldError::InvalidName { rule: r, .. } if *r == rule),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains(rule), "{err}");
        }
    }

    #[test]
    fn every_placeholder_is_filled_and_the_manifests_parse() {
        let git = SdkSource::git();
        for sdk in [SdkSource::Path(sdk_dir()), git] {
            let files = render("my-plugin", &sdk);
            assert_eq!(files.len(), 5);
            for (path, text) in &files {
                assert!(!text.contains("{{"), "{}: {text}", path.display());
            }
            let text = |name: &str| {
                files
                    .iter()
                    .find(|(p, _)| p == Path::new(name))
                    .map(|(_, t)| t.clone())
                    .unwrap_or_else(|| panic!("no {name}"))
            };
            let manifest: toml::Table = text("Cargo.toml").parse().expect("Cargo.toml");
            assert_eq!(manifest["package"]["name"].as_str(), Some("my-plugin"));
            assert!(manifest["workspace"].is_table(), "its own workspace");
            assert_eq!(
                manifest["lib"]["crate-type"],
                toml::Value::Array(vec!["cdylib".into(), "rlib".into()])
            );
            let dep = &manifest["dependencies"][SDK_PACKAGE];
            let dev = &manifest["dev-dependencies"][SDK_PACKAGE];
            assert_eq!(dev["features"], toml::Value::Array(vec!["testing".into()]));
            match &sdk {
                SdkSource::Path(dir) => {
                    assert_eq!(dep["path"].as_str(), Some(dir.to_str().expect("utf-8")));
                    assert_eq!(dev["path"], dep["path"]);
                }
                SdkSource::Git { url, tag } => {
                    assert_eq!(dep["git"].as_str(), Some(url.as_str()));
                    assert_eq!(dep["tag"].as_str(), Some(tag.as_str()));
                    assert_eq!((&dev["git"], &dev["tag"]), (&dep["git"], &dep["tag"]));
                    assert!(text("Cargo.toml").contains("rev = "), "documents `rev`");
                }
            }
            let config: toml::Table = text(".cargo/config.toml").parse().expect("config");
            let flags: Vec<&str> = config["target"][WASI_TARGET]["rustflags"]
                .as_array()
                .expect("rustflags")
                .iter()
                .filter_map(toml::Value::as_str)
                .collect();
            assert_eq!(flags.join(" "), guest_rustflags());
            let lib = text("src/lib.rs");
            assert!(lib.contains("App::new(\"my-plugin\""), "{lib}");
            assert!(lib.contains(".mount(\"/my-plugin\")"), "{lib}");
            let readme = text("README.md");
            assert!(readme.contains("my_plugin.wasm"), "{readme}");
            assert!(readme.contains("[plugins.my-plugin]"), "{readme}");
        }
    }

    #[test]
    fn the_sdk_of_this_tree_is_found_and_a_wrong_path_is_refused() {
        assert_eq!(SdkSource::detect(), SdkSource::Path(sdk_dir()));
        assert_eq!(
            SdkSource::path(&sdk_dir().join("src/..")).expect("the SDK"),
            SdkSource::Path(sdk_dir())
        );
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let err = SdkSource::path(here).expect_err("the host is not the SDK");
        assert!(err.to_string().contains(SDK_PACKAGE), "{err}");
        let err = SdkSource::path(&here.join("nowhere")).expect_err("missing");
        assert!(err.to_string().contains("nowhere"), "{err}");
    }

    #[test]
    fn an_existing_non_empty_directory_or_a_file_is_refused() {
        let parent = tempfile::tempdir().expect("tempdir");
        let request = |name: &str| NewPlugin {
            name: name.into(),
            parent: parent.path().to_path_buf(),
            sdk: SdkSource::git(),
        };
        // An empty directory is fine.
        fs::create_dir(parent.path().join("empty")).expect("mkdir");
        let made = create(&request("empty")).expect("into an empty directory");
        assert_eq!(made.files.len(), 5);
        assert!(made.dir.join("src/lib.rs").is_file());
        assert!(made.dir.join(".cargo/config.toml").is_file());
        assert!(
            made.summary()
                .contains("cargo build --release --target wasm32-wasip2")
        );
        // Now it is not empty.
        let err = create(&request("empty")).expect_err("not empty");
        assert!(err.to_string().contains("is not empty"), "{err}");
        fs::write(parent.path().join("file"), "x").expect("write");
        let err = create(&request("file")).expect_err("a file");
        assert!(err.to_string().contains("is not a directory"), "{err}");
        let err = create(&request("Bad")).expect_err("bad name");
        assert!(err.to_string().contains(NAME_RULE), "{err}");
        // A missing parent is created.
        let deep = NewPlugin {
            parent: parent.path().join("a/b"),
            ..request("deep")
        };
        assert!(
            create(&deep)
                .expect("deep")
                .dir
                .join("Cargo.toml")
                .is_file()
        );
    }
}
