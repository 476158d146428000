//! A SWAG-like container (linuxserver/swag) for the proxy plugin's tests: the plugin finds the
//! container with `docker ps` (its image name, `linuxserver/swag` with any registry prefix),
//! its `/config` bind mount with `docker inspect`, edits `<config>/nginx/proxy-confs/` on the
//! host and runs `docker exec <container> nginx -t` / `nginx -s reload`. Here all of that is
//! real: Debian's nginx runs inside a container of a private [`Docker`] engine, over a
//! `/config` tree laid out like SWAG's.
//!
//! * [`Docker::build_swag_image`] builds the image `FROM scratch` (no registry is reachable):
//!   `/usr/sbin/nginx` with exactly the shared libraries `ldd` names (paths kept) and the
//!   dynamic loader, Debian's static busybox with its applets (`sh`, `cat`, `ps`…), a minimal
//!   `/etc/passwd` / `/etc/group`, and an `/etc/nginx/nginx.conf` holding the http-level
//!   settings of linuxserver's nginx base image that SWAG's confs rely on
//!   (`$connection_upgrade`, the `resolver.conf` include) before it includes
//!   `/config/nginx/site-confs/*.conf`. Tag it `lscr.io/linuxserver/swag:latest` (what
//!   [`SWAG_IMAGE`] names) and `docker run` uses the local image, never pulling.
//! * [`SwagTree`] is a temp dir laid out like SWAG's `/config`: SWAG's own `site-confs/default.conf`,
//!   `proxy.conf` and the base image's `ssl.conf` (copied unchanged from `tests/fixtures/swag/
//!   defaults/`), `resolver.conf`, the test certificate as `keys/cert.crt` / `keys/cert.key`,
//!   `dhparams.pem`, stubs of the authelia / authentik / ldap / tinyauth includes, and the
//!   chosen `*.conf.sample` files of linuxserver/reverse-proxy-confs in `nginx/proxy-confs/`.
//! * [`SwagContainer`] runs the image over a tree (`--network none -v <tree>:/config`) until
//!   its workers are up, and removes the container when dropped.
//!
//! Differences from the real SWAG that a test may meet:
//! * nginx is Debian's 1.22 (SWAG ships 1.28): no `http2 on;`, `http3`, `quic`; and no
//!   `set_escape_uri` (ngx_set_misc), which the real `authelia-server.conf`,
//!   `authentik-server.conf` and `tinyauth-server.conf` use: hence the stubs (see
//!   [`SwagTree`]).
//! * nginx is PID 1 of the container (no s6 init), its workers run as root, its error log goes
//!   to the container's stderr (`docker logs`), and nothing renews certificates.
//! * `--network none` leaves only `lo` (IPv6 disabled there): nothing reaches the container
//!   from outside; `docker exec <name> wget -qO- http://127.0.0.1/` works inside (busybox's
//!   wget does not complete a TLS handshake with this nginx, so test HTTPS from elsewhere).
//!   The `listen [::]:…` lines of SWAG's confs still bind.
//! * Every sample of `tests/fixtures/swag` passes `nginx -t` when activated alone, except
//!   [`SAMPLES_FAILING_ALONE`].

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use super::docker::{Docker, ensure_static};
use super::nginx::CheckOutcome;
use super::tools::{require, require_preferring};
use super::{log_tail, process_tree, run_ok, run_with_timeout, wait_until};

/// The image tag the proxy plugin's tests use for the SWAG-like image (built locally by
/// [`Docker::build_swag_image`]; the registry prefix is only a name).
pub const SWAG_IMAGE: &str = "lscr.io/linuxserver/swag:latest";

/// Where the reverse-proxy-confs samples and SWAG's default includes are
/// (`tests/fixtures/swag`, sources in `tests/fixtures/SOURCES.md`).
pub const SAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/swag");

/// The test certificate, key and DH parameters (`tests/fixtures/tls`).
const TLS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls");

