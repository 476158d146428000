//! `GET /api/devices/{hostname}/drives`: the disks from `lsblk -J` and their SMART health from
//! `smartctl -j -a` (text `smartctl -a` on smartctl older than 7.0), every drive in ONE
//! remote round trip, through the collector (cached for a minute, persisted as the
//! `drive_health` series).
//!
//! Health is three-state: `passed`, `failed`, or `unavailable` when the drive reports no
//! SMART verdict (a virtual disk, SMART disabled, no permission, no smartctl). A disk
//! without SMART is never `failed`.

use infrastructor_sdk::prelude::*;

use crate::device::require_device;
use crate::parse::lsblk::{BlockDevice, is_drive_name, parse_lsblk_json, select_disks};
use crate::parse::smartctl::{
    Health, SmartReport, parse_smartctl_json, parse_smartctl_text_with_status,
};
use crate::sections::Sections;
use serde::Serialize;

/// The SMART figures of a drive smartctl reported on.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SmartFigures {
    /// Current temperature, °C.
    pub temperature_celsius: Option<i64>,
    /// Power-on hours.
    pub power_on_hours: Option<u64>,
    /// Power cycles.
    pub power_cycles: Option<u64>,
    /// Reallocated sectors (ATA attribute 5).
    pub reallocated_sectors: Option<u64>,
    /// Pending sectors (ATA attribute 197).
    pub pending_sectors: Option<u64>,
    /// Offline (198) or else reported (187) uncorrectable errors.
    pub uncorrectable_errors: Option<u64>,
    /// The NVMe critical warning bits.
    pub nvme_critical_warning: Option<u8>,
    /// Percentage of rated endurance used.
    pub percentage_used: Option<u64>,
    /// What deserves attention.
    pub warnings: Vec<String>,
    /// The whole SMART report.
    pub smart: SmartReport,
}

/// One drive's health: lsblk's identity plus the SMART report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DriveHealth {
    /// `/dev/NAME`.
    pub drive_name: String,
    /// The kernel name.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: Option<u64>,
    /// Model (smartctl's, else lsblk's).
    pub model: Option<String>,
    /// Serial number (smartctl's, else lsblk's).
    pub serial: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Transport (`sata`, `nvme`, `usb`…).
    pub transport: Option<String>,
    /// Whether it spins.
    pub rotational: Option<bool>,
    /// Whether it is removable.
    pub removable: Option<bool>,
    /// `hdd`, `ssd` or `nvme`.
    pub drive_type: Option<String>,
    /// `passed`, `failed` or `unavailable`.
    pub health: Health,
    /// `PASSED`, `FAILED` or `UNKNOWN`.
    pub smart_status: String,
    /// `healthy`, `warning`, `critical` or `unknown`.
    pub health_status: String,
    /// Why the health is `failed` or `unavailable`.
    pub health_detail: Option<String>,
    /// The SMART figures, when smartctl reported on the drive.
    #[serde(flatten)]
    pub smart: Option<SmartFigures>,
}

/// How many drives are in which health.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HealthSummary {
    /// Drives that passed.
    pub passed: usize,
    /// Drives that failed.
    pub failed: usize,
    /// Drives without SMART data.
    pub unavailable: usize,
    /// `failed`, `passed`, `partial` or `unavailable`.
    pub overall: String,
    /// The drives' average temperature, °C (one decimal); `null` without any.
    pub average_temperature_celsius: Option<f64>,
}

/// Parser `drive_health`'s output on a real machine.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DrivesChecked {
    /// `success`.
    pub status: String,
    /// Whether smartctl is installed.
    pub smartctl_installed: bool,
    /// How many drives there are.
    pub drive_count: usize,
    /// The health counts.
    pub summary: HealthSummary,
    /// The drives.
    pub drives: Vec<DriveHealth>,
}

/// Parser `drive_health`'s output on WSL, which has no access to the drives.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DrivesSkipped {
    /// `skipped_wsl`.
    pub status: String,
    /// Why.
    pub message: String,
    /// Always empty.
    pub drives: Vec<DriveHealth>,
    /// Always 0.
    pub drive_count: usize,
}

/// Parser `drive_health`'s output.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DrivesData {
    /// The drives were checked.
    Checked(DrivesChecked),
    /// WSL: skipped.
    Skipped(DrivesSkipped),
}

/// The answer of `GET /{hostname}/drives`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DrivesAnswer {
    /// The drives.
    #[serde(flatten)]
    #[schemars(with = "DrivesData")]
    pub data: serde_json::Map<String, Value>,
    /// How the data was collected.
    pub collection_metadata: CollectionMetadata,
    /// The device's id.
    pub device_id: String,
    /// The device.
    pub hostname: String,
}

/// The data type of drive-health snapshots.
pub const DATA_TYPE: &str = "drive_health";

