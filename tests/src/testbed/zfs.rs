//! Real ZFS pools on file vdevs, served by `zfs-fuse` (Debian `zfs-fuse`; it needs
//! `/dev/fuse`).
//!
//! # One daemon per machine
//! zfs-fuse listens on the fixed socket `/var/run/zfs/zfs_socket`, so there is one daemon per
//! machine, shared by every test of this process (a process-wide `OnceLock`) and by other test
//! processes running at the same time (a CI run, another engineer's `cargo test`). Two lock
//! files under `/run/infrastructor-testbed-zfs/` coordinate them:
//! - `init.lock`, held exclusively while a process checks for a daemon and starts one;
//! - `users.lock`, held *shared* by every process that uses the daemon, for its lifetime.
//!
//! The process that starts the daemon spawns it under a small watchdog (`sh`, its own process
//! group) whose stdin is a pipe that only this process holds. When the process exits, however
//! it exits, the pipe closes; the watchdog then takes `init.lock` and `users.lock` exclusively
//! (so it waits for every other process still using the daemon), destroys the pools left over
//! (all of them are test pools), stops zfs-fuse by PID (SIGTERM) and waits for it. A daemon
//! that was already running when no lock was held (started by someone else) is used and never
//! stopped.
//!
//! # Pools
//! [`Zfs::pool`] creates a pool named `PREFIX_PID_N` (unique per test) on sparse files in a
//! temp dir, with `cachefile=none` (zfs-fuse forgets it when stopped) and its mountpoint
//! under the temp dir (not `/POOL`); it is destroyed (`zpool destroy -f`, retried while
//! zfs-fuse says "pool is busy") on drop.
//!
//! zfs-fuse's tools are old (pool version 23): no `-p` flag, no `zfs diff`, no `zpool
//! events`, and `zpool status` prints `scrub:` where OpenZFS prints `scan:`.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use nix::fcntl::{Flock, FlockArg};

use super::tools::require;
use super::{kill_tree, log_tail, run_with_timeout, unmount_all_under, wait_until};

/// How long zfs-fuse may take to answer after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `zpool`/`zfs` call may take in the harness.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a pool's destruction is retried while zfs-fuse says it is busy.
const DESTROY_PATIENCE: Duration = Duration::from_secs(20);
/// zfs-fuse's smallest vdev (SPA_MINDEVSIZE).
const MIN_VDEV_MB: u64 = 64;

/// Run by the watchdog as `sh -c SCRIPT sh ZFS_FUSE PIDFILE INIT_LOCK USERS_LOCK ZPOOL`.
const WATCHDOG_SCRIPT: &str = r#"zfs_fuse=$1 pidfile=$2 init_lock=$3 users_lock=$4 zpool=$5
"$zfs_fuse" --no-daemon --no-kstat-mount --pidfile "$pidfile" </dev/null &
zpid=$!
echo "$zpid" >"$pidfile"
echo "testbed watchdog $$: zfs-fuse started as PID $zpid"
# Returns at end of file: when the test process that started us has exited.
cat >/dev/null
exec 8>>"$init_lock"
flock -x 8
exec 9>>"$users_lock"
flock -x 9
"$zpool" list -H -o name 2>/dev/null | while read -r pool; do
  "$zpool" destroy -f "$pool" || true
done
kill -TERM "$zpid" 2>/dev/null
wait "$zpid"
rm -f "$pidfile"
echo "testbed watchdog $$: zfs-fuse (PID $zpid) stopped"
"#;

static DAEMON: OnceLock<std::result::Result<Zfs, String>> = OnceLock::new();
static POOLS: AtomicUsize = AtomicUsize::new(0);

/// The machine's zfs-fuse daemon, as used by this process.
#[derive(Debug)]
pub struct Zfs {
    zpool: PathBuf,
    zfs: PathBuf,
    daemon_pid: Option<u32>,
    watchdog_pid: Option<u32>,
    log: PathBuf,
    /// Shared lock on `users.lock`, held for the process lifetime.
    _users: Flock<File>,
    /// The pipe the watchdog waits on; closed by the kernel when this process exits.
    _watchdog_stdin: Option<ChildStdin>,
}

/// The layout of a test pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolSpec {
    /// How many file vdevs (default 1).
    pub vdevs: usize,
    /// Size of each, in MiB (default and minimum 64).
    pub size_mb: u64,
    /// One mirror of all vdevs rather than a stripe (default false).
    pub mirror: bool,
}

impl Default for PoolSpec {
    fn default() -> Self {
        PoolSpec {
            vdevs: 1,
            size_mb: MIN_VDEV_MB,
            mirror: false,
        }
    }
}