/// The samples every [`SwagTree`] holds besides the chosen ones (as real SWAG does).
pub const TEMPLATE_SAMPLES: &[&str] = &[
    "_template.subdomain.conf.sample",
    "_template.subfolder.conf.sample",
];

/// Samples that, activated alone in a [`SwagTree`], make `nginx -t` fail (checked by the
/// testbed's self-tests): the templates keep their `<placeholders>` (`set $upstream_port
/// <port_number>;` has too many arguments), and three subfolder samples define `location /`,
/// which SWAG's `default.conf` already has ("duplicate location", as in real SWAG, whose
/// instructions say to remove the default one first). Every other sample passes.
pub const SAMPLES_FAILING_ALONE: &[&str] = &[
    "_template.subdomain.conf.sample",
    "_template.subfolder.conf.sample",
    "heimdall.subfolder.conf.sample",
    "organizr.subfolder.conf.sample",
    "wordpress.subfolder.conf.sample",
];

/// How long the container may take until nginx's workers run.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `docker exec` may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// The image's `/etc/nginx/nginx.conf`: the http-level settings of linuxserver's nginx base
/// image (`tests/fixtures/swag/defaults/baseimage/nginx.conf.sample`) that Debian's nginx
/// 1.22 accepts, then SWAG's site confs.
const MAIN_CONF: &str = r#"# /etc/nginx/nginx.conf of the Infrastructor testbed's SWAG-like image: Debian's nginx with
# the http-level settings of linuxserver's nginx base image that SWAG's confs rely on
# ($connection_upgrade, the resolver include), then SWAG's site confs under /config.
user root;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    include /config/nginx/resolver.conf;
    server_tokens off;
    client_max_body_size 0;
    sendfile on;
    tcp_nopush on;
    gzip_vary on;

    # Helper variable for proxying websockets (proxy.conf sends it).
    map $http_upgrade $connection_upgrade {
        default upgrade;
        '' close;
    }

    access_log /var/log/nginx/access.log;

    include /config/nginx/site-confs/*.conf;
}
"#;

/// Used when the host has no `/etc/nginx/mime.types`.
const FALLBACK_MIME_TYPES: &str = "types {\n    text/html html htm;\n    text/css css;\n    \
                                   application/javascript js;\n    application/json json;\n}\n";

/// Used when the host has no `/etc/nginx/fastcgi_params` (SWAG's `default.conf` includes it).
const FALLBACK_FASTCGI_PARAMS: &str = "fastcgi_param QUERY_STRING $query_string;\n\
                                       fastcgi_param REQUEST_METHOD $request_method;\n\
                                       fastcgi_param SCRIPT_FILENAME $request_filename;\n";

/// `/config/nginx/resolver.conf` as SWAG generates it on first start (from the container's
/// `/etc/resolv.conf`: Docker's embedded DNS on a user-defined network).
const RESOLVER_CONF: &str = "# This file is auto-generated only on first start, based on the \
                             container's /etc/resolv.conf file. Feel free to modify it as you \
                             wish.\n\nresolver  127.0.0.11 valid=30s;\n";

/// The auth includes: `(file, contents)`. The `*-server.conf` stubs define the locations the
/// real ones define (so they are valid in a `server` block and, like the real ones, not
/// inside a `location`: a named location must be at server level); the `*-location.conf`
/// stubs send the real `auth_request` to them and answer 401 (no auth service exists here).
const AUTH_STUBS: &[(&str, &str)] = &[
    (
        "authelia-server.conf",
        "## Infrastructor testbed stub of SWAG's authelia-server.conf (server block): the real \
         one proxies to an authelia container.\n\
         location = /authelia/api/authz/auth-request {\n    internal;\n    return 401;\n}\n\n\
         location @authelia_proxy_signin {\n    return 401;\n}\n",
    ),
    (
        "authelia-location.conf",
        "## Infrastructor testbed stub of SWAG's authelia-location.conf (location block).\n\
         auth_request /authelia/api/authz/auth-request;\n\
         error_page 401 = @authelia_proxy_signin;\n",
    ),
    (
        "authentik-server.conf",
        "## Infrastructor testbed stub of SWAG's authentik-server.conf (server block): the \
         real one proxies to an authentik outpost.\n\
         location = /outpost.goauthentik.io/auth/nginx {\n    internal;\n    return 401;\n}\n\n\
         location @goauthentik_proxy_signin {\n    return 401;\n}\n",
    ),
    (
        "authentik-location.conf",
        "## Infrastructor testbed stub of SWAG's authentik-location.conf (location block).\n\
         auth_request /outpost.goauthentik.io/auth/nginx;\n\
         error_page 401 = @goauthentik_proxy_signin;\n",
    ),
    (
        "ldap-server.conf",
        "## Infrastructor testbed stub of SWAG's ldap-server.conf (server block): the real one \
         proxies to an ldap-auth container.\n\
         location /ldaplogin {\n    return 401;\n}\n\n\
         location = /auth {\n    internal;\n    return 401;\n}\n",
    ),
    (
        "ldap-location.conf",
        "## Infrastructor testbed stub of SWAG's ldap-location.conf (location block).\n\
         auth_request /auth;\n\
         error_page 401 =200 /ldaplogin;\n",
    ),
    (
        "tinyauth-server.conf",
        "## Infrastructor testbed stub of SWAG's tinyauth-server.conf (server block): the real \
         one proxies to a tinyauth container.\n\
         location /tinyauth {\n    internal;\n    return 401;\n}\n\n\
         location @tinyauth_login {\n    return 401;\n}\n",
    ),
    (
        "tinyauth-location.conf",
        "## Infrastructor testbed stub of SWAG's tinyauth-location.conf (location block).\n\
         auth_request /tinyauth;\n\
         error_page 401 = @tinyauth_login;\n",
    ),
];

impl Docker {
    /// Builds image `tag` `FROM scratch`, a SWAG-like nginx (see the [module docs](self)):
    /// the host's `/usr/sbin/nginx` with the shared libraries `ldd` names, copied to the same
    /// paths, and the dynamic loader; Debian's static busybox as `/bin/busybox` with its
    /// applets in `/bin`; `/etc/passwd`, `/etc/group` (root, nobody/nogroup) and
    /// `/etc/nsswitch.conf`; `/etc/nginx/{mime.types,fastcgi_params}` from the host (minimal
    /// ones if absent); the directories of nginx's compiled-in paths (`/var/lib/nginx/*`,
    /// `/var/log/nginx`, `/run`, `/tmp`); an `/etc/nginx/nginx.conf` that includes
    /// `/config/nginx/site-confs/*.conf`. `CMD ["/usr/sbin/nginx", "-g", "daemon off;"]`.
    /// No registry is involved, whatever registry `tag` names.
    ///
    /// # Panics
    /// When nginx, busybox or ldd is missing (Debian packages nginx, busybox-static,
    /// libc-bin).
    pub fn build_swag_image(&self, tag: &str) -> Result<()> {
        let nginx = require_preferring("/usr/sbin/nginx", "nginx", "nginx");
        let busybox = require_preferring("/bin/busybox", "busybox", "busybox-static");
        let ldd = require("ldd", "libc-bin");
        ensure_static(&busybox)?;
        let ldd_output = run_ok(std::process::Command::new(&ldd).arg(&nginx), "ldd nginx")?;
        let libraries = linked_libraries(&String::from_utf8_lossy(&ldd_output.stdout))
            .with_context(|| format!("the libraries of {}", nginx.display()))?;

        let context = tempfile::Builder::new()
            .prefix("build-swag-")
            .tempdir_in(self.dir())
            .context("creating a build context")?;
        let rootfs = context.path().join("rootfs");
        for dir in [
            "bin",
            "usr/sbin",
            "etc/nginx",
            "var/lib/nginx/body",
            "var/lib/nginx/proxy",
            "var/lib/nginx/fastcgi",
            "var/lib/nginx/uwsgi",
            "var/lib/nginx/scgi",
            "var/log/nginx",
            "run",
            "tmp",
            "config",
        ] {
            std::fs::create_dir_all(rootfs.join(dir)).with_context(|| format!("creating {dir}"))?;
        }
        copy_file(&nginx, &rootfs.join("usr/sbin/nginx"))?;
        copy_file(&busybox, &rootfs.join("bin/busybox"))?;
        for library in &libraries {
            let relative = library.strip_prefix("/").unwrap_or(library);
            copy_file(library, &rootfs.join(relative))?;
        }
        for (name, fallback) in [
            ("mime.types", FALLBACK_MIME_TYPES),
            ("fastcgi_params", FALLBACK_FASTCGI_PARAMS),
        ] {
            let host = Path::new("/etc/nginx").join(name);
            let target = rootfs.join("etc/nginx").join(name);
            if host.is_file() {
                copy_file(&host, &target)?;
            } else {
                write_file(&target, fallback)?;
            }
        }
        write_file(&rootfs.join("etc/nginx/nginx.conf"), MAIN_CONF)?;
        write_file(
            &rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )?;
        write_file(&rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
        write_file(
            &rootfs.join("etc/nsswitch.conf"),
            "passwd: files\ngroup: files\nhosts: files dns\n",
        )?;
        write_file(
            &context.path().join("Dockerfile"),
            "FROM scratch\n\
             COPY rootfs/ /\n\
             RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox --install -s /bin && chmod 1777 /tmp\"]\n\
             CMD [\"/usr/sbin/nginx\", \"-g\", \"daemon off;\"]\n",
        )?;
        let context_path = context.path().to_string_lossy().to_string();
        self.run(&["build", "-q", "-t", tag, &context_path])
            .with_context(|| format!("building {tag}"))?;
        Ok(())
    }
}

/// The absolute paths `ldd` prints (libraries and the dynamic loader; not the vDSO). Fails on
/// a library that is "not found", or when no dynamic loader (`ld-linux…`) is among them.
fn linked_libraries(ldd_output: &str) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for line in ldd_output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let target = match line.split_once("=>") {
            Some((name, target)) => {
                let target = target.trim();
                ensure!(
                    !target.starts_with("not found"),
                    "{} is not found (ldd: {line})",
                    name.trim()
                );
                target
            }
            None => line,
        };
        let path = target.split_whitespace().next().unwrap_or_default();
        if path.starts_with('/') {
            paths.push(PathBuf::from(path));
        }
    }
    ensure!(
        paths.iter().any(|p| p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("ld-linux"))),
        "ldd names no dynamic loader: {ldd_output}"
    );
    Ok(paths)
}

/// Copies `from`'s contents (symlinks followed) to `to`, creating `to`'s directory.
fn copy_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Fails unless `name` is one plain file name (no directory part).
fn plain_file_name(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty()
            && !name.contains('/')
            && name != "."
            && name != ".."
            && !name.contains('\0'),
        "{name:?} must be a plain file name"
    );
    Ok(())
}

/// A temp dir laid out like SWAG's `/config` (what [`SwagContainer`] mounts there):
///
/// ```text
/// keys/cert.crt, keys/cert.key       the test certificate (tests/fixtures/tls)
/// www/index.html
/// nginx/site-confs/default.conf      SWAG's default.conf.sample: servers on 80 and 443
///                                    (default_server, includes ssl.conf and
///                                    proxy-confs/*.subfolder.conf), and at http level
///                                    include proxy-confs/*.subdomain.conf
/// nginx/ssl.conf                     the base image's ssl.conf.sample (keys/cert.*,
///                                    nginx/dhparams.pem)
/// nginx/dhparams.pem                 RFC 7919 ffdhe2048
/// nginx/proxy.conf                   SWAG's proxy.conf.sample
/// nginx/resolver.conf                resolver  127.0.0.11 valid=30s;
/// nginx/{authelia,authentik,ldap,tinyauth}-{server,location}.conf   stubs
/// nginx/proxy-confs/                 the chosen *.conf.sample files and the two templates
/// ```
///
/// The `*-server.conf` stubs define the locations the real ones do (valid in a `server`
/// block, not inside a `location`), and the `*-location.conf` stubs make the real
/// `auth_request` to them, which answers 401: enabling an auth include is accepted by
/// `nginx -t` where SWAG accepts it, and denies requests (no auth service runs here).
///
/// The files belong to the user running the tests; the container (root) writes nothing
/// here unless a test asks it to. Removed on drop.
#[derive(Debug)]
pub struct SwagTree {
    dir: tempfile::TempDir,
}

impl SwagTree {
    /// A tree whose `nginx/proxy-confs/` holds `samples` (file names in `tests/fixtures/swag`,
    /// e.g. `nextcloud.subdomain.conf.sample`) and [`TEMPLATE_SAMPLES`]; none is active.
    pub fn new(samples: &[&str]) -> Result<SwagTree> {
        let dir = tempfile::Builder::new()
            .prefix("tb-swag-")
            .tempdir()
            .context("creating the SWAG tree")?;
        let tree = SwagTree { dir };
        let defaults = Path::new(SAMPLES_DIR).join("defaults");
        let nginx = tree.path().join("nginx");
        copy_file(
            &defaults.join("site-confs/default.conf.sample"),
            &nginx.join("site-confs/default.conf"),
        )?;
        copy_file(
            &defaults.join("baseimage/ssl.conf.sample"),
            &nginx.join("ssl.conf"),
        )?;
        copy_file(
            &defaults.join("proxy.conf.sample"),
            &nginx.join("proxy.conf"),
        )?;
        write_file(&nginx.join("resolver.conf"), RESOLVER_CONF)?;
        for (name, contents) in AUTH_STUBS {
            write_file(&nginx.join(name), contents)?;
        }
        let tls = Path::new(TLS_DIR);
        copy_file(&tls.join("dhparams.pem"), &nginx.join("dhparams.pem"))?;
        copy_file(&tls.join("cert.pem"), &tree.path().join("keys/cert.crt"))?;
        copy_file(&tls.join("key.pem"), &tree.path().join("keys/cert.key"))?;
        write_file(
            &tree.path().join("www/index.html"),
            "<!DOCTYPE html>\n<title>SWAG (Infrastructor testbed)</title>\n",
        )?;
        std::fs::create_dir_all(tree.proxy_confs()).context("creating nginx/proxy-confs")?;
        for sample in TEMPLATE_SAMPLES.iter().chain(samples) {
            plain_file_name(sample)?;
            ensure!(
                sample.ends_with(".conf.sample"),
                "{sample} is not a *.conf.sample file"
            );
            let from = Path::new(SAMPLES_DIR).join(sample);
            ensure!(
                from.is_file(),
                "no sample {sample} in {SAMPLES_DIR} (see SwagTree::available_samples)"
            );
            copy_file(&from, &tree.proxy_confs().join(sample))?;
        }
        Ok(tree)
    }

    /// A tree holding every sample of `tests/fixtures/swag` (none active).
    pub fn with_all_samples() -> Result<SwagTree> {
        let samples = Self::available_samples()?;
        let names: Vec<&str> = samples.iter().map(String::as_str).collect();
        SwagTree::new(&names)
    }

    /// The file names of every `*.conf.sample` in `tests/fixtures/swag`, sorted.
    pub fn available_samples() -> Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(SAMPLES_DIR)
            .with_context(|| format!("listing {SAMPLES_DIR}"))?
            .flatten()
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.ends_with(".conf.sample"))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The tree's directory on the host (mounted as `/config`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<tree>/nginx/proxy-confs`.
    pub fn proxy_confs(&self) -> PathBuf {
        self.path().join("nginx/proxy-confs")
    }

    /// Activates a sample of the tree as SWAG's users do: copies
    /// `proxy-confs/x.subdomain.conf.sample` to `proxy-confs/x.subdomain.conf` (`sample` may
    /// be given with or without `.sample`). Returns the active conf's path.
    pub fn activate(&self, sample: &str) -> Result<PathBuf> {
        plain_file_name(sample)?;
        let active = sample.strip_suffix(".sample").unwrap_or(sample);
        let from = self.proxy_confs().join(format!("{active}.sample"));
        ensure!(
            from.is_file(),
            "the tree holds no {active}.sample (pass it to SwagTree::new)"
        );
        let to = self.proxy_confs().join(active);
        copy_file(&from, &to)?;
        Ok(to)
    }

    /// Writes `contents` to `proxy-confs/<name>` (e.g. `app.subdomain.conf`). Returns its
    /// path.
    pub fn write_proxy_conf(&self, name: &str, contents: &str) -> Result<PathBuf> {
        plain_file_name(name)?;
        let path = self.proxy_confs().join(name);
        write_file(&path, contents)?;
        Ok(path)
    }

    /// Removes `proxy-confs/<name>`.
    pub fn remove_proxy_conf(&self, name: &str) -> Result<()> {
        plain_file_name(name)?;
        let path = self.proxy_confs().join(name);
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
    }

    /// Writes `contents` to `relative` (a path inside the tree, e.g. `nginx/ssl.conf`),
    /// creating its directories. Returns its path.
    pub fn write(&self, relative: &str, contents: &str) -> Result<PathBuf> {
        let relative = Path::new(relative);
        ensure!(
            relative.components().next().is_some()
                && relative
                    .components()
                    .all(|c| matches!(c, Component::Normal(_) | Component::CurDir)),
            "{} must be a relative path inside the tree",
            relative.display()
        );
        let path = self.path().join(relative);
        write_file(&path, contents)?;
        Ok(path)
    }
}

/// A running SWAG-like container over a [`SwagTree`] (`docker run -d --name NAME --network
/// none -v TREE:/config IMAGE`), removed (`docker rm -f`) when dropped. It borrows the engine
/// and the tree, so both outlive it. (The [`Docker`] handle removes every container of its
/// own when dropped, too.)
#[derive(Debug)]
pub struct SwagContainer<'a> {
    docker: &'a Docker,
    tree: &'a SwagTree,
    name: String,
    id: String,
}

impl<'a> SwagContainer<'a> {
    /// Starts `image` (built by [`Docker::build_swag_image`]; never pulled) as container
    /// `name` over `tree`, and waits until nginx runs its workers (config parsed, sockets
    /// bound, pid file written). Fails with the container's log when nginx exits instead
    /// (e.g. a conf in the tree that `nginx -t` rejects).
    pub fn start(
        docker: &'a Docker,
        tree: &'a SwagTree,
        image: &str,
        name: &str,
    ) -> Result<SwagContainer<'a>> {
        let volume = format!("{}:/config", tree.path().display());
        let id = docker
            .run(&[
                "run",
                "-d",
                "--pull",
                "never",
                "--name",
                name,
                "--network",
                "none",
                "-v",
                &volume,
                image,
            ])
            .with_context(|| format!("starting {image} as {name}"))?
            .trim()
            .to_string();
        let container = SwagContainer {
            docker,
            tree,
            name: name.to_string(),
            id,
        };
        let ready = wait_until(START_TIMEOUT, Duration::from_millis(100), || {
            let state = container.state()?;
            match state.0.as_str() {
                "running" => Ok(state.1 > 0 && process_tree(state.1).len() > 1),
                "created" | "restarting" => Ok(false),
                other => bail!(
                    "the SWAG container {name} is {other}: {}",
                    container.logs_or_error()
                ),
            }
        })?;
        ensure!(
            ready,
            "nginx in the SWAG container {name} has no workers after {START_TIMEOUT:?}: {}",
            container.logs_or_error()
        );
        container
            .master_pid()
            .with_context(|| format!("nginx in {name} wrote no pid file"))?;
        Ok(container)
    }

    /// `(State.Status, State.Pid)` from `docker inspect`.
    fn state(&self) -> Result<(String, u32)> {
        let out = self.docker.run(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Pid}}",
            &self.name,
        ])?;
        let mut fields = out.split_whitespace();
        let status = fields.next().unwrap_or_default().to_string();
        let pid = fields
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("docker inspect {}: {out:?}", self.name))?;
        Ok((status, pid))
    }

    fn logs_or_error(&self) -> String {
        self.logs().unwrap_or_else(|e| format!("(no logs: {e:#})"))
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The container's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The tree mounted as `/config`.
    pub fn tree(&self) -> &SwagTree {
        self.tree
    }

    /// `docker exec NAME ARGS…`; its output whatever its exit status.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        run_with_timeout(
            self.docker
                .docker_cmd()
                .arg("exec")
                .arg(&self.name)
                .args(args),
            EXEC_TIMEOUT,
            &format!("docker exec {} {}", self.name, args.join(" ")),
        )
    }

    /// `docker exec NAME nginx -t`, as the proxy plugin runs it: whether nginx accepts the
    /// tree's confs, and its message (naming the file and line when not).
    pub fn nginx_test(&self) -> Result<CheckOutcome> {
        let output = self.exec(&["nginx", "-t"])?;
        Ok(CheckOutcome {
            ok: output.status.success(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        })
    }

    /// `docker exec NAME nginx -s reload` (fails unless it exits 0). The master then starts
    /// new workers with the new confs (or, if they are broken, logs why and keeps the old
    /// ones).
    pub fn reload(&self) -> Result<()> {
        let output = self.exec(&["nginx", "-s", "reload"])?;
        ensure!(
            output.status.success(),
            "nginx -s reload in {} failed ({}): {}",
            self.name,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(())
    }

    /// The nginx master's PID inside the container, from `/run/nginx.pid` (1: nginx is the
    /// container's first process).
    pub fn master_pid(&self) -> Result<u32> {
        let output = self.exec(&["cat", "/run/nginx.pid"])?;
        ensure!(
            output.status.success(),
            "reading /run/nginx.pid in {}: {}",
            self.name,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .parse()
            .with_context(|| format!("/run/nginx.pid in {} holds {text:?}", self.name))
    }

    /// The nginx master's PID on the host (`docker inspect`'s `State.Pid`).
    pub fn host_pid(&self) -> Result<u32> {
        let (status, pid) = self.state()?;
        ensure!(
            status == "running" && pid > 0,
            "the SWAG container {} is {status}",
            self.name
        );
        Ok(pid)
    }

    /// The host PIDs of the master's children (its worker processes).
    pub fn worker_pids(&self) -> Result<BTreeSet<u32>> {
        let master = self.host_pid()?;
        let mut tree = process_tree(master);
        tree.remove(&master);
        Ok(tree)
    }

    /// `docker logs NAME` (stdout then stderr; nginx logs errors to stderr).
    pub fn logs(&self) -> Result<String> {
        let output = run_with_timeout(
            self.docker.docker_cmd().args(["logs", &self.name]),
            EXEC_TIMEOUT,
            "docker logs",
        )?;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

impl Drop for SwagContainer<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.docker.run(&["rm", "-f", "-v", &self.name]) {
            eprintln!(
                "testbed: removing the SWAG container {}: {e:#} (dockerd log: {})",
                self.name,
                log_tail(&self.docker.log_path(), 500)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::linked_libraries;
    use std::path::PathBuf;

    #[test]
    fn ldd_output_gives_the_library_paths_and_the_loader() {
        let ldd = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f15)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f15)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f15)\n";
        assert_eq!(
            linked_libraries(ldd).expect("parsed"),
            [
                "/lib/x86_64-linux-gnu/libssl.so.3",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
        let missing = linked_libraries(
            "\tlibpcre2-8.so.0 => not found\n\t/lib64/ld-linux-x86-64.so.2 (0x1)\n",
        )
        .expect_err("a missing library");
        assert!(format!("{missing}").contains("libpcre2-8.so.0 is not found"));
        assert!(linked_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n").is_err());
    }
}
