//! `smartctl -j -a` (smartmontools 7+) and the text `smartctl -a` of older versions, into
//! one report with a three-state health: `passed`, `failed` or `unavailable`. A device
//! without SMART (virtual disks, RAID volumes, USB bridges smartctl cannot talk through) or
//! one smartctl could not open is `unavailable`, never `failed`. Also `smartctl --scan`.

use serde::Serialize;
use serde_json::Value;

use super::{ParseError, parse_grouped_u64};

const CMD: &str = "smartctl";

/// The overall SMART health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// The device's self-assessment passed.
    Passed,
    /// The device's self-assessment failed (or smartctl's exit status says "DISK FAILING").
    Failed,
    /// No assessment: no SMART, SMART disabled, device not opened, or no status reported.
    Unavailable,
}

/// smartctl's exit status, bit by bit (smartctl(8) "RETURN VALUES").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExitStatus {
    /// The status as a number.
    pub code: u8,
    /// Bit 0: the command line did not parse.
    pub command_line_error: bool,
    /// Bit 1: the device could not be opened (or did not identify itself).
    pub device_open_failed: bool,
    /// Bit 2: a SMART or other command to the disk failed, or a checksum was wrong.
    pub command_failed: bool,
    /// Bit 3: SMART status check returned "DISK FAILING".
    pub disk_failing: bool,
    /// Bit 4: some prefail attributes are at or below their threshold.
    pub prefail_attributes_at_threshold: bool,
    /// Bit 5: some attributes were at or below their threshold in the past.
    pub attributes_were_at_threshold: bool,
    /// Bit 6: the device error log has errors.
    pub error_log_has_errors: bool,
    /// Bit 7: the self-test log has errors.
    pub self_test_log_has_errors: bool,
}

impl ExitStatus {
    /// Decodes an exit status.
    pub fn from_code(code: u8) -> Self {
        let bit = |n: u8| code & (1 << n) != 0;
        ExitStatus {
            code,
            command_line_error: bit(0),
            device_open_failed: bit(1),
            command_failed: bit(2),
            disk_failing: bit(3),
            prefail_attributes_at_threshold: bit(4),
            attributes_were_at_threshold: bit(5),
            error_log_has_errors: bit(6),
            self_test_log_has_errors: bit(7),
        }
    }
}

/// One row of the ATA SMART attribute table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AtaAttribute {
    /// Attribute id (5 = reallocated sectors…).
    pub id: u8,
    /// smartctl's name for it (`Reallocated_Sector_Ct`).
    pub name: String,
    /// Normalised value.
    pub value: Option<u16>,
    /// Worst normalised value.
    pub worst: Option<u16>,
    /// Failure threshold (`None` for `---`).
    pub threshold: Option<u16>,
    /// Raw value as smartctl prints it (`31 (Min/Max 20/33)`).
    pub raw: String,
    /// The raw value's leading number (`31`), or the JSON raw value.
    pub raw_value: Option<u64>,
    /// `now` or `past` when the value is or was at or below the threshold.
    pub when_failed: Option<String>,
    /// A pre-failure attribute (rather than old-age).
    pub prefailure: Option<bool>,
}

/// NVMe SMART/Health log (log page 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NvmeHealth {
    /// Critical warning bits (0 = none).
    pub critical_warning: u8,
    /// The critical warning bits by name.
    pub critical_warnings: Vec<String>,
    /// Available spare, percent.
    pub available_spare: Option<u64>,
    /// Available spare threshold, percent.
    pub available_spare_threshold: Option<u64>,
    /// Percentage of rated endurance used (may exceed 100).
    pub percentage_used: Option<u64>,
    /// Media and data integrity errors.
    pub media_errors: Option<u64>,
    /// Error information log entries.
    pub error_log_entries: Option<u64>,
    /// Unsafe shutdowns.
    pub unsafe_shutdowns: Option<u64>,
    /// Data units (512 000 bytes each) read.
    pub data_units_read: Option<u64>,
    /// Data units (512 000 bytes each) written.
    pub data_units_written: Option<u64>,
}

