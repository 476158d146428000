//! `zpool status [-v]` and `zpool status -j`: each pool's state, the messages zpool prints
//! about it, its last or running scrub/resilver, its vdev tree with error counters, and its
//! data errors.
//!
//! * [`parse_zpool_status`] reads the text of OpenZFS 2.x, ZFS on Linux 0.7, Solaris and
//!   zfs-fuse: `scan:` (and the old `scrub:`) lines in all their wordings, the `config:`
//!   tree by indentation, the `errors:` section with its file list (`-v`), several pools in
//!   one output;
//! * [`parse_zpool_status_json`] reads `zpool status -j [--json-int]` (OpenZFS ≥ 2.3) into
//!   the same types.

use std::collections::BTreeMap;

use infrastructor_sdk::text::ParseError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{indent_width, json_error, squeeze};
use super::size::{parse_count, parse_percent, parse_size};
use super::time::{parse_duration, rfc3339_from_epoch};

const CMD: &str = "zpool status";

/// One pool of `zpool status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PoolStatus {
    /// The pool's name.
    pub name: String,
    /// `ONLINE`, `DEGRADED`, `FAULTED`, `UNAVAIL`, `SUSPENDED`…
    pub state: String,
    /// The `status:` message, its lines joined by spaces; `None` when there is none.
    pub status: Option<String>,
    /// The `action:` message.
    pub action: Option<String>,
    /// The `see:` link (`https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-9P`).
    pub see: Option<String>,
    /// The scrub or resilver; `None` when zpool prints no `scan:`/`scrub:` line.
    pub scan: Option<Scan>,
    /// The vdev tree: the root vdev (named as the pool, its data vdevs as children), then
    /// the `logs`, `cache`, `spares`, `special`, `dedup` groups that are present.
    pub config: Vec<Vdev>,
    /// The `errors:` lines other than the file list, joined by newlines; `None` for `No
    /// known data errors`.
    pub errors: Option<String>,
    /// The number of data errors: 0 for `No known data errors`, N for `N data errors, use
    /// '-v' for a list` (or JSON `error_count`), else the number of files listed.
    pub error_count: Option<u64>,
    /// The files (or `<metadata>:<0x…>` objects) with permanent errors, from `-v`.
    pub error_files: Vec<String>,
}

/// What a scan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    /// A scrub (`zpool scrub`).
    Scrub,
    /// A resilver (after a replace, attach or a device's return).
    Resilver,
    /// Something else (`SCAN_FUNC` names newer zpool versions may add).
    Other,
}

/// Where a scan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    /// No scan ever ran (`none requested`).
    None,
    /// Running.
    InProgress,
    /// Paused (`zpool scrub -p`).
    Paused,
    /// Completed.
    Finished,
    /// Canceled (`zpool scrub -s`; zfs-fuse says `stopped`).
    Canceled,
}

/// The scrub or resilver of a pool, from its `scan:`/`scrub:` text (or JSON `scan_stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Scan {
    /// Scrub or resilver; `None` with `none requested`.
    pub kind: Option<ScanKind>,
    /// Where it is.
    pub state: ScanState,
    /// The text as printed, whitespace squeezed (empty from JSON).
    pub text: String,
    /// Progress in percent (`52.49% done`); JSON: issued / to examine.
    pub progress_percent: Option<f64>,
    /// Bytes scanned so far (`704G / 1.66T scanned`, `72.6M scanned out of 1.03T`).
    pub scanned_bytes: Option<u64>,
    /// Bytes issued so far (`0B / 1.66T issued`).
    pub issued_bytes: Option<u64>,
    /// Bytes to scan in all.
    pub total_bytes: Option<u64>,
    /// Bytes repaired (scrub) or resilvered (resilver).
    pub repaired_bytes: Option<u64>,
    /// Errors found (`with 1 errors`).
    pub errors: Option<u64>,
    /// When it started, as printed (`Sun Feb 11 11:54:20 2024`, local time; RFC 3339 UTC
    /// from `--json-int`).
    pub started_at: Option<String>,
    /// When it finished or was canceled, as printed (see `started_at`).
    pub ended_at: Option<String>,
    /// How long it took or has run, as printed (`14h7m`, `00:19:47`, `0 days 01:25:43`).
    pub duration: Option<String>,
    /// `duration` in seconds.
    pub duration_secs: Option<u64>,
    /// The time still to go, as printed (`0h0m`, `1 days 09:48:34`); `None` with `no
    /// estimated completion time`.
    pub eta: Option<String>,
}

