//! OpenSSH `sshd` "devices" on loopback, each with its own config, host key, client key pair,
//! `authorized_keys` and `known_hosts`, all under a temp dir.
//!
//! # Why a mount namespace
//! sshd runs every remote command through the user's login shell, and root's `~/.bashrc` on
//! these machines runs `pyenv init` (+0.14–0.4 s per command, measured). A
//! device starts sshd with `unshare -m --propagation private` and, inside that private mount
//! namespace only, bind-mounts a copy of `/etc/passwd` that gives root `/bin/sh` over
//! `/etc/passwd`. The host's `/etc/passwd` is never touched.
//!
//! The namespace starts as a copy of the host's mounts. Copies of mounts owned by other
//! testbed programs would be pinned by it (a zfs-fuse dataset mounted when a device started
//! makes `zpool destroy` fail with "pool is busy" until the device stops), so the device drops
//! its copies of `fuse`, `fuse.zfs`, `overlay` and `nsfs` mounts and of every mount under the
//! temp dir before starting sshd. Conversely, mounts made on the host after a device started
//! (a new zfs dataset, a container's root) are not visible to its remote commands; the
//! programs the plugins run (`docker`, `zfs`, `zpool`) talk to their daemons over sockets,
//! which are files and are visible.
//!
//! # PATH and wrappers
//! Remote commands get `PATH=<dir>/bin:<dir>/wrappers:/usr/local/sbin:…:/bin` (sshd's
//! `SetEnv`). [`Sshd::add_wrapper`] puts a script in `wrappers/`; [`Sshd::count_invocations`]
//! puts an invocation counter in `bin/` that records each call and then runs the next program
//! of that name on the PATH (a wrapper or the real program); [`Sshd::use_docker`] points the
//! device's `docker` and `docker-compose` at a private [`Docker`].
//!
//! # Processes
//! sshd is our child (the `unshare` process execs it), leader of its own process group.
//! Connections are served by processes that sshd forks and that call `setsid`, so stopping a
//! device kills the whole tree under the sshd PID (frozen with SIGSTOP, then SIGKILL): the
//! listener, every connection and every remote command still running.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::docker::Docker;
use super::tools::require;
use super::{freeze_tree, kill_and_wait, kill_tree, log_tail, run_ok, shell_quote};

/// The system part of a device's `PATH`, after its `bin/` and `wrappers/` directories.
pub const DEVICE_SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The user the devices accept (with the generated client key).
pub const DEVICE_USER: &str = "root";

