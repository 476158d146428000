//! Capability analysis: what a device runs (OS, kernel, CPU, memory, Docker, compose files,
//! appdata directories, ZFS pools, SWAG, libvirt VMs, GPUs), found in ONE remote round trip
//! and written to the device's tags under the names the Python original used: `docker`,
//! `zfs`, `swag`, `swag_running`, `swag_config_path`, `vms`, `gpu`, `docker_compose_path`,
//! `all_docker_compose_paths`, `docker_appdata_path`…
//!
//! Runs on demand (`POST /{hostname}/analyze`) and in the background after a device is
//! created (the probe job runs it once the device answers). Tags the analysis does not own
//! are kept.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::registry::{Device, DeviceFields};

use crate::device::require_device;
use crate::parse::cpuinfo::parse_cpuinfo;
use crate::parse::meminfo::parse_meminfo;
use crate::parse::os_release::parse_os_release;
use crate::sections::Sections;
use crate::views::DeviceView;
use serde::Serialize;

/// The data type of analysis snapshots.
pub const DATA_TYPE: &str = "device_analysis";

/// The script's name.
pub const SCRIPT: &str = "analyze";

/// Every probe, each behind `command -v` so a missing tool is an empty part, and the
/// compose search bounded (depth 6, pruned, 20 s, 50 files).
pub const SCRIPT_BODY: &str = r#"
t=''; command -v timeout >/dev/null 2>&1 && t='timeout 20'
echo '@@infra:os_release@@'; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
echo '@@infra:uname@@'; uname -r; uname -m
echo '@@infra:cpuinfo@@'; cat /proc/cpuinfo 2>/dev/null
echo '@@infra:meminfo@@'; cat /proc/meminfo 2>/dev/null
if command -v docker >/dev/null 2>&1; then
  echo '@@infra:docker_client@@'; docker version --format '{{.Client.Version}}' 2>/dev/null
  echo '@@infra:docker_server@@'; $t docker version --format '{{.Server.Version}}' 2>/dev/null
  echo '@@infra:docker_ps@@'; $t docker ps -a --no-trunc --format '{{.Names}}	{{.State}}	{{.Image}}' 2>/dev/null
