//! `lsblk -J` (any `-o` column set, with or without `-b`, old string-valued and new typed
//! JSON), the plain `lsblk` table as a fallback, and the disk selection the drives routes
//! use.

use serde::Serialize;
use serde_json::Value;

use super::{ParseError, parse_human_size};

const CMD: &str = "lsblk";

/// One block device with its children (partitions, LVM volumes, crypt mappings…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockDevice {
    /// Kernel name as lsblk shows it (`sda`, `nvme0n1p1`); from `path` when only that was
    /// requested.
    pub name: String,
    /// `kname` column.
    pub kname: Option<String>,
    /// `path` column (`/dev/sda`).
    pub path: Option<String>,
    /// `type` column: `disk`, `part`, `lvm`, `crypt`, `loop`, `rom`, `raid1`…
    pub device_type: Option<String>,
    /// Size in bytes.
    pub size_bytes: Option<u64>,
    /// Whether `size_bytes` is exact (`-b`) rather than read from a rounded `223.6G`.
    pub size_exact: bool,
    /// `model`, trimmed (lsblk pads it with spaces).
    pub model: Option<String>,
    /// `serial`, trimmed.
    pub serial: Option<String>,
    /// `vendor`, trimmed.
    pub vendor: Option<String>,
    /// `rota`: a rotational (spinning) device.
    pub rotational: Option<bool>,
    /// `rm`: removable.
    pub removable: Option<bool>,
    /// `ro`: read-only.
    pub read_only: Option<bool>,
    /// `tran`: transport (`sata`, `nvme`, `usb`, `sas`, `iscsi`, `ata`…).
    pub transport: Option<String>,
    /// `fstype`.
    pub fstype: Option<String>,
    /// `mountpoint`, or every entry of `mountpoints` (util-linux 2.37+), nulls dropped.
    pub mountpoints: Vec<String>,
    /// Children in lsblk's tree.
    pub children: Vec<BlockDevice>,
}

impl BlockDevice {
    fn empty(name: String) -> Self {
        BlockDevice {
            name,
            kname: None,
            path: None,
            device_type: None,
            size_bytes: None,
            size_exact: false,
            model: None,
            serial: None,
            vendor: None,
            rotational: None,
            removable: None,
            read_only: None,
            transport: None,
            fstype: None,
            mountpoints: Vec::new(),
            children: Vec::new(),
        }
    }

    /// This device and all its descendants, depth first.
    pub fn walk(&self) -> Vec<&BlockDevice> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flag_of(key: &str, v: Option<&Value>) -> Result<Option<bool>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
        Some(Value::String(s)) if s.trim() == "0" => Ok(Some(false)),
        Some(Value::String(s)) if s.trim() == "1" => Ok(Some(true)),
        Some(other) => Err(format!("`{key}` is {other}, expected 0/1 or a boolean")),
    }
}

fn size_of(v: Option<&Value>) -> Result<(Option<u64>, bool), String> {
    match v {
        None | Some(Value::Null) => Ok((None, false)),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| (Some(n), true))
            .ok_or_else(|| format!("size {n} is not a byte count")),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse()
            .map(|n| (Some(n), true))
            .map_err(|_| format!("size `{s}` is out of range")),
        Some(Value::String(s)) => parse_human_size(s)
            .map(|n| (Some(n), false))
            .ok_or_else(|| format!("size `{s}` is not a size")),
        Some(other) => Err(format!("size {other} is not a size")),
    }
}

fn device_from_json(v: &Value, at: &str) -> Result<BlockDevice, ParseError> {
    let o = v
        .as_object()
        .ok_or_else(|| ParseError::new(CMD, format!("{at}: a device is not an object")))?;
    let path = text_of(o.get("path"));
    let name = text_of(o.get("name"))
        .or_else(|| {
            path.as_deref()
                .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        })
        .ok_or_else(|| ParseError::new(CMD, format!("{at}: a device has no name or path")))?;
    let bad = |m: String| ParseError::new(CMD, format!("{at} `{name}`: {m}"));
    let (size_bytes, size_exact) = size_of(o.get("size")).map_err(bad)?;
    let mut mountpoints: Vec<String> = Vec::new();
    if let Some(m) = text_of(o.get("mountpoint")) {
        mountpoints.push(m);
    }
    match o.get("mountpoints") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for m in a.iter().filter_map(|m| text_of(Some(m))) {
                if !mountpoints.contains(&m) {
                    mountpoints.push(m);
                }
            }
        }
        Some(_) => return Err(bad("`mountpoints` is not an array".into())),
    }
    let children = match o.get("children") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| device_from_json(c, &format!("{at} `{name}` child")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("`children` is not an array".into())),
    };
    Ok(BlockDevice {
        kname: text_of(o.get("kname")),
        path,
        device_type: text_of(o.get("type")),
        size_bytes,
        size_exact,
        model: text_of(o.get("model")),
        serial: text_of(o.get("serial")),
        vendor: text_of(o.get("vendor")),
        rotational: flag_of("rota", o.get("rota")).map_err(bad)?,
        removable: flag_of("rm", o.get("rm")).map_err(bad)?,
        read_only: flag_of("ro", o.get("ro")).map_err(bad)?,
        transport: text_of(o.get("tran")),
        fstype: text_of(o.get("fstype")),
        mountpoints,
        children,
        name,
    })
}