/// What a vdev is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VdevKind {
    /// The pool's root vdev (its first config row).
    Root,
    /// A mirror (`mirror-0`; zfs-fuse and old zpool: `mirror`).
    Mirror,
    /// Single-parity raidz (`raidz1-0`, old `raidz-0`).
    Raidz1,
    /// Double-parity raidz.
    Raidz2,
    /// Triple-parity raidz.
    Raidz3,
    /// A dRAID vdev (`draid1:8d:12c:0s-0`) or a dRAID spare (`draid1-0-0`).
    Draid,
    /// A replacement in progress (`replacing-1`).
    Replacing,
    /// A hot spare in use (`spare-1`).
    Spare,
    /// A device.
    Disk,
    /// A file vdev (an absolute path outside `/dev`).
    File,
    /// An indirect vdev left by a device removal.
    Indirect,
    /// The `logs` group.
    Logs,
    /// The `cache` (L2ARC) group.
    Cache,
    /// The `spares` group.
    Spares,
    /// The `special` allocation class group.
    Special,
    /// The `dedup` allocation class group.
    Dedup,
}

impl VdevKind {
    /// The group a section word names (`logs`, `cache`, `spares`, `special`, `dedup`).
    fn group(word: &str) -> Option<VdevKind> {
        Some(match word {
            "logs" | "log" => VdevKind::Logs,
            "cache" | "l2cache" => VdevKind::Cache,
            "spares" | "spare" => VdevKind::Spares,
            "special" => VdevKind::Special,
            "dedup" => VdevKind::Dedup,
            _ => return None,
        })
    }

    /// The kind of a vdev row from its name.
    fn from_name(name: &str) -> VdevKind {
        let stem = name
            .rsplit_once('-')
            .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map_or(name, |(s, _)| s);
        match stem {
            "mirror" => VdevKind::Mirror,
            "raidz" | "raidz1" => VdevKind::Raidz1,
            "raidz2" => VdevKind::Raidz2,
            "raidz3" => VdevKind::Raidz3,
            "replacing" => VdevKind::Replacing,
            "spare" => VdevKind::Spare,
            "indirect" => VdevKind::Indirect,
            _ if name.starts_with("draid") => VdevKind::Draid,
            _ if name.starts_with('/') && !name.starts_with("/dev/") => VdevKind::File,
            _ => VdevKind::Disk,
        }
    }
}

/// One row of the config tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Vdev {
    /// The name as printed (`mirror-0`, `sda`, `/tmp/x.img`, a GUID for a missing device).
    pub name: String,
    /// What it is.
    pub kind: VdevKind,
    /// `ONLINE`, `DEGRADED`, `FAULTED`, `OFFLINE`, `UNAVAIL`, `REMOVED`, `AVAIL`/`INUSE`
    /// (spares); `None` for a group heading.
    pub state: Option<String>,
    /// Read errors (`1.05K` → 1075); `None` where zpool prints none (groups, spares).
    pub read: Option<u64>,
    /// Write errors.
    pub write: Option<u64>,
    /// Checksum errors.
    pub cksum: Option<u64>,
    /// The text after the counters: `was /dev/sdb1`, `too many errors`, `cannot open`,
    /// `corrupted data`, `(resilvering)`, `120M repaired`.
    pub note: Option<String>,
    /// The vdevs below.
    pub children: Vec<Vdev>,
}

impl PoolStatus {
    /// A pool of `name` with nothing else known.
    fn named(name: &str) -> Self {
        PoolStatus {
            name: name.to_string(),
            state: String::new(),
            status: None,
            action: None,
            see: None,
            scan: None,
            config: Vec::new(),
            errors: None,
            error_count: None,
            error_files: Vec::new(),
        }
    }