/// What one `smartctl` run says about one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SmartReport {
    /// `json` or `text`.
    pub source: &'static str,
    /// smartctl's version (`7.3`, `5.37`).
    pub smartctl_version: Option<String>,
    /// The device smartctl was given (`/dev/sda`).
    pub device: Option<String>,
    /// smartctl's device type (`sat`, `nvme`, `scsi`, `sat+megaraid,0`, `usbjmicron`).
    pub device_type: Option<String>,
    /// Command protocol: `ata`, `nvme` or `scsi`.
    pub protocol: Option<String>,
    /// The interface: `nvme`, `sata`, `ata`, `sas`, `scsi` or `usb`.
    pub interface: Option<String>,
    /// The RAID controller the disk sits behind (`megaraid`), if any.
    pub raid_controller: Option<String>,
    /// `hdd`, `ssd` or `nvme`.
    pub drive_type: Option<&'static str>,
    /// Model family from smartctl's database.
    pub model_family: Option<String>,
    /// Model (`Samsung SSD 860 EVO 500GB`; SCSI: vendor and product).
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Firmware version (SCSI: revision).
    pub firmware: Option<String>,
    /// User capacity in bytes.
    pub capacity_bytes: Option<u64>,
    /// Rotation rate in rpm; 0 for solid-state devices.
    pub rotation_rate_rpm: Option<u32>,
    /// Whether the device has SMART.
    pub smart_available: Option<bool>,
    /// Whether SMART is enabled.
    pub smart_enabled: Option<bool>,
    /// The three-state health.
    pub health: Health,
    /// Why the health is `failed` or `unavailable`.
    pub health_detail: Option<String>,
    /// `healthy` (passed, no warning), `warning` (passed with warnings), `critical`
    /// (failed) or `unknown` (unavailable): the Python original's `health_status` values.
    pub condition: &'static str,
    /// Current temperature, °C.
    pub temperature_celsius: Option<i64>,
    /// Power-on hours.
    pub power_on_hours: Option<u64>,
    /// Power cycles.
    pub power_cycles: Option<u64>,
    /// ATA attribute 5: reallocated sectors (raw).
    pub reallocated_sectors: Option<u64>,
    /// ATA attribute 197: current pending sectors (raw).
    pub pending_sectors: Option<u64>,
    /// ATA attribute 198: offline uncorrectable sectors (raw).
    pub offline_uncorrectable: Option<u64>,
    /// ATA attribute 187: reported uncorrectable errors (raw).
    pub reported_uncorrectable: Option<u64>,
    /// NVMe health log.
    pub nvme: Option<NvmeHealth>,
    /// SCSI: elements in the grown defect list.
    pub scsi_grown_defects: Option<u64>,
    /// SCSI: total uncorrected read + write + verify errors.
    pub scsi_uncorrected_errors: Option<u64>,
    /// SCSI/NVMe: percentage of rated endurance used.
    pub percentage_used: Option<u64>,
    /// The ATA attribute table.
    pub attributes: Vec<AtaAttribute>,
    /// smartctl's exit status (from the JSON, or given to [`parse_smartctl_text_with_status`]).
    pub exit_status: Option<ExitStatus>,
    /// smartctl's own messages (errors, warnings).
    pub messages: Vec<String>,
    /// What in the data deserves attention (failing attributes, reallocated sectors,
    /// NVMe critical warnings, error logs…).
    pub warnings: Vec<String>,
}

/// What a parser collected before the health is decided.
#[derive(Default)]
struct Draft {
    version: Option<String>,
    device: Option<String>,
    device_type: Option<String>,
    protocol: Option<String>,
    interface: Option<String>,
    raid_controller: Option<String>,
    model_family: Option<String>,
    model: Option<String>,
    vendor: Option<String>,
    serial: Option<String>,
    firmware: Option<String>,
    capacity_bytes: Option<u64>,
    rotation_rate_rpm: Option<u32>,
    smart_available: Option<bool>,
    smart_enabled: Option<bool>,
    /// The device's own verdict: `Some(true)` passed, `Some(false)` failed.
    reported: Option<bool>,
    reported_text: Option<String>,
    open_failed: Option<String>,
    temperature: Option<i64>,
    power_on_hours: Option<u64>,
    power_cycles: Option<u64>,
    nvme: Option<NvmeHealth>,
    scsi_grown_defects: Option<u64>,
    scsi_uncorrected_errors: Option<u64>,
    percentage_used: Option<u64>,
    attributes: Vec<AtaAttribute>,
    exit_status: Option<ExitStatus>,
    messages: Vec<String>,
}

fn nvme_warning_names(bits: u8) -> Vec<String> {
    [
        (0x01, "available spare below threshold"),
        (0x02, "temperature outside its thresholds"),
        (0x04, "reliability degraded"),
        (0x08, "media placed in read-only mode"),
        (0x10, "volatile memory backup failed"),
        (0x20, "persistent memory region unreliable"),
    ]
    .iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, name)| (*name).to_string())
    .collect()
}

