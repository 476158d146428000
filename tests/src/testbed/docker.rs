//! A private Docker engine (Debian `docker.io`, dockerd 20.10): its own data root, exec root,
//! socket, pidfile and managed containerd under a temp dir; no bridge, no iptables, so it
//! neither needs nor touches the host's network setup. No registry is reachable: images are
//! built `FROM scratch` with Debian's static busybox ([`Docker::build_busybox_image`]).
//!
//! Outside its temp dir dockerd 20.10 still creates `/etc/docker/key.json` (its libtrust key,
//! shared and reused by every engine; 20.10 has no flag to move it), `/run/docker/plugins`
//! and containerd's shim sockets under `/run/containerd/s/` (named by a hash of the engine's
//! own paths, so engines do not collide).
//!
//! On drop: every container is removed (`docker rm -f`), then dockerd is stopped gracefully
//! (SIGTERM, up to 20 s, so it unmounts its overlays and stops its containerd; a forced kill
//! leaves mounts behind), then anything left (a hung daemon's tree, shims that name this
//! engine's exec root, mounts under the temp dir) is killed or unmounted, and the dir removed.

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use nix::sys::signal::Signal;

use super::tools::{require, require_preferring};
use super::{
    kill_tree, log_tail, process_alive, process_tree, run_with_timeout, signal_pid,
    stop_gracefully, unmount_all_under, wait_until,
};

/// How long dockerd may take to answer `docker info`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long dockerd may take to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// How long one `docker` client call may take in the harness.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

static ENGINES: AtomicUsize = AtomicUsize::new(0);

/// A running private dockerd.
#[derive(Debug)]
pub struct Docker {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    child: Option<Child>,
    client: PathBuf,
    storage_driver: String,
}

impl Docker {
    /// Starts a private dockerd and waits until `docker info` answers (overlay2 storage; if
    /// dockerd cannot use it here, `vfs`).
    ///
    /// # Panics
    /// When `dockerd`, `docker`, `containerd` or `runc` is missing (naming the Debian package).
    pub fn start() -> Result<Docker> {
        let dockerd = require("dockerd", "docker.io");
        // The docker.io package's own client matches the daemon's version (another `docker`
        // may sit earlier on PATH).
        let client = require_preferring("/usr/bin/docker", "docker", "docker.io");
        require("containerd", "containerd");
        require("runc", "runc");

        let dir = tempfile::Builder::new()
            .prefix("tb-docker-")
            .tempdir()
            .context("creating the engine's temp dir")?;
        let root = dir.path().to_path_buf();
        for sub in ["d", "e", "config"] {
            std::fs::create_dir(root.join(sub)).with_context(|| format!("creating {sub}"))?;
        }
        std::fs::write(root.join("daemon.json"), "{}\n").context("writing daemon.json")?;
        std::fs::write(root.join("config/config.json"), "{}\n").context("client config")?;
        let namespace = format!(
            "tb-{}-{}",
            std::process::id(),
            ENGINES.fetch_add(1, Ordering::Relaxed)
        );

        let mut engine = Docker {
            dir: Some(dir),
            root,
            child: None,
            client,
            storage_driver: String::new(),
        };
        let mut errors = Vec::new();
        for driver in [None, Some("vfs")] {
            match engine.launch(&dockerd, &namespace, driver) {
                Ok(()) => return Ok(engine),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        bail!(
            "dockerd would not start here: {}",
            errors.join(" / then, with vfs: ")
        )
    }

    fn launch(&mut self, dockerd: &Path, namespace: &str, driver: Option<&str>) -> Result<()> {
        let log_path = self.root.join("dockerd.log");
        let log = File::create(&log_path).context("creating dockerd.log")?;
        let mut cmd = Command::new(dockerd);
        cmd.arg("--config-file")
            .arg(self.root.join("daemon.json"))
            .arg("--data-root")
            .arg(self.root.join("d"))
            .arg("--exec-root")
            .arg(self.root.join("e"))
            .arg("-H")
            .arg(self.host_url())
            .arg("--pidfile")
            .arg(self.root.join("docker.pid"))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--userland-proxy=false",
                "--log-level=warn",
                "--containerd-namespace",
                namespace,
                "--containerd-plugins-namespace",
            ])
            .arg(format!("{namespace}-plugins"));
        if let Some(driver) = driver {
            cmd.arg(format!("--storage-driver={driver}"));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("dockerd.log")?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("spawning dockerd")?;
        let mut exited = None;
        let ready = wait_until(START_TIMEOUT, Duration::from_millis(100), || {
            if let Some(status) = child.try_wait()? {
                exited = Some(status);
                return Ok(true);
            }
            Ok(self
                .docker_cmd()
                .args(["info", "--format", "{{.Driver}}"])
                .stdin(Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success()))
        })?;
        if let Some(status) = exited {
            bail!("dockerd exited ({status}): {}", log_tail(&log_path, 3000));
        }
        if !ready {
            let _ = kill_tree(&mut child);
            bail!(
                "dockerd did not answer within {START_TIMEOUT:?}: {}",
                log_tail(&log_path, 3000)
            );
        }
        self.child = Some(child);
        let driver = self.run(&["info", "--format", "{{.Driver}}"])?;
        self.storage_driver = driver.trim().to_string();
        Ok(())
    }

    /// The engine's socket.
    pub fn socket(&self) -> PathBuf {
        self.root.join("docker.sock")
    }

    /// `unix://SOCKET`, the value for `DOCKER_HOST`.
    pub fn host_url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The private client config directory (`DOCKER_CONFIG`).
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    /// The `docker` client this engine is driven with (the docker.io package's).
    pub fn client_path(&self) -> &Path {
        &self.client
    }

    /// The engine's private directory.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// dockerd's log.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("dockerd.log")
    }

