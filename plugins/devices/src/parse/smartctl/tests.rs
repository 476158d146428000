use super::*;
use crate::parse::{fixture, fixture_dir};

use Health::{Failed, Passed, Unavailable};

type Expected = (
    &'static str,
    Health,
    &'static str,
    Option<&'static str>,
    Option<i64>,
    Option<u64>,
);

/// (file, health, condition, interface, temperature °C, power-on hours) for every device
/// report in `fixtures/smart`; every file there must be listed here or in `NOT_REPORTS`.
const EXPECTED: &[Expected] = &[
    (
        "node-debug_smartctl-ata.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(33),
        Some(15893),
    ),
    (
        "node-debug_smartctl-no-support.json",
        Unavailable,
        "unknown",
        Some("scsi"),
        None,
        None,
    ),
    (
        "node-debug_smartctl-qemu-virtual-disk.json",
        Unavailable,
        "unknown",
        Some("scsi"),
        None,
        None,
    ),
    (
        "scrutiny_smart-ata-full_samsung860evo.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(36),
        Some(14551),
    ),
    (
        "scrutiny_smart-ata2_850pro.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(32),
        Some(846),
    ),
    (
        "scrutiny_smart-ata_samsung840.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(33),
        Some(19497),
    ),
    (
        "scrutiny_smart-ata_wd14tb.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(32),
        Some(1730),
    ),
    (
        "scrutiny_smart-fail2_hitachi_FAILING.json",
        Failed,
        "critical",
        Some("usb"),
        Some(25),
        Some(65592),
    ),
    (
        "scrutiny_smart-fail_open-error.json",
        Unavailable,
        "unknown",
        None,
        None,
        None,
    ),
    (
        "scrutiny_smart-megaraid0.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(36),
        Some(37787),
    ),
    (
        "scrutiny_smart-nvme2_force-mp510.json",
        Passed,
        "healthy",
        Some("nvme"),
        Some(38),
        Some(6487),
    ),
    (
        "scrutiny_smart-nvme_intel660p.json",
        Passed,
        "healthy",
        Some("nvme"),
        Some(36),
        Some(2401),
    ),
    (
        "scrutiny_smart-nvme_samsung970evo.json",
        Passed,
        "warning",
        Some("nvme"),
        Some(35),
        Some(12798),
    ),
    (
        "scrutiny_smart-raid-volume.json",
        Unavailable,
        "unknown",
        Some("scsi"),
        None,
        None,
    ),
    (
        "scrutiny_smart-scsi_seagate.json",
        Passed,
        "healthy",
        Some("scsi"),
        Some(31),
        Some(5675),
    ),
    (
        "smartctl_exporter_SEAGATE_ST373453LC_26.json",
        Passed,
        "warning",
        Some("scsi"),
        Some(33),
        Some(102_880),
    ),
    (
        "smartctl_exporter_ST3500418AS_12.json",
        Passed,
        "warning",
        Some("sata"),
        Some(33),
        Some(44668),
    ),
    (
        "smartctl_exporter_WDC_WD20EFRX-68EUZN0_17.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(34),
        Some(47657),
    ),
    (
        "smartctl_exporter_nvme-null-CT250P2SSD8-nvme0.json",
        Passed,
        "healthy",
        Some("nvme"),
        Some(26),
        Some(10147),
    ),
    (
        "smartctl_exporter_nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json",
        Failed,
        "critical",
        Some("nvme"),
        Some(40),
        Some(18376),
    ),
    (
        "smartctl_exporter_nvme-null-Samsung_SSD_970_EVO_Plus_250GB-nvme0.json",
        Passed,
        "healthy",
        Some("nvme"),
        Some(35),
        Some(3149),
    ),
    (
        "smartctl_exporter_sat-Phison_Driven_SSDs-KINGSTON_SA400M8120G-sda.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(38),
        Some(4994),
    ),
    (
        "smartctl_exporter_sat-Samsung_based_SSDs-SAMSUNG_MZ7L3240HCHQ-00A07-sda.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(30),
        Some(10106),
    ),
    (
        "smartctl_exporter_sat-Seagate_Exos_X16-ST16000NM001G-2KK103-sda.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(26),
        Some(13114),
    ),
    (
        "smartctl_exporter_sat-Toshiba_MG09ACAEnterprise_Capacity_HDD-TOSHIBA_MG09ACA18TE-sdd.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(30),
        Some(4772),
    ),
    (
        "smartctl_exporter_sat-Western_Digital_Ultrastar_DC_HC550-WDC__WUH721816ALE6L4-sdx.json",
        Passed,
        "warning",
        Some("sata"),
        Some(26),
        Some(20117),
    ),
    (
        "telegraf_smartctl-json_megaraid.json",
        Passed,
        "healthy",
        Some("sata"),
        Some(25),
        Some(44316),
    ),
    (
        "telegraf_smartctl-json_nvme.json",
        Passed,
        "healthy",
        Some("nvme"),
        Some(48),
        Some(8733),
    ),
    (
        "telegraf_smartctl-json_scsi.json",
        Passed,
        "healthy",
        Some("scsi"),
        Some(24),
        Some(32978),
    ),
    (
        "telegraf_smartctl-json_scsi_extended.json",
        Passed,
        "healthy",
        Some("sas"),
        Some(24),
        Some(34222),
    ),
    (
        "telegraf_smartctl-json_usb.json",
        Passed,
        "healthy",
        Some("sata"),
        None,
        Some(11),
    ),
    (
        "smartctl-H-A-f-brief_hdd2_proxmox.txt",
        Passed,
        "warning",
        Some("ata"),
        Some(55),
        Some(9885),
    ),
    (
        "smartctl-H-A-f-brief_hdd_proxmox.txt",
        Passed,
        "healthy",
        Some("ata"),
        Some(31),
        Some(1250),
    ),
    (
        "smartctl-H-A-f-brief_ssd_proxmox.txt",
        Passed,
        "healthy",
        Some("ata"),
        Some(32),
        Some(1309),
    ),
    (
        "smartctl-H-A_nvme_proxmox.txt",
        Passed,
        "healthy",
        Some("nvme"),
        Some(32),
        Some(687),
    ),
    (
        "smartctl-H-A_sas_proxmox.txt",
        Passed,
        "healthy",
        Some("scsi"),
        Some(20),
        Some(7127),
    ),
    (
        "smartctl-H_proxmox.txt",
        Passed,
        "healthy",
        None,
        None,
        None,
    ),
    (
        "smartctl-a_OLD-5.37_error-log_ST3200822AS.txt",
        Passed,
        "warning",
        Some("ata"),
        Some(39),
        Some(8354),
    ),
    (
        "smartctl-a_OLD-5.37_failing-attr_WD2500JS.txt",
        Passed,
        "warning",
        Some("ata"),
        Some(81),
        Some(11505),
    ),
    (
        "smartctl-a_OLD-5.39_health-FAILED_ST910021AS.txt",
        Failed,
        "critical",
        Some("ata"),
        Some(44),
        Some(4957),
    ),
    (
        "smartctl-a_OLD_health-FAILED_WD2500JB.txt",
        Failed,
        "critical",
        Some("ata"),
        Some(22),
        Some(6545),
    ),
    (
        "smartctl-a_megaraid-sata-hdd.txt",
        Passed,
        "healthy",
        Some("sata"),
        Some(33),
        Some(47396),
    ),
    (
        "smartctl-a_megaraid-virtual-disk_unsupported.txt",
        Unavailable,
        "unknown",
        Some("scsi"),
        None,
        None,
    ),
    (
        "smartctl-a_nvme_proxmox.txt",
        Passed,
        "healthy",
        Some("nvme"),
        Some(41),
        Some(15),
    ),
    (
        "smartctl-a_nvme_smartctl6.6.txt",
        Passed,
        "healthy",
        Some("nvme"),
        Some(34),
        Some(31),
    ),
    (
        "smartctl-a_nvme_smartctl7.5.txt",
        Passed,
        "healthy",
        Some("nvme"),
        Some(43),
        Some(396),
    ),
    (
        "smartctl-a_nvme_toshiba.txt",
        Passed,
        "healthy",
        Some("nvme"),
        Some(42),
        Some(5809),
    ),
    (
        "smartctl-a_sas-hdd.txt",
        Passed,
        "healthy",
        Some("sas"),
        Some(32),
        None,
    ),
    (
        "smartctl-a_sat-hdd_smartctl6.4.txt",
        Passed,
        "healthy",
        Some("sata"),
        Some(31),
        Some(1380),
    ),
    (
        "smartctl-a_sata-hdd_12tb_selftest-running.txt",
        Passed,
        "healthy",
        Some("sata"),
        Some(38),
        Some(252),
    ),
    (
        "smartctl-a_sata-hdd_helium.txt",
        Passed,
        "healthy",
        Some("sata"),
        Some(26),
        Some(592),
    ),
    (
        "smartctl-a_sata-ssd_debian11.txt",
        Passed,
        "healthy",
        Some("sata"),
        Some(32),
        Some(133),
    ),
    (
        "smartctl-a_sata-ssd_smartctl6.6.txt",
        Passed,
        "healthy",
        Some("sata"),
        None,
        Some(2376),
    ),
    (
        "smartctl-a_usb-ssd.txt",
        Passed,
        "healthy",
        Some("sata"),
        Some(33),
        Some(20379),
    ),
    (
        "smartctl-x_sas-ssd.txt",
        Passed,
        "healthy",
        Some("sas"),
        Some(25),
        Some(146),
    ),
];