fi
echo '@@infra:compose_files@@'
$t find /mnt /home /opt /srv /docker -maxdepth 6 \( -name node_modules -o -name .git -o -name .cache -o -name vendor -o -name tmp -o -name test -o -name tests -o -path '*/go/pkg/mod' \) -prune -o -type f \( -name docker-compose.yml -o -name docker-compose.yaml -o -name compose.yml -o -name compose.yaml \) -print 2>/dev/null | head -n 50
echo '@@infra:appdata@@'
for d in /mnt/appdata /opt/appdata /home/*/appdata; do [ -d "$d" ] && echo "$d"; done
echo '@@infra:swag_dirs@@'
for d in /mnt/appdata/swag/nginx/proxy-confs /opt/appdata/swag/nginx/proxy-confs /home/*/appdata/swag/nginx/proxy-confs /mnt/*/appdata/swag/nginx/proxy-confs; do [ -d "$d" ] && echo "$d"; done
if command -v zpool >/dev/null 2>&1; then
  echo '@@infra:zpool@@'; $t zpool list -H -o name,size,alloc,free,health 2>/dev/null
fi
if command -v virsh >/dev/null 2>&1; then
  echo '@@infra:virsh@@'; $t virsh -q list --all --name 2>/dev/null
fi
if command -v lspci >/dev/null 2>&1; then
  echo '@@infra:gpu@@'; lspci 2>/dev/null | grep -Ei 'vga|3d controller|display controller'
fi
exit 0
"#;

/// Programs the script runs.
pub const SCRIPT_PROGRAMS: &[&str] = &[
    "cat", "uname", "docker", "find", "head", "zpool", "virsh", "lspci", "grep", "timeout",
];

/// The collector step.
pub fn step() -> Step {
    Step::script(SCRIPT, SCRIPT, &[]).timeout(Duration::from_secs(90))
}

fn lines(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The capability tags an analysis finds (merged into the device's tags).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnalysisTags {
    /// Docker's client is installed.
    pub docker: bool,
    /// Docker's server version (else the client's).
    pub docker_version: Option<String>,
    /// The Docker daemon answered.
    pub docker_daemon_reachable: bool,
    /// Containers, running or not.
    pub container_count: usize,
    /// ZFS pools exist.
    pub zfs: bool,
    /// The pools' names.
    pub zfs_pools: Vec<String>,
    /// SWAG runs as a container or its configuration directory exists.
    pub swag: bool,
    /// The SWAG container is running.
    pub swag_running: bool,
    /// The SWAG container's name.
    pub swag_container: Option<String>,
    /// SWAG's proxy-confs directory.
    pub swag_config_path: Option<String>,
    /// `virsh` is installed.
    pub vms: bool,
    /// libvirt domains.
    pub vm_count: usize,
    /// A GPU was found.
    pub gpu: bool,
    /// The first compose file found.
    pub docker_compose_path: Option<String>,
    /// Every compose file found.
    pub all_docker_compose_paths: Vec<String>,
    /// The first appdata directory found.
    pub docker_appdata_path: Option<String>,
    /// The OS's pretty name.
    pub os: Option<String>,
    /// The OS's id (`debian`).
    pub os_id: Option<String>,
    /// The kernel release.
    pub kernel: Option<String>,
    /// The machine architecture.
    pub architecture: Option<String>,
    /// The CPU model.
    pub cpu_model: Option<String>,
    /// Logical processors.
    pub cpu_count: Option<u32>,
    /// Memory in bytes.
    pub memory_total_bytes: Option<u64>,
}

/// What an analysis found (the parser's output, with the collection's time).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Analysis {
    /// The capability tags.
    #[schemars(with = "AnalysisTags")]
    pub tags: Value,
    /// The findings in detail: OS release, CPU, memory, Docker, compose files, appdata,
    /// SWAG, ZFS pools, VMs, GPUs.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub details: Value,
    /// RFC 3339 time of the analysis.
    pub collected_at: String,
    /// How long it took, in milliseconds.
    pub collection_duration_ms: u64,
}

/// The answer of `POST /{hostname}/analyze`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AnalyzeAnswer {
    /// The device.
    pub hostname: String,
    /// What the analysis found.
    pub analysis: Analysis,
    /// The device with the merged tags.
    pub device: DeviceView,
}

/// Parser `device_analysis`: the script's output → the findings and the tags they imply.
pub fn parse(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, SCRIPT)?;
    out.check()?;
    let text = out.stdout_str();
    let s = Sections::parse(&text);
    let uname = lines(Some(s.require(SCRIPT, "uname")?));
    let os = s
        .get("os_release")
        .filter(|t| !t.trim().is_empty())
        .and_then(|t| parse_os_release(t).ok());
    let cpu = s
        .get("cpuinfo")
        .filter(|t| !t.trim().is_empty())
        .and_then(|t| parse_cpuinfo(t).ok());
    let mem = s
        .get("meminfo")
        .filter(|t| !t.trim().is_empty())
        .and_then(|t| parse_meminfo(t).ok());

    let docker_installed = s.get("docker_client").is_some();
    let docker_client = lines(s.get("docker_client")).into_iter().next();
    let docker_server = lines(s.get("docker_server")).into_iter().next();
    let containers: Vec<Value> = lines(s.get("docker_ps"))
        .iter()
        .map(|l| {
            let mut f = l.split('\t');
            json!({"name": f.next(), "state": f.next(), "image": f.next()})
        })
        .collect();
    let swag = containers.iter().find(|c| {
        let has = |k: &str| {
            c[k].as_str()
                .is_some_and(|v| v.to_ascii_lowercase().contains("swag"))
        };
        has("name") || has("image")
    });
    let swag_running = swag.is_some_and(|c| c["state"] == "running");
    let swag_dirs = lines(s.get("swag_dirs"));
    let compose_files = lines(s.get("compose_files"));
    let appdata = lines(s.get("appdata"));
    let pools: Vec<Value> = lines(s.get("zpool"))
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 5).then(|| {
                json!({"name": f[0], "size": f[1], "allocated": f[2], "free": f[3], "health": f[4]})
            })
        })
        .collect();
    let virsh_present = s.get("virsh").is_some();
    let vms = lines(s.get("virsh"));
    let gpus = lines(s.get("gpu"));

    let tags = AnalysisTags {
        docker: docker_installed,
        docker_version: docker_server.clone().or(docker_client.clone()),
        docker_daemon_reachable: docker_server.is_some(),
        container_count: containers.len(),
        zfs: !pools.is_empty(),
        zfs_pools: pools
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect(),
        swag: swag.is_some() || !swag_dirs.is_empty(),
        swag_running,
        swag_container: swag.and_then(|c| c["name"].as_str().map(str::to_owned)),
        swag_config_path: swag_dirs.first().cloned(),
        vms: virsh_present,
        vm_count: vms.len(),
        gpu: !gpus.is_empty(),
        docker_compose_path: compose_files.first().cloned(),
        all_docker_compose_paths: compose_files.clone(),
        docker_appdata_path: appdata.first().cloned(),
        os: os
            .as_ref()
            .and_then(|o| o.pretty_name.clone().or(o.name.clone())),
        os_id: os.as_ref().and_then(|o| o.id.clone()),
        kernel: uname.first().cloned(),
        architecture: uname.get(1).cloned(),
        cpu_model: cpu.as_ref().and_then(|c| c.model_name.clone()),
        cpu_count: cpu.as_ref().map(|c| c.processors),
        memory_total_bytes: mem.as_ref().map(|m| m.total),
    };
    Ok(json!({
        "tags": tags,
        "details": {
            "os_release": os,
            "cpu": cpu,
            "memory": mem.as_ref().map(|m| json!({"total": m.total, "available": m.available, "swap_total": m.swap_total})),
            "docker": {"installed": docker_installed, "client_version": docker_client, "server_version": docker_server, "containers": containers},
            "compose_files": compose_files,
            "appdata_dirs": appdata,
            "swag": {"container": swag, "config_dirs": swag_dirs},
            "zfs_pools": pools,
            "vms": {"virsh_installed": virsh_present, "names": vms},
            "gpus": gpus,
        },
    }))
}

/// Runs the analysis of `device` (always fresh) and merges its tags into the device's.
pub fn analyze(device: &Device) -> Result<(Analysis, Device), Error> {
    let collected = collector::collect(
        CollectRequest::new(DATA_TYPE, &device.hostname, DATA_TYPE)
            .step(step())
            .force_refresh(true),
    )?;
    let mut tags = match &device.tags {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    if let Some(found) = collected.data["tags"].as_object() {
        for (k, v) in found {
            tags.insert(k.clone(), v.clone());
        }
    }
    tags.insert("analyzed_at".into(), json!(collected.collected_at.clone()));
    let updated = registry::update(
        &device.hostname,
        &DeviceFields {
            tags: Some(Value::Object(tags)),
            ..DeviceFields::default()
        },
    )?;
    let mut data = collected.data;
    let report = Analysis {
        tags: data["tags"].take(),
        details: data["details"].take(),
        collected_at: collected.collected_at,
        collection_duration_ms: u64::try_from(collected.duration.as_millis()).unwrap_or(u64::MAX),
    };
    Ok((report, updated))
}

/// `POST /{hostname}/analyze`: analyses now and answers the findings and the device.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let device = require_device(req.path("hostname")?)?;
    let (analysis, updated) = analyze(&device)?;
    Ok(Json(AnalyzeAnswer {
        hostname: updated.hostname.clone(),
        analysis,
        device: DeviceView::of(&updated),
    })
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    #[test]
    fn tags_follow_the_findings() {
        let stdout = format!(
            "@@infra:os_release@@\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n\
             @@infra:uname@@\n6.1.0-18-amd64\nx86_64\n\
             @@infra:cpuinfo@@\nprocessor\t: 0\nmodel name\t: Test CPU\n\n\
             @@infra:meminfo@@\n{}\
             @@infra:docker_client@@\n24.0.7\n@@infra:docker_server@@\n24.0.7\n\
             @@infra:docker_ps@@\nswag\trunning\tlscr.io/linuxserver/swag\nweb\texited\tnginx\n\
             @@infra:compose_files@@\n/opt/stack/docker-compose.yml\n/srv/x/compose.yaml\n\
             @@infra:appdata@@\n/mnt/appdata\n\
             @@infra:swag_dirs@@\n/mnt/appdata/swag/nginx/proxy-confs\n\
             @@infra:zpool@@\ntank\t10G\t1G\t9G\tONLINE\n\
             @@infra:virsh@@\nvm1\nvm2\n@@infra:gpu@@\n",
            fixture("system/proc/jc_meminfo")
        );
        let v = parse(&[StepOutput::new(SCRIPT, 0, stdout)], &Value::Null).expect("parse");
        let t = &v["tags"];
        assert_eq!(t["docker"], true);
        assert_eq!(t["docker_version"], "24.0.7");
        assert_eq!(t["swag_running"], true);
        assert_eq!(t["swag_config_path"], "/mnt/appdata/swag/nginx/proxy-confs");
        assert_eq!(t["zfs_pools"], json!(["tank"]));
        assert_eq!(t["vms"], true);
        assert_eq!(t["vm_count"], 2);
        assert_eq!(t["gpu"], false);
        assert_eq!(t["docker_compose_path"], "/opt/stack/docker-compose.yml");
        assert_eq!(t["docker_appdata_path"], "/mnt/appdata");
        assert_eq!(t["os"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(t["cpu_model"], "Test CPU");
        assert!(t["memory_total_bytes"].as_u64().is_some_and(|m| m > 0));
    }

    #[test]
    fn a_bare_host_has_every_capability_off() {
        let v = parse(
            &[StepOutput::new(SCRIPT, 0, "@@infra:uname@@\n6.1\naarch64\n@@infra:compose_files@@\n@@infra:appdata@@\n@@infra:swag_dirs@@\n")],
            &Value::Null,
        )
        .expect("parse");
        let t = &v["tags"];
        for k in ["docker", "zfs", "swag", "vms", "gpu", "swag_running"] {
            assert_eq!(t[k], false, "{k}");
        }
        assert!(t["docker_compose_path"].is_null());
    }
}