/// The script's name in the manifest.
pub const SCRIPT: &str = "drives";

/// `$1`: one drive's kernel name, or empty for every disk. Prints the kernel version (for
/// the WSL check), the `lsblk -J` listing, then one `smart_json:NAME` or `smart_text:NAME`
/// part per whole disk plus its exit code (`rc:NAME`). smartctl runs through `sudo -n`
/// when the login is not root and sudo allows it without a password.
pub const SCRIPT_BODY: &str = r#"
drive="$1"
echo '@@infra:version@@'; cat /proc/version 2>/dev/null
case "$(cat /proc/version 2>/dev/null)" in *[Mm]icrosoft*|*WSL*) echo '@@infra:wsl@@'; exit 0;; esac
echo '@@infra:lsblk@@'
lsblk -J -b -o NAME,KNAME,TYPE,SIZE,MODEL,SERIAL,VENDOR,ROTA,RM,RO,TRAN 2>&1
command -v smartctl >/dev/null 2>&1 || { echo '@@infra:no_smartctl@@'; exit 0; }
sudo=''
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n smartctl -V >/dev/null 2>&1; then sudo='sudo -n'; fi
json=1; $sudo smartctl -j -V >/dev/null 2>&1 || json=''
lsblk -d -n -o NAME,TYPE 2>/dev/null | while read -r name type; do
  [ "$type" = disk ] || continue
  case "$name" in loop*|ram*|zram*|sr*) continue;; esac
  [ -z "$drive" ] || [ "$drive" = "$name" ] || continue
  if [ -n "$json" ]; then echo "@@infra:smart_json:$name@@"; $sudo smartctl -j -a "/dev/$name" 2>/dev/null
  else echo "@@infra:smart_text:$name@@"; $sudo smartctl -a "/dev/$name" 2>&1; fi
  rc=$?; echo "@@infra:rc:$name@@"; echo "$rc"
done
"#;

/// Programs the script runs.
pub const SCRIPT_PROGRAMS: &[&str] = &["cat", "lsblk", "smartctl", "sudo", "id"];

/// How long a drive listing is served from the cache.
const MAX_AGE: Duration = Duration::from_secs(60);

/// The pattern the host checks a `drive` parameter against (422 otherwise).
pub const DRIVE_PATTERN: &str =
    "^(/dev/)?((sd|hd|vd|xvd)[a-z]{1,4}|nvme[0-9]{1,3}n[0-9]{1,3}|mmcblk[0-9]{1,3})$";

/// The `drive` parameter as a kernel name: `sda` or `/dev/sda`, a whole-disk name only.
pub fn drive_param(req: &Request) -> Result<Option<String>, Error> {
    let Some(raw) = req.query_str("drive").filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let name = raw.strip_prefix("/dev/").unwrap_or(raw);
    if !is_drive_name(name) {
        return Err(Error::bad_request(
            "drive: must be a whole-disk name such as sda, /dev/nvme0n1, vdb or mmcblk0",
        ));
    }
    Ok(Some(name.to_string()))
}

/// The collector step for a `drive` filter (`""` for all disks).
pub fn step(drive: &str, timeout: Duration) -> Step {
    Step::script(SCRIPT, SCRIPT, &[drive]).timeout(timeout)
}

/// One drive: lsblk's identity plus the SMART report.
fn drive_health(disk: &BlockDevice, smart: Result<SmartReport, String>) -> DriveHealth {
    let name = disk.kname.as_deref().unwrap_or(&disk.name);
    let mut v = DriveHealth {
        drive_name: format!("/dev/{name}"),
        name: name.to_owned(),
        size_bytes: disk.size_bytes,
        model: disk.model.clone(),
        serial: disk.serial.clone(),
        vendor: disk.vendor.clone(),
        transport: disk.transport.clone(),
        rotational: disk.rotational,
        removable: disk.removable,
        drive_type: None,
        health: Health::Unavailable,
        smart_status: "UNKNOWN".to_owned(),
        health_status: "unknown".to_owned(),
        health_detail: None,
        smart: None,
    };
    match smart {
        Ok(r) => {
            let smart_status = match r.health {
                Health::Passed => "PASSED",
                Health::Failed => "FAILED",
                Health::Unavailable => "UNKNOWN",
            };
            let drive_type = r.drive_type.map(str::to_string).or_else(|| {
                disk.rotational
                    .map(|rot| if rot { "hdd" } else { "ssd" }.to_string())
            });
            let uncorrectable = r.offline_uncorrectable.or(r.reported_uncorrectable);
            v.model = r.model.clone().or(disk.model.clone());
            v.serial = r.serial.clone().or(disk.serial.clone());
            v.drive_type = drive_type;
            v.health = r.health;
            v.smart_status = smart_status.to_owned();
            v.health_status = r.condition.to_owned();
            v.health_detail = r.health_detail.clone();
            v.smart = Some(SmartFigures {
                temperature_celsius: r.temperature_celsius,
                power_on_hours: r.power_on_hours,
                power_cycles: r.power_cycles,
                reallocated_sectors: r.reallocated_sectors,
                pending_sectors: r.pending_sectors,
                uncorrectable_errors: uncorrectable,
                nvme_critical_warning: r.nvme.as_ref().map(|n| n.critical_warning),
                percentage_used: r.percentage_used,
                warnings: r.warnings.clone(),
                smart: r,
            });
        }
        Err(message) => {
            v.drive_type = disk
                .rotational
                .map(|rot| if rot { "hdd" } else { "ssd" }.to_owned());
            v.health_detail = Some(message);
        }
    }
    v
}

