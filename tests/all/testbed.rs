//! Self-tests of the testbed harness (`infrastructor_tests::testbed`): each program really
//! runs here, with private state, and is gone after its handle is dropped.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use infrastructor_tests::testbed::swag::SAMPLES_FAILING_ALONE;
use infrastructor_tests::testbed::{
    self, Docker, PoolSpec, SWAG_IMAGE, Sshd, SshdOptions, SwagContainer, SwagTree, Zfs,
    control_master, nginx_check, ssh_command, tools,
};

fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Runs `ssh … ARGS` on `device`; its stdout (asserting success).
fn ssh(device: &Sshd, args: &[&str]) -> String {
    let out = output(ssh_command(device).args(args));
    assert!(
        out.status.success(),
        "ssh {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn a_device_answers_through_sh_without_bashrc() {
    let host_passwd_before = std::fs::read("/etc/passwd").expect("read /etc/passwd");
    let device = Sshd::start(SshdOptions::default()).expect("sshd starts");
    assert_eq!(device.host(), "127.0.0.1");
    assert!(device.pid().is_some());

    // A real `ssh … echo hi` with strict host-key checking against the device's known_hosts.
    assert_eq!(ssh(&device, &["echo", "hi"]), "hi\n");

    // The remote login shell is /bin/sh (dash), so root's ~/.bashrc (pyenv) never runs...
    let shell = ssh(
        &device,
        &["echo $0; ps -o comm= -p $$; grep ^root: /etc/passwd"],
    );
    let lines: Vec<&str> = shell.lines().collect();
    assert_eq!(lines[0], "sh", "{shell}");
    assert_eq!(lines[1], "sh", "{shell}");
    assert!(lines[2].ends_with(":/bin/sh"), "{shell}");
    // ...while the host's /etc/passwd is untouched.
    assert_eq!(
        std::fs::read("/etc/passwd").expect("read /etc/passwd"),
        host_passwd_before
    );
    // Remote commands get the device's PATH, wrapper dirs first.
    assert_eq!(ssh(&device, &["echo $PATH"]).trim(), device.device_path());

    // No rc file runs for a remote command: not bash's (`$BASH_VERSION` is unset, and the
    // command's shell is sh started by sshd itself), whatever root's ~/.bashrc holds. (What
    // a remote command costs is measured by the `ssh_pool` benchmark, not asserted here.)
    let probe = ssh(
        &device,
        &["echo \"bash=${BASH_VERSION:-none}\"; ps -o comm= -p $$; ps -o comm= -p $PPID"],
    );
    assert_eq!(
        probe.lines().collect::<Vec<_>>(),
        ["bash=none", "sh", "sshd"],
        "{probe}"
    );

    // A warm OpenSSH master runs commands on the device too.
    let master = control_master(&device).expect("control master");
    let out = output(master.command().args(["echo", "via master"]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via master\n");
}

#[test]
fn known_hosts_is_accepted_by_openssh_and_russh() {
    let device = Sshd::start(SshdOptions::on(Ipv4Addr::new(127, 0, 0, 2))).expect("sshd starts");
    let known = std::fs::read_to_string(device.known_hosts_path()).expect("known_hosts");
    assert_eq!(
        known,
        format!(
            "[127.0.0.2]:{} {}\n",
            device.port(),
            device.host_public_key()
        )
    );
    assert!(device.host_public_key().starts_with("ssh-ed25519 AAAA"));
    assert_eq!(ssh(&device, &["echo", "two"]), "two\n");

    let base64 = device
        .host_public_key()
        .split(' ')
        .nth(1)
        .expect("key blob");
    let key = russh::keys::parse_public_key_base64(base64).expect("russh parses the host key");
    let known_path = device.known_hosts_path();
    assert!(
        russh::keys::check_known_hosts_path(&device.host(), device.port(), &key, &known_path)
            .expect("russh reads known_hosts"),
        "russh finds the device's key in known_hosts"
    );
    assert!(
        !russh::keys::check_known_hosts_path("127.0.0.9", device.port(), &key, &known_path)
            .expect("russh reads known_hosts"),
        "another host is unknown"
    );
    let fingerprint = device.host_key_fingerprint().expect("fingerprint");
    assert_eq!(
        fingerprint,
        key.fingerprint(russh::keys::HashAlg::Sha256).to_string()
    );
}

#[test]
fn restart_keeps_the_host_key_and_regenerate_changes_it() {
    let mut device = Sshd::start(SshdOptions::default()).expect("sshd starts");
    let port = device.port();
    let key = device.host_public_key().to_string();
    let first_pid = device.pid().expect("pid");

    // "sshd killed mid-command": the client sees an error, the remote command is gone.
    let mut long = ssh_command(&device)
        .arg("echo $$; exec sleep 60")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh");
    let mut line = String::new();
    BufReader::new(long.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("remote pid");
    let remote_pid: u32 = line.trim().parse().expect("a pid");
    assert!(testbed::process_alive(remote_pid));
    let killed_at = Instant::now();
    device.stop().expect("stop");
    assert!(!device.is_running());
    assert!(!testbed::process_alive(first_pid), "sshd is gone");
    assert!(
        !testbed::process_alive(remote_pid),
        "the remote command is gone"
    );
    let status = long.wait().expect("ssh exits");
    assert!(!status.success(), "the client sees the connection break");
    assert!(killed_at.elapsed() < Duration::from_secs(5));
    let refused = output(ssh_command(&device).arg("true"));
    assert!(!refused.status.success(), "a stopped device refuses");

    // Restarted: same port, same key, the old known_hosts still matches.
    device.restart().expect("restart");
    assert_eq!(device.port(), port);
    assert_ne!(device.pid(), Some(first_pid));
    assert_eq!(device.host_public_key(), key);
    assert_eq!(ssh(&device, &["echo", "back"]), "back\n");

    // Connections dropped under a running listener: the next connection works.
    let master = control_master(&device).expect("control master");
    assert!(device.drop_connections().expect("drop") >= 1);
    assert_eq!(ssh(&device, &["echo", "again"]), "again\n");
    drop(master);

    // A new host key: strict checking against the old known_hosts refuses the device.
    let new_key = device.regenerate_host_key().expect("new host key");
    assert_ne!(new_key, key);
    assert_eq!(device.port(), port);
    let changed = output(ssh_command(&device).arg("true"));
    assert!(!changed.status.success());
    let stderr = String::from_utf8_lossy(&changed.stderr);
    assert!(
        stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || stderr.contains("Host key verification failed"),
        "{stderr}"
    );
    device.refresh_known_hosts().expect("refresh");
    assert_eq!(ssh(&device, &["echo", "trusted"]), "trusted\n");
}

#[test]
fn wrappers_and_invocation_counters_run_on_the_device() {
    let device = Sshd::start(SshdOptions {
        host: Ipv4Addr::new(127, 0, 0, 3),
        max_sessions: 10,
        ..SshdOptions::default()
    })
    .expect("sshd starts");
    let master = control_master(&device).expect("control master");
    let run = |args: &[&str]| {
        let out = output(master.command().args(args));
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };

    device.count_invocations("uname").expect("counter");
    assert_eq!(device.invocations("uname"), 0);
    for _ in 0..3 {
        assert_eq!(run(&["uname", "-s"]), "Linux\n", "the real uname runs");
    }
    assert_eq!(device.invocations("uname"), 3);
    // Concurrent calls (8 channels on one connection, under MaxSessions 10) all count.
    let children: Vec<_> = (0..8)
        .map(|_| {
            master
                .command()
                .args(["uname", "-s"])
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    assert_eq!(device.invocations("uname"), 11);
    device.reset_invocations("uname").expect("reset");
    assert_eq!(device.invocations("uname"), 0);

    // A wrapper replaces a program; a counter in front of it still counts and runs it.
    device
        .add_wrapper("greet", "#!/bin/sh\necho wrapped \"$@\"\n")
        .expect("wrapper");
    assert_eq!(run(&["greet", "a b"]), "wrapped a b\n");
    device.count_invocations("greet").expect("counter");
    assert_eq!(run(&["greet", "x"]), "wrapped x\n");
    assert_eq!(device.invocations("greet"), 1);
    assert_eq!(device.invocations("never-run"), 0);
}

#[test]
fn a_private_dockerd_builds_busybox_and_runs_containers() {
    let docker = Docker::start().expect("dockerd starts");
    let pid = docker.pid().expect("pid");
    let dir = docker.dir().to_path_buf();
    println!("dockerd storage driver: {}", docker.storage_driver());
    let started = Instant::now();
    docker
        .build_busybox_image("tb-busybox:selftest")
        .expect("busybox image");
    println!("busybox image built in {:?}", started.elapsed());
    let echoed = docker
        .run(&[
            "run",
            "--rm",
            "tb-busybox:selftest",
            "echo",
            "hello from busybox",
        ])
        .expect("docker run");
    assert_eq!(echoed, "hello from busybox\n");
    // A container still running when the engine is dropped.
    let id = docker
        .run(&[
            "run",
            "-d",
            "--name",
            "sleeper",
            "tb-busybox:selftest",
            "sleep",
            "300",
        ])
        .expect("docker run -d");
    assert!(!id.trim().is_empty());

    // A device's `docker` reaches this engine (and is counted).
    let device = Sshd::start(SshdOptions::default()).expect("sshd starts");
    device.use_docker(&docker).expect("use_docker");
    device.count_invocations("docker").expect("counter");
    let names = ssh(&device, &["docker", "ps", "--format", "{{.Names}}"]);
    assert_eq!(names, "sleeper\n");
    assert_eq!(device.invocations("docker"), 1);
    // (ssh joins its arguments into one remote shell command line.)
    let logs = ssh(
        &device,
        &["docker run --rm tb-busybox:selftest sh -c 'echo $((6*7))'"],
    );
    assert_eq!(logs, "42\n");
    assert_eq!(device.invocations("docker"), 2);
    drop(device);

    let stopping = Instant::now();
    drop(docker);
    println!("dockerd stopped in {:?}", stopping.elapsed());
    assert!(!testbed::process_alive(pid), "dockerd {pid} is gone");
    let exec_root = dir.join("e").to_string_lossy().to_string();
    let leftovers: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&exec_root))
        .collect();
    assert!(leftovers.is_empty(), "processes left: {leftovers:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains(&dir.to_string_lossy().to_string()),
        "mounts left under {}",
        dir.display()
    );
    assert!(!dir.exists(), "{} is removed", dir.display());
}

#[test]
fn zfs_pools_are_real_and_destroyed_on_drop() {
    let mut pool = Zfs::pool("tbself", 64).expect("pool");
    let mirror = Zfs::pool_with(
        "tbself",
        PoolSpec {
            vdevs: 2,
            size_mb: 64,
            mirror: true,
        },
    )
    .expect("mirror pool");
    assert_ne!(pool.name(), mirror.name(), "names are unique");
    assert!(
        pool.name()
            .starts_with(&format!("tbself_{}_", std::process::id()))
    );
    let zfs = Zfs::daemon().expect("daemon");
    println!(
        "zfs-fuse PID {:?} (watchdog {:?})",
        zfs.daemon_pid(),
        zfs.watchdog_pid()
    );
    if let Some(pid) = zfs.daemon_pid() {
        assert!(testbed::process_alive(pid), "zfs-fuse runs as PID {pid}");
    }
    let pools = zfs
        .zpool(&["list", "-H", "-o", "name"])
        .expect("zpool list");
    assert!(pools.lines().any(|l| l == pool.name()), "{pools}");
    let status = zfs.zpool(&["status", mirror.name()]).expect("status");
    assert!(status.contains("mirror"), "{status}");
    assert!(status.contains("scrub:"), "zfs-fuse's old format: {status}");

    let dataset = format!("{}/data", pool.name());
    zfs.zfs(&["create", &dataset]).expect("zfs create");
    let file = pool.mountpoint().join("data/hello.txt");
    std::fs::write(&file, "hi").expect("write into the dataset");
    zfs.zfs(&["snapshot", &format!("{dataset}@one")])
        .expect("snapshot");
    let snapshots = zfs
        .zfs(&[
            "list",
            "-H",
            "-t",
            "snapshot",
            "-o",
            "name",
            "-r",
            pool.name(),
        ])
        .expect("list snapshots");
    assert_eq!(snapshots.trim(), format!("{dataset}@one"));

    // A device started while the dataset is mounted does not pin it: the pool is still
    // destroyed (see the sshd module docs), and its zpool reaches the same daemon.
    let device = Sshd::start(SshdOptions::default()).expect("sshd starts");
    let remote = ssh(&device, &["zpool", "list", "-H", "-o", "name"]);
    assert!(remote.lines().any(|l| l == pool.name()), "{remote}");
    let name = pool.name().to_string();
    let dir = pool.dir().to_path_buf();
    pool.destroy().expect("destroyed while a device runs");
    drop(pool);
    drop(mirror);
    let pools = zfs
        .zpool(&["list", "-H", "-o", "name"])
        .expect("zpool list");
    assert!(!pools.lines().any(|l| l == name), "{pools}");
    assert!(!pools.contains(&format!("tbself_{}_", std::process::id())));
    assert!(!dir.exists(), "{} is removed", dir.display());
    drop(device);
}

#[test]
fn nginx_check_accepts_a_valid_config_and_names_the_broken_line() {
    let run_pid_existed = Path::new("/run/nginx.pid").exists();
    let main = "events {}\n\
                http {\n\
                \x20 access_log off;\n\
                \x20 include proxy-confs/*.subdomain.conf;\n\
                }\n";
    let good = nginx_check(
        main,
        &[(
            "proxy-confs/app.subdomain.conf",
            "server {\n  listen 127.0.0.1:8080;\n  location / { return 200; }\n}\n",
        )],
    )
    .expect("nginx -t runs");
    assert!(good.ok, "{}", good.stderr);
    assert!(
        good.stderr.contains("test is successful"),
        "{}",
        good.stderr
    );

    let bad = nginx_check(
        main,
        &[(
            "proxy-confs/app.subdomain.conf",
            "server {\n  bogus_directive on;\n}\n",
        )],
    )
    .expect("nginx -t runs");
    assert!(!bad.ok);
    assert!(
        bad.stderr.contains("unknown directive \"bogus_directive\"")
            && bad.stderr.contains("proxy-confs/app.subdomain.conf:2"),
        "{}",
        bad.stderr
    );
    assert_eq!(Path::new("/run/nginx.pid").exists(), run_pid_existed);
}

#[test]
fn a_missing_program_fails_naming_its_debian_package() {
    let panic = std::panic::catch_unwind(|| {
        tools::require("infrastructor-no-such-program", "no-such-package")
    })
    .expect_err("require panics");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("`infrastructor-no-such-program` (Debian package no-such-package)")
            && message.contains("scripts/install-testbed"),
        "{message}"
    );
    assert!(tools::find("sh").is_some());
}

#[test]
fn max_sessions_limits_channels_per_connection() {
    let device = Sshd::start(SshdOptions {
        max_sessions: 2,
        ..SshdOptions::default()
    })
    .expect("sshd starts");
    let master = control_master(&device).expect("control master");
    device.count_invocations("sleep").expect("counter");
    let sleepers: Vec<_> = (0..2)
        .map(|_| {
            master
                .command()
                .args(["sleep", "2"])
                .spawn()
                .expect("spawn")
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while device.invocations("sleep") < 2 {
        assert!(Instant::now() < deadline, "the two sessions did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Both sessions are open: sshd refuses a third channel on the same connection (the
    // OpenSSH client then falls back to a connection of its own, so the command still runs).
    let third = output(master.command().args(["echo", "third"]));
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(stderr.contains("Session open refused by peer"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&third.stdout), "third\n");
    for mut sleeper in sleepers {
        assert!(sleeper.wait().expect("wait").success());
    }
    // Once they ended, the master's connection takes a session again.
    let fourth = output(master.command().arg("true"));
    assert!(fourth.status.success(), "{fourth:?}");
    assert!(fourth.stderr.is_empty(), "{fourth:?}");
}

#[test]
fn a_swag_container_checks_and_reloads_the_proxy_confs_of_its_tree() {
    let docker = Docker::start().expect("dockerd starts");
    let started = Instant::now();
    docker.build_swag_image(SWAG_IMAGE).expect("SWAG image");
    println!("SWAG image built in {:?}", started.elapsed());
    let tree = SwagTree::new(&[
        "nextcloud.subdomain.conf.sample",
        "jellyfin.subdomain.conf.sample",
        "jellyfin.subfolder.conf.sample",
    ])
    .expect("SWAG tree");
    // One conf at http level, one inside the default server.
    let nextcloud = tree
        .activate("nextcloud.subdomain.conf.sample")
        .expect("activate");
    tree.activate("jellyfin.subfolder.conf").expect("activate");
    let started = Instant::now();
    let swag = SwagContainer::start(&docker, &tree, SWAG_IMAGE, "swag").expect("SWAG starts");
    println!("SWAG container up in {:?}", started.elapsed());

    let check = swag.nginx_test().expect("nginx -t runs");
    assert!(
        check.ok && check.stderr.contains("test is successful"),
        "{}",
        check.stderr
    );

    // What the proxy plugin looks for: the image name and the /config bind mount.
    assert_eq!(
        docker
            .run(&["ps", "--format", "{{.Names}} {{.Image}}"])
            .expect("docker ps"),
        format!("swag {SWAG_IMAGE}\n")
    );
    let mounts: serde_json::Value = serde_json::from_str(
        &docker
            .run(&["inspect", "--format", "{{json .Mounts}}", "swag"])
            .expect("docker inspect"),
    )
    .expect("JSON mounts");
    assert_eq!(mounts.as_array().map(Vec::len), Some(1), "{mounts}");
    assert_eq!(mounts[0]["Type"], "bind", "{mounts}");
    assert_eq!(mounts[0]["Destination"], "/config", "{mounts}");
    assert_eq!(
        mounts[0]["Source"].as_str().map(Path::new),
        Some(tree.path()),
        "{mounts}"
    );

    let master = swag.master_pid().expect("pid file");
    assert_eq!(master, 1, "nginx is the container's first process");
    let host_master = swag.host_pid().expect("host pid");
    let workers = swag.worker_pids().expect("workers");
    assert!(!workers.is_empty());

    // A broken conf: nginx -t fails naming the file and line; restored, it passes again.
    let original = std::fs::read_to_string(&nextcloud).expect("read the conf");
    let broken = original.replacen(
        "    server_name nextcloud.*;\n",
        "    server_name nextcloud.*;\n    bogus_directive on;\n",
        1,
    );
    assert_ne!(broken, original);
    let line = broken
        .lines()
        .position(|l| l.contains("bogus_directive"))
        .expect("the broken line")
        + 1;
    std::fs::write(&nextcloud, &broken).expect("break the conf");
    let check = swag.nginx_test().expect("nginx -t runs");
    assert!(!check.ok, "{}", check.stderr);
    assert!(
        check
            .stderr
            .contains("unknown directive \"bogus_directive\"")
            && check.stderr.contains(&format!(
                "/config/nginx/proxy-confs/nextcloud.subdomain.conf:{line}"
            )),
        "{}",
        check.stderr
    );
    std::fs::write(&nextcloud, &original).expect("restore the conf");
    let check = swag.nginx_test().expect("nginx -t runs");
    assert!(check.ok, "{}", check.stderr);
    assert_eq!(
        swag.master_pid().expect("pid file"),
        master,
        "nginx -t leaves the pid file alone"
    );

    // Reload: the same master serves a new conf with new workers.
    tree.write_proxy_conf(
        "probe.subdomain.conf",
        "server {\n    listen 80;\n    server_name probe.*;\n    \
         location / {\n        return 200 \"probe ok\";\n    }\n}\n",
    )
    .expect("write a conf");
    let probe = || {
        swag.exec(&[
            "wget",
            "-qO-",
            "--header",
            "Host: probe.example.test",
            "http://127.0.0.1/",
        ])
        .expect("wget in the container")
    };
    assert!(
        !probe().status.success(),
        "the old config redirects to https"
    );
    swag.reload().expect("nginx -s reload");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = swag.worker_pids().expect("workers");
        if !now.is_empty() && now.is_disjoint(&workers) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the workers were not replaced: {workers:?} then {now:?}\n{}",
            swag.logs().unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(swag.master_pid().expect("pid file"), master);
    assert_eq!(swag.host_pid().expect("host pid"), host_master);
    let served = probe();
    assert!(served.status.success(), "{served:?}");
    assert_eq!(String::from_utf8_lossy(&served.stdout), "probe ok");

    // The proxy plugin's path, over SSH on a device: find the container and its /config,
    // read and write confs on the host, check and reload inside the container.
    let device = Sshd::start(SshdOptions::default()).expect("sshd starts");
    device.use_docker(&docker).expect("use_docker");
    assert_eq!(
        ssh(&device, &["docker ps --format '{{.Names}} {{.Image}}'"]),
        format!("swag {SWAG_IMAGE}\n")
    );
    let source = ssh(
        &device,
        &["docker inspect --format \
           '{{range .Mounts}}{{if eq .Destination \"/config\"}}{{.Source}}{{end}}{{end}}' swag"],
    );
    let source = source.trim();
    assert_eq!(Path::new(source), tree.path());
    let confs = format!("{source}/nginx/proxy-confs");
    assert_eq!(
        ssh(&device, &[&format!("cat {confs}/nextcloud.subdomain.conf")]),
        original
    );
    let checked = ssh(
        &device,
        &[&format!(
            "cp {confs}/jellyfin.subdomain.conf.sample {confs}/jellyfin.subdomain.conf && \
             docker exec swag nginx -t 2>&1 && docker exec swag nginx -s reload 2>&1"
        )],
    );
    assert!(checked.contains("test is successful"), "{checked}");
    assert!(tree.proxy_confs().join("jellyfin.subdomain.conf").is_file());
    drop(device);

    drop(swag);
    assert_eq!(docker.run(&["ps", "-aq"]).expect("docker ps -a"), "");
}

#[test]
fn every_swag_sample_but_the_known_exceptions_passes_nginx_t_alone() {
    let docker = Docker::start().expect("dockerd starts");
    docker.build_swag_image(SWAG_IMAGE).expect("SWAG image");
    let tree = SwagTree::with_all_samples().expect("SWAG tree");
    let swag = SwagContainer::start(&docker, &tree, SWAG_IMAGE, "swag").expect("SWAG starts");
    // One `docker exec` for all: each sample activated alone, checked, deactivated.
    let script = r#"for s in /config/nginx/proxy-confs/*.conf.sample; do
        c=${s%.sample}; cp "$s" "$c"
        if nginx -t -q 2>/tmp/err; then echo "PASS ${s##*/}"
        else echo "FAIL ${s##*/} $(grep emerg /tmp/err | tr '\n' ' ')"; fi
        rm "$c"
    done"#;
    let started = Instant::now();
    let out = swag.exec(&["sh", "-c", script]).expect("docker exec");
    assert!(out.status.success(), "{out:?}");
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    let passed: Vec<&str> = report
        .lines()
        .filter_map(|l| l.strip_prefix("PASS "))
        .collect();
    let failed: Vec<&str> = report.lines().filter(|l| l.starts_with("FAIL ")).collect();
    println!(
        "{} samples checked in {:?}: {} pass alone",
        passed.len() + failed.len(),
        started.elapsed(),
        passed.len()
    );
    let failing: Vec<&str> = failed.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(failing, SAMPLES_FAILING_ALONE, "{}", failed.join("\n"));
    assert_eq!(
        passed.len() + failed.len(),
        SwagTree::available_samples().expect("samples").len()
    );
    // The auth includes are valid where SWAG includes them (`*-server.conf` in a server
    // block, `*-location.conf` in a location) and, like the real ones, not a `*-server.conf`
    // inside a subfolder location.
    for auth in ["authelia", "authentik", "ldap", "tinyauth"] {
        let conf = format!(
            "server {{\n    listen 443 ssl;\n    server_name auth.*;\n    \
             include /config/nginx/ssl.conf;\n    include /config/nginx/{auth}-server.conf;\n    \
             location / {{\n        include /config/nginx/{auth}-location.conf;\n        \
             return 204;\n    }}\n}}\n"
        );
        tree.write_proxy_conf("auth.subdomain.conf", &conf)
            .expect("write");
        let check = swag.nginx_test().expect("nginx -t runs");
        assert!(check.ok, "{auth}: {}", check.stderr);
        let misplaced = format!(
            "server {{\n    listen 443 ssl;\n    server_name auth.*;\n    \
             include /config/nginx/ssl.conf;\n    location ^~ /app/ {{\n        \
             include /config/nginx/{auth}-server.conf;\n        return 204;\n    }}\n}}\n"
        );
        tree.write_proxy_conf("auth.subdomain.conf", &misplaced)
            .expect("write");
        let check = swag.nginx_test().expect("nginx -t runs");
        assert!(
            !check.ok
                && check
                    .stderr
                    .contains(&format!("/config/nginx/{auth}-server.conf:")),
            "{auth}-server.conf inside a location: {}",
            check.stderr
        );
    }
    tree.remove_proxy_conf("auth.subdomain.conf")
        .expect("remove");

    // Every passing subdomain sample at once (each its own server) passes too; not so the
    // subfolder samples, which share the default server and repeat locations (`/websockify`).
    let subdomains: Vec<&str> = passed
        .iter()
        .copied()
        .filter(|n| n.contains(".subdomain."))
        .collect();
    for name in &subdomains {
        tree.activate(name).expect("activate");
    }
    let together = swag.nginx_test().expect("nginx -t runs");
    assert!(together.ok, "{}", together.stderr);
    println!(
        "all {} passing subdomain samples at once pass",
        subdomains.len()
    );
}
