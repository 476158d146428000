//! Benchmark: the resident memory of the real server process under load. Spawns the
//! release binary (`target/release/infrastructor serve`, built first by this benchmark with
//! `cargo build --release -p infrastructor`; or the one named by `INFRASTRUCTOR_BIN`) with
//! a config file in a temp dir (every built-in plugin, a private database, rate limits off),
//! reaching a loopback sshd device with a private dockerd and 20 running busybox containers,
//! and reads its `VmRSS` (and `RssAnon`) from `/proc/<pid>/status`:
//! - at start: a first start compiles the plugins into the empty artifact cache (printed, not
//!   the measure); the measured start is the second one, on the warm cache, as every later
//!   start of a real server;
//! - after a warm-up of 1,000 requests (10 connections, `/api/status`, the cached
//!   `GET /api/containers/box` and `GET /api/devices` in turn);
//! - every 5 s during `SOAK_SECS` (60 by default) at 256 concurrent connections on the cached
//!   list (with the connections the server holds open), and after it.
//!
//! Prints req/s and p50/p99 of the soak, the remote `docker` runs during it, the database + WAL size before and after it, the
//! peak (`VmHWM`), and the ratios after / start and after / warm-up.
//! The load generator runs in this process on the same machine (2 cores here: it takes
//! CPU the server would otherwise have).
//!
//! Run: `cargo bench -p infrastructor-tests --bench memory` (`SOAK_SECS=300` for a longer
//! soak; `BENCH_INFRA_*` variables reach the server as `INFRA_*` and override its config,
//! e.g. `BENCH_INFRA_PLUGINS__MAX_INSTANCES=16`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use infrastructor_tests::load::concurrent_for;
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};

const IMAGE: &str = "tb-busybox:bench";
const CONTAINERS: usize = 20;
const CONNECTIONS: usize = 256;
const MB: f64 = 1024.0 * 1024.0;