/// The SMART report of disk `name` from the script's parts.
fn smart_of(s: &Sections, name: &str) -> Result<SmartReport, String> {
    let rc = s
        .get(&format!("rc:{name}"))
        .and_then(|t| t.trim().parse::<u8>().ok());
    if let Some(text) = s.get(&format!("smart_json:{name}")) {
        if text.trim().is_empty() {
            return Err(format!(
                "smartctl printed nothing (exit {})",
                rc.map_or("?".to_string(), |c| c.to_string())
            ));
        }
        return parse_smartctl_json(text).map_err(|e| e.to_string());
    }
    if let Some(text) = s.get(&format!("smart_text:{name}")) {
        return parse_smartctl_text_with_status(text, rc).map_err(|e| e.to_string());
    }
    Err("smartctl did not run for this drive".to_string())
}

/// Parser `drive_health`: the script's output → `{status, drives[], summary}`.
pub fn parse(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, SCRIPT)?;
    out.check()?;
    let text = out.stdout_str();
    let s = Sections::parse(&text);
    if s.get("wsl").is_some() {
        return to_value(DrivesData::Skipped(DrivesSkipped {
            status: "skipped_wsl".to_owned(),
            message: "WSL has no access to the physical drives' SMART data".to_owned(),
            drives: Vec::new(),
            drive_count: 0,
        }));
    }
    let listing = s.require(SCRIPT, "lsblk")?;
    let devices = parse_lsblk_json(listing).map_err(|e| Error::upstream(e.to_string()))?;
    let no_smartctl = s.get("no_smartctl").is_some();
    let drives: Vec<DriveHealth> = select_disks(&devices, false)
        .into_iter()
        .filter(|d| {
            let name = d.kname.as_deref().unwrap_or(&d.name);
            s.get(&format!("rc:{name}")).is_some() || no_smartctl
        })
        .map(|d| {
            let name = d.kname.as_deref().unwrap_or(&d.name);
            let smart = if no_smartctl {
                Err(
                    "smartctl is not installed on the device (Debian package smartmontools)"
                        .to_string(),
                )
            } else {
                smart_of(&s, name)
            };
            drive_health(d, smart)
        })
        .collect();
    let count = |h: Health| drives.iter().filter(|d| d.health == h).count();
    let temps: Vec<f64> = drives
        .iter()
        .filter_map(|d| d.smart.as_ref()?.temperature_celsius)
        .map(|t| t as f64)
        .collect();
    let average_temperature = (!temps.is_empty())
        .then(|| (temps.iter().sum::<f64>() / temps.len() as f64 * 10.0).round() / 10.0);
    let (passed, failed, unavailable) = (
        count(Health::Passed),
        count(Health::Failed),
        count(Health::Unavailable),
    );
    let overall = if failed > 0 {
        "failed"
    } else if passed > 0 && unavailable == 0 {
        "passed"
    } else if passed > 0 {
        "partial"
    } else {
        "unavailable"
    };
    to_value(DrivesData::Checked(DrivesChecked {
        status: "success".to_owned(),
        smartctl_installed: !no_smartctl,
        drive_count: drives.len(),
        summary: HealthSummary {
            passed,
            failed,
            unavailable,
            overall: overall.to_owned(),
            average_temperature_celsius: average_temperature,
        },
        drives,
    }))
}

fn to_value(data: DrivesData) -> Result<Value, Error> {
    serde_json::to_value(data).map_err(|e| Error::internal(e.to_string()))
}