    /// Every vdev of the tree, depth first.
    pub fn vdevs(&self) -> Vec<&Vdev> {
        fn walk<'a>(v: &'a Vdev, out: &mut Vec<&'a Vdev>) {
            out.push(v);
            for c in &v.children {
                walk(c, out);
            }
        }
        let mut out = Vec::new();
        for v in &self.config {
            walk(v, &mut out);
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Text

/// The key of a `key: value` line (`  pool: tank`, ` scrub: none requested`): a lower-case
/// word right after at most 7 spaces (no tab: continuation lines are tab or 8-space
/// indented), then `:`.
fn key_of(line: &str) -> Option<(&str, &str)> {
    let lead = line.len() - line.trim_start_matches(' ').len();
    if lead > 7 || line[lead..].starts_with('\t') {
        return None;
    }
    let rest = &line[lead..];
    let (key, value) = rest.split_once(':')?;
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    if !(value.is_empty() || value.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, value.trim()))
}

/// The sections of one pool's text, in order: key and lines (first line's value, then the
/// continuation lines as they are).
struct Section<'a> {
    key: &'a str,
    line: usize,
    first: &'a str,
    more: Vec<(usize, &'a str)>,
}

/// Joins a message's lines with single spaces.
fn message(s: &Section<'_>) -> Option<String> {
    let mut text = s.first.to_string();
    for (_, l) in &s.more {
        text.push(' ');
        text.push_str(l.trim());
    }
    let text = squeeze(&text);
    (!text.is_empty()).then_some(text)
}

/// Parses `zpool status [-v] [pool…]` text: one [`PoolStatus`] per `pool:` block. `no pools
/// available` and `all pools are healthy` (`-x`) are an empty success; other text without a
/// `pool:` line, a pool without `state:`, or a config row zpool would not print is an error
/// naming its line.
pub fn parse_zpool_status(text: &str) -> Result<Vec<PoolStatus>, ParseError> {
    let mut blocks: Vec<Vec<Section<'_>>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let key = key_of(line);
        match (key, blocks.last_mut()) {
            (Some(("pool", value)), _) => blocks.push(vec![Section {
                key: "pool",
                line: n,
                first: value,
                more: Vec::new(),
            }]),
            (Some((key, value)), Some(block))
                if block
                    .last()
                    .is_none_or(|s| s.key != "errors" || key == "errors") =>
            {
                block.push(Section {
                    key,
                    line: n,
                    first: value,
                    more: Vec::new(),
                });
            }
            (_, Some(block)) => {
                if let Some(s) = block.last_mut() {
                    s.more.push((n, line));
                }
            }
            (_, None) => {
                let t = line.trim();
                if t.is_empty()
                    || t == "no pools available"
                    || t == "all pools are healthy"
                    || t.starts_with("pool '") && t.ends_with("is healthy")
                {
                    continue;
                }
                return Err(ParseError::at(CMD, n, "text before the first \"pool:\""));
            }
        }
    }
    blocks.iter().map(|b| pool_from_sections(b)).collect()
}

