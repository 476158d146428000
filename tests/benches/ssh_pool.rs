//! Benchmark: remote command latency against the same testbed sshd, in one run:
//! (a) the pooled russh connection (new channel per command), (b) OpenSSH with a live
//! ControlMaster (`ssh -S`), (c) a fresh russh connection per command, (d) plain `ssh`.
//! Prints medians and the ratios a/b and a/c, then 100 concurrent identical collections
//! over HTTP and the number of remote runs they caused.
//!
//! Run: `cargo bench -p infrastructor-tests --bench ssh_pool`.

use std::time::{Duration, Instant};

use infrastructor_ssh::{HostKeyPolicy, PoolConfig, RemoteCommand, SshPool, Target};
use infrastructor_tests::load::median;
use infrastructor_tests::remote_server;
use infrastructor_tests::testbed::{Sshd, SshdOptions, control_master, ssh_command};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    let config = PoolConfig {
        identity_files: vec![device.client_key_path()],
        identity_dirs: infrastructor_ssh::identity::canonical_dirs(&[device.dir().to_path_buf()]),
        key_passphrase: None,
        known_hosts: device.known_hosts_path(),
        host_key_policy: HostKeyPolicy::Strict,
        connect_timeout: Duration::from_secs(5),
        max_sessions: 8,
        idle_timeout: Duration::from_secs(300),
        max_output_bytes: 1 << 20,
        max_command_bytes: 64 * 1024,
    };
    let target = Target {
        host: device.host(),
        port: device.port(),
        user: "root".into(),
        identity_file: None,
        may_record_key: true,
    };
    let command = RemoteCommand::argv(&["true"]);
    let n = 200;

    let (mut pooled, mut fresh) = rt.block_on(async {
        let pool = SshPool::new(config.clone());
        for _ in 0..20 {
            pool.exec(&target, &command, None, Duration::from_secs(10))
                .await
                .expect("warm");
        }
        let mut pooled = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let out = pool
                .exec(&target, &command, None, Duration::from_secs(10))
                .await
                .expect("exec");
            assert_eq!(out.exit_code, 0);
            pooled.push(t.elapsed());
        }
        let mut fresh = Vec::with_capacity(50);
        for _ in 0..50 {
            let t = Instant::now();
            let one = SshPool::new(config.clone());
            one.exec(&target, &command, None, Duration::from_secs(10))
                .await
                .expect("exec");
            fresh.push(t.elapsed());
        }
        (pooled, fresh)
    });

    let master = control_master(&device).expect("control master");
    let mut muxed = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let status = master.command().arg("true").status().expect("ssh -S");
        assert!(status.success());
        muxed.push(t.elapsed());
    }
    let mut plain = Vec::with_capacity(20);
    for _ in 0..20 {
        let t = Instant::now();
        let status = ssh_command(&device).arg("true").status().expect("ssh");
        assert!(status.success());
        plain.push(t.elapsed());
    }

    let (a, b, c, d) = (
        median(&mut pooled),
        median(&mut muxed),
        median(&mut fresh),
        median(&mut plain),
    );
    println!("remote `true` against one loopback sshd (OpenSSH), medians:");
    println!(
        "  (a) pooled russh connection, new channel   {:>8.2} ms  ({n} runs)",
        ms(a)
    );
    println!(
        "  (b) OpenSSH ControlMaster (ssh -S)         {:>8.2} ms  ({n} runs)",
        ms(b)
    );
    println!(
        "  (c) fresh russh connection per command     {:>8.2} ms  (50 runs)",
        ms(c)
    );
    println!(
        "  (d) plain ssh per command                  {:>8.2} ms  (20 runs)",
        ms(d)
    );
    println!(
        "  a/b = {:.3} (target ≤ 0.5)   a/c = {:.3} (target ≤ 0.1)",
        a.as_secs_f64() / b.as_secs_f64(),
        a.as_secs_f64() / c.as_secs_f64()
    );

    rt.block_on(async {
        device.count_invocations("hostname").expect("counter");
        let s = remote_server(&device, |_| {}).await;
        let url = s.url(&format!(
            "/api/remote/{}/collect?variant=bench",
            device.host()
        ));
        let started = Instant::now();
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let c = s.client.clone();
                let u = url.clone();
                tokio::spawn(async move { c.get(u).send().await.expect("send").status().as_u16() })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            if t.await.expect("join") == 200 {
                ok += 1;
            }
        }
        println!(
            "100 concurrent identical collections: {ok} answered 200 in {:.1} ms, remote runs = {}",
            ms(started.elapsed()),
            device.invocations("hostname")
        );
        s.stop().await;
    });
}