/// Parses `lsblk -J [-b] [-o …]`: `{"blockdevices": [...]}` with nested `children`.
pub fn parse_lsblk_json(text: &str) -> Result<Vec<BlockDevice>, ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::new(CMD, "empty output"));
    }
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ParseError::at(CMD, e.line(), format!("invalid JSON: {e}")))?;
    let devices = v
        .get("blockdevices")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError::new(CMD, "no `blockdevices` array"))?;
    devices
        .iter()
        .enumerate()
        .map(|(i, d)| device_from_json(d, &format!("device {}", i + 1)))
        .collect()
}

/// Whole-disk kernel names the drives routes look at: `sdX`, `hdX`, `vdX`, `xvdX`,
/// `nvmeNnM` and `mmcblkN` (not partitions, not `mmcblkNbootM`/`rpmb`). Also the validator
/// for a `drive` parameter.
pub fn is_drive_name(name: &str) -> bool {
    let letters =
        |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_lowercase());
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = name.strip_prefix("xvd") {
        return letters(rest);
    }
    if let Some(rest) = name
        .strip_prefix("sd")
        .or_else(|| name.strip_prefix("hd"))
        .or_else(|| name.strip_prefix("vd"))
    {
        return letters(rest);
    }
    if let Some(rest) = name.strip_prefix("nvme") {
        return rest
            .split_once('n')
            .is_some_and(|(c, n)| digits(c) && digits(n));
    }
    if let Some(rest) = name.strip_prefix("mmcblk") {
        return digits(rest);
    }
    false
}