fn main() {
    let soak = Duration::from_secs(
        std::env::var("SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let bin = server_binary();
    let overrides: Vec<(String, String)> = std::env::vars()
        .filter_map(|(k, v)| Some((k.strip_prefix("BENCH_")?.to_string(), v)))
        .filter(|(k, _)| k.starts_with("INFRA_"))
        .collect();
    if !overrides.is_empty() {
        let shown: Vec<String> = overrides.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("passed to the server: {}", shown.join(" "));
    }
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    for i in 0..CONTAINERS {
        let name = format!("bench-{i:03}");
        docker
            .run(&[
                "run", "-d", "--name", &name, "--label", "bench=1", IMAGE, "sleep", "3600",
            ])
            .expect("container");
    }
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    device.count_invocations("docker").expect("counter");
    let dir = tempfile::Builder::new()
        .prefix("bench-memory-")
        .tempdir()
        .expect("tempdir");
    let port = free_port();
    let config = write_config(dir.path(), port, &device);
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(2 * CONNECTIONS)
        .build()
        .expect("client");

    // The first start fills the compiled-plugin cache.
    let mut server = Server::spawn(&bin, &config, dir.path(), &overrides);
    let ready = rt.block_on(server.ready(&client, &base));
    println!("server binary {} (built {})", bin.display(), age(&bin));
    println!(
        "first start (empty plugin artifact cache): ready in {:.2} s, RSS {:.1} MB",
        ready.as_secs_f64(),
        server.rss("VmRSS") as f64 / MB
    );
    server.stop();

    let mut server = Server::spawn(&bin, &config, dir.path(), &overrides);
    rt.block_on(async {
        let ready = server.ready(&client, &base).await;
        let start = server.rss("VmRSS");
        let info: serde_json::Value = client
            .get(format!("{base}/api/system-info"))
            .send()
            .await
            .expect("system-info")
            .json()
            .await
            .expect("json");
        let plugins: Vec<&str> = info["plugins"]
            .as_array()
            .expect("plugins")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        println!(
            "start (warm artifact cache): ready in {:.2} s with {} plugins ({}): \
             RSS {:.1} MB (anon {:.1} MB) (goal < 40 MB)",
            ready.as_secs_f64(),
            plugins.len(),
            plugins.join(", "),
            start as f64 / MB,
            server.rss("RssAnon") as f64 / MB
        );

        let r = client
            .post(format!("{base}/api/devices"))
            .json(&serde_json::json!({
                "hostname": "box", "ip_address": "127.0.0.1", "ssh_port": device.port(),
                "monitoring_enabled": false,
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        let live: serde_json::Value = client
            .get(format!("{base}/api/containers/box?live=true"))
            .send()
            .await
            .expect("live list")
            .json()
            .await
            .expect("json");
        assert_eq!(live["total_count"], CONTAINERS, "{live}");

        let urls = [
            format!("{base}/api/status"),
            format!("{base}/api/containers/box"),
            format!("{base}/api/devices"),
        ];
        let t = Instant::now();
        let workers: Vec<_> = (0..10)
            .map(|w| {
                let (client, urls) = (client.clone(), urls.clone());
                tokio::spawn(async move {
                    for i in 0..100 {
                        let url = &urls[(w + i) % urls.len()];
                        let r = client.get(url).send().await.expect("warm-up");
                        assert!(r.status().is_success(), "{url}: {}", r.status());
                        let _ = r.bytes().await.expect("body");
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.expect("join");
        }
        let warm = server.rss("VmRSS");
        println!(
            "after warm-up (1,000 requests at 10 connections in {:.2} s): RSS {:.1} MB \
             (anon {:.1} MB)",
            t.elapsed().as_secs_f64(),
            warm as f64 / MB,
            server.rss("RssAnon") as f64 / MB
        );

        let db_before = db_size(dir.path());
        println!(
            "soak: {} s at {CONNECTIONS} connections on GET /api/containers/box (cached); \
             database + WAL {}",
            soak.as_secs(),
            db_before.describe()
        );
        let pid = server.pid();
        device.reset_invocations("docker").expect("reset");
        let sampler = tokio::spawn(async move {
            let started = Instant::now();
            let mut peak = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let rss = status_field(pid, "VmRSS");
                peak = peak.max(rss);
                println!(
                    "  t = {:>3.0} s  RSS {:>6.1} MB  anon {:>6.1} MB  connections open {}",
                    started.elapsed().as_secs_f64(),
                    rss as f64 / MB,
                    status_field(pid, "RssAnon") as f64 / MB,
                    established(port)
                );
            }
        });
        let load = concurrent_for(&urls[1], CONNECTIONS, soak).await;
        sampler.abort();
        let after = server.rss("VmRSS");
        println!(
            "soak: {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms; {} remote docker \
             run(s) (the list's collection is kept 15 s)",
            load.requests,
            load.requests_per_sec,
            load.p50.as_secs_f64() * 1000.0,
            load.p99.as_secs_f64() * 1000.0,
            device.invocations("docker")
        );
        println!(
            "after the soak: RSS {:.1} MB (anon {:.1} MB), peak (VmHWM) {:.1} MB \
             (goal < 128 MB); database + WAL {}",
            after as f64 / MB,
            server.rss("RssAnon") as f64 / MB,
            server.rss("VmHWM") as f64 / MB,
            db_size(dir.path()).describe()
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle = server.rss("VmRSS");
        println!(
            "5 s later, idle: RSS {:.1} MB, {} connections open",
            idle as f64 / MB,
            established(port)
        );
        println!(
            "ratios: after / start {:.2}, after / warm-up {:.2}, warm-up / start {:.2} \
             (RSS at start {:.1} MB, after warm-up {:.1} MB, after the soak {:.1} MB)",
            after as f64 / start as f64,
            after as f64 / warm as f64,
            warm as f64 / start as f64,
            start as f64 / MB,
            warm as f64 / MB,
            after as f64 / MB
        );
    });
    drop(client);
    drop(rt);
    server.stop();
    drop(device);
    drop(docker);
}

/// The server binary: `INFRASTRUCTOR_BIN`, else `target/release/infrastructor` next to this
/// benchmark's own directory, (re)built first with cargo when cargo is known.
fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("INFRASTRUCTOR_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("this benchmark's path");
    // target/release/deps/memory-HASH → target/release/infrastructor
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("infrastructor");
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    println!("building the server binary (cargo build --release -p infrastructor)…");
    let status = Command::new(cargo)
        .args(["build", "--release", "--locked", "-p", "infrastructor"])
        .args(["--bin", "infrastructor"])
        .current_dir(workspace)
        .status()
        .expect("running cargo");
    assert!(status.success(), "cargo build failed");
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// How long ago `path` was modified.
fn age(path: &Path) -> String {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map(|d| format!("{:.0} min ago", d.as_secs_f64() / 60.0))
        .unwrap_or_else(|| "at an unknown time".into())
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Writes the server's config file into `dir`; its path.
fn write_config(dir: &Path, port: u16, device: &Sshd) -> PathBuf {
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [database]\npath = {db}\n\n\
         [rate_limit]\nenabled = false\n\n\
         [ssh]\nidentity_files = [{key}]\nknown_hosts = {known}\n\n\
         [log]\nlevel = \"warn\"\n\n\
         [plugins]\ndir = {plugins}\ncache_dir = {cache}\n",
        db = q(&dir.join("db/infrastructor.db")),
        key = q(&device.client_key_path()),
        known = q(&device.known_hosts_path()),
        plugins = q(&dir.join("plugins.d")),
        cache = q(&dir.join("cache")),
    );
    let path = dir.join("infrastructor.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// The spawned server.
struct Server {
    child: Option<Child>,
    log: PathBuf,
    started: Instant,
}

impl Server {
    fn spawn(bin: &Path, config: &Path, dir: &Path, overrides: &[(String, String)]) -> Server {
        let log = dir.join("server.log");
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log");
        let mut cmd = Command::new(bin);
        // Only what the benchmark passes on purpose: cargo sets INFRA_* variables of its
        // own for this crate, which the server would read as config keys.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("INFRA_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .envs(overrides.iter().cloned())
            .env_remove("RUST_LOG")
            .arg("--config")
            .arg(config)
            .arg("serve")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("spawning the server");
        Server {
            child: Some(child),
            log,
            started: Instant::now(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// A field of `/proc/<pid>/status` in bytes.
    fn rss(&self, field: &str) -> u64 {
        status_field(self.pid(), field)
    }

    /// Waits until `GET /api/status` answers; the time since the spawn.
    async fn ready(&mut self, client: &reqwest::Client, base: &str) -> Duration {
        let url = format!("{base}/api/status");
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return self.started.elapsed();
            }
            let child = self.child.as_mut().expect("running");
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the server exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                self.started.elapsed() < Duration::from_secs(300),
                "the server did not answer within 300 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then waits (up to 30 s, then SIGKILL).
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("the server ignored SIGTERM for 30 s; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `kB` field of `/proc/<pid>/status` in bytes (0 when unreadable).
fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Established TCP connections whose local port is `port` (the server's ends).
fn established(port: u16) -> usize {
    let needle = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| {
            t.lines()
                .skip(1)
                .filter(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 3 && f[1].ends_with(&needle) && f[3] == "01"
                })
                .count()
        })
        .sum()
}

/// The database files' sizes.
struct DbSize {
    db: u64,
    wal: u64,
    shm: u64,
}

impl DbSize {
    fn describe(&self) -> String {
        format!(
            "{:.2} MB (database {:.2} MB, WAL {:.2} MB, shm {:.2} MB)",
            (self.db + self.wal + self.shm) as f64 / MB,
            self.db as f64 / MB,
            self.wal as f64 / MB,
            self.shm as f64 / MB
        )
    }
}

fn db_size(dir: &Path) -> DbSize {
    let size = |name: &str| {
        std::fs::metadata(dir.join("db").join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    DbSize {
        db: size("infrastructor.db"),
        wal: size("infrastructor.db-wal"),
        shm: size("infrastructor.db-shm"),
    }
}