/// The leading integer of an attribute's raw string (`31 (Min/Max 20/33)` → 31,
/// `1259h+06m+33.546s` → 1259).
fn leading_number(raw: &str) -> Option<u64> {
    let digits: String = raw
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Draft {
    fn attribute(&self, id: u8) -> Option<&AtaAttribute> {
        self.attributes.iter().find(|a| a.id == id)
    }

    fn raw(&self, id: u8) -> Option<u64> {
        self.attribute(id).and_then(|a| a.raw_value)
    }

    fn finish(self, source: &'static str) -> SmartReport {
        let exit = self.exit_status;
        let (health, health_detail) =
            if self.reported == Some(false) || exit.is_some_and(|e| e.disk_failing) {
                let why = self
                    .reported_text
                    .clone()
                    .filter(|_| self.reported == Some(false))
                    .unwrap_or_else(|| "smartctl's exit status says DISK FAILING".to_string());
                (Health::Failed, Some(why))
            } else if let Some(why) = self.open_failed.clone() {
                (Health::Unavailable, Some(why))
            } else if exit.is_some_and(|e| e.device_open_failed) {
                (
                    Health::Unavailable,
                    Some("smartctl could not open the device".to_string()),
                )
            } else if self.smart_available == Some(false) {
                (
                    Health::Unavailable,
                    Some("the device does not support SMART".to_string()),
                )
            } else if self.smart_enabled == Some(false) {
                (
                    Health::Unavailable,
                    Some("SMART is disabled on the device".to_string()),
                )
            } else if self.reported == Some(true) {
                (Health::Passed, None)
            } else {
                let mut why = "no SMART health status in the output".to_string();
                if exit.is_some_and(|e| e.command_failed) {
                    why.push_str(" (a SMART command to the device failed)");
                }
                (Health::Unavailable, Some(why))
            };

        let power_on_hours = self.power_on_hours.or_else(|| {
            let a = self.attribute(9)?;
            let n = a.raw_value?;
            Some(match a.name.as_str() {
                "Power_On_Minutes" => n / 60,
                "Power_On_Half_Minutes" => n / 120,
                "Power_On_Seconds" => n / 3600,
                _ => n,
            })
        });
        let temperature = self
            .temperature
            .or_else(|| self.raw(194).or_else(|| self.raw(190)).map(|t| t as i64))
            .filter(|t| !(*t == 0 && health == Health::Unavailable));
        let mut warnings = Vec::new();
        for a in &self.attributes {
            match a.when_failed.as_deref() {
                Some("now") => warnings.push(format!(
                    "attribute {} {} is failing now (value {} at or below threshold {})",
                    a.id,
                    a.name,
                    a.value.map_or("?".into(), |v| v.to_string()),
                    a.threshold.map_or("?".into(), |v| v.to_string())
                )),
                Some("past") => warnings.push(format!(
                    "attribute {} {} was at or below its threshold in the past",
                    a.id, a.name
                )),
                _ => {}
            }
        }
        let counters = [
            (self.raw(5), "reallocated sectors"),
            (self.raw(197), "pending sectors"),
            (self.raw(198), "offline uncorrectable sectors"),
            (self.raw(187), "reported uncorrectable errors"),
            (self.scsi_grown_defects, "grown defects"),
            (self.scsi_uncorrected_errors, "uncorrected SCSI errors"),
        ];
        for (n, what) in counters {
            if let Some(n) = n.filter(|n| *n > 0) {
                warnings.push(format!("{n} {what}"));
            }
        }
        if let Some(nvme) = &self.nvme {
            for w in &nvme.critical_warnings {
                warnings.push(format!("NVMe critical warning: {w}"));
            }
            if let Some(n) = nvme.media_errors.filter(|n| *n > 0) {
                warnings.push(format!("{n} NVMe media and data integrity errors"));
            }
        }
        if let Some(p) = self.percentage_used.filter(|p| *p >= 90) {
            warnings.push(format!("{p}% of the rated endurance used"));
        }
        if let Some(e) = exit {
            if e.prefail_attributes_at_threshold {
                warnings.push("smartctl: prefail attributes at or below threshold".into());
            }
            if e.attributes_were_at_threshold {
                warnings.push("smartctl: attributes were at or below threshold in the past".into());
            }
            if e.error_log_has_errors {
                warnings.push("smartctl: the device error log has errors".into());
            }
            if e.self_test_log_has_errors {
                warnings.push("smartctl: the self-test log has errors".into());
            }
        }
        let power_cycles = self.power_cycles.or_else(|| self.raw(12));
        let reallocated_sectors = self.raw(5);
        let pending_sectors = self.raw(197);
        let offline_uncorrectable = self.raw(198);
        let reported_uncorrectable = self.raw(187);
        let condition = match health {
            Health::Failed => "critical",
            Health::Unavailable => "unknown",
            Health::Passed if warnings.is_empty() => "healthy",
            Health::Passed => "warning",
        };
        let protocol = self.protocol.clone();
        let drive_type = if protocol.as_deref() == Some("nvme") {
            Some("nvme")
        } else if protocol.as_deref() == Some("scsi") && health == Health::Unavailable {
            // SCSI virtual disks and RAID volumes report a rotation rate of 0 ("not
            // reported"), which is no evidence of a solid-state drive.
            None
        } else {
            match self.rotation_rate_rpm {
                Some(0) => Some("ssd"),
                Some(_) => Some("hdd"),
                None => None,
            }
        };
        let model = match (self.vendor.as_deref(), self.model.clone()) {
            (Some(v), Some(m)) if !m.starts_with(v) => Some(format!("{v} {m}")),
            (_, Some(m)) => Some(m),
            (Some(v), None) => Some(v.to_string()),
            (None, None) => None,
        };
        SmartReport {
            source,
            smartctl_version: self.version,
            device: self.device,
            device_type: self.device_type,
            protocol,
            interface: self.interface,
            raid_controller: self.raid_controller,
            drive_type,
            model_family: self.model_family,
            model,
            serial: self.serial,
            firmware: self.firmware,
            capacity_bytes: self.capacity_bytes,
            rotation_rate_rpm: self.rotation_rate_rpm,
            smart_available: self.smart_available,
            smart_enabled: self.smart_enabled,
            health,
            health_detail,
            condition,
            temperature_celsius: temperature,
            power_on_hours,
            power_cycles,
            reallocated_sectors,
            pending_sectors,
            offline_uncorrectable,
            reported_uncorrectable,
            nvme: self.nvme,
            scsi_grown_defects: self.scsi_grown_defects,
            scsi_uncorrected_errors: self.scsi_uncorrected_errors,
            percentage_used: self.percentage_used,
            attributes: self.attributes,
            exit_status: exit,
            messages: self.messages,
            warnings,
        }
    }
}

const OPEN_FAILED_PREFIX: &str = "smartctl could not open the device";

fn json_str(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_u64(v: &Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_u64()
}

fn json_bool(v: &Value, path: &[&str]) -> Option<bool> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_bool()
}

/// Sets interface, protocol and RAID controller from smartctl's device type and protocol.
fn classify(d: &mut Draft, sata: bool, scsi_transport: Option<&str>, info_name: Option<&str>) {
    let ty = d
        .device_type
        .clone()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let info = info_name.unwrap_or_default();
    for controller in ["megaraid", "cciss", "3ware", "areca", "aacraid", "hpt"] {
        if ty.contains(controller) {
            d.raid_controller = Some(controller.to_string());
        }
    }
    let usb = ty.starts_with("usb")
        || ty.starts_with("snt")
        || ty.contains("+usb")
        || info.contains("[USB");
    let protocol = d.protocol.clone().unwrap_or_default();
    d.interface = Some(
        if protocol == "nvme" || ty == "nvme" {
            "nvme"
        } else if usb {
            "usb"
        } else if protocol == "scsi" {
            if scsi_transport.is_some_and(|t| t.to_ascii_uppercase().starts_with("SAS")) {
                "sas"
            } else {
                "scsi"
            }
        } else if protocol == "ata" {
            if sata || ty.starts_with("sat") {
                "sata"
            } else {
                "ata"
            }
        } else {
            return;
        }
        .to_string(),
    );
}

/// Parses `smartctl -j -a DEVICE` (any `-j` run about one device: `-x`, `-i -H -A`…).
/// smartctl's exit status is read from the JSON. `--scan` output is refused (see
/// [`parse_smartctl_scan_json`]), as is a run whose command line did not parse.
pub fn parse_smartctl_json(text: &str) -> Result<SmartReport, ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::new(CMD, "empty output"));
    }
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ParseError::at(CMD, e.line(), format!("invalid JSON: {e}")))?;
    let sc = v
        .get("smartctl")
        .filter(|s| s.is_object())
        .ok_or_else(|| ParseError::new(CMD, "not smartctl JSON: no `smartctl` object"))?;
    if v.get("devices").is_some() && v.get("device").is_none() {
        return Err(ParseError::new(
            CMD,
            "this is `smartctl --scan` output, not a device report",
        ));
    }
    let mut d = Draft::default();
    if let Some(version) = sc.get("version").and_then(Value::as_array) {
        d.version = Some(
            version
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join("."),
        );
    }
    let code = sc
        .get("exit_status")
        .and_then(Value::as_u64)
        .ok_or_else(|| ParseError::new(CMD, "no smartctl.exit_status"))?;
    let exit = ExitStatus::from_code(
        u8::try_from(code)
            .map_err(|_| ParseError::new(CMD, format!("exit_status {code} is out of range")))?,
    );
    d.exit_status = Some(exit);
    d.messages = sc
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(|m| json_str(m, &["string"])).collect())
        .unwrap_or_default();
    if exit.command_line_error {
        return Err(ParseError::new(
            CMD,
            format!("the command line did not parse: {}", d.messages.join("; ")),
        ));
    }
    if exit.device_open_failed {
        let why = d.messages.first().cloned().unwrap_or_default();
        d.open_failed = Some(if why.is_empty() {
            OPEN_FAILED_PREFIX.to_string()
        } else {
            format!("{OPEN_FAILED_PREFIX}: {why}")
        });
    }
    if v.get("device").is_none() && !exit.device_open_failed {
        return Err(ParseError::new(
            CMD,
            "no `device` in the output and no open failure",
        ));
    }
    d.device = json_str(&v, &["device", "name"]);
    d.device_type = json_str(&v, &["device", "type"]);
    d.protocol = json_str(&v, &["device", "protocol"]).map(|p| p.to_ascii_lowercase());
    let info_name = json_str(&v, &["device", "info_name"]);
    classify(
        &mut d,
        v.get("sata_version").is_some(),
        json_str(&v, &["scsi_transport_protocol", "name"]).as_deref(),
        info_name.as_deref(),
    );
    d.model_family = json_str(&v, &["model_family"]);
    d.model = json_str(&v, &["model_name"]).or_else(|| json_str(&v, &["scsi_model_name"]));
    if d.model.is_none() {
        d.vendor = json_str(&v, &["vendor"]).or_else(|| json_str(&v, &["scsi_vendor"]));
        d.model = json_str(&v, &["product"]).or_else(|| json_str(&v, &["scsi_product"]));
    }
    d.serial = json_str(&v, &["serial_number"]);
    d.firmware = json_str(&v, &["firmware_version"])
        .or_else(|| json_str(&v, &["scsi_revision"]))
        .or_else(|| json_str(&v, &["revision"]));
    d.capacity_bytes = json_u64(&v, &["user_capacity", "bytes"])
        .or_else(|| json_u64(&v, &["nvme_total_capacity"]));
    d.rotation_rate_rpm = json_u64(&v, &["rotation_rate"]).and_then(|r| u32::try_from(r).ok());
    d.smart_available = json_bool(&v, &["smart_support", "available"]);
    d.smart_enabled = json_bool(&v, &["smart_support", "enabled"]);
    d.reported = json_bool(&v, &["smart_status", "passed"]);
    if d.reported == Some(false) {
        d.reported_text = Some("the SMART overall-health self-assessment failed".to_string());
    }
    d.temperature = v
        .get("temperature")
        .and_then(|t| t.get("current"))
        .and_then(Value::as_i64);
    d.power_on_hours = json_u64(&v, &["power_on_time", "hours"]);
    d.power_cycles = json_u64(&v, &["power_cycle_count"]);
    if let Some(log) = v.get("nvme_smart_health_information_log") {
        let n = |k: &str| json_u64(log, &[k]);
        let bits = n("critical_warning")
            .and_then(|b| u8::try_from(b).ok())
            .unwrap_or(0);
        d.temperature = d
            .temperature
            .or_else(|| log.get("temperature").and_then(Value::as_i64));
        d.power_on_hours = d.power_on_hours.or_else(|| n("power_on_hours"));
        d.power_cycles = d.power_cycles.or_else(|| n("power_cycles"));
        d.percentage_used = n("percentage_used");
        d.nvme = Some(NvmeHealth {
            critical_warning: bits,
            critical_warnings: nvme_warning_names(bits),
            available_spare: n("available_spare"),
            available_spare_threshold: n("available_spare_threshold"),
            percentage_used: n("percentage_used"),
            media_errors: n("media_errors"),
            error_log_entries: n("num_err_log_entries"),
            unsafe_shutdowns: n("unsafe_shutdowns"),
            data_units_read: n("data_units_read"),
            data_units_written: n("data_units_written"),
        });
    }
    d.scsi_grown_defects = json_u64(&v, &["scsi_grown_defect_list"]);
    if let Some(log) = v.get("scsi_error_counter_log") {
        let total: Option<u64> = ["read", "write", "verify"]
            .iter()
            .filter_map(|k| json_u64(log, &[k, "total_uncorrected_errors"]))
            .reduce(|a, b| a + b);
        d.scsi_uncorrected_errors = total;
    }
    if d.percentage_used.is_none() {
        d.percentage_used = json_u64(&v, &["scsi_percentage_used_endurance_indicator"]);
    }
    if let Some(table) = v
        .get("ata_smart_attributes")
        .and_then(|a| a.get("table"))
        .and_then(Value::as_array)
    {
        for (i, row) in table.iter().enumerate() {
            let id = json_u64(row, &["id"])
                .and_then(|id| u8::try_from(id).ok())
                .ok_or_else(|| {
                    ParseError::new(CMD, format!("attribute {} has no valid id", i + 1))
                })?;
            let raw = json_str(row, &["raw", "string"]).unwrap_or_default();
            let small = |k: &str| json_u64(row, &[k]).and_then(|n| u16::try_from(n).ok());
            d.attributes.push(AtaAttribute {
                id,
                name: json_str(row, &["name"]).unwrap_or_else(|| format!("Attribute_{id}")),
                value: small("value"),
                worst: small("worst"),
                threshold: small("thresh"),
                raw_value: leading_number(&raw).or_else(|| json_u64(row, &["raw", "value"])),
                raw,
                when_failed: json_str(row, &["when_failed"]).filter(|w| w == "now" || w == "past"),
                prefailure: json_bool(row, &["flags", "prefailure"]),
            });
        }
    }
    Ok(d.finish("json"))
}

