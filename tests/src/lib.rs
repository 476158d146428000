//! The end-to-end test harness: a real Infrastructor server on a loopback port, with private
//! state in a temp dir, the test plugins built from `tests/plugins/*`, and an HTTP client.

pub mod load;
pub mod scaffold;
pub mod testbed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use infrastructor::{App, Config};
use tokio::sync::oneshot;

/// Directory holding the test plugins compiled by `build.rs` (`test_plugin_<name>.wasm`).
pub const TEST_PLUGIN_DIR: &str = env!("INFRASTRUCTOR_TEST_PLUGIN_DIR");

/// The test plugins' names.
pub const TEST_PLUGINS: &[&str] = &["hello", "trap", "spin", "membomb", "sneaky", "remote"];

/// Plugins built against the frozen plugin API 0.1.0 and kept as they were built
/// (`tests/plugins-v0.1.0/*.wasm`, never rebuilt): the `hello` and `remote` test plugins
/// renamed, so they load beside today's.
pub const V0_1_PLUGINS: &[&str] = &["hello-v010", "remote-v010"];

/// Where the 0.1.0 plugins are.
pub const V0_1_PLUGIN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins-v0.1.0");

/// Path of a compiled test plugin (or of a frozen 0.1.0 one).
pub fn test_plugin_path(name: &str) -> PathBuf {
    if V0_1_PLUGINS.contains(&name) {
        return Path::new(V0_1_PLUGIN_DIR).join(format!("{name}.wasm"));
    }
    Path::new(TEST_PLUGIN_DIR).join(format!("test_plugin_{name}.wasm"))
}

/// What the per-process compiled-plugin caches are called in the temp directory (the
/// process id follows).
const CACHE_PREFIX: &str = "infrastructor-test-cache-";

/// A directory shared by every test of a run for compiled-plugin artifacts, so each test
/// plugin is compiled once per run, not once per test.
///
/// It is private to this process (about 140 MB once every plugin is compiled) and removed
/// when the process exits; the first call also removes those of processes that are gone
/// (a run that was killed), so runs never pile caches up in the temp directory.
pub fn shared_cache_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let temp = std::env::temp_dir();
        remove_orphaned_caches(&temp);
        let dir = temp.join(format!("{CACHE_PREFIX}{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        extern "C" fn remove_at_exit() {
            if let Some(dir) = DIR.get() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        remove_at_process_exit(remove_at_exit);
        dir
    })
    .clone()
}

/// Runs `f` when the process exits (the test harness and the benchmarks return from `main`
/// or call `exit`, both of which run it).
#[allow(unsafe_code)]
fn remove_at_process_exit(f: extern "C" fn()) {
    // SAFETY: `atexit` takes a plain `extern "C"` function without arguments, which is what
    // the type of `f` is; registering it has no other precondition.
    unsafe {
        libc::atexit(f);
    }
}