/// How long a device may take to answer after sshd is started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Run by `unshare -m --propagation private` as `sh -c SCRIPT sh PASSWD TMPDIR BINDS SSHD
/// ARGS…`: drops the namespace's copies of other programs' mounts, bind-mounts the passwd
/// copy and the `BINDS` file's `SOURCE<TAB>TARGET` lines, and execs sshd (so sshd keeps the
/// PID we spawned).
const NAMESPACE_SCRIPT: &str = r#"set -e
passwd=$1
tmp=$2
binds=$3
shift 3
findmnt -rn -o TARGET,FSTYPE | while read -r target fstype; do
  case "$fstype" in
    fuse|fuse.*|overlay|nsfs) umount -l "$target" 2>/dev/null || true; continue ;;
  esac
  case "$target" in
    "$tmp"/*) umount -l "$target" 2>/dev/null || true ;;
  esac
done
mount --bind "$passwd" /etc/passwd
tab=$(printf '\t')
while IFS="$tab" read -r src dst; do
  [ -n "$src" ] && mount --bind "$src" "$dst"
done < "$binds"
exec "$@"
"#;

/// How a device is configured.
#[derive(Clone, Debug)]
pub struct SshdOptions {
    /// The loopback address to listen on (default `127.0.0.1`). Linux routes all of
    /// `127.0.0.0/8` to `lo`, so any `127.0.0.x` works without setup.
    pub host: Ipv4Addr,
    /// sshd's `MaxSessions`: channels per connection (default 10, sshd's own default).
    pub max_sessions: u32,
    /// sshd's `LogLevel` (default `ERROR`). sshd logs to `<dir>/sshd.log`, never to the
    /// test's output; `QUIET` would also hide why sshd failed to start.
    pub log_level: String,
    /// More `sshd_config` lines. They are written first, so they win over the defaults
    /// (sshd keeps the first value it reads for a keyword).
    pub extra_config: Vec<String>,
    /// Directories bind-mounted over existing directories inside the device's namespace
    /// only (`(source, target)`, e.g. a temp dir over `/srv`), to give it files to find.
    pub binds: Vec<(PathBuf, PathBuf)>,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions {
            host: Ipv4Addr::LOCALHOST,
            max_sessions: 10,
            log_level: "ERROR".into(),
            extra_config: Vec::new(),
            binds: Vec::new(),
        }
    }
}

impl SshdOptions {
    /// The defaults, listening on `host`.
    pub fn on(host: Ipv4Addr) -> Self {
        SshdOptions {
            host,
            ..Self::default()
        }
    }
}

/// Paths of the programs a device uses.
#[derive(Debug)]
struct Programs {
    sshd: PathBuf,
    keygen: PathBuf,
    unshare: PathBuf,
    sh: PathBuf,
}

/// A running sshd "device". Stopped (its whole process tree killed by PID) on drop.
#[derive(Debug)]
pub struct Sshd {
    dir: tempfile::TempDir,
    options: SshdOptions,
    port: u16,
    child: Option<Child>,
    host_public_key: String,
    client_public_key: String,
    programs: Programs,
}

/// What one attempt to start sshd gave.
enum Launch {
    Ready,
    PortBusy,
}

impl Sshd {
    /// Starts a device: generates its host key, client key pair, `authorized_keys`,
    /// `known_hosts`, passwd copy and config, starts sshd on a free port of `options.host`
    /// and waits until it answers with its SSH banner.
    ///
    /// # Panics
    /// When a program it needs is missing (naming the Debian package).
    pub fn start(options: SshdOptions) -> Result<Sshd> {
        let programs = Programs {
            sshd: require("sshd", "openssh-server"),
            keygen: require("ssh-keygen", "openssh-client"),
            unshare: require("unshare", "util-linux"),
            sh: require("sh", "dash"),
        };
        require("findmnt", "util-linux");
        require("mount", "mount");
        require("umount", "mount");
        ensure!(
            options.host.is_loopback(),
            "a device listens on loopback, not {}",
            options.host
        );
        // Debian's sshd refuses to start without its privilege-separation directory, which
        // systemd's unit creates (RuntimeDirectory=sshd); create it like the unit does.
        std::fs::create_dir_all("/run/sshd").context("creating /run/sshd")?;

        let dir = tempfile::Builder::new()
            .prefix("tb-sshd-")
            .tempdir()
            .context("creating the device's temp dir")?;
        let path = dir.path().to_string_lossy().to_string();
        ensure!(
            !path.contains(|c: char| c.is_whitespace() || c == '"' || c == '\''),
            "temp dir {path} has characters sshd_config cannot hold"
        );
        for sub in ["bin", "wrappers", "counts"] {
            std::fs::create_dir(dir.path().join(sub))
                .with_context(|| format!("creating {path}/{sub}"))?;
        }
        let host_public_key = keygen(&programs.keygen, &dir.path().join("host_key"))?;
        let client_public_key = keygen(&programs.keygen, &dir.path().join("client_key"))?;
        std::fs::write(
            dir.path().join("authorized_keys"),
            format!("{client_public_key}\n"),
        )
        .context("writing authorized_keys")?;
        write_passwd_copy(&dir.path().join("passwd"))?;

        let mut device = Sshd {
            dir,
            options,
            port: 0,
            child: None,
            host_public_key,
            client_public_key,
            programs,
        };
        for _ in 0..8 {
            device.port = free_port(device.options.host)?;
            match device.launch()? {
                Launch::Ready => {
                    device.refresh_known_hosts()?;
                    return Ok(device);
                }
                // Another process took the port between our probe and sshd's bind.
                Launch::PortBusy => continue,
            }
        }
        bail!("sshd found no free port on {}", device.options.host)
    }

    /// `host:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.options.host, self.port))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address as a string (`"127.0.0.1"`), as a device's `ip_address` or hostname.
    pub fn host(&self) -> String {
        self.options.host.to_string()
    }

    /// The address.
    pub fn ip(&self) -> Ipv4Addr {
        self.options.host
    }

    /// The user to log in as (`root`).
    pub fn user(&self) -> &'static str {
        DEVICE_USER
    }

    /// The device's private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client's private key (ed25519, OpenSSH format, no passphrase), authorized for root.
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// The client's public key (`ssh-ed25519 AAAA…`).
    pub fn client_public_key(&self) -> &str {
        &self.client_public_key
    }

    /// A `known_hosts` file holding one line, `[HOST]:PORT ssh-ed25519 AAAA…`, for this
    /// device, with the host key it had when it started (or at the last
    /// [`Sshd::refresh_known_hosts`]): after [`Sshd::regenerate_host_key`] it still holds the
    /// old key, which is what a "changed host key" test needs.
    pub fn known_hosts_path(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The `known_hosts` line for the device's current host key.
    pub fn known_hosts_line(&self) -> String {
        format!(
            "[{}]:{} {}",
            self.options.host, self.port, self.host_public_key
        )
    }

    /// Rewrites [`Sshd::known_hosts_path`] with the current host key.
    pub fn refresh_known_hosts(&self) -> Result<()> {
        std::fs::write(
            self.known_hosts_path(),
            format!("{}\n", self.known_hosts_line()),
        )
        .context("writing known_hosts")
    }

    /// The current host public key (`ssh-ed25519 AAAA…`, no comment).
    pub fn host_public_key(&self) -> &str {
        &self.host_public_key
    }

    /// The current host key's fingerprint as OpenSSH prints it (`SHA256:…`).
    pub fn host_key_fingerprint(&self) -> Result<String> {
        let output = run_ok(
            Command::new(&self.programs.keygen)
                .args(["-l", "-E", "sha256", "-f"])
                .arg(self.dir.path().join("host_key.pub")),
            "fingerprint of the host key",
        )?;
        let text = String::from_utf8_lossy(&output.stdout);
        text.split_whitespace()
            .find(|field| field.starts_with("SHA256:"))
            .map(str::to_string)
            .with_context(|| format!("no SHA256 fingerprint in ssh-keygen's output {text:?}"))
    }

    /// The generated `sshd_config`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("sshd_config")
    }

    /// sshd's log (its stderr, at the configured `LogLevel`).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("sshd.log")
    }

    /// The `PATH` remote commands get.
    pub fn device_path(&self) -> String {
        format!(
            "{}:{}:{DEVICE_SYSTEM_PATH}",
            self.counter_dir().display(),
            self.wrapper_dir().display()
        )
    }

    /// sshd's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether sshd runs (it was started, not stopped, and has not died).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) | None => false,
        }
    }

    /// Kills sshd and everything under it (connections, running remote commands) by PID,
    /// and waits for it. The port and keys are kept for [`Sshd::restart`].
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            kill_tree(&mut child).context("stopping sshd")?;
        }
        Ok(())
    }

    /// Starts sshd again after [`Sshd::stop`] (or stops it first): same port, same keys.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        // The port was ours a moment ago; another process may grab it, but rarely: retry
        // for a few seconds before giving up (the port must stay the same).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.launch()? {
                Launch::Ready => return Ok(()),
                Launch::PortBusy if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Launch::PortBusy => bail!("port {} stayed busy after sshd stopped", self.port),
            }
        }
    }

    /// Replaces the host key with a newly generated one and restarts sshd with it (same
    /// port). Returns the new public key. [`Sshd::known_hosts_path`] keeps the old key until
    /// [`Sshd::refresh_known_hosts`].
    pub fn regenerate_host_key(&mut self) -> Result<String> {
        self.stop()?;
        let key = self.dir.path().join("host_key");
        for file in [key.clone(), key.with_extension("pub")] {
            std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        }
        self.host_public_key = keygen(&self.programs.keygen, &key)?;
        self.restart()?;
        Ok(self.host_public_key.clone())
    }

    /// Kills every connection's processes (and the remote commands they run) while the
    /// listener keeps running: clients see their connections break, new ones succeed.
    /// Returns how many processes were killed.
    pub fn drop_connections(&mut self) -> Result<usize> {
        let Some(listener) = self.pid() else {
            bail!("sshd is not running")
        };
        let victims = freeze_tree(listener, false);
        kill_and_wait(&victims);
        Ok(victims.len())
    }

    /// The directory of wrappers ([`Sshd::add_wrapper`]), second on the device's PATH.
    pub fn wrapper_dir(&self) -> PathBuf {
        self.dir.path().join("wrappers")
    }

    /// The directory of invocation counters ([`Sshd::count_invocations`]), first on the
    /// device's PATH.
    pub fn counter_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// Installs `script` (a whole file, starting with `#!`) as the device's `name`: remote
    /// commands running `name` run it instead of the program of that name further down the
    /// PATH. Returns its path. [`DEVICE_SYSTEM_PATH`] lists where the real programs are.
    pub fn add_wrapper(&self, name: &str, script: &str) -> Result<PathBuf> {
        check_program_name(name)?;
        ensure!(script.starts_with("#!"), "a wrapper script starts with #!");
        write_executable(&self.wrapper_dir().join(name), script)
    }

    /// Runs the device's `programs` (`zfs`, `zpool`) in the test process's mount namespace
    /// (`nsenter --mount=/proc/<test pid>/ns/mnt`), so what they mount (a dataset that a
    /// clone or a receive creates) is mounted where zfs-fuse and the test see it, as on a
    /// real host; inside the device's private namespace zfs-fuse cannot mount.
    ///
    /// # Panics
    /// When `nsenter` (Debian package util-linux) or one of `programs` is missing.
    pub fn use_host_mounts(&self, programs: &[&str]) -> Result<()> {
        let nsenter = super::tools::require("nsenter", "util-linux");
        let namespace = format!("/proc/{}/ns/mnt", std::process::id());
        for name in programs {
            let real = super::tools::find(name)
                .ok_or_else(|| anyhow::anyhow!("{name} is missing on this machine"))?;
            self.add_wrapper(
                name,
                &format!(
                    "#!/bin/sh\n# Runs in the test's mount namespace (see Sshd::use_host_mounts).\n\
                     exec {} --mount={} -- {} \"$@\"\n",
                    shell_quote(&nsenter.to_string_lossy()),
                    shell_quote(&namespace),
                    shell_quote(&real.to_string_lossy())
                ),
            )?;
        }
        Ok(())
    }

    /// Counts the device's calls of `name`: installs a counter that appends a line to
    /// `counts/NAME` and then execs the next `name` on the device's PATH (a wrapper, else the
    /// real program). Read the count with [`Sshd::invocations`].
    pub fn count_invocations(&self, name: &str) -> Result<()> {
        check_program_name(name)?;
        let counts = self.dir.path().join("counts").join(name);
        let mut search = vec![self.wrapper_dir().to_string_lossy().to_string()];
        search.extend(DEVICE_SYSTEM_PATH.split(':').map(str::to_string));
        let dirs: Vec<String> = search.iter().map(|d| shell_quote(d)).collect();
        let script = format!(
            "#!/bin/sh\n\
             # Invocation counter installed by the testbed: one line per call.\n\
             echo \"$$\" >> {counts}\n\
             for d in {dirs}; do\n  \
               if [ -x \"$d\"/{name} ]; then exec \"$d\"/{name} \"$@\"; fi\n\
             done\n\
             echo {name_msg} >&2\n\
             exit 127\n",
            counts = shell_quote(&counts.to_string_lossy()),
            dirs = dirs.join(" "),
            name = shell_quote(name),
            name_msg = shell_quote(&format!("{name}: not found on the device's PATH")),
        );
        write_executable(&self.counter_dir().join(name), &script)?;
        Ok(())
    }

    /// How many times the device ran `name` since [`Sshd::count_invocations`] (or the last
    /// [`Sshd::reset_invocations`]); 0 when it never did.
    pub fn invocations(&self, name: &str) -> usize {
        std::fs::read_to_string(self.dir.path().join("counts").join(name))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }

    /// Sets `name`'s invocation count back to 0.
    pub fn reset_invocations(&self, name: &str) -> Result<()> {
        check_program_name(name)?;
        match std::fs::remove_file(self.dir.path().join("counts").join(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).context("resetting an invocation count"),
        }
    }

    /// Points the device's `docker` and `docker-compose` at `docker` (wrappers that set
    /// `DOCKER_HOST` and `DOCKER_CONFIG`, then exec the real client).
    pub fn use_docker(&self, docker: &Docker) -> Result<()> {
        let env = format!(
            "export DOCKER_HOST={} DOCKER_CONFIG={}\n",
            shell_quote(&docker.host_url()),
            shell_quote(&docker.config_dir().to_string_lossy())
        );
        self.add_wrapper(
            "docker",
            &format!(
                "#!/bin/sh\n# The test's private dockerd.\n{env}exec {} \"$@\"\n",
                shell_quote(&docker.client_path().to_string_lossy())
            ),
        )?;
        let compose = match super::tools::find("docker-compose") {
            Some(path) => format!("exec {} \"$@\"\n", shell_quote(&path.to_string_lossy())),
            None => "echo 'docker-compose is missing (Debian package docker-compose): run \
                     scripts/install-testbed' >&2\nexit 127\n"
                .to_string(),
        };
        self.add_wrapper(
            "docker-compose",
            &format!("#!/bin/sh\n# The test's private dockerd.\n{env}{compose}"),
        )?;
        Ok(())
    }

    /// Writes the bind list the namespace script reads; returns its path.
    fn write_binds(&self) -> Result<PathBuf> {
        let mut text = String::new();
        for (src, dst) in &self.options.binds {
            let (src, dst) = (src.to_string_lossy(), dst.to_string_lossy());
            ensure!(
                !src.contains(['\t', '\n']) && !dst.contains(['\t', '\n']),
                "bind paths may not contain tabs or newlines"
            );
            text.push_str(&format!("{src}\t{dst}\n"));
        }
        let path = self.dir.path().join("binds");
        std::fs::write(&path, text).context("writing the bind list")?;
        Ok(path)
    }

    fn write_config(&self) -> Result<()> {
        let dir = self.dir.path().display();
        let mut config = String::new();
        for line in &self.options.extra_config {
            config.push_str(line);
            config.push('\n');
        }
        config.push_str(&format!(
            "ListenAddress {host}:{port}\n\
             HostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\n\
             PidFile {dir}/sshd.pid\n\
             UsePAM no\n\
             PermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             StrictModes no\n\
             MaxSessions {max_sessions}\n\
             LogLevel {log_level}\n\
             UseDNS no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             X11Forwarding no\n\
             SetEnv PATH={path}\n\
             Subsystem sftp internal-sftp\n",
            host = self.options.host,
            port = self.port,
            max_sessions = self.options.max_sessions,
            log_level = self.options.log_level,
            path = self.device_path(),
        ));
        std::fs::write(self.config_path(), config).context("writing sshd_config")
    }

    /// Starts sshd on `self.port` and waits until it answers.
    fn launch(&mut self) -> Result<Launch> {
        ensure!(self.child.is_none(), "sshd is already running");
        self.write_config()?;
        let pid_file = self.dir.path().join("sshd.pid");
        let _ = std::fs::remove_file(&pid_file);
        let log_path = self.log_path();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .context("opening sshd.log")?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut child = Command::new(&self.programs.unshare)
            .args(["-m", "--propagation", "private"])
            .arg(&self.programs.sh)
            .arg("-c")
            .arg(NAMESPACE_SCRIPT)
            .arg("sh")
            .arg(self.dir.path().join("passwd"))
            .arg(std::env::temp_dir())
            .arg(self.write_binds()?)
            .arg(&self.programs.sshd)
            .args(["-D", "-e", "-f"])
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("sshd.log")?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("spawning unshare + sshd")?;
        let pid = child.id();
        let deadline = Instant::now() + START_TIMEOUT;
        let new_log = || {
            let text = std::fs::read(&log_path).unwrap_or_default();
            let start = usize::try_from(log_start).unwrap_or(0).min(text.len());
            String::from_utf8_lossy(&text[start..]).trim().to_string()
        };
        loop {
            if let Some(status) = child.try_wait().context("waiting for sshd")? {
                let log = new_log();
                if log.contains("Address already in use") || log.contains("Cannot bind any") {
                    return Ok(Launch::PortBusy);
                }
                bail!(
                    "sshd exited ({status}) before answering on {}: {log}",
                    self.addr()
                );
            }
            let pid_written =
                std::fs::read_to_string(&pid_file).is_ok_and(|text| text.trim() == pid.to_string());
            if pid_written && answers_ssh(self.addr()) {
                self.child = Some(child);
                return Ok(Launch::Ready);
            }
            if Instant::now() >= deadline {
                let _ = kill_tree(&mut child);
                bail!(
                    "sshd did not answer on {} within {START_TIMEOUT:?}: {}",
                    self.addr(),
                    new_log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("testbed: stopping sshd on port {}: {e:#}", self.port);
        }
    }
}

/// Whether something on `addr` sends an SSH-2.0 banner.
fn answers_ssh(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 8];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-2.0-"
}

/// A port that was free on `host` a moment ago.
fn free_port(host: Ipv4Addr) -> Result<u16> {
    let listener = TcpListener::bind((host, 0)).with_context(|| format!("binding {host}:0"))?;
    Ok(listener.local_addr()?.port())
}

/// Generates an ed25519 key pair at `path` and `path.pub` (no passphrase, no comment) and
/// returns the public key as `ssh-ed25519 AAAA…`.
pub fn generate_key(path: &Path) -> Result<String> {
    keygen(&require("ssh-keygen", "openssh-client"), path)
}

fn keygen(program: &Path, path: &Path) -> Result<String> {
    run_ok(
        Command::new(program)
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
            .arg(path),
        "generating an ed25519 key",
    )?;
    let public = std::fs::read_to_string(path.with_extension("pub"))
        .with_context(|| format!("reading {}.pub", path.display()))?;
    let fields: Vec<&str> = public.split_whitespace().take(2).collect();
    ensure!(
        fields.len() == 2 && fields[0] == "ssh-ed25519",
        "unexpected public key {public:?}"
    );
    Ok(fields.join(" "))
}

/// Writes a copy of `/etc/passwd` in which root's login shell is `/bin/sh`.
fn write_passwd_copy(to: &Path) -> Result<()> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    let mut found = false;
    let mut copy = String::with_capacity(passwd.len());
    for line in passwd.lines() {
        let mut fields: Vec<&str> = line.split(':').collect();
        if fields.first() == Some(&"root") && fields.len() == 7 {
            fields[6] = "/bin/sh";
            found = true;
        }
        copy.push_str(&fields.join(":"));
        copy.push('\n');
    }
    ensure!(found, "no root entry in /etc/passwd");
    std::fs::write(to, copy).with_context(|| format!("writing {}", to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o644))
        .context("chmod passwd copy")
}

fn check_program_name(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c)),
        "{name:?} is not a program name"
    );
    Ok(())
}

fn write_executable(path: &Path, text: &str) -> Result<PathBuf> {
    // Write then rename, so a remote command never runs a half-written script.
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("installing {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// The OpenSSH client options that reach `device` with its client key and known_hosts
/// (strict host-key checking, batch mode, no user or system ssh config), before `user@host`.
fn ssh_options(device: &Sshd) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-F".into(), "/dev/null".into(), "-i".into()];
    args.push(device.client_key_path().into());
    args.push("-p".into());
    args.push(device.port.to_string().into());
    let mut known = OsString::from("UserKnownHostsFile=");
    known.push(device.known_hosts_path());
    for option in [
        known,
        "GlobalKnownHostsFile=/dev/null".into(),
        "StrictHostKeyChecking=yes".into(),
        "BatchMode=yes".into(),
        "IdentitiesOnly=yes".into(),
        "LogLevel=ERROR".into(),
        "ConnectTimeout=10".into(),
    ] {
        args.push("-o".into());
        args.push(option);
    }
    args
}

/// The system `ssh` client, ready to run a command on `device` (append the remote command's
/// arguments): `ssh -i KEY -p PORT -o UserKnownHostsFile=… -o StrictHostKeyChecking=yes
/// -o BatchMode=yes root@HOST`. Each run opens a new connection.
///
/// # Panics
/// When `ssh` is missing (Debian package openssh-client).
pub fn ssh_command(device: &Sshd) -> Command {
    let mut cmd = Command::new(require("ssh", "openssh-client"));
    cmd.args(ssh_options(device))
        .arg(format!("{DEVICE_USER}@{}", device.host()))
        .stdin(Stdio::null());
    cmd
}

/// An OpenSSH ControlMaster connection to a device (`ssh -M -S SOCKET -N`), for comparing
/// against OpenSSH multiplexing. Run as our child (not `-f`), so it is stopped by PID on drop.
#[derive(Debug)]
pub struct ControlMaster {
    dir: tempfile::TempDir,
    child: Option<Child>,
    options: Vec<OsString>,
    destination: String,
    ssh: PathBuf,
}

/// Starts an OpenSSH ControlMaster to `device` and waits until it accepts clients.
///
/// # Panics
/// When `ssh` is missing (Debian package openssh-client).
pub fn control_master(device: &Sshd) -> Result<ControlMaster> {
    let ssh = require("ssh", "openssh-client");
    let dir = tempfile::Builder::new()
        .prefix("tb-cm-")
        .tempdir()
        .context("creating the control master's temp dir")?;
    let socket = dir.path().join("master.sock");
    let log = File::create(dir.path().join("master.log")).context("master.log")?;
    let destination = format!("{DEVICE_USER}@{}", device.host());
    let options = ssh_options(device);
    let child = Command::new(&ssh)
        .args(&options)
        .args(["-M", "-N", "-o", "ControlPersist=no", "-S"])
        .arg(&socket)
        .arg(&destination)
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("master.log")?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("spawning ssh -M")?;
    let mut master = ControlMaster {
        dir,
        child: Some(child),
        options,
        destination,
        ssh,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(child) = master.child.as_mut()
            && let Some(status) = child.try_wait().context("waiting for ssh -M")?
        {
            bail!(
                "ssh -M exited ({status}): {}",
                log_tail(&master.dir.path().join("master.log"), 2000)
            );
        }
        let check = master
            .command_with(&["-O", "check"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("ssh -O check")?;
        if check.success() {
            return Ok(master);
        }
        if Instant::now() >= deadline {
            bail!("the control master did not come up within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl ControlMaster {
    /// `ssh -S SOCKET … root@HOST`: append the remote command's arguments; it runs over the
    /// master's connection (a new channel, no new handshake).
    pub fn command(&self) -> Command {
        let mut cmd = self.command_with(&[]);
        cmd.stdin(Stdio::null());
        cmd
    }

    fn command_with(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(&self.ssh);
        cmd.args(&self.options)
            .args(extra)
            .arg("-S")
            .arg(self.socket())
            .arg(&self.destination);
        cmd
    }

    /// The control socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("master.sock")
    }

    /// The master's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the master by PID and waits for it.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            kill_tree(&mut child).context("stopping the control master")?;
        }
        Ok(())
    }
}

impl Drop for ControlMaster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("testbed: {e:#}");
        }
    }
}