/// Files that are no device report: `--scan` listings and `-d test`.
const NOT_REPORTS: &[&str] = &[
    "scrutiny_smartctl-scan-j.json",
    "telegraf_smartctl-json_scan-open.json",
    "telegraf_smartctl-json_scan-open_megaraid.json",
    "smartctl-scan-open.txt",
    "smartctl-d-test_nvme.txt",
];

fn report(file: &str) -> SmartReport {
    let text = fixture(&format!("smart/{file}"));
    if file.ends_with(".json") {
        parse_smartctl_json(&text)
    } else {
        parse_smartctl_text(&text)
    }
    .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_smart_fixture() {
    let files = fixture_dir("smart");
    assert!(
        files.len() >= 60,
        "fixtures/smart has {} files",
        files.len()
    );
    for file in &files {
        if NOT_REPORTS.contains(&file.as_str()) {
            continue;
        }
        let &(_, health, condition, interface, temp, poh) = EXPECTED
            .iter()
            .find(|e| e.0 == file)
            .unwrap_or_else(|| panic!("{file}: no expectation: add it to EXPECTED"));
        let r = report(file);
        assert_eq!(r.health, health, "{file}: {:?}", r.health_detail);
        assert_eq!(r.condition, condition, "{file}: {:?}", r.warnings);
        assert_eq!(r.interface.as_deref(), interface, "{file}");
        assert_eq!(r.temperature_celsius, temp, "{file}");
        assert_eq!(r.power_on_hours, poh, "{file}");
        assert_eq!(r.health == Passed, r.health_detail.is_none(), "{file}");
        serde_json::to_value(&r).unwrap_or_else(|e| panic!("{file}: serialise: {e}"));
    }
    assert_eq!(files.len(), EXPECTED.len() + NOT_REPORTS.len());
}

#[test]
fn failing_ata_drive_json() {
    let r = report("scrutiny_smart-fail2_hitachi_FAILING.json");
    assert_eq!(r.health, Failed);
    assert_eq!(r.reallocated_sectors, Some(1975));
    assert_eq!(r.pending_sectors, Some(8));
    assert_eq!(r.offline_uncorrectable, Some(0));
    assert_eq!(r.model.as_deref(), Some("Hitachi HDS721050DLE630"));
    assert_eq!(r.device_type.as_deref(), Some("usbjmicron"));
    assert_eq!(r.drive_type, Some("hdd"));
    assert_eq!(r.rotation_rate_rpm, Some(7200));
    let e = r.exit_status.expect("exit status");
    assert_eq!(e.code, 216);
    assert!(e.disk_failing && e.prefail_attributes_at_threshold);
    assert!(e.error_log_has_errors && e.self_test_log_has_errors);
    assert!(!e.device_open_failed && !e.command_failed);
    let a5 = r.attributes.iter().find(|a| a.id == 5).expect("attr 5");
    assert_eq!(a5.when_failed.as_deref(), Some("now"));
    assert_eq!((a5.value, a5.threshold), (Some(1), Some(5)));
    assert_eq!(a5.prefailure, Some(true));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("Reallocated_Sector_Ct is failing now"))
    );
}