/// `GET /{hostname}/drives`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let device = require_device(req.path("hostname")?)?;
    let drive = drive_param(req)?;
    let live = req.query_bool("live")?;
    let filter = drive.clone().unwrap_or_default();
    let collected = collector::collect(
        CollectRequest::new(DATA_TYPE, &device.hostname, DATA_TYPE)
            .param("drive", &filter)
            .step(step(&filter, req.timeout(Duration::from_secs(120))?))
            .max_age(MAX_AGE)
            .force_refresh(live),
    )?;
    if let Some(name) = &drive
        && collected.data["status"] == "success"
        && collected.data["drive_count"] == 0
    {
        return Err(Error::not_found(format!(
            "no whole disk named {name} on {}",
            device.hostname
        )));
    }
    let collection_metadata = collected.metadata(DATA_TYPE, live);
    let Value::Object(data) = collected.data else {
        return Err(Error::internal("the drive parser answered a non-object"));
    };
    Ok(Json(DrivesAnswer {
        data,
        collection_metadata,
        device_id: device.id,
        hostname: device.hostname,
    })
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    fn run(stdout: String) -> Value {
        parse(&[StepOutput::new(SCRIPT, 0, stdout)], &Value::Null).expect("parse")
    }

    /// What smartctl 7.3 prints for a virtio disk (this testbed's `vda`).
    const VIRTIO: &str = r#"{"json_format_version":[1,0],"smartctl":{"version":[7,3],"argv":["smartctl","-j","-a","/dev/vda"],"messages":[{"string":"/dev/vda: Unable to detect device type","severity":"error"}],"exit_status":1}}"#;

    #[test]
    fn every_disk_gets_a_three_state_health_from_its_own_report() {
        let lsblk = r#"{"blockdevices":[
            {"name":"zram0","kname":"zram0","type":"disk","size":0,"rota":false},
            {"name":"sda","kname":"sda","type":"disk","size":1000,"rota":true},
            {"name":"vda","kname":"vda","type":"disk","size":2000,"rota":true},
            {"name":"sr0","kname":"sr0","type":"rom","size":0}]}"#;
        let failing = fixture("smart/scrutiny_smart-fail2_hitachi_FAILING.json");
        let stdout = format!(
            "@@infra:version@@\nLinux version 6.1\n@@infra:lsblk@@\n{lsblk}\n\
             @@infra:smart_json:sda@@\n{failing}\n@@infra:rc:sda@@\n8\n\
             @@infra:smart_json:vda@@\n{VIRTIO}\n@@infra:rc:vda@@\n1\n"
        );
        let v = run(stdout);
        assert_eq!(v["drive_count"], 2, "{v}");
        let sda = &v["drives"][0];
        assert_eq!(sda["drive_name"], "/dev/sda");
        let expected = parse_smartctl_json(&failing).expect("fixture parses");
        assert_eq!(sda["health"], json!(expected.health));
        assert_eq!(
            sda["temperature_celsius"],
            json!(expected.temperature_celsius)
        );
        assert_eq!(
            sda["reallocated_sectors"],
            json!(expected.reallocated_sectors)
        );
        let vda = &v["drives"][1];
        assert_eq!(vda["health"], "unavailable", "{vda}");
        assert_eq!(vda["smart_status"], "UNKNOWN");
        assert_eq!(v["summary"]["unavailable"], 1);
    }

    #[test]
    fn wsl_is_skipped_and_a_missing_smartctl_is_unavailable_not_failed() {
        let v = run(
            "@@infra:version@@\nLinux version 5.15.90.1-microsoft-standard-WSL2\n@@infra:wsl@@\n"
                .into(),
        );
        assert_eq!(v["status"], "skipped_wsl");
        let lsblk = r#"{"blockdevices":[{"name":"sda","type":"disk","size":1000}]}"#;
        let v = run(format!(
            "@@infra:version@@\nLinux\n@@infra:lsblk@@\n{lsblk}\n@@infra:no_smartctl@@\n"
        ));
        assert_eq!(v["drives"][0]["health"], "unavailable");
        assert_eq!(v["smartctl_installed"], false);
        assert!(
            v["drives"][0]["health_detail"]
                .as_str()
                .is_some_and(|m| m.contains("smartmontools"))
        );
    }

    #[test]
    fn old_smartctl_text_reports_are_used_with_their_exit_code() {
        let lsblk = r#"{"blockdevices":[{"name":"sdb","type":"disk","size":1000}]}"#;
        let text = fixture("smart/smartctl-a_sata-ssd_debian11.txt");
        let v = run(format!(
            "@@infra:version@@\nLinux\n@@infra:lsblk@@\n{lsblk}\n@@infra:smart_text:sdb@@\n{text}\n@@infra:rc:sdb@@\n0\n"
        ));
        let expected = parse_smartctl_text_with_status(&text, Some(0)).expect("fixture");
        assert_eq!(v["drives"][0]["health"], json!(expected.health));
        assert_eq!(
            v["drives"][0]["power_on_hours"],
            json!(expected.power_on_hours)
        );
    }

    #[test]
    fn broken_listing_is_an_upstream_error() {
        let out = parse(
            &[StepOutput::new(
                SCRIPT,
                0,
                "@@infra:lsblk@@\nlsblk: unknown column\n",
            )],
            &Value::Null,
        );
        assert!(out.is_err());
    }
}