impl Zfs {
    /// The daemon: started (once per machine, see the module docs) on first use.
    ///
    /// # Panics
    /// When `zfs-fuse`, `zpool`, `zfs` or `flock` is missing (naming the Debian package).
    pub fn daemon() -> Result<&'static Zfs> {
        DAEMON
            .get_or_init(|| Zfs::init().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow!("zfs-fuse is not available: {e}"))
    }

    fn init() -> Result<Zfs> {
        let zfs_fuse = require("zfs-fuse", "zfs-fuse");
        let zpool = require("zpool", "zfs-fuse");
        let zfs = require("zfs", "zfs-fuse");
        let sh = require("sh", "dash");
        require("flock", "util-linux");
        ensure!(
            Path::new("/dev/fuse").exists(),
            "zfs-fuse needs /dev/fuse, which is missing (load the fuse module: modprobe fuse)"
        );
        let base = lock_dir();
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        let open = |name: &str| {
            File::options()
                .create(true)
                .append(true)
                .open(base.join(name))
                .with_context(|| format!("opening {}/{name}", base.display()))
        };
        let init_lock = Flock::lock(open("init.lock")?, FlockArg::LockExclusive)
            .map_err(|(_, errno)| anyhow!("locking init.lock: {errno}"))?;
        let log = base.join("zfs-fuse.log");
        let mut zfs = Zfs {
            zpool,
            zfs,
            daemon_pid: None,
            watchdog_pid: None,
            log,
            _users: Flock::lock(open("users.lock")?, FlockArg::LockShared)
                .map_err(|(_, errno)| anyhow!("locking users.lock: {errno}"))?,
            _watchdog_stdin: None,
        };
        if !zfs.answers() {
            let pidfile = base.join("zfs-fuse.pid");
            let log = File::options()
                .create(true)
                .append(true)
                .open(&zfs.log)
                .context("opening zfs-fuse.log")?;
            let mut watchdog = Command::new(&sh)
                .arg("-c")
                .arg(WATCHDOG_SCRIPT)
                .arg("sh")
                .arg(&zfs_fuse)
                .arg(&pidfile)
                .arg(base.join("init.lock"))
                .arg(base.join("users.lock"))
                .arg(&zfs.zpool)
                .stdin(Stdio::piped())
                .stdout(log.try_clone().context("zfs-fuse.log")?)
                .stderr(log)
                .process_group(0)
                .spawn()
                .context("spawning the zfs-fuse watchdog")?;
            zfs.watchdog_pid = Some(watchdog.id());
            zfs._watchdog_stdin = watchdog.stdin.take();
            let ready = wait_until(START_TIMEOUT, Duration::from_millis(100), || {
                Ok(watchdog.try_wait()?.is_none() && zfs.answers())
            })?;
            if !ready {
                let _ = kill_tree(&mut watchdog);
                bail!(
                    "zfs-fuse did not answer within {START_TIMEOUT:?}: {}",
                    log_tail(&zfs.log, 2000)
                );
            }
            zfs.daemon_pid = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|text| text.trim().parse().ok());
            // The watchdog is not waited for: it outlives this process on purpose.
            drop(watchdog);
        }
        drop(init_lock);
        Ok(zfs)
    }

    /// Whether the daemon answers `zpool list`.
    fn answers(&self) -> bool {
        run_with_timeout(
            Command::new(&self.zpool).args(["list", "-H", "-o", "name"]),
            Duration::from_secs(10),
            "zpool list",
        )
        .is_ok_and(|o| o.status.success())
    }

    /// zfs-fuse's PID, when this process started it.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon_pid
    }

    /// The watchdog's PID, when this process started the daemon.
    pub fn watchdog_pid(&self) -> Option<u32> {
        self.watchdog_pid
    }

    /// The daemon's and watchdog's log (shared by every process that starts one).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// A `zpool` command.
    pub fn zpool_cmd(&self) -> Command {
        Command::new(&self.zpool)
    }

    /// A `zfs` command.
    pub fn zfs_cmd(&self) -> Command {
        Command::new(&self.zfs)
    }

    /// Runs `zpool ARGS…`; its stdout, or an error with its stderr.
    pub fn zpool(&self, args: &[&str]) -> Result<String> {
        tool_output(self.zpool_cmd().args(args), "zpool", args)
    }

    /// Runs `zfs ARGS…`; its stdout, or an error with its stderr.
    pub fn zfs(&self, args: &[&str]) -> Result<String> {
        tool_output(self.zfs_cmd().args(args), "zfs", args)
    }

    /// Creates a one-vdev pool of `size_mb` MiB (at least 64) named `PREFIX_PID_N`.
    ///
    /// # Panics
    /// When zfs-fuse is missing (naming the Debian package).
    pub fn pool(name_prefix: &str, size_mb: u64) -> Result<Pool> {
        Self::pool_with(
            name_prefix,
            PoolSpec {
                size_mb,
                ..PoolSpec::default()
            },
        )
    }

    /// Creates a pool laid out as `spec`, named `PREFIX_PID_N`.
    ///
    /// # Panics
    /// When zfs-fuse is missing (naming the Debian package).
    pub fn pool_with(name_prefix: &str, spec: PoolSpec) -> Result<Pool> {
        ensure!(
            name_prefix.starts_with(|c: char| c.is_ascii_alphabetic())
                && name_prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "a pool name prefix is a letter then letters, digits or _: {name_prefix:?}"
        );
        ensure!(
            spec.size_mb >= MIN_VDEV_MB,
            "zfs-fuse's vdevs are at least {MIN_VDEV_MB} MiB"
        );
        ensure!(spec.vdevs >= 1, "a pool needs a vdev");
        ensure!(
            !spec.mirror || spec.vdevs >= 2,
            "a mirror needs two vdevs or more"
        );
        let daemon = Self::daemon()?;
        let name = format!(
            "{name_prefix}_{}_{}",
            std::process::id(),
            POOLS.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::Builder::new()
            .prefix("tb-zpool-")
            .tempdir()
            .context("creating the pool's temp dir")?;
        let mut vdevs = Vec::new();
        for i in 0..spec.vdevs {
            let path = dir.path().join(format!("vdev{i}"));
            File::create(&path)
                .and_then(|f| f.set_len(spec.size_mb * 1024 * 1024))
                .with_context(|| format!("creating {}", path.display()))?;
            vdevs.push(path);
        }
        let mountpoint = dir.path().join("mnt");
        let mut cmd = daemon.zpool_cmd();
        cmd.args(["create", "-o", "cachefile=none", "-m"])
            .arg(&mountpoint)
            .arg(&name);
        if spec.mirror {
            cmd.arg("mirror");
        }
        cmd.args(&vdevs);
        let output = run_with_timeout(&mut cmd, TOOL_TIMEOUT, "zpool create")?;
        ensure!(
            output.status.success(),
            "zpool create {name} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(Pool {
            name,
            root: dir.path().to_path_buf(),
            dir: Some(dir),
            vdevs,
            mountpoint,
            destroyed: false,
        })
    }
}