#[test]
fn unavailable_is_never_failed() {
    let r = report("scrutiny_smart-fail_open-error.json");
    assert!(r.exit_status.expect("exit").device_open_failed);
    assert!(
        r.health_detail
            .as_deref()
            .unwrap_or_default()
            .contains("Open failed")
    );
    let r = report("node-debug_smartctl-no-support.json");
    // smartctl says `passed` for this iSCSI disk whose SMART is disabled: not trusted.
    assert_eq!(r.smart_enabled, Some(false));
    assert_eq!(
        r.health_detail.as_deref(),
        Some("SMART is disabled on the device")
    );
    assert_eq!(r.drive_type, None);
    let r = report("node-debug_smartctl-qemu-virtual-disk.json");
    assert_eq!(r.smart_available, Some(false));
    assert_eq!(r.model.as_deref(), Some("QEMU QEMU HARDDISK"));
    assert_eq!(r.capacity_bytes, Some(34_359_738_368));
    let r = report("scrutiny_smart-raid-volume.json");
    assert!(r.exit_status.expect("exit").command_failed);
    assert!(
        r.health_detail
            .as_deref()
            .unwrap_or_default()
            .contains("command")
    );
    let r = report("smartctl-a_megaraid-virtual-disk_unsupported.txt");
    assert_eq!(r.model.as_deref(), Some("Intel RS3DC080"));
    assert_eq!(r.capacity_bytes, Some(118_999_744_512));
}