/// Names of the devices excluded unless asked for: loop, ram, zram and optical (`sr`).
fn is_virtual_name(name: &str) -> bool {
    ["loop", "ram", "zram", "sr"].iter().any(|p| {
        name.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The drives among lsblk's top-level devices: whole disks named as [`is_drive_name`]
/// accepts whose type (when listed) is `disk`. With `include_virtual`, loop, ram, zram and
/// optical (`rom`) devices are kept too. Other devices (dm, md, nbd, floppies…) never are.
pub fn select_disks(devices: &[BlockDevice], include_virtual: bool) -> Vec<&BlockDevice> {
    devices
        .iter()
        .filter(|d| {
            let kind = d.device_type.as_deref();
            let drive = is_drive_name(&d.name) && matches!(kind, None | Some("disk"));
            let virt = include_virtual
                && is_virtual_name(&d.name)
                && matches!(kind, None | Some("disk" | "loop" | "rom"));
            drive || virt
        })
        .collect()
}

/// Which field a column of the plain table fills.
fn apply_cell(dev: &mut BlockDevice, column: &str, value: &str) -> Result<(), String> {
    let v = Some(value.to_string()).filter(|s| !s.is_empty());
    let flag = |v: &Option<String>| match v.as_deref() {
        None => Ok(None),
        Some("0") => Ok(Some(false)),
        Some("1") => Ok(Some(true)),
        Some(o) => Err(format!("{column} `{o}` is not 0/1")),
    };
    match column {
        "KNAME" => dev.kname = v,
        "PATH" => dev.path = v,
        "TYPE" => dev.device_type = v,
        "SIZE" => {
            (dev.size_bytes, dev.size_exact) = size_of(v.map(Value::String).as_ref())?;
        }
        "MODEL" => dev.model = v,
        "SERIAL" => dev.serial = v,
        "VENDOR" => dev.vendor = v,
        "ROTA" => dev.rotational = flag(&v)?,
        "RM" => dev.removable = flag(&v)?,
        "RO" => dev.read_only = flag(&v)?,
        "TRAN" => dev.transport = v,
        "FSTYPE" => dev.fstype = v,
        "MOUNTPOINT" | "MOUNTPOINTS" => dev.mountpoints.extend(v),
        _ => {}
    }
    Ok(())
}

/// Parses the plain `lsblk [-b] [-o …]` table (for hosts whose util-linux predates `-J`).
/// Cells are found by the header's column positions, so empty cells and values with spaces
/// (`MODEL`) are read right; the tree drawn in `NAME` (`├─`, `└─`, `│`, or `|-`, `` `- ``
/// in non-UTF-8 locales) gives the children.
pub fn parse_lsblk_text(text: &str) -> Result<Vec<BlockDevice>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| ParseError::new(CMD, "empty output"))?;
    let header: Vec<char> = header.chars().collect();
    let columns = char_spans(&header);
    if columns.first().map(|c| c.2.as_str()) != Some("NAME") {
        return Err(ParseError::at(CMD, 1, "no `NAME` header"));
    }
    // (depth, device) of the path from the root to the current device.
    let mut roots: Vec<BlockDevice> = Vec::new();
    let mut stack: Vec<(usize, BlockDevice)> = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        let chars: Vec<char> = line.chars().collect();
        let mut cells: Vec<String> = vec![String::new(); columns.len()];
        for (s, e, token) in char_spans(&chars) {
            let col = columns
                .iter()
                .position(|(hs, he, _)| s < *he && *hs < e)
                .or_else(|| columns.iter().rposition(|(hs, _, _)| *hs <= s))
                .unwrap_or(0);
            if !cells[col].is_empty() {
                cells[col].push(' ');
            }
            cells[col].push_str(&token);
        }
        let raw_name = std::mem::take(&mut cells[0]);
        let prefix_len = raw_name
            .chars()
            .take_while(|c| "├└│─|`- ".contains(*c))
            .count();
        let name: String = raw_name.chars().skip(prefix_len).collect();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParseError::at(
                CMD,
                line_no,
                format!("bad NAME `{raw_name}`"),
            ));
        }
        // The tree prefix is drawn two characters per level, counted from the line start.
        let depth = chars
            .iter()
            .take_while(|c| "├└│─|`- ".contains(**c))
            .count()
            / 2;
        let mut dev = BlockDevice::empty(name);
        for (cell, (_, _, column)) in cells.iter().zip(&columns).skip(1) {
            apply_cell(&mut dev, column, cell)
                .map_err(|m| ParseError::at(CMD, line_no, format!("`{}`: {m}", dev.name)))?;
        }
        while stack.last().is_some_and(|(d, _)| *d >= depth) {
            pop_into(&mut stack, &mut roots);
        }
        if depth > 0 && stack.is_empty() {
            return Err(ParseError::at(
                CMD,
                line_no,
                format!("`{}` is indented but has no parent", dev.name),
            ));
        }
        stack.push((depth, dev));
    }
    while !stack.is_empty() {
        pop_into(&mut stack, &mut roots);
    }
    Ok(roots)
}

fn pop_into(stack: &mut Vec<(usize, BlockDevice)>, roots: &mut Vec<BlockDevice>) {
    if let Some((_, dev)) = stack.pop() {
        match stack.last_mut() {
            Some((_, parent)) => parent.children.push(dev),
            None => roots.push(dev),
        }
    }
}

