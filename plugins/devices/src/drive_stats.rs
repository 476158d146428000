//! `GET /api/devices/{hostname}/drives/stats`: I/O counters from `/proc/diskstats` and the
//! usage of every filesystem mounted from each disk (`df` in bytes), in ONE round trip.
//! Filesystems are matched to disks through lsblk's tree (partitions, LVM and dm-crypt
//! children), by mount point.

use std::collections::BTreeSet;

use infrastructor_sdk::prelude::*;

use crate::device::require_device;
use crate::drives::drive_param;
use crate::metrics::{FilesystemUsage, filesystem_usage};
use crate::parse::df::parse_df;
use crate::parse::diskstats::{DiskStat, parse_diskstats};
use crate::parse::lsblk::{BlockDevice, parse_lsblk_json, select_disks};
use crate::sections::Sections;
use serde::Serialize;

/// The data type of drive statistics.
pub const DATA_TYPE: &str = "drive_stats";

/// The script's name.
pub const SCRIPT: &str = "drive_stats";

/// lsblk's tree, the kernel's counters and `df` in bytes with types.
pub const SCRIPT_BODY: &str = r#"
echo '@@infra:lsblk@@'; lsblk -J -b -o NAME,KNAME,TYPE,SIZE,FSTYPE,MOUNTPOINT,MODEL,ROTA 2>&1
echo '@@infra:diskstats@@'; cat /proc/diskstats
echo '@@infra:df@@'; df -P -B1 -T 2>/dev/null
"#;

/// Programs the script runs.
pub const SCRIPT_PROGRAMS: &[&str] = &["cat", "lsblk", "df"];

fn step(timeout: Duration) -> Step {
    Step::script(SCRIPT, SCRIPT, &[]).timeout(timeout)
}

/// Every mount point in `dev`'s subtree.
fn mount_points(dev: &BlockDevice, out: &mut BTreeSet<String>) {
    out.extend(dev.mountpoints.iter().cloned());
    for child in &dev.children {
        mount_points(child, out);
    }
}

/// Every kernel name in `dev`'s subtree except `dev` itself.
fn descendants(dev: &BlockDevice, out: &mut Vec<String>) {
    for child in &dev.children {
        out.push(child.kname.clone().unwrap_or_else(|| child.name.clone()));
        descendants(child, out);
    }
}

/// One whole disk's counters and filesystems.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DriveStats {
    /// `/dev/NAME`.
    pub drive_name: String,
    /// The kernel name (`sda`, `nvme0n1`).
    pub name: String,
    /// Its size in bytes, when lsblk printed it.
    pub size_bytes: Option<u64>,
    /// Its model, when lsblk printed it.
    pub model: Option<String>,
    /// Whether it spins, when lsblk printed it.
    pub rotational: Option<bool>,
    /// Its `/proc/diskstats` counters; `null` when the kernel lists none.
    pub usage_stats: Option<DiskStat>,
    /// The counters of its partitions (and the devices stacked on them).
    pub partitions: Vec<DiskStat>,
    /// The usage of every filesystem mounted from it.
    pub filesystem_usage: Vec<FilesystemUsage>,
    /// Whether anything of it is mounted.
    pub mounted: bool,
}

/// Parser `drive_stats`'s output.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DriveStatsData {
    /// `success`.
    pub status: String,
    /// How many disks there are.
    pub drive_count: usize,
    /// The disks.
    pub drives: Vec<DriveStats>,
    /// The usage of every mounted filesystem.
    pub filesystem_usage: Vec<FilesystemUsage>,
}

/// The answer of `GET /{hostname}/drives/stats`: the parser's output (only the disk `drive`
/// names, when given), the device and the collection.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DriveStatsAnswer {
    /// `success`.
    pub status: String,
    /// How many disks are listed.
    pub drive_count: usize,
    /// The disks.
    #[schemars(with = "Vec<DriveStats>")]
    pub drives: Value,
    /// The usage of every mounted filesystem.
    #[schemars(with = "Vec<FilesystemUsage>")]
    pub filesystem_usage: Value,
    /// RFC 3339 time the data was collected.
    pub timestamp: String,
    /// How the data was collected.
    pub collection_metadata: CollectionMetadata,
    /// The device's id.
    pub device_id: String,
    /// The device.
    pub hostname: String,
}

