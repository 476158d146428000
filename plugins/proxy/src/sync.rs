//! Scan and sync: reconcile a device's confs directory into its records in one remote run
//! ([`crate::listing::LIST`]) and one storage transaction. New files become records, files
//! whose hash changed are re-read and re-parsed, records of files that are gone are deleted;
//! unchanged files are not read again.

use std::collections::BTreeMap;

use infrastructor_sdk::prelude::*;
use serde::Serialize;

use crate::detect::Detection;
use crate::listing::{self, Listing};
use crate::records::{self, CONFIGS, Record, SYNCS};

/// Most conf files one device's directory may hold for a sync.
pub const MAX_FILES: usize = 1000;

/// A file that could not be recorded cleanly.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FileError {
    /// The file name.
    pub file: String,
    /// What is wrong with it.
    pub error: String,
}

/// What a scan or sync did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SyncReport {
    /// The device.
    pub device: String,
    /// The directory scanned.
    pub config_directory: String,
    /// `*.conf` files found.
    pub total_files_found: usize,
    /// Files without a record before.
    pub new_configs: usize,
    /// Files whose content changed.
    pub updated_configs: usize,
    /// Records whose file is gone.
    pub removed_configs: usize,
    /// Files unchanged since the last sync.
    pub unchanged_configs: usize,
    /// Files recorded with status `error`.
    pub errors: Vec<FileError>,
    /// Whether the records were written (`false` for a dry run).
    pub synced_to_database: bool,
    /// Wall time of the sync.
    pub sync_duration_ms: u64,
    /// When it ran (RFC 3339).
    pub synced_at: String,
}

/// The last sync of a device, remembered for the summary and listings.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LastSync {
    /// The device.
    pub device: String,
    /// The directory.
    pub config_directory: String,
    /// When (RFC 3339).
    pub synced_at: String,
}

/// Existing records of `device` (at most [`MAX_FILES`]), by file name.
pub fn existing(device: &str) -> Result<BTreeMap<String, Record>, Error> {
    let page = storage::Query::new(CONFIGS)
        .eq("device", device)
        .page(MAX_FILES as u32, 0)
        .fetch::<Record>()?;
    Ok(page
        .items
        .into_iter()
        .map(|d| (d.body.file_name.clone(), d.body))
        .collect())
}

/// Runs the listing on `device` for `confs_dir` (`only` names files, else every `*.conf`),
/// sending the hashes already known so only changed files come back with their content.
pub fn list(
    device: &str,
    confs_dir: &str,
    only: &[String],
    known: &BTreeMap<String, Record>,
) -> Result<Listing, Error> {
    let stdin: String = known
        .values()
        .filter_map(|r| {
            r.content_hash
                .as_ref()
                .map(|h| format!("{h}  {}\n", r.file_name))
        })
        .collect();
    let mut args = vec![confs_dir];
    args.extend(only.iter().map(String::as_str));
    let out = ssh::run_script(
        device,
        "list",
        &args,
        Some(stdin.as_bytes()),
        Duration::from_secs(60),
    )?;
    match out.exit_code {
        0 => Ok(listing::parse_listing(&out.stdout)),
        3 => Err(Error::not_found(format!(
            "`{confs_dir}` does not exist on `{device}`"
        ))),
        _ => Err(out
            .check("listing the confs")
            .err()
            .unwrap_or_else(|| Error::upstream("listing the confs failed"))),
    }
}

/// Reconciles `device`'s confs (all, or the files `only` names) into records; writes them
/// unless `dry_run`. Returns the report and the records as they now are.
pub fn sync(
    detection: &Detection,
    confs_dir: &str,
    only: &[String],
    dry_run: bool,
) -> Result<(SyncReport, Vec<Record>), Error> {
    let started = infrastructor_sdk::clock::Stopwatch::start();
    let device = detection.device.as_str();
    let prefix = format!("{confs_dir}/");
    let mut known = existing(device)?;
    // Records of another directory (the config dir moved) are stale: deleted by a full sync.
    let stale: Vec<String> = known
        .iter()
        .filter(|(_, r)| !r.file_path.starts_with(&prefix))
        .map(|(name, _)| name.clone())
        .collect();
    known.retain(|name, r| {
        r.file_path.starts_with(&prefix) && (only.is_empty() || only.contains(name))
    });
    let listing = list(device, confs_dir, only, &known)?;
    let files: Vec<_> = listing
        .files
        .iter()
        .filter(|f| crate::names::is_plain_file_name(&f.name) && f.name.ends_with(".conf"))
        .collect();
    if files.len() > MAX_FILES {
        return Err(Error::bad_request(format!(
            "`{confs_dir}` holds {} confs; at most {MAX_FILES} are synced",
            files.len()
        )));
    }
    let synced_at = records::now_rfc3339();
    let mut report = SyncReport {
        device: device.to_owned(),
        config_directory: confs_dir.to_owned(),
        total_files_found: files.len(),
        new_configs: 0,
        updated_configs: 0,
        removed_configs: 0,
        unchanged_configs: 0,
        errors: Vec::new(),
        synced_to_database: !dry_run,
        sync_duration_ms: 0,
        synced_at: synced_at.clone(),
    };
    let mut puts = Vec::new();
    let mut now = Vec::new();
    for file in files {
        let previous = known.get(&file.name);
        let sample = listing.sample_version(&format!("{}.sample", file.name));
        let record = Record::build(device, confs_dir, file, previous, sample, &synced_at);
        match previous {
            None => report.new_configs += 1,
            Some(p) if p.content_hash != record.content_hash => report.updated_configs += 1,
            Some(_) => report.unchanged_configs += 1,
        }
        if let Some(error) = &record.error {
            report.errors.push(FileError {
                file: file.name.clone(),
                error: error.clone(),
            });
        }
        if previous.is_none_or(|p| !records::same(p, &record)) {
            puts.push((records::record_id(device, &file.name), record.clone()));
        }
        now.push(record);
    }
    let mut removed: Vec<String> = known
        .keys()
        .filter(|name| listing.file(name).is_none())
        .map(|name| records::record_id(device, name))
        .collect();
    if only.is_empty() {
        // A stale record whose file name is listed here again is replaced by the put.
        removed.extend(
            stale
                .iter()
                .filter(|name| listing.file(name).is_none())
                .map(|name| records::record_id(device, name)),
        );
    }
    report.removed_configs = removed.len();
    if !dry_run {
        storage::apply(CONFIGS, &puts, &removed)?;
    }
    if !dry_run {
        let last = LastSync {
            device: device.to_owned(),
            config_directory: confs_dir.to_owned(),
            synced_at,
        };
        storage::put_json(SYNCS, &device.to_ascii_lowercase(), &last)?;
    }
    report.sync_duration_ms = started.elapsed_ms();
    Ok((report, now))
}