#[test]
fn nvme_json() {
    let r = report("smartctl_exporter_nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json");
    let n = r.nvme.as_ref().expect("nvme log");
    assert_eq!(n.critical_warning, 16);
    assert_eq!(n.critical_warnings, vec!["volatile memory backup failed"]);
    assert_eq!(
        r.capacity_bytes,
        Some(3_200_631_791_616),
        "nvme_total_capacity"
    );
    assert!(r.exit_status.expect("exit").disk_failing);
    let r = report("telegraf_smartctl-json_nvme.json");
    let n = r.nvme.as_ref().expect("nvme log");
    assert_eq!(n.available_spare, Some(100));
    assert_eq!(n.available_spare_threshold, Some(5));
    assert_eq!(n.percentage_used, Some(4));
    assert_eq!(n.media_errors, Some(0));
    assert_eq!(n.error_log_entries, Some(4871));
    assert_eq!(r.drive_type, Some("nvme"));
    assert_eq!(r.model.as_deref(), Some("Sabrent Rocket 4.0 1TB"));
    assert_eq!(r.serial.as_deref(), Some("6D1107091C9583054511"));
    assert_eq!(r.firmware.as_deref(), Some("RKT401.3"));
    assert_eq!(r.smartctl_version.as_deref(), Some("7.4"));
    let r = report("scrutiny_smart-nvme_samsung970evo.json");
    assert_eq!(r.nvme.as_ref().and_then(|n| n.media_errors), Some(7));
}

