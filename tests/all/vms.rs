//! The vms plugin over real SSH with Debian's `virsh` on libvirt's test driver
//! (`test:///default`: real domains, no daemon) and log files in a temp log dir: the VM list
//! and info match virsh's own output, daemon logs are tailed (and the journal is the
//! fallback), a VM's log is read, a missing one is 404, hostile names are 422.

use std::process::Command;

use infrastructor_tests::testbed::{Sshd, SshdOptions};
use infrastructor_tests::{TestServer, server_with_device, url_escape};
use serde_json::json;

const URI: &str = "test:///default";

async fn server(device: &Sshd, log_dir: &std::path::Path) -> TestServer {
    let dir = log_dir.display().to_string();
    server_with_device(device, "vmhost", false, move |c| {
        c.plugins.entries.entry("vms".into()).or_default().config =
            json!({"uri": URI, "log_dir": dir, "daemons": ["virtqemud", "libvirtd"]});
    })
    .await
}

fn virsh(args: &[&str]) -> String {
    let out = Command::new("virsh")
        .arg("-c")
        .arg(URI)
        .args(args)
        .output()
        .expect("virsh runs (Debian package libvirt-clients)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vms_list_info_and_logs() {
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    let logs = tempfile::tempdir().expect("log dir");
    std::fs::create_dir(logs.path().join("qemu")).expect("qemu dir");
    let daemon_lines: Vec<String> = (1..=500)
        .map(|i| {
            format!(
                "2026-12-02 07:00:{:02}.000+0000: 1: info : line {i}",
                i % 60
            )
        })
        .collect();
    std::fs::write(
        logs.path().join("virtqemud.log"),
        daemon_lines.join("\n") + "\n",
    )
    .expect("daemon log");
    std::fs::write(
        logs.path().join("qemu/test.log"),
        "qemu started\nqemu running\n",
    )
    .expect("vm log");
    let s = server(&device, logs.path()).await;

    // The list and info agree with virsh.
    let (status, list) = s.get("/api/vms/vmhost").await;
    assert_eq!(status, 200, "{list}");
    let expected = virsh(&["list", "--all", "--name"]);
    let names: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
    let got: Vec<&str> = list["vms"]
        .as_array()
        .expect("vms")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    assert_eq!(got, names);
    let (status, info) = s.get("/api/vms/vmhost/test").await;
    assert_eq!(status, 200, "{info}");
    let dominfo = virsh(&["dominfo", "test"]);
    let cpus = dominfo
        .lines()
        .find_map(|l| l.strip_prefix("CPU(s):"))
        .expect("cpus")
        .trim();
    assert_eq!(info["vm"]["cpus"].to_string(), cpus);
    assert_eq!(info["vm"]["state"], "running");
    assert_eq!(info["vm"]["persistent"], true);
    assert_eq!(s.get("/api/vms/vmhost/nosuchvm").await.0, 404);

    // Daemon logs: the file's tail, never the whole file.
    let (status, daemon) = s.get("/api/vms/vmhost/logs?lines=20").await;
    assert_eq!(status, 200, "{daemon}");
    assert_eq!(daemon["source"], "files");
    let tail = daemon["files"][0]["lines"].as_array().expect("lines");
    assert_eq!(tail.len(), 20);
    assert_eq!(tail[19], daemon_lines[499].as_str());
    assert_eq!(tail[0], daemon_lines[480].as_str());

    // One VM's log; a missing one is 404.
    let (status, vm) = s.get("/api/vms/vmhost/logs/test?lines=1").await;
    assert_eq!(status, 200, "{vm}");
    assert_eq!(vm["lines"], json!(["qemu running"]));
    let (status, missing) = s.get("/api/vms/vmhost/logs/ghost").await;
    assert_eq!(status, 404, "{missing}");

    // Hostile names never reach a path or a shell.
    for name in ["../../etc/passwd", "a;b", "$(id)", "a b", "-x", ".x"] {
        let (status, _) = s
            .get(&format!("/api/vms/vmhost/logs/{}", url_escape(name)))
            .await;
        assert_eq!(status, 422, "{name}");
        let (status, _) = s
            .get(&format!("/api/vms/vmhost/{}", url_escape(name)))
            .await;
        assert!(status == 422 || status == 404, "{name}: {status}");
    }
    assert_eq!(s.get("/api/vms/vmhost/logs?lines=0").await.0, 422);
    assert_eq!(s.get("/api/vms/vmhost/logs?since=%3Bid").await.0, 422);

    // Without daemon log files, the journal answers (or a clear 404 when it has nothing).
    std::fs::remove_file(logs.path().join("virtqemud.log")).expect("rm");
    let (status, fallback) = s.get("/api/vms/vmhost/logs?since=1h").await;
    match status {
        200 => assert_eq!(fallback["source"], "journal", "{fallback}"),
        404 => assert!(
            fallback["error"]["message"]
                .as_str()
                .expect("message")
                .contains("no journal entries"),
            "{fallback}"
        ),
        other => panic!("{other}: {fallback}"),
    }
}
