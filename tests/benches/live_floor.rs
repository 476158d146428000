//! Benchmark: the live calls against their remote floor, in one run. The server's
//! - live list, `GET /api/containers/{host}?live=true` (one remote `docker ps`), and
//! - exec, `POST /api/containers/{host}/{container}/exec` with `{"command": ["echo", "hi"]}`
//!   (one remote `docker exec`),
//!
//! each against the very docker command the plugin runs (its argv, `PS` in
//! plugins/containers/src/docker.rs and `docker exec -- CONTAINER echo hi`), sent by a
//! minimal russh client written here over one SSH connection opened before timing, one
//! channel per command (open, exec, read to the close), timed by this benchmark: the floor
//! any server reaching the host over SSH pays. The floor's command is the argv quoted for
//! the remote shell, as `ssh HOST docker ps …` would send it; the server wraps the same argv
//! in `sh -c 'PREAMBLE; exec "$@"'` (its process-group marker, for stopping timed-out
//! commands), so a third line runs that exact wrapped text over the same connection to show
//! what the wrapper costs.
//!
//! The device is a loopback sshd with a private dockerd and 20 running busybox containers.
//! After a warm-up, the variants run interleaved, one after the other (never concurrently),
//! `RUNS` times (50 by default), their order within the list and the exec group turning
//! from one run to the next. Prints the median and p90 of each and the ratios
//! server / floor (goal ≤ 1.15).
//!
//! Run: `cargo bench -p infrastructor-tests --bench live_floor` (`RUNS=100` for more runs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use infrastructor_ssh::RemoteCommand;
use infrastructor_tests::load::{median, percentile};
use infrastructor_tests::server_with_device;
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};
use russh::ChannelMsg;
use russh::client::{self, AuthResult, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};

const IMAGE: &str = "tb-busybox:bench";
const CONTAINERS: usize = 20;
const EXEC_IN: &str = "bench-000";
/// The plugin's `docker ps` argv (plugins/containers/src/docker.rs `PS`).
const PS: &[&str] = &["docker", "ps", "-a", "--no-trunc", "--format", "{{json .}}"];

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    let names: Vec<String> = (0..CONTAINERS).map(|i| format!("bench-{i:03}")).collect();
    std::thread::scope(|scope| {
        for part in names.chunks(CONTAINERS / 4) {
            let docker = &docker;
            scope.spawn(move || {
                for name in part {
                    docker
                        .run(&[
                            "run", "-d", "--name", name, "--label", "bench=1", IMAGE, "sleep",
                            "3600",
                        ])
                        .expect("container");
                }
            });
        }
    });
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let exec_argv = ["docker", "exec", "--", EXEC_IN, "echo", "hi"];
    let texts = [
        quote_argv(PS),
        RemoteCommand::argv(PS).to_remote().expect("ps text"),
        quote_argv(&exec_argv),
        RemoteCommand::argv(&exec_argv)
            .to_remote()
            .expect("exec text"),
    ];

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = server_with_device(&device, "box", false, |_| {}).await;
        let ssh = MinimalSsh::connect(&device).await;
        let list_url = s.url("/api/containers/box?live=true");
        let exec_url = s.url(&format!("/api/containers/box/{EXEC_IN}/exec"));
        let exec_body = serde_json::json!({"command": ["echo", "hi"]});
        let (s, ssh, list_url, exec_url, exec_body) = (&s, &ssh, &list_url, &exec_url, &exec_body);

        let server_list = move || async move {
            let t = Instant::now();
            let r = s.client.get(list_url).send().await.expect("live list");
            assert!(r.status().is_success(), "live list: {}", r.status());
            let body: serde_json::Value = r.json().await.expect("json");
            let took = t.elapsed();
            assert_eq!(body["total_count"], CONTAINERS, "{body}");
            assert_eq!(body["collection_metadata"]["cache_hit"], false, "{body}");
            took
        };
        let server_exec = move || async move {
            let t = Instant::now();
            let r = s
                .client
                .post(exec_url)
                .json(exec_body)
                .send()
                .await
                .expect("exec");
            assert!(r.status().is_success(), "exec: {}", r.status());
            let body: serde_json::Value = r.json().await.expect("json");
            let took = t.elapsed();
            assert_eq!(body["stdout"], "hi\n", "{body}");
            took
        };
        let floor = move |text: &str, check: fn(&[u8])| {
            let text = text.to_string();
            async move {
                let t = Instant::now();
                let (code, out) = ssh.run(&text).await;
                let took = t.elapsed();
                assert_eq!(code, 0, "{text}: {}", String::from_utf8_lossy(&out));
                check(&out);
                took
            }
        };
        let ps_check: fn(&[u8]) = |out| {
            assert_eq!(
                out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
                CONTAINERS
            );
        };
        let exec_check: fn(&[u8]) = |out| assert_eq!(out, b"hi\n");

        // Warm-up: the server's SSH connection, the plugin instances, the docker client's
        // page cache.
        for _ in 0..5 {
            server_list().await;
            floor(&texts[0], ps_check).await;
            floor(&texts[1], ps_check).await;
            server_exec().await;
            floor(&texts[2], exec_check).await;
            floor(&texts[3], exec_check).await;
        }
        let mut samples: [Vec<Duration>; 6] = Default::default();
        // The order within each group turns every run, so no variant always follows
        // the same one (a `docker exec` right after another is slower, for one).
        for i in 0..runs {
            for k in 0..6 {
                let v = (k / 3) * 3 + (i + k) % 3;
                let took = match v {
                    0 => server_list().await,
                    1 => floor(&texts[0], ps_check).await,
                    2 => floor(&texts[1], ps_check).await,
                    3 => server_exec().await,
                    4 => floor(&texts[2], exec_check).await,
                    _ => floor(&texts[3], exec_check).await,
                };
                samples[v].push(took);
            }
        }
        let stats: Vec<(Duration, Duration)> = samples
            .iter_mut()
            .map(|v| (median(v), percentile(v, 0.9)))
            .collect();
        println!(
            "{runs} sequential runs each (interleaved), {CONTAINERS} running containers, \
             one loopback sshd, this machine:"
        );
        let rows = [
            "live list: GET /api/containers/box?live=true",
            "  floor: docker ps over an open connection",
            "  the same, wrapped as the server sends it",
            "exec: POST /api/containers/box/bench-000/exec",
            "  floor: docker exec over an open connection",
            "  the same, wrapped as the server sends it",
        ];
        for (row, (m, p)) in rows.iter().zip(&stats) {
            println!(
                "  {row:<48} median {:>7.2} ms  p90 {:>7.2} ms",
                ms(*m),
                ms(*p)
            );
        }
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!(
            "  live list / floor: median {:.3}, p90 {:.3} (goal ≤ 1.15); server over floor \
             {:.2} ms; wrapper / floor {:.3}",
            ratio(stats[0].0, stats[1].0),
            ratio(stats[0].1, stats[1].1),
            ms(stats[0].0) - ms(stats[1].0),
            ratio(stats[2].0, stats[1].0),
        );
        println!(
            "  exec / floor: median {:.3}, p90 {:.3} (goal ≤ 1.15); server over floor \
             {:.2} ms; wrapper / floor {:.3}",
            ratio(stats[3].0, stats[4].0),
            ratio(stats[3].1, stats[4].1),
            ms(stats[3].0) - ms(stats[4].0),
            ratio(stats[5].0, stats[4].0),
        );
    });
    drop(device);
    drop(docker);
}