#[test]
fn scsi_json() {
    let r = report("smartctl_exporter_SEAGATE_ST373453LC_26.json");
    assert_eq!(r.scsi_grown_defects, Some(260));
    assert_eq!(r.scsi_uncorrected_errors, Some(536));
    assert_eq!(r.model.as_deref(), Some("SEAGATE ST373453LC"));
    assert_eq!(r.protocol.as_deref(), Some("scsi"));
    assert_eq!(r.rotation_rate_rpm, Some(15015));
    let r = report("telegraf_smartctl-json_scsi_extended.json");
    assert_eq!(r.model.as_deref(), Some("SEAGATE ST0000000"));
    assert_eq!(r.scsi_grown_defects, Some(0));
}

#[test]
fn megaraid_and_ata_json() {
    let r = report("telegraf_smartctl-json_megaraid.json");
    assert_eq!(r.raid_controller.as_deref(), Some("megaraid"));
    assert_eq!(r.device_type.as_deref(), Some("sat+megaraid,14"));
    assert!(
        r.exit_status.expect("exit").command_failed,
        "bit 2 alone: still passed"
    );
    assert_eq!(
        r.messages,
        vec!["Warning: This result is based on an Attribute check."]
    );
    assert_eq!(r.reported_uncorrectable, Some(0));
    let r = report("smartctl_exporter_ST3500418AS_12.json");
    assert_eq!(r.reallocated_sectors, Some(304));
    assert_eq!(r.warnings, vec!["304 reallocated sectors"]);
    let r = report("smartctl_exporter_sat-Seagate_Exos_X16-ST16000NM001G-2KK103-sda.json");
    // Attribute 190's raw value is packed (538509338); the temperature comes from
    // `temperature.current` and attribute raw numbers from the raw string.
    assert_eq!(r.temperature_celsius, Some(26));
    let a190 = r.attributes.iter().find(|a| a.id == 190).expect("190");
    assert_eq!(a190.raw_value, Some(26));
    let r = report("node-debug_smartctl-ata.json");
    assert_eq!(r.capacity_bytes, Some(240_057_409_536));
    assert_eq!(r.drive_type, Some("ssd"));
    assert_eq!(r.smart_available, Some(true));
}

#[test]
fn old_text_outputs() {
    let r = report("smartctl-a_OLD-5.39_health-FAILED_ST910021AS.txt");
    assert_eq!(r.smartctl_version.as_deref(), Some("5.39"));
    assert_eq!(
        r.health_detail.as_deref(),
        Some("SMART overall-health self-assessment test result: FAILED!")
    );
    assert_eq!(r.reallocated_sectors, Some(16642));
    let a190 = r.attributes.iter().find(|a| a.id == 190).expect("190");
    assert_eq!(a190.when_failed.as_deref(), Some("past"));
    assert_eq!(a190.raw, "44 (0 56 56 12)");
    let r = report("smartctl-a_OLD_health-FAILED_WD2500JB.txt");
    assert_eq!(r.smartctl_version.as_deref(), Some("5.30"));
    assert_eq!(r.model.as_deref(), Some("WDC WD2500JB-32EVA0"));
    assert_eq!(r.pending_sectors, Some(13));
    let r = report("smartctl-a_OLD-5.37_failing-attr_WD2500JS.txt");
    assert_eq!(
        r.health, Passed,
        "a failing old-age attribute does not fail the drive"
    );
    assert!(r.warnings[0].contains("190 Temperature_Celsius is failing now"));
    assert_eq!(r.capacity_bytes, Some(250_059_350_016));
}