/// Removes the compiled-plugin caches in `temp` whose process no longer runs.
fn remove_orphaned_caches(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(CACHE_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The SHA-256 of `bytes`, in lower-case hex (what `plugins.NAME.sha256` pins).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The entry called `name` of a `plugins` array: of `GET /api/plugins`, or of a reload's
/// answer.
pub fn plugin_entry<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list["plugins"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no `{name}` in {list:#}"))
}

/// A plain-text API key for a test config.
pub fn api_key(
    name: &str,
    key: &str,
    scope: infrastructor::config::Scope,
) -> infrastructor::config::ApiKeyConfig {
    infrastructor::config::ApiKeyConfig {
        name: name.into(),
        key: Some(key.into()),
        key_sha256: None,
        scope,
    }
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its address.
    pub addr: SocketAddr,
    /// A client without default auth.
    pub client: reqwest::Client,
    /// The server's private directory (database, plugins dir).
    pub dir: tempfile::TempDir,
    /// The config it was started with.
    pub config: Config,
    state: std::sync::Arc<infrastructor::AppState>,
    router: axum::Router,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Whether this process is a benchmark run by `cargo bench` (which passes `--bench` to
/// benchmarks without a test harness).
fn in_a_benchmark() -> bool {
    static BENCH: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *BENCH.get_or_init(|| std::env::args().any(|a| a == "--bench"))
}

/// A config for tests: private database, the given test plugins in a private plugin dir
/// with the grants they declare (hello) or none (the others), small instance pool.
pub fn test_config(dir: &Path, plugins: &[&str]) -> Config {
    let mut config = Config::default();
    config.database.path = dir.join("db/infrastructor.db");
    config.plugins.dir = dir.join("plugins.d");
    config.plugins.cache_dir = shared_cache_dir();
    config.plugins.max_instances = 16;
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    std::fs::create_dir_all(&config.plugins.dir).expect("plugins dir");
    for name in plugins {
        let from = test_plugin_path(name);
        std::fs::copy(&from, config.plugins.dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
    for name in ["hello", "hello-v010"] {
        let hello = config.plugins.entries.entry(name.into()).or_default();
        hello.grants = Some(vec!["storage".into(), "registry-read".into()]);
        hello.config = serde_json::json!({"greeting": "hi", "answer": 42});
    }
    config
}

impl TestServer {
    /// Starts a server with `plugins`, after `configure` adjusts the test config.
    pub async fn start(plugins: &[&str], configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path(), plugins);
        configure(&mut config);
        Self::start_with(dir, config).await
    }

    /// Starts a server on an existing directory and config.
    pub async fn start_with(dir: tempfile::TempDir, config: Config) -> TestServer {
        Self::start_app(dir, config, |app| app).await
    }

    /// Starts a server on an existing directory and config, after `adjust` sets the built
    /// app's options (reload triggers, configuration file).
    pub async fn start_app(
        dir: tempfile::TempDir,
        config: Config,
        adjust: impl FnOnce(App) -> App,
    ) -> TestServer {
        // `INFRA_TEST_LOG=<filter>` shows the servers' logs on stderr (with `--nocapture`).
        if let Ok(filter) = std::env::var("INFRA_TEST_LOG") {
            infrastructor::telemetry::init(infrastructor::config::LogFormat::Pretty, &filter);
        }
        let app = adjust(App::build(config.clone()).await.expect("server builds"));
        let state = app.state.clone();
        let router = app.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            addr,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("client"),
            dir,
            config,
            state,
            router,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// The server's state (plugins, store…).
    pub fn app_state(&self) -> &std::sync::Arc<infrastructor::AppState> {
        &self.state
    }

    /// The complete router it started serving with (every middleware included), to drive
    /// in process without sockets; a reload serves a newer one.
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET and parse JSON: (status, body).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(self.client.get(self.url(path))).await
    }

    /// Sends a request and parses the JSON answer: (status, body or Null).
    ///
    /// Each exchange is printed in one line (the method, the path, the status, the time and
    /// the start of the answer): the test harness shows a test's output only when it fails,
    /// so a failure comes with the requests that led to it. Benchmarks, which have no
    /// harness to hold it back, print none.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let (client, request) = request.build_split();
        let request = request.expect("request");
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let started = std::time::Instant::now();
        let response = client.execute(request).await.expect("request");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        if !in_a_benchmark() {
            println!(
                "{method} {path} -> {status} in {:.1?}: {}",
                started.elapsed(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            );
        }
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    /// Stops serving at once, as a crash would: no graceful shutdown, so nothing marks its
    /// jobs (tasks it spawned may still run in this process; a new server must not care).
    /// Returns its directory and config, for a restart on the same database.
    pub fn crash(mut self) -> (tempfile::TempDir, Config) {
        self.shutdown.take();
        if let Some(h) = self.handle.take() {
            h.abort();
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        (dir, self.config.clone())
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Resident set size of this process in bytes (Linux).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// What the tests grant the `remote` test plugin (all it declares but `exec:tee **`); granted
/// by [`remote_server`].
pub const REMOTE_GRANTS: &[&str] = &[
    "exec:printf **",
    "exec:sh -c * sh **",
    "exec:cat",
    "exec:sleep *",
    "exec:hostname",
    "collector",
];

/// Every capability the `remote` test plugin declares, in its order: [`REMOTE_GRANTS`] plus
/// `exec:tee **`, which its `forbidden` script needs and no test grants.
pub const REMOTE_DECLARED: &[&str] = &[
    "exec:printf **",
    "exec:sh -c * sh **",
    "exec:cat",
    "exec:sleep *",
    "exec:hostname",
    "exec:tee **",
    "collector",
];

/// A server with the `remote` test plugin whose raw-host defaults point at `device` (its
/// client key, known_hosts and port), unregistered hosts allowed (the plugin names
/// `127.0.0.1`), rate limits off, after `configure`.
pub async fn remote_server(
    device: &testbed::Sshd,
    configure: impl FnOnce(&mut Config),
) -> TestServer {
    let key = device.client_key_path();
    let known = device.known_hosts_path();
    let port = device.port();
    TestServer::start(&["remote"], move |c| {
        c.ssh.identity_files = vec![key];
        c.ssh.known_hosts = known;
        c.ssh.default_port = port;
        c.ssh.connect_timeout_secs = 3;
        c.ssh.allow_unregistered_hosts = true;
        c.rate_limit.enabled = false;
        c.plugins.entries.entry("remote".into()).or_default().grants =
            Some(REMOTE_GRANTS.iter().map(|s| s.to_string()).collect());
        configure(c);
    })
    .await
}

/// A server (built-in plugins only) whose SSH reaches `device` with its client key and
/// known_hosts, rate limits off, after `configure`; with `device` registered as `hostname`
/// on 127.0.0.1 and its port (`monitoring` on or off).
pub async fn server_with_device(
    device: &testbed::Sshd,
    hostname: &str,
    monitoring: bool,
    configure: impl FnOnce(&mut Config),
) -> TestServer {
    let key = device.client_key_path();
    let known = device.known_hosts_path();
    let s = TestServer::start(&[], move |c| {
        c.ssh.identity_files = vec![key];
        c.ssh.known_hosts = known;
        c.rate_limit.enabled = false;
        configure(c);
    })
    .await;
    let (status, body) = s
        .send(
            s.client
                .post(s.url("/api/devices"))
                .json(&serde_json::json!({
                    "hostname": hostname, "ip_address": "127.0.0.1", "ssh_port": device.port(),
                    "monitoring_enabled": monitoring,
                })),
        )
        .await;
    assert_eq!(status, 201, "registering {hostname}: {body}");
    s
}

/// A server with `plugins` (the test plugins named, built-ins always) that reaches every
/// one of `devices` (each has its own client key and host key: all keys are offered, all
/// host keys are known through one known_hosts file in `dir`), rate limits off, after
/// `configure`; each registered as its name on 127.0.0.1 and its port, with its
/// monitoring flag.
pub async fn server_with_devices(
    plugins: &[&str],
    devices: &[(&str, &testbed::Sshd, bool)],
    dir: &std::path::Path,
    configure: impl FnOnce(&mut Config),
) -> TestServer {
    let known = dir.join("known_hosts");
    let lines: String = devices
        .iter()
        .map(|(_, d, _)| format!("{}\n", d.known_hosts_line()))
        .collect();
    std::fs::write(&known, lines).expect("known_hosts");
    let keys: Vec<_> = devices
        .iter()
        .map(|(_, d, _)| d.client_key_path())
        .collect();
    let remote = plugins.contains(&"remote");
    let s = TestServer::start(plugins, move |c| {
        c.ssh.identity_files = keys;
        c.ssh.known_hosts = known;
        c.ssh.connect_timeout_secs = 3;
        c.rate_limit.enabled = false;
        if remote {
            c.plugins.entries.entry("remote".into()).or_default().grants =
                Some(REMOTE_GRANTS.iter().map(|s| s.to_string()).collect());
        }
        configure(c);
    })
    .await;
    for (name, d, monitoring) in devices {
        let (status, body) = s
            .send(
                s.client
                    .post(s.url("/api/devices"))
                    .json(&serde_json::json!({
                        "hostname": name, "ip_address": "127.0.0.1", "ssh_port": d.port(),
                        "monitoring_enabled": monitoring,
                    })),
            )
            .await;
        assert_eq!(status, 201, "registering {name}: {body}");
    }
    s
}

/// The collection audit rows of `plugin`, newest first.
pub async fn audit_rows(
    store: &infrastructor_store::Store,
    plugin: &str,
) -> Vec<infrastructor_store::audit::AuditRow> {
    let filter = infrastructor_store::audit::AuditFilter {
        plugin: Some(plugin.into()),
        limit: Some(10_000),
        ..Default::default()
    };
    store
        .call(move |c| infrastructor_store::audit::list(c, &filter))
        .await
        .expect("audit rows")
}

/// Cache hits recorded for `plugin` (the sum of the written aggregate rows).
pub async fn hit_total(store: &infrastructor_store::Store, plugin: &str) -> u64 {
    let filter = infrastructor_store::audit::AuditFilter {
        plugin: Some(plugin.into()),
        ..Default::default()
    };
    store
        .call(move |c| infrastructor_store::audit::hit_total(c, &filter))
        .await
        .expect("hit total")
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so a hostile value
/// (slashes, newlines, `;`) stays one path segment or one query value.
pub fn url_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The environment variable that marks a test process started by [`in_own_process`].
const ISOLATED_ENV: &str = "INFRASTRUCTOR_TEST_ISOLATED";

/// For tests that measure the whole process (RSS): `true` in a process running only the
/// test `name` (the module path, `sandbox::a_memory_bomb…`), where the test body should
/// run. Otherwise re-runs this test binary for that test alone, asserts it passed, and
/// returns `false` (the caller returns), so other tests running in parallel never count.
pub fn in_own_process(name: &str) -> bool {
    if std::env::var_os(ISOLATED_ENV).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let output = std::process::Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(ISOLATED_ENV, "1")
        .output()
        .expect("re-running the test alone");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("1 passed"),
        "{name} in its own process failed:\n{text}"
    );
    false
}

/// Processes (of this machine, devices included) whose command line has `needle` as one
/// argument.
pub fn processes_with_arg(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline"))
            && cmdline.split(|b| *b == 0).any(|a| a == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

/// Polls `check` every 50 ms until it holds; false when it still does not after `within`.
pub async fn eventually(within: std::time::Duration, check: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while !check() {
        if std::time::Instant::now() >= deadline {
            return check();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    true
}

/// Samples this process's RSS every 20 ms until dropped; `peak()` is the highest seen.
pub struct RssSampler {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    /// Starts sampling (on the current tokio runtime).
    pub fn start() -> RssSampler {
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss_bytes()));
        let p = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                p.fetch_max(rss_bytes(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        });
        RssSampler { peak, task }
    }

    /// The highest RSS seen, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Held by every test that drives the machine's one zfs-fuse daemon (its socket is fixed):
/// the zfs suites, and the schemathesis sweep, whose stateful phase reaches the zfs routes
/// of its device. Two of them at once can leave zfs-fuse stuck on a command another test
/// waits for (a send job that never got its estimate).
pub async fn zfs_daemon_exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static ZFS_DAEMON: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ZFS_DAEMON.lock().await
}