    /// The storage driver dockerd uses here (`overlay2`, or `vfs` if overlay2 failed).
    pub fn storage_driver(&self) -> &str {
        &self.storage_driver
    }

    /// dockerd's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A `docker` client command for this engine (`DOCKER_HOST`, `DOCKER_CONFIG` set, the
    /// legacy builder selected).
    pub fn docker_cmd(&self) -> Command {
        let mut cmd = Command::new(&self.client);
        cmd.env("DOCKER_HOST", self.host_url())
            .env("DOCKER_CONFIG", self.config_dir())
            .env("DOCKER_BUILDKIT", "0");
        cmd
    }

    /// A `docker-compose` (v1) command for this engine.
    ///
    /// # Panics
    /// When `docker-compose` is missing (Debian package docker-compose).
    pub fn compose_cmd(&self) -> Command {
        let mut cmd = Command::new(require("docker-compose", "docker-compose"));
        cmd.env("DOCKER_HOST", self.host_url())
            .env("DOCKER_CONFIG", self.config_dir());
        cmd
    }

    /// Runs `docker ARGS…` against this engine; its stdout, or an error with its stderr.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let output = run_with_timeout(
            self.docker_cmd().args(args),
            CLIENT_TIMEOUT,
            &format!("docker {}", args.join(" ")),
        )?;
        ensure!(
            output.status.success(),
            "docker {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).to_string())
    }

    /// Builds image `tag` `FROM scratch` holding Debian's static busybox as `/bin/busybox`
    /// with its applets installed as symlinks in `/bin` (`sh`, `echo`, `sleep`…), `CMD
    /// ["/bin/sh"]`. No registry is involved.
    ///
    /// # Panics
    /// When busybox is missing (Debian package busybox-static).
    pub fn build_busybox_image(&self, tag: &str) -> Result<()> {
        let busybox = require_preferring("/bin/busybox", "busybox", "busybox-static");
        ensure_static(&busybox)?;
        let context = tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(&self.root)
            .context("creating a build context")?;
        std::fs::copy(&busybox, context.path().join("busybox"))
            .with_context(|| format!("copying {}", busybox.display()))?;
        std::fs::write(
            context.path().join("Dockerfile"),
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             CMD [\"/bin/sh\"]\n",
        )
        .context("writing the Dockerfile")?;
        let context_path = context.path().to_string_lossy().to_string();
        self.run(&["build", "-q", "-t", tag, &context_path])
            .with_context(|| format!("building {tag}"))?;
        Ok(())
    }

    /// Removes every container, stops dockerd gracefully (SIGTERM, up to 20 s, then its
    /// tree is killed), kills leftover shims of this engine, unmounts what is left under its
    /// dir. Idempotent.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let mut problems = Vec::new();
        if child.try_wait()?.is_none() {
            match self.run(&["ps", "-aq"]) {
                Ok(ids) => {
                    let ids: Vec<&str> = ids.split_whitespace().collect();
                    if !ids.is_empty() {
                        let mut args = vec!["rm", "-f", "-v"];
                        args.extend(ids);
                        if let Err(e) = self.run(&args) {
                            problems.push(format!("removing containers: {e:#}"));
                        }
                    }
                }
                Err(e) => problems.push(format!("listing containers: {e:#}")),
            }
        }
        let pid = child.id();
        if !stop_gracefully(&mut child, Signal::SIGTERM, STOP_GRACE)? {
            problems.push(format!(
                "dockerd (PID {pid}) ignored SIGTERM for {STOP_GRACE:?} and was killed"
            ));
        }
        // Shims outlive a killed daemon (they are re-parented to init): find them by this
        // engine's exec root in their command line, and kill their trees (the containers).
        let exec_root = self.root.join("e").to_string_lossy().to_string();
        for shim in processes_mentioning(&exec_root) {
            for victim in process_tree(shim) {
                signal_pid(victim, Signal::SIGKILL);
            }
        }
        unmount_all_under(&self.root);
        if process_alive(pid) {
            problems.push(format!("dockerd (PID {pid}) is still alive"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("; "))
        }
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("testbed: stopping dockerd: {e:#}");
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                eprintln!("testbed: removing {}: {e}", path.display());
            }
        }
    }
}

/// PIDs of processes whose command line contains `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
        })
        .collect()
}

/// Fails unless `path` is a statically linked ELF executable (no `PT_INTERP` program
/// header): a `FROM scratch` image has no dynamic loader.
pub(crate) fn ensure_static(path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("reading {}", path.display()))?;
    let field = |at: usize, len: usize| -> Result<u64> {
        let slice = bytes
            .get(at..at + len)
            .with_context(|| format!("{} is truncated", path.display()))?;
        Ok(slice
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    };
    ensure!(
        bytes.starts_with(b"\x7fELF\x02\x01"),
        "{} is not a 64-bit little-endian ELF file",
        path.display()
    );
    let phoff = usize::try_from(field(0x20, 8)?)?;
    let phentsize = usize::try_from(field(0x36, 2)?)?;
    let phnum = usize::try_from(field(0x38, 2)?)?;
    for i in 0..phnum {
        const PT_INTERP: u64 = 3;
        if field(phoff + i * phentsize, 4)? == PT_INTERP {
            bail!(
                "{} is dynamically linked; a FROM scratch image needs the static busybox \
                 (Debian package busybox-static): run scripts/install-testbed",
                path.display()
            );
        }
    }
    Ok(())
}