#[test]
fn text_formats() {
    let r = report("smartctl-H-A-f-brief_hdd_proxmox.txt");
    assert_eq!(r.attributes.len(), 24);
    let a240 = r.attributes.iter().find(|a| a.id == 240).expect("240");
    assert_eq!(a240.raw, "1259h+06m+33.546s");
    assert_eq!(a240.raw_value, Some(1259));
    assert_eq!(a240.prefailure, Some(false));
    assert_eq!(r.attributes[0].prefailure, Some(true));
    let r = report("smartctl-a_nvme_toshiba.txt");
    assert_eq!(
        r.power_on_hours,
        Some(5809),
        "`5.809` with a locale thousands separator"
    );
    assert_eq!(r.nvme.as_ref().and_then(|n| n.percentage_used), Some(28));
    let r = report("smartctl-a_nvme_proxmox.txt");
    assert_eq!(r.capacity_bytes, Some(500_107_862_016), "`500.107.862.016`");
    let r = report("smartctl-a_sas-hdd.txt");
    assert_eq!(
        r.capacity_bytes,
        Some(12_000_138_625_024),
        "`12 000 138 625 024`"
    );
    assert_eq!(r.model.as_deref(), Some("HGST HUH721212AL4204"));
    assert_eq!(r.scsi_uncorrected_errors, Some(0));
    let r = report("smartctl-x_sas-ssd.txt");
    assert_eq!(r.drive_type, Some("ssd"));
    assert_eq!(r.percentage_used, Some(0));
    let r = report("smartctl-a_sata-ssd_debian11.txt");
    assert_eq!(r.rotation_rate_rpm, Some(0));
    assert_eq!(r.serial.as_deref(), Some("30087840294"));
}

#[test]
fn exit_status_for_text() {
    let text = fixture("smart/smartctl-H_proxmox.txt");
    let r = parse_smartctl_text_with_status(&text, Some(8)).expect("bit 3");
    assert_eq!(r.health, Failed);
    let r = parse_smartctl_text_with_status(&text, Some(64)).expect("bit 6");
    assert_eq!((r.health, r.condition), (Passed, "warning"));
    let r = parse_smartctl_text_with_status("", Some(2)).expect("open failed, no output");
    assert_eq!(r.health, Unavailable);
    let r = parse_smartctl_text_with_status(
        "smartctl 7.3\nSmartctl open device: /dev/sdz failed: No such device\n",
        Some(2),
    )
    .expect("open failed");
    assert_eq!(r.health, Unavailable);
    assert!(
        r.health_detail
            .as_deref()
            .unwrap_or_default()
            .contains("No such device")
    );
    assert!(parse_smartctl_text_with_status("smartctl: unknown option\n", Some(1)).is_err());
    let usb = "smartctl 7.2\n/dev/sdb: Unknown USB bridge [0x152d:0x0578 (0x209)]\nPlease specify device type with the -d option.\n";
    assert_eq!(parse_smartctl_text(usb).expect("usb").health, Unavailable);
    let disabled = "smartctl 7.2\nSMART support is: Available - device has SMART capability.\nSMART support is: Disabled\n\nSMART Disabled. Use option -s with argument 'on' to enable it.\n";
    let r = parse_smartctl_text(disabled).expect("disabled");
    assert_eq!(r.health, Unavailable);
    assert_eq!(r.smart_enabled, Some(false));
    let scsi_fail =
        "SMART Health Status: FAILURE PREDICTION THRESHOLD EXCEEDED [asc=5d, ascq=10]\n";
    assert_eq!(
        parse_smartctl_text(scsi_fail).expect("scsi failing").health,
        Failed
    );
    let old_scsi = "Device: SEAGATE ST336607LC Version: 0007\nDevice does not support SMART\n";
    assert_eq!(
        parse_smartctl_text(old_scsi).expect("old scsi").health,
        Unavailable
    );
}