/// The attribute table layout: `-a` (`FLAG … TYPE UPDATED WHEN_FAILED RAW_VALUE`) or
/// `-f brief` (`FLAGS … FAIL RAW_VALUE`).
#[derive(Clone, Copy, PartialEq)]
enum Table {
    Full,
    Brief,
}

fn parse_attribute_row(line: &str, table: Table) -> Option<AtaAttribute> {
    // Tokens with offsets, so the raw value keeps its inner spaces.
    let mut t: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                t.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        t.push((s, &line[s..]));
    }
    let raw_at = match table {
        Table::Full => 9,
        Table::Brief => 7,
    };
    if t.len() <= raw_at {
        return None;
    }
    let id: u8 = t[0].1.parse().ok()?;
    let small = |s: &str| -> Option<Option<u16>> {
        if s.chars().all(|c| c == '-') {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    let (prefailure, failed) = match table {
        Table::Full => (Some(t[6].1 == "Pre-fail"), t[8].1),
        Table::Brief => (Some(t[2].1.starts_with('P')), t[6].1),
    };
    let when_failed = match failed.to_ascii_lowercase().as_str() {
        "-" => None,
        f if f.contains("now") => Some("now".to_string()),
        f if f.contains("past") => Some("past".to_string()),
        _ => return None,
    };
    let raw = line[t[raw_at].0..].trim_end().to_string();
    Some(AtaAttribute {
        id,
        name: t[1].1.to_string(),
        value: small(t[3].1)?,
        worst: small(t[4].1)?,
        threshold: small(t[5].1)?,
        raw_value: leading_number(&raw),
        raw,
        when_failed,
        prefailure,
    })
}

/// Parses the text of `smartctl -a` / `-x` / `-H -A` / `-H` (any version from 5.x, ATA, SAS,
/// NVMe), without its exit status (see [`parse_smartctl_text_with_status`]). Output with
/// neither device information, a health line, SMART support lines, attributes nor an open
/// failure is an error.
pub fn parse_smartctl_text(text: &str) -> Result<SmartReport, ParseError> {
    parse_smartctl_text_with_status(text, None)
}

/// [`parse_smartctl_text`] with smartctl's exit status (which the text does not carry):
/// bit 0 (command line) is an error, bit 1 (open failed) makes the health `unavailable`,
/// bit 3 (DISK FAILING) `failed`, bits 4–7 add warnings.
pub fn parse_smartctl_text_with_status(
    text: &str,
    exit_status: Option<u8>,
) -> Result<SmartReport, ParseError> {
    let mut d = Draft {
        exit_status: exit_status.map(ExitStatus::from_code),
        ..Draft::default()
    };
    if d.exit_status.is_some_and(|e| e.command_line_error) {
        return Err(ParseError::new(
            CMD,
            format!("the command line did not parse: {}", text.trim()),
        ));
    }
    let mut understood = false;
    let mut table: Option<Table> = None;
    let mut sata = false;
    let mut transport: Option<String> = None;
    let mut nvme = NvmeHealth::default();
    let mut nvme_seen = false;
    let mut scsi_uncorrected: Option<u64> = None;
    let mut in_error_counters = false;
    for (i, raw_line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw_line.trim_end();
        let trimmed = line.trim();
        if let Some(kind) = table {
            if trimmed.is_empty() || !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
                table = None;
            } else {
                let a = parse_attribute_row(line, kind).ok_or_else(|| {
                    ParseError::at(CMD, line_no, format!("bad attribute row: {trimmed}"))
                })?;
                d.attributes.push(a);
                understood = true;
                continue;
            }
        }
        if trimmed.is_empty() {
            in_error_counters = false;
            continue;
        }
        if trimmed.starts_with("ID#") && trimmed.contains("ATTRIBUTE_NAME") {
            table = Some(if trimmed.contains("WHEN_FAILED") {
                Table::Full
            } else {
                Table::Brief
            });
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("smartctl ") {
            let rest = rest.strip_prefix("version ").unwrap_or(rest);
            if d.version.is_none() {
                d.version = rest
                    .split_whitespace()
                    .next()
                    .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                    .map(str::to_string);
            }
            continue;
        }
        if trimmed.starts_with("Smartctl open device:")
            || trimmed.contains("Unknown USB bridge")
            || trimmed.starts_with("Please specify device type")
            || trimmed.contains("Read Device Identity failed")
            || trimmed.starts_with("Smartctl: Device Read Identity Failed")
        {
            d.open_failed
                .get_or_insert_with(|| format!("{OPEN_FAILED_PREFIX}: {trimmed}"));
            d.messages.push(trimmed.to_string());
            understood = true;
            continue;
        }
        if trimmed.contains("does not support SMART")
            && !trimmed.contains("Self")
            && !trimmed.contains("logging")
        {
            d.smart_available = Some(false);
            understood = true;
            continue;
        }
        if trimmed.starts_with("SMART Disabled") {
            d.smart_enabled = Some(false);
            understood = true;
            continue;
        }
        if in_error_counters
            && let Some((kind, rest)) = trimmed.split_once(':')
            && matches!(kind, "read" | "write" | "verify")
        {
            let last = rest.split_whitespace().last().and_then(parse_grouped_u64);
            if let Some(n) = last {
                scsi_uncorrected = Some(scsi_uncorrected.unwrap_or(0) + n);
            }
            continue;
        }
        if trimmed.starts_with("Error counter log:") {
            in_error_counters = true;
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("Accumulated power on time, hours:minutes") {
            d.power_on_hours = d
                .power_on_hours
                .or_else(|| rest.trim().split(':').next().and_then(parse_grouped_u64));
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("Current temperature =") {
            d.temperature = d.temperature.or_else(|| rest.trim().parse().ok());
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("number of hours powered up =") {
            d.power_on_hours = d.power_on_hours.or_else(|| {
                rest.trim()
                    .replace(',', ".")
                    .parse::<f64>()
                    .ok()
                    .filter(|h| h.is_finite() && *h >= 0.0)
                    .map(|h| h as u64)
            });
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let value = value.trim();
        let text_value = || Some(value.to_string()).filter(|v| !v.is_empty());
        let percent = || value.strip_suffix('%').and_then(parse_grouped_u64);
        let first_number = || value.split_whitespace().next().and_then(parse_grouped_u64);
        match key {
            "Model Family" => d.model_family = text_value(),
            "Device Model" | "Model Number" | "Product" => d.model = text_value(),
            "Vendor" => d.vendor = text_value(),
            "Serial Number" | "Serial number" => d.serial = text_value(),
            "Firmware Version" | "Revision" => d.firmware = text_value(),
            "User Capacity" | "Total NVM Capacity" => {
                let number = value.split(['[', 'b']).next().unwrap_or_default();
                d.capacity_bytes = parse_grouped_u64(number);
            }
            "Namespace 1 Size/Capacity" if d.capacity_bytes.is_none() => {
                let number = value.split('[').next().unwrap_or_default();
                d.capacity_bytes = parse_grouped_u64(number);
            }
            "Rotation Rate" => {
                d.rotation_rate_rpm = if value.starts_with("Solid State") {
                    Some(0)
                } else {
                    first_number().and_then(|r| u32::try_from(r).ok())
                };
            }
            "Transport protocol" => transport = text_value(),
            "SATA Version is" => sata = true,
            "SMART support is" => {
                understood = true;
                if value.starts_with("Available") {
                    d.smart_available = Some(true);
                } else if value.starts_with("Unavailable") {
                    d.smart_available = Some(false);
                } else if value.starts_with("Enabled") {
                    d.smart_enabled = Some(true);
                } else if value.starts_with("Disabled") {
                    d.smart_enabled = Some(false);
                }
            }
            "SMART overall-health self-assessment test result" => {
                understood = true;
                if value.starts_with("PASSED") {
                    d.reported = Some(true);
                } else if value.starts_with("FAILED") {
                    d.reported = Some(false);
                    d.reported_text = Some(format!(
                        "SMART overall-health self-assessment test result: {value}"
                    ));
                }
            }
            "SMART Health Status" => {
                understood = true;
                let upper = value.to_ascii_uppercase();
                if upper == "OK" {
                    d.reported = Some(true);
                } else if upper.contains("FAIL") || upper.contains("IMPENDING") {
                    d.reported = Some(false);
                    d.reported_text = Some(format!("SMART Health Status: {value}"));
                }
            }
            "Current Drive Temperature" => {
                understood = true;
                d.temperature = value.split_whitespace().next().and_then(|t| t.parse().ok());
            }
            "Elements in grown defect list" => {
                understood = true;
                d.scsi_grown_defects = first_number();
            }
            "Percentage used endurance indicator" => d.percentage_used = percent(),
            "Critical Warning" => {
                nvme_seen = true;
                understood = true;
                nvme.critical_warning = value
                    .strip_prefix("0x")
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ParseError::at(CMD, line_no, format!("Critical Warning `{value}`"))
                    })?;
            }
            "Temperature" if value.ends_with("Celsius") => {
                d.temperature = first_number().and_then(|t| i64::try_from(t).ok());
            }
            "Available Spare" => nvme.available_spare = percent(),
            "Available Spare Threshold" => nvme.available_spare_threshold = percent(),
            "Percentage Used" => {
                nvme.percentage_used = percent();
                d.percentage_used = nvme.percentage_used;
            }
            "Data Units Read" => nvme.data_units_read = first_number(),
            "Data Units Written" => nvme.data_units_written = first_number(),
            "Power Cycles" => d.power_cycles = first_number(),
            "Power On Hours" => d.power_on_hours = first_number(),
            "Unsafe Shutdowns" => nvme.unsafe_shutdowns = first_number(),
            "Media and Data Integrity Errors" => nvme.media_errors = first_number(),
            "Error Information Log Entries" => nvme.error_log_entries = first_number(),
            _ => {}
        }
        if [
            "Device Model",
            "Model Number",
            "Product",
            "Serial Number",
            "Serial number",
        ]
        .contains(&key)
        {
            understood = true;
        }
    }
    if !understood && !d.exit_status.is_some_and(|e| e.device_open_failed) {
        return Err(ParseError::new(
            CMD,
            "no device information, SMART health, attributes or open failure in the output",
        ));
    }
    if nvme_seen {
        nvme.critical_warnings = nvme_warning_names(nvme.critical_warning);
        d.nvme = Some(nvme);
        d.protocol = Some("nvme".into());
    } else if transport.is_some() || d.vendor.is_some() || d.scsi_grown_defects.is_some() {
        d.protocol = Some("scsi".into());
    } else if !d.attributes.is_empty() || sata || d.model.is_some() {
        d.protocol = Some("ata".into());
    }
    d.scsi_uncorrected_errors = scsi_uncorrected;
    classify(&mut d, sata, transport.as_deref(), None);
    Ok(d.finish("text"))
}

/// A device listed by `smartctl --scan` / `--scan-open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannedDevice {
    /// Device node (`/dev/sda`, `/dev/bus/6`).
    pub name: String,
    /// The `-d` type to query it with (`sat`, `nvme`, `megaraid,8`).
    pub device_type: String,
    /// Protocol when listed (`ATA`, `SCSI`, `NVMe`).
    pub protocol: Option<String>,
    /// smartctl's description (`/dev/bus/6 [megaraid_disk_08]`).
    pub info: Option<String>,
}

/// Parses `smartctl --scan -j` / `--scan-open -j`.
pub fn parse_smartctl_scan_json(text: &str) -> Result<Vec<ScannedDevice>, ParseError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ParseError::at(CMD, e.line(), format!("invalid JSON: {e}")))?;
    let devices = v
        .get("devices")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError::new(CMD, "no `devices` array: not `smartctl --scan -j`"))?;
    devices
        .iter()
        .enumerate()
        .map(|(i, dev)| {
            Ok(ScannedDevice {
                name: json_str(dev, &["name"]).ok_or_else(|| {
                    ParseError::new(CMD, format!("scanned device {} has no name", i + 1))
                })?,
                device_type: json_str(dev, &["type"]).ok_or_else(|| {
                    ParseError::new(CMD, format!("scanned device {} has no type", i + 1))
                })?,
                protocol: json_str(dev, &["protocol"]),
                info: json_str(dev, &["info_name"]),
            })
        })
        .collect()
}

/// Parses the text of `smartctl --scan` / `--scan-open`:
/// `/dev/nvme0 -d nvme # /dev/nvme0, NVMe device`.
pub fn parse_smartctl_scan_text(text: &str) -> Result<Vec<ScannedDevice>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (spec, comment) = match line.split_once('#') {
            Some((s, c)) => (s.trim(), Some(c.trim())),
            None => (line, None),
        };
        let w: Vec<&str> = spec.split_whitespace().collect();
        let [name, "-d", device_type] = w.as_slice() else {
            return Err(ParseError::at(
                CMD,
                i + 1,
                format!("expected `DEVICE -d TYPE # comment`: {line}"),
            ));
        };
        let (info, protocol) = match comment.and_then(|c| c.rsplit_once(", ")) {
            Some((info, proto)) => (
                Some(info.to_string()),
                proto.strip_suffix(" device").map(str::to_string),
            ),
            None => (comment.map(str::to_string), None),
        };
        out.push(ScannedDevice {
            name: (*name).to_string(),
            device_type: (*device_type).to_string(),
            protocol,
            info,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