/// Parser `drive_stats`.
pub fn parse(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, SCRIPT)?;
    out.check()?;
    let text = out.stdout_str();
    let s = Sections::parse(&text);
    let upstream = |e: crate::parse::ParseError| Error::upstream(e.to_string());
    let devices = parse_lsblk_json(s.require(SCRIPT, "lsblk")?).map_err(upstream)?;
    let stats = parse_diskstats(s.require(SCRIPT, "diskstats")?).map_err(upstream)?;
    let df = parse_df(s.require(SCRIPT, "df")?).map_err(upstream)?;
    let stat_of = |name: &str| stats.iter().find(|st| st.name == name);
    let drives: Vec<DriveStats> = select_disks(&devices, false)
        .into_iter()
        .map(|d| {
            let name = d.kname.clone().unwrap_or_else(|| d.name.clone());
            let mut mounts = BTreeSet::new();
            mount_points(d, &mut mounts);
            let mut parts = Vec::new();
            descendants(d, &mut parts);
            let filesystems: Vec<FilesystemUsage> = df
                .filesystems
                .iter()
                .filter(|f| mounts.contains(&f.mount_point))
                .map(filesystem_usage)
                .collect();
            DriveStats {
                drive_name: format!("/dev/{name}"),
                size_bytes: d.size_bytes,
                model: d.model.clone(),
                rotational: d.rotational,
                usage_stats: stat_of(&name).cloned(),
                partitions: parts.iter().filter_map(|p| stat_of(p)).cloned().collect(),
                filesystem_usage: filesystems,
                mounted: !mounts.is_empty(),
                name,
            }
        })
        .collect();
    let data = DriveStatsData {
        status: "success".to_owned(),
        drive_count: drives.len(),
        drives,
        filesystem_usage: df.filesystems.iter().map(filesystem_usage).collect(),
    };
    serde_json::to_value(data).map_err(|e| Error::internal(e.to_string()))
}

/// `GET /{hostname}/drives/stats`: every disk, or the one `drive` names (404 when absent).
pub fn handler(req: &Request) -> Result<Response, Error> {
    let device = require_device(req.path("hostname")?)?;
    let drive = drive_param(req)?;
    let live = req.query_bool("live")?;
    let collected = collector::collect(
        CollectRequest::new(DATA_TYPE, &device.hostname, DATA_TYPE)
            .step(step(req.timeout(Duration::from_secs(60))?))
            .max_age(Duration::from_secs(5))
            .force_refresh(live),
    )?;
    let kept: Option<Vec<Value>> = drive.as_ref().map(|name| {
        collected.data["drives"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|d| d["name"] == name.as_str())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    });
    let collection_metadata = collected.metadata(DATA_TYPE, live);
    let mut data = collected.data;
    let mut answer = DriveStatsAnswer {
        status: data["status"].as_str().unwrap_or("success").to_owned(),
        drive_count: data["drive_count"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        drives: data["drives"].take(),
        filesystem_usage: data["filesystem_usage"].take(),
        timestamp: collected.collected_at,
        collection_metadata,
        device_id: device.id.clone(),
        hostname: device.hostname.clone(),
    };
    if let (Some(name), Some(kept)) = (&drive, kept) {
        if kept.is_empty() {
            return Err(Error::not_found(format!(
                "no whole disk named {name} on {}",
                device.hostname
            )));
        }
        answer.drive_count = kept.len();
        answer.drives = Value::Array(kept);
    }
    Ok(Json(answer).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    #[test]
    fn filesystems_are_matched_to_disks_through_the_lsblk_tree() {
        let lsblk = r#"{"blockdevices":[
          {"name":"sda","kname":"sda","type":"disk","size":1000,"mountpoint":null,"children":[
            {"name":"sda1","kname":"sda1","type":"part","size":500,"mountpoint":"/boot"},
            {"name":"sda2","kname":"sda2","type":"part","size":500,"mountpoint":null,"children":[
              {"name":"vg-root","kname":"dm-0","type":"lvm","size":500,"mountpoint":"/"}]}]},
          {"name":"sdb","kname":"sdb","type":"disk","size":2000,"mountpoint":null}]}"#;
        let diskstats = fixture("system/proc/jc_diskstats");
        let df = "Filesystem Type 1B-blocks Used Available Capacity Mounted on\n\
                  /dev/mapper/vg-root ext4 1000 400 600 40% /\n\
                  /dev/sda1 ext4 100 10 90 10% /boot\n\
                  tmpfs tmpfs 50 0 50 0% /run\n";
        let stdout =
            format!("@@infra:lsblk@@\n{lsblk}\n@@infra:diskstats@@\n{diskstats}@@infra:df@@\n{df}");
        let v = parse(&[StepOutput::new(SCRIPT, 0, stdout)], &Value::Null).expect("parse");
        assert_eq!(v["drive_count"], 2);
        let sda = &v["drives"][0];
        let mounts: Vec<&str> = sda["filesystem_usage"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|f| f["mount_point"].as_str())
            .collect();
        assert_eq!(mounts, vec!["/", "/boot"]);
        assert_eq!(sda["filesystem_usage"][0]["size"], 1000);
        assert_eq!(v["drives"][1]["mounted"], false);
        assert_eq!(v["filesystem_usage"].as_array().map(Vec::len), Some(3));
        let expected = parse_diskstats(&diskstats).expect("fixture");
        if let Some(st) = expected.iter().find(|s| s.name == "sda") {
            assert_eq!(sda["usage_stats"]["read_bytes"], st.read_bytes);
        } else {
            assert!(sda["usage_stats"].is_null());
        }
    }
}