/// One pool from its sections.
fn pool_from_sections(sections: &[Section<'_>]) -> Result<PoolStatus, ParseError> {
    let head = sections
        .first()
        .ok_or_else(|| ParseError::new(CMD, "empty pool block"))?;
    if head.first.is_empty() || head.first.contains(char::is_whitespace) {
        return Err(ParseError::at(CMD, head.line, "no pool name"));
    }
    let mut pool = PoolStatus::named(head.first);
    if let Some((n, extra)) = head.more.iter().find(|(_, l)| !l.trim().is_empty()) {
        return Err(ParseError::at(
            CMD,
            *n,
            format!("unexpected {:?}", extra.trim()),
        ));
    }
    let mut errors_text: Vec<String> = Vec::new();
    for s in &sections[1..] {
        match s.key {
            "state" => pool.state = s.first.to_string(),
            "status" => pool.status = message(s),
            "action" => pool.action = message(s),
            "see" => pool.see = message(s),
            "scan" | "scrub" => pool.scan = message(s).map(|_| parse_scan(s)),
            "config" => pool.config = parse_config(&pool.name, &s.more)?,
            "errors" => {
                if !s.first.is_empty() {
                    errors_text.push(s.first.to_string());
                }
                for (_, l) in &s.more {
                    let l = l.trim();
                    if !l.is_empty() {
                        pool.error_files.push(l.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if pool.state.is_empty() {
        return Err(ParseError::at(
            CMD,
            head.line,
            format!("pool {} has no state", pool.name),
        ));
    }
    if errors_text.iter().any(|e| e == "No known data errors") && errors_text.len() == 1 {
        pool.error_count = Some(0);
    } else if !errors_text.is_empty() {
        pool.error_count = errors_text
            .iter()
            .find_map(|e| {
                e.strip_suffix(" data errors, use '-v' for a list")
                    .and_then(|n| n.trim().parse().ok())
            })
            .or_else(|| (!pool.error_files.is_empty()).then_some(pool.error_files.len() as u64));
        pool.errors = Some(errors_text.join("\n"));
    }
    Ok(pool)
}

/// The config tree from the lines after `config:`: the `NAME STATE READ WRITE CKSUM` header
/// sets the base indentation; each further 2 columns is one level down.
fn parse_config(pool: &str, lines: &[(usize, &str)]) -> Result<Vec<Vdev>, ParseError> {
    let mut base: Option<usize> = None;
    // (depth, vdev) in order; the tree is built at the end.
    let mut flat: Vec<(usize, Vdev)> = Vec::new();
    for (n, line) in lines {
        let n = *n;
        if line.trim().is_empty() {
            continue;
        }
        let indent = indent_width(line);
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(base_indent) = base else {
            if words.first() == Some(&"NAME") && words.get(1) == Some(&"STATE") {
                base = Some(indent);
                continue;
            }
            return Err(ParseError::at(CMD, n, "no NAME STATE header in config"));
        };
        if indent < base_indent {
            return Err(ParseError::at(CMD, n, "config row left of its header"));
        }
        let depth = (indent - base_indent) / 2;
        let name = words[0];
        let group = VdevKind::group(name).filter(|_| depth == 0 && words.len() == 1);
        let vdev = if let Some(kind) = group {
            Vdev {
                name: name.to_string(),
                kind,
                state: None,
                read: None,
                write: None,
                cksum: None,
                note: None,
                children: Vec::new(),
            }
        } else {
            row_vdev(line, &words, n)?
        };
        let vdev = if flat.is_empty() && depth == 0 && vdev.name == pool {
            Vdev {
                kind: VdevKind::Root,
                ..vdev
            }
        } else {
            vdev
        };
        flat.push((depth, vdev));
    }
    Ok(build_tree(flat))
}

/// One vdev row: name, state, then the three counters and a note, or (spares) nothing more.
fn row_vdev(line: &str, words: &[&str], n: usize) -> Result<Vdev, ParseError> {
    let [name, state, ..] = words else {
        return Err(ParseError::at(
            CMD,
            n,
            "a vdev row needs a name and a state",
        ));
    };
    let mut vdev = Vdev {
        name: name.to_string(),
        kind: VdevKind::from_name(name),
        state: Some(state.to_string()),
        read: None,
        write: None,
        cksum: None,
        note: None,
        children: Vec::new(),
    };
    if words.len() == 2 {
        return Ok(vdev);
    }
    let counters: Vec<Option<u64>> = words
        .iter()
        .skip(2)
        .take(3)
        .map(|w| parse_count(w))
        .collect();
    match counters.as_slice() {
        [Some(r), Some(w), Some(c)] => {
            vdev.read = Some(*r);
            vdev.write = Some(*w);
            vdev.cksum = Some(*c);
            // The note: the text after the fifth word, as printed.
            let mut rest = line.trim_start();
            for w in &words[..5] {
                rest = rest.get(w.len()..).unwrap_or("").trim_start();
            }
            vdev.note = Some(rest.trim_end().to_string()).filter(|s| !s.is_empty());
            Ok(vdev)
        }
        _ => {
            // A spare row with a note but no counters (`sdf  INUSE  currently in use`).
            let note = squeeze(&words[2..].join(" "));
            if matches!(
                *state,
                "AVAIL" | "INUSE" | "UNAVAIL" | "FAULTED" | "OFFLINE" | "REMOVED"
            ) {
                vdev.note = Some(note);
                Ok(vdev)
            } else {
                Err(ParseError::at(
                    CMD,
                    n,
                    format!("bad error counters in {:?}", line.trim()),
                ))
            }
        }
    }
}

/// Builds the tree from rows in print order with their depths; a row deeper than one level
/// below the previous one hangs under the nearest shallower row.
fn build_tree(flat: Vec<(usize, Vdev)>) -> Vec<Vdev> {
    let mut roots: Vec<Vdev> = Vec::new();
    // The open path: (depth, vdev), each one a child-to-be of the one before.
    let mut stack: Vec<(usize, Vdev)> = Vec::new();
    fn close(stack: &mut Vec<(usize, Vdev)>, roots: &mut Vec<Vdev>, depth: usize) {
        while stack.last().is_some_and(|(d, _)| *d >= depth) {
            if let Some((_, v)) = stack.pop() {
                match stack.last_mut() {
                    Some((_, parent)) => parent.children.push(v),
                    None => roots.push(v),
                }
            }
        }
    }
    for (depth, vdev) in flat {
        close(&mut stack, &mut roots, depth);
        stack.push((depth, vdev));
    }
    close(&mut stack, &mut roots, 0);
    roots
}

/// The text after `start` up to `end` (or the end), trimmed.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = &text[from..];
    let to = rest.find(end).unwrap_or(rest.len());
    Some(rest[..to].trim())
}

/// The word just before `suffix` (`0.98% done` → `0.98%`).
fn word_before<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let at = text.find(suffix)?;
    text[..at].split_whitespace().last()
}

/// Reads a `scan:` / `scrub:` section.
fn parse_scan(s: &Section<'_>) -> Scan {
    let first = squeeze(s.first);
    let mut lines = vec![first.clone()];
    lines.extend(
        s.more
            .iter()
            .map(|(_, l)| squeeze(l))
            .filter(|l| !l.is_empty()),
    );
    let text = lines.join(", ");
    let kind = if first.starts_with("scrub") {
        Some(ScanKind::Scrub)
    } else if first.starts_with("resilver") {
        Some(ScanKind::Resilver)
    } else if first.starts_with("none requested") {
        None
    } else {
        Some(ScanKind::Other)
    };
    let state = if first.starts_with("none requested") {
        ScanState::None
    } else if first.contains(" in progress") {
        ScanState::InProgress
    } else if first.contains(" paused") {
        ScanState::Paused
    } else if first.contains(" canceled") || first.contains(" stopped after") {
        ScanState::Canceled
    } else {
        ScanState::Finished
    };
    let mut scan = Scan {
        kind,
        state,
        text: text.clone(),
        progress_percent: word_before(&text, "% done").and_then(parse_percent),
        scanned_bytes: None,
        issued_bytes: None,
        total_bytes: None,
        repaired_bytes: None,
        errors: word_before(&first, " errors")
            .filter(|_| first.contains(" with "))
            .and_then(|w| w.parse().ok()),
        started_at: between(&first, " since ", ",").map(str::to_string),
        ended_at: None,
        duration: None,
        duration_secs: None,
        eta: None,
    };
    if matches!(state, ScanState::Finished | ScanState::Canceled) {
        scan.ended_at = first
            .rfind(" on ")
            .map(|at| first[at + 4..].trim().to_string())
            .filter(|t| !t.is_empty());
        // `scrub repaired 0B in 14h7m with …`, `resilvered 1.03T in 4h8m with …`,
        // `scrub completed after 0h0m with …` (zfs-fuse), `scrub stopped after 0h0m with …`.
        if let Some(amount) =
            between(&first, "repaired ", " in ").or_else(|| between(&first, "resilvered ", " in "))
        {
            scan.repaired_bytes = parse_size(amount);
        }
        scan.duration = between(&first, " in ", " with ")
            .or_else(|| between(&first, " after ", " with "))
            .filter(|d| first.contains(" with ") && !d.is_empty())
            .map(str::to_string);
    }
    if state == ScanState::InProgress || state == ScanState::Paused {
        // zfs-fuse: `scrub in progress for 0h0m, 44.99% done, 0h0m to go`.
        scan.duration = between(&first, " in progress for ", ",").map(str::to_string);
        scan.eta = word_before(&text, " to go")
            .and_then(|_| {
                let at = text.find(" to go")?;
                let before = &text[..at];
                let from = before.rfind(", ").map_or(0, |i| i + 2);
                Some(before[from..].trim().to_string())
            })
            .filter(|e| !e.is_empty());
        // OpenZFS: `704G / 1.66T scanned at 5.67G/s, 0B / 1.66T issued`.
        if let Some(at) = text.find(" scanned") {
            let before: Vec<&str> = text[..at].split_whitespace().collect();
            match before.as_slice() {
                [.., a, "/", b] => {
                    scan.scanned_bytes = parse_size(a);
                    scan.total_bytes = parse_size(b);
                }
                [.., a] => scan.scanned_bytes = parse_size(a),
                [] => {}
            }
        }
        // ZoL 0.7: `72.6M scanned out of 1.03T at 2.42M/s`.
        if let Some(total) = between(&text, " scanned out of ", " ") {
            scan.total_bytes = parse_size(total);
        }
        if let Some(at) = text.find(" issued") {
            let before: Vec<&str> = text[..at].split_whitespace().collect();
            if let [.., a, "/", b] = before.as_slice() {
                scan.issued_bytes = parse_size(a);
                scan.total_bytes = scan.total_bytes.or(parse_size(b));
            }
        }
        scan.repaired_bytes = word_before(&text, " repaired,")
            .or_else(|| word_before(&text, " resilvered,"))
            .and_then(parse_size);
    }
    scan.duration_secs = scan.duration.as_deref().and_then(parse_duration);
    scan
}

// ---------------------------------------------------------------------------------------
// JSON

/// A JSON scalar as text (`"1.05K"`, `7`), `None` for null or a structure.
fn json_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON number or size text as bytes or a count.
fn json_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => parse_size(s),
        _ => None,
    }
}

/// A JSON time: epoch seconds (`--json-int`) as RFC 3339, text as printed.
fn json_time(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => n.as_i64().filter(|s| *s > 0).and_then(rfc3339_from_epoch),
        Value::String(s) if !s.is_empty() && s != "-" => Some(s.clone()),
        _ => None,
    }
}

/// A JSON message (`status`, `action`) with its lines joined by spaces.
fn json_message(v: Option<&Value>) -> Option<String> {
    json_str(v).map(|s| squeeze(&s)).filter(|s| !s.is_empty())
}

/// The note zpool's text prints for a vdev's JSON `aux` state.
fn aux_note(aux: &str) -> String {
    match aux {
        "ERR_EXCEEDED" => "too many errors",
        "OPEN_FAILED" => "cannot open",
        "CORRUPT_DATA" => "corrupted data",
        "NO_REPLICAS" => "insufficient replicas",
        "BAD_GUID_SUM" => "missing device",
        "TOO_SMALL" => "device is too small",
        "BAD_LABEL" => "invalid label",
        "VERSION_NEWER" | "VERSION_OLDER" => "unsupported version",
        "SPARED" => "currently in use",
        "SPLIT_POOL" => "split into new pool",
        "EXTERNAL" => "external device fault",
        other => return other.to_ascii_lowercase().replace('_', " "),
    }
    .to_string()
}

/// One vdev of the JSON tree.
fn json_vdev(name: &str, v: &Map<String, Value>, root: bool) -> Vdev {
    let name = json_str(v.get("name")).unwrap_or_else(|| name.to_string());
    let vdev_type = json_str(v.get("vdev_type")).unwrap_or_default();
    let kind = match vdev_type.as_str() {
        _ if root => VdevKind::Root,
        "root" => VdevKind::Root,
        "mirror" => VdevKind::Mirror,
        "raidz" => match json_u64(v.get("nparity")) {
            Some(2) => VdevKind::Raidz2,
            Some(3) => VdevKind::Raidz3,
            Some(_) => VdevKind::Raidz1,
            None => VdevKind::from_name(&name),
        },
        "draid" | "dspare" => VdevKind::Draid,
        "replacing" => VdevKind::Replacing,
        "spare" => VdevKind::Spare,
        "file" => VdevKind::File,
        "disk" => VdevKind::Disk,
        "indirect" => VdevKind::Indirect,
        _ => VdevKind::from_name(&name),
    };
    Vdev {
        name,
        kind,
        state: json_str(v.get("state")),
        read: json_u64(v.get("read_errors")),
        write: json_u64(v.get("write_errors")),
        cksum: json_u64(v.get("checksum_errors")),
        note: json_str(v.get("aux")).map(|a| aux_note(&a)),
        children: json_children(v.get("vdevs")),
    }
}

/// The vdevs of a JSON `vdevs` object.
fn json_children(v: Option<&Value>) -> Vec<Vdev> {
    match v {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, c)| c.as_object().map(|c| json_vdev(k, c, false)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The JSON document.
#[derive(Deserialize)]
struct JsonStatus {
    #[serde(default)]
    pools: BTreeMap<String, Map<String, Value>>,
}

/// The scan of a JSON `scan_stats`.
fn json_scan(s: &Map<String, Value>) -> Scan {
    let function = json_str(s.get("function")).unwrap_or_default();
    let state_text = json_str(s.get("state")).unwrap_or_default();
    let state = match state_text.as_str() {
        "SCANNING" => ScanState::InProgress,
        "FINISHED" => ScanState::Finished,
        "CANCELED" => ScanState::Canceled,
        _ => ScanState::None,
    };
    let paused = json_u64(s.get("scrub_pause")).is_some_and(|p| p > 0)
        || matches!(s.get("scrub_pause"), Some(Value::String(p)) if p != "-" && p != "0");
    let state = if state == ScanState::InProgress && paused {
        ScanState::Paused
    } else {
        state
    };
    let kind = match function.as_str() {
        "SCRUB" => Some(ScanKind::Scrub),
        "RESILVER" => Some(ScanKind::Resilver),
        "" | "NONE" => None,
        _ => Some(ScanKind::Other),
    };
    let total = json_u64(s.get("to_examine"));
    let issued = json_u64(s.get("issued"));
    let progress = match (issued, total) {
        (Some(i), Some(t)) if t > 0 && state != ScanState::None => {
            Some((i as f64 / t as f64 * 10_000.0).round() / 100.0)
        }
        _ => None,
    };
    let start = s.get("start_time").and_then(Value::as_i64);
    let end = s.get("end_time").and_then(Value::as_i64);
    let finished = matches!(state, ScanState::Finished | ScanState::Canceled);
    let duration_secs = match (start, end) {
        (Some(a), Some(b)) if finished && b >= a => u64::try_from(b - a).ok(),
        _ => None,
    };
    Scan {
        kind,
        state,
        text: String::new(),
        progress_percent: progress,
        scanned_bytes: json_u64(s.get("examined")),
        issued_bytes: issued,
        total_bytes: total,
        repaired_bytes: json_u64(s.get("processed")),
        errors: json_u64(s.get("errors")),
        started_at: json_time(s.get("start_time")),
        ended_at: json_time(s.get("end_time")).filter(|_| finished),
        duration: None,
        duration_secs,
        eta: None,
    }
}

/// Parses `zpool status -j [--json-int]` (OpenZFS ≥ 2.3) into the same [`PoolStatus`] as the
/// text, pools in name order. Groups come from the pool's `logs`, `l2cache`, `spares`,
/// `special` and `dedup` objects; a vdev's `aux` becomes its note in the text's words
/// (`ERR_EXCEEDED` → `too many errors`). Times stay as printed, or RFC 3339 (UTC) from
/// `--json-int`.
pub fn parse_zpool_status_json(text: &str) -> Result<Vec<PoolStatus>, ParseError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc: JsonStatus = serde_json::from_str(text).map_err(|e| json_error(CMD, &e))?;
    let mut out = Vec::new();
    for (key, p) in &doc.pools {
        let mut pool = PoolStatus::named(&json_str(p.get("name")).unwrap_or_else(|| key.clone()));
        pool.state = json_str(p.get("state")).unwrap_or_default();
        pool.status = json_message(p.get("status")).filter(|s| s != "OK");
        pool.action = json_message(p.get("action"));
        pool.see = json_message(p.get("msgid"))
            .map(|id| format!("https://openzfs.github.io/openzfs-docs/msg/{id}"))
            .or_else(|| json_message(p.get("see")));
        pool.scan = p
            .get("scan_stats")
            .and_then(Value::as_object)
            .map(json_scan);
        if let Some(Value::Object(vdevs)) = p.get("vdevs") {
            for (k, v) in vdevs {
                if let Some(v) = v.as_object() {
                    pool.config.push(json_vdev(k, v, true));
                }
            }
        }
        for (group, kind) in [
            ("logs", VdevKind::Logs),
            ("l2cache", VdevKind::Cache),
            ("spares", VdevKind::Spares),
            ("special", VdevKind::Special),
            ("dedup", VdevKind::Dedup),
        ] {
            let children = json_children(p.get(group));
            if !children.is_empty() {
                pool.config.push(Vdev {
                    name: if group == "l2cache" { "cache" } else { group }.to_string(),
                    kind,
                    state: None,
                    read: None,
                    write: None,
                    cksum: None,
                    note: None,
                    children,
                });
            }
        }
        pool.error_count = json_u64(p.get("error_count"));
        if let Some(Value::Object(errs)) = p.get("errors") {
            pool.error_files = errs.keys().cloned().collect();
        }
        if pool.error_count.is_some_and(|c| c > 0) {
            pool.errors = Some(format!(
                "{} data errors",
                pool.error_count.unwrap_or_default()
            ));
        }
        out.push(pool);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