#[test]
fn scans() {
    let d =
        parse_smartctl_scan_json(&fixture("smart/scrutiny_smartctl-scan-j.json")).expect("scan");
    assert_eq!(d.len(), 7);
    assert_eq!(d[0].device_type, "scsi");
    let d = parse_smartctl_scan_json(&fixture(
        "smart/telegraf_smartctl-json_scan-open_megaraid.json",
    ))
    .expect("scan megaraid");
    assert_eq!(d.len(), 10);
    assert_eq!(d[3].name, "/dev/bus/6");
    assert_eq!(d[3].device_type, "megaraid,8");
    assert_eq!(d[3].info.as_deref(), Some("/dev/bus/6 [megaraid_disk_08]"));
    assert!(
        !parse_smartctl_scan_json(&fixture("smart/telegraf_smartctl-json_scan-open.json"))
            .expect("scan-open")
            .is_empty()
    );
    let d = parse_smartctl_scan_text(&fixture("smart/smartctl-scan-open.txt")).expect("text scan");
    assert_eq!(d.len(), 3);
    assert_eq!(d[2].device_type, "sat+megaraid,60");
    assert_eq!(d[2].protocol.as_deref(), Some("ATA"));
    assert_eq!(d[0].info.as_deref(), Some("/dev/nvme0"));
    for f in NOT_REPORTS {
        let text = fixture(&format!("smart/{f}"));
        let e = if f.ends_with(".json") {
            parse_smartctl_json(&text)
        } else {
            parse_smartctl_text(&text)
        }
        .expect_err(f);
        assert!(e.to_string().starts_with("smartctl: "), "{e}");
    }
    assert!(parse_smartctl_scan_text("garbage\n").is_err());
    assert!(parse_smartctl_scan_json("{}").is_err());
}

#[test]
fn odd_input() {
    assert_eq!(
        parse_smartctl_json("").expect_err("empty").to_string(),
        "smartctl: empty output"
    );
    let full = fixture("smart/telegraf_smartctl-json_nvme.json");
    let cut = &full[..full.len() / 2];
    let e = parse_smartctl_json(cut).expect_err("truncated");
    assert!(e.to_string().contains("invalid JSON"), "{e}");
    assert!(e.line.is_some());
    assert!(parse_smartctl_json("{\"a\": 1}").is_err(), "not smartctl");
    assert!(parse_smartctl_json("[1, 2]").is_err());
    assert!(
        parse_smartctl_json("{\"smartctl\": {\"exit_status\": 0}}").is_err(),
        "no device"
    );
    assert!(
        parse_smartctl_json(
            "{\"smartctl\": {\"exit_status\": 1, \"messages\": [{\"string\": \"bad option\"}]}}"
        )
        .expect_err("bit 0")
        .to_string()
        .contains("bad option")
    );
    assert!(parse_smartctl_json("{\"smartctl\": {\"exit_status\": 999}, \"device\": {}}").is_err());
    assert!(parse_smartctl_text("").is_err());
    assert!(parse_smartctl_text("random garbage\nmore: garbage\n").is_err());
    let bad_row = "ID# ATTRIBUTE_NAME          FLAG     VALUE WORST THRESH TYPE      UPDATED  WHEN_FAILED RAW_VALUE\n  5 Reallocated_Sector_Ct   0x0033   xx   100   010    Pre-fail  Always       -       0\n";
    let e = parse_smartctl_text(bad_row).expect_err("bad row");
    assert_eq!(e.line, Some(2));
    assert!(parse_smartctl_text("Critical Warning: lots\n").is_err());
    // Unknown JSON shapes of optional fields are ignored, not fatal.
    let odd = r#"{"smartctl": {"exit_status": 0}, "device": {"name": "/dev/sda"}, "smart_status": {"passed": true}, "temperature": "hot", "rotation_rate": -1}"#;
    let r = parse_smartctl_json(odd).expect("odd optional fields");
    assert_eq!(
        (r.health, r.temperature_celsius, r.rotation_rate_rpm),
        (Passed, None, None)
    );
}