/// The argv as one command line for the remote shell, every word single-quoted when it
/// holds anything but `[A-Za-z0-9_./=:-]`.
fn quote_argv(argv: &[&str]) -> String {
    argv.iter()
        .map(|w| {
            if !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_./=:-".contains(&b))
            {
                (*w).to_string()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A minimal SSH client: one authenticated russh connection to the device (its host key
/// checked against the device's), a new session channel per command.
struct MinimalSsh {
    handle: Handle<DeviceKey>,
}

/// Accepts only the device's host key.
struct DeviceKey(russh::keys::PublicKey);

impl client::Handler for DeviceKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(matches!(key, PublicKeyOrCertificate::PublicKey { key, .. } if *key == self.0))
    }
}

impl MinimalSsh {
    async fn connect(device: &Sshd) -> MinimalSsh {
        let blob = device
            .host_public_key()
            .split(' ')
            .nth(1)
            .expect("host key blob");
        let host_key = russh::keys::parse_public_key_base64(blob).expect("host key");
        let config = Arc::new(client::Config {
            nodelay: true,
            inactivity_timeout: None,
            ..Default::default()
        });
        let mut handle = client::connect(config, device.addr(), DeviceKey(host_key))
            .await
            .expect("ssh connect");
        let key = russh::keys::load_secret_key(device.client_key_path(), None).expect("client key");
        let auth = handle
            .authenticate_publickey(
                device.user(),
                PrivateKeyWithHashAlg::new(Arc::new(key), None),
            )
            .await
            .expect("authenticate");
        assert!(matches!(auth, AuthResult::Success), "{auth:?}");
        MinimalSsh { handle }
    }

    /// Runs `command` on a new channel; its exit status and stdout.
    async fn run(&self, command: &str) -> (u32, Vec<u8>) {
        let mut channel = self.handle.channel_open_session().await.expect("channel");
        channel.exec(true, command).await.expect("exec");
        let (mut code, mut out) = (u32::MAX, Vec::new());
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => code = exit_status,
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        (code, out)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