/// Where the locks and the daemon's log live: machine-wide like zfs-fuse's own socket, so
/// `/run` (cleared at boot) rather than a `TMPDIR` that two test processes may set differently.
fn lock_dir() -> PathBuf {
    let run = Path::new("/run");
    let dir = if run.is_dir() && nix::unistd::access(run, nix::unistd::AccessFlags::W_OK).is_ok() {
        run.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    dir.join("infrastructor-testbed-zfs")
}

fn tool_output(cmd: &mut Command, tool: &str, args: &[&str]) -> Result<String> {
    let what = format!("{tool} {}", args.join(" "));
    let output = run_with_timeout(cmd, TOOL_TIMEOUT, &what)?;
    ensure!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}

/// A test pool, destroyed on drop.
#[derive(Debug)]
pub struct Pool {
    name: String,
    root: PathBuf,
    dir: Option<tempfile::TempDir>,
    vdevs: Vec<PathBuf>,
    mountpoint: PathBuf,
    destroyed: bool,
}

impl Pool {
    /// The pool's (unique) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its vdev files.
    pub fn vdevs(&self) -> &[PathBuf] {
        &self.vdevs
    }

    /// Where its root dataset is mounted (`<dir>/mnt`).
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Its private directory (vdevs, mountpoint).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Destroys the pool (`zpool destroy -f`, retried while zfs-fuse says it is busy, which
    /// it does for a moment after datasets are unmounted). Idempotent; a pool the test
    /// destroyed itself counts as destroyed.
    pub fn destroy(&mut self) -> Result<()> {
        if self.destroyed {
            return Ok(());
        }
        let daemon = Zfs::daemon()?;
        let deadline = Instant::now() + DESTROY_PATIENCE;
        loop {
            let output = run_with_timeout(
                daemon.zpool_cmd().args(["destroy", "-f", &self.name]),
                TOOL_TIMEOUT,
                "zpool destroy",
            )?;
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
            if output.status.success() || stderr.contains("no such pool") {
                self.destroyed = true;
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "zpool destroy -f {} kept failing for {DESTROY_PATIENCE:?}: {stderr}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Err(e) = self.destroy() {
            eprintln!("testbed: {e:#}");
        }
        if let Some(dir) = self.dir.take() {
            unmount_all_under(dir.path());
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                eprintln!("testbed: removing {}: {e}", path.display());
            }
        }
    }
}