/// Tokens of a line as (start, end, text) in character positions.
fn char_spans(chars: &[char]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, i, chars[s..i].iter().collect()));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, chars.len(), chars[s..].iter().collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    fn names<'a>(d: &[&'a BlockDevice]) -> Vec<&'a str> {
        d.iter().map(|d| d.name.as_str()).collect()
    }

    #[test]
    fn k8s_node() {
        let d = parse_lsblk_json(&fixture("system/lsblk-J_k8s-node.json")).expect("lsblk");
        assert_eq!(d.len(), 7);
        let sda = d.iter().find(|d| d.name == "sda").expect("sda");
        assert_eq!(sda.model.as_deref(), Some("PNY CS900 240GB"), "trimmed");
        assert_eq!(sda.rotational, Some(false));
        assert_eq!(sda.transport.as_deref(), Some("sata"));
        assert_eq!(sda.size_bytes, Some(240_088_671_846));
        assert!(!sda.size_exact);
        assert_eq!(sda.children.len(), 4);
        assert_eq!(sda.children[3].mountpoints, vec!["/host/var"]);
        assert_eq!(sda.walk().len(), 5);
        let disks = select_disks(&d, false);
        assert_eq!(names(&disks), vec!["sda", "sdb", "sdc"]);
        assert_eq!(disks[2].rotational, Some(true));
        assert_eq!(disks[2].transport.as_deref(), Some("iscsi"));
        assert_eq!(select_disks(&d, true).len(), 7, "loops when asked");
    }

    #[test]
    fn longhorn_node() {
        let d = parse_lsblk_json(&fixture("system/lsblk-J_longhorn-node.json")).expect("lsblk");
        let disks = select_disks(&d, false);
        assert_eq!(disks.len(), 14);
        assert!(disks.iter().all(|d| d.name.starts_with("sd")));
        assert!(!names(&disks).contains(&"sr0"));
        let with_virtual = select_disks(&d, true);
        assert!(names(&with_virtual).contains(&"sr0"));
        assert!(names(&with_virtual).contains(&"loop4"));
        let sdb = disks.iter().find(|d| d.name == "sdb").expect("sdb");
        assert_eq!(sdb.model.as_deref(), Some("QEMU HARDDISK"));
        assert_eq!(
            sdb.children[0].mountpoints,
            vec!["/host/var/mnt/longhorn-data"]
        );
    }

    #[test]
    fn proxmox_path_only_columns() {
        // `lsblk --json -o path,parttype,fstype`: no name, no type, flat.
        let d = parse_lsblk_json(&fixture(
            "system/lsblk-json_path-parttype-fstype_proxmox.json",
        ))
        .expect("lsblk");
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].name, "sdm");
        assert_eq!(d[0].path.as_deref(), Some("/dev/sdm"));
        assert_eq!(d[1].fstype.as_deref(), Some("zfs_member"));
        assert_eq!(d[3].fstype.as_deref(), Some("xfs"));
        assert_eq!(names(&select_disks(&d, false)), vec!["sdm", "sdn"]);
    }

    #[test]
    fn new_util_linux_typed_json() {
        // util-linux 2.37+: `-b` sizes as numbers, `mountpoints` arrays, booleans.
        let text = r#"{"blockdevices": [
          {"name":"nvme0n1","size":512110190592,"type":"disk","rota":false,"tran":"nvme","model":"Samsung SSD 970 EVO Plus 500GB","serial":"S4EV","mountpoints":[null],
           "children":[{"name":"nvme0n1p1","size":536870912,"type":"part","mountpoints":["/boot/efi"]},
                       {"name":"nvme0n1p2","size":511571918848,"type":"part","mountpoints":["/home","/"]}]},
          {"name":"mmcblk0","size":"31914983424","type":"disk","rota":"0","rm":"1"},
          {"name":"mmcblk0boot0","size":4194304,"type":"disk"},
          {"name":"zram0","size":8589934592,"type":"disk","mountpoints":["[SWAP]"]},
          {"name":"vda","size":10737418240,"type":"disk","rota":1},
          {"name":"xvdb","size":1,"type":"disk"},
          {"name":"hda","size":1,"type":"disk"},
          {"name":"fd0","size":1474560,"type":"disk"},
          {"name":"dm-0","size":1,"type":"lvm"},
          {"name":"md0","size":1,"type":"raid1"}
        ]}"#;
        let d = parse_lsblk_json(text).expect("typed");
        assert_eq!(d[0].size_bytes, Some(512_110_190_592));
        assert!(d[0].size_exact);
        assert!(d[0].mountpoints.is_empty(), "null mountpoints dropped");
        assert_eq!(d[0].children[1].mountpoints, vec!["/home", "/"]);
        assert_eq!(d[1].size_bytes, Some(31_914_983_424), "old -b as strings");
        assert_eq!((d[1].rotational, d[1].removable), (Some(false), Some(true)));
        assert_eq!(d[4].rotational, Some(true));
        assert_eq!(
            names(&select_disks(&d, false)),
            vec!["nvme0n1", "mmcblk0", "vda", "xvdb", "hda"]
        );
        assert!(names(&select_disks(&d, true)).contains(&"zram0"));
    }

    #[test]
    fn drive_names() {
        for ok in [
            "sda", "sdaa", "hdb", "vda", "xvdf", "nvme0n1", "nvme12n3", "mmcblk0",
        ] {
            assert!(is_drive_name(ok), "{ok}");
        }
        for bad in [
            "sda1",
            "nvme0n1p1",
            "nvme0",
            "mmcblk0p1",
            "mmcblk0boot0",
            "loop0",
            "sr0",
            "dm-0",
            "md0",
            "sd",
            "",
            "sda;rm",
            "../sda",
            "SDA",
            "fd0",
            "zram0",
        ] {
            assert!(!is_drive_name(bad), "{bad}");
        }
    }

    #[test]
    fn plain_table_fixture() {
        let d = parse_lsblk_text(&fixture("system/lsblk_ubuntu-18.04.out")).expect("lsblk");
        assert_eq!(d.len(), 15);
        let sda = d.iter().find(|d| d.name == "sda").expect("sda");
        assert_eq!(sda.size_bytes, Some(20 * (1 << 30)));
        assert_eq!(sda.device_type.as_deref(), Some("disk"));
        assert_eq!(sda.read_only, Some(false));
        assert_eq!(sda.children.len(), 2);
        assert_eq!(sda.children[1].name, "sda2");
        assert_eq!(sda.children[1].mountpoints, vec!["/"]);
        assert!(sda.children[0].mountpoints.is_empty());
        let loop0 = &d[1];
        assert_eq!(loop0.mountpoints, vec!["/snap/core18/1223"]);
        assert_eq!(loop0.read_only, Some(true));
        assert_eq!(d[14].name, "sr1");
        assert_eq!(d[14].removable, Some(true));
        assert_eq!(
            names(&select_disks(&d, false)),
            vec!["sda"],
            "fd0 is no drive"
        );
    }

    #[test]
    fn all_columns_table_fixture() {
        let d = parse_lsblk_text(&fixture("system/lsblk-allcols_ubuntu-18.04.out")).expect("all");
        let sda = d.iter().find(|d| d.name == "sda").expect("sda");
        assert_eq!(sda.model.as_deref(), Some("VMware Virtual S"));
        assert_eq!(sda.rotational, Some(true));
        assert_eq!(sda.kname.as_deref(), Some("sda"));
        assert!(sda.mountpoints.is_empty());
        assert_eq!(sda.children.len(), 2);
        let sda2 = &sda.children[1];
        assert_eq!(sda2.fstype.as_deref(), Some("ext4"));
        assert_eq!(sda2.mountpoints, vec!["/"]);
        let sr0 = d.iter().find(|d| d.name == "sr0").expect("sr0");
        assert_eq!(sr0.fstype.as_deref(), Some("iso9660"));
        assert_eq!(sr0.model.as_deref(), Some("VMware SATA CD00"));
        assert_eq!(sr0.serial.as_deref(), Some("00000000000000000001"));
        assert_eq!(sr0.device_type.as_deref(), Some("rom"));
    }

    #[test]
    fn ascii_tree() {
        let t = "NAME          SIZE TYPE MOUNTPOINT
sda            20G disk
|-sda1          1M part
`-sda2         20G part /
  `-vg-root    10G lvm  /srv
sdb             1G disk
";
        let d = parse_lsblk_text(t).expect("ascii");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].children.len(), 2);
        assert_eq!(d[0].children[1].children[0].name, "vg-root");
        assert_eq!(d[0].children[1].children[0].mountpoints, vec!["/srv"]);
    }

    #[test]
    fn odd_input() {
        assert!(parse_lsblk_json("").is_err());
        let e = parse_lsblk_json("{\"blockdevices\": [{\"name\": \"sda\"").expect_err("cut");
        assert!(
            e.to_string().starts_with("lsblk: line 1: invalid JSON"),
            "{e}"
        );
        assert!(parse_lsblk_json("{}").is_err());
        assert!(parse_lsblk_json("[]").is_err());
        assert!(parse_lsblk_json("{\"blockdevices\": [{\"size\": \"1G\"}]}").is_err());
        assert!(
            parse_lsblk_json("{\"blockdevices\": [{\"name\": \"sda\", \"size\": \"huge\"}]}")
                .is_err()
        );
        assert!(
            parse_lsblk_json("{\"blockdevices\": [{\"name\": \"sda\", \"rota\": \"yes\"}]}")
                .is_err()
        );
        assert!(
            parse_lsblk_json("{\"blockdevices\": [{\"name\": \"sda\", \"children\": 3}]}").is_err()
        );
        assert!(
            parse_lsblk_json("{\"blockdevices\": []}")
                .expect("no devices")
                .is_empty()
        );
        assert!(parse_lsblk_text("").is_err());
        assert!(parse_lsblk_text("garbage here\n").is_err());
        assert!(
            parse_lsblk_text("NAME SIZE\n`-sda1 1M\n").is_err(),
            "child without parent"
        );
        assert!(parse_lsblk_text("NAME RO\nsda x\n").is_err());
    }
}
