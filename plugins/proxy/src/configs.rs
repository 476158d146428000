//! Reading confs: the list and one conf from the records (synced from the device first when
//! it was never synced, or when `live=true`), a conf's content, a sync of one service, and
//! the diff of a conf against its sample.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::detect::{self, Detection};
use crate::names::{self, ConfType};
use crate::records::{CONFIGS, ConfView, Record, SYNCS, Status};
use crate::remote;
use crate::sync::{self, LastSync, SyncReport};

/// A page of conf records (`GET /configs`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfPage {
    /// The page's records (without the full parse), ordered by file name.
    pub items: Vec<ConfView>,
    /// Records matching the filters.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// Records per page.
    pub page_size: u32,
    /// Pages in all.
    pub total_pages: u64,
    /// The sync run first (`live`, or nothing synced yet); `null` otherwise.
    pub live_sync: Option<SyncReport>,
}

/// The answer of `POST /configs/{service_name}/sync`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncOne {
    /// What the sync did.
    pub sync: SyncReport,
    /// The service's records after it.
    pub configs: Vec<ConfView>,
}

/// A conf compared with its sample (`GET /configs/{service_name}/diff`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfDiff {
    /// The device.
    pub device: String,
    /// The conf file.
    pub file: String,
    /// Its sample.
    pub sample: String,
    /// The conf's `## Version` date.
    pub version: Option<String>,
    /// The sample's `## Version` date.
    pub sample_version: Option<String>,
    /// Whether the conf is older than its sample.
    pub outdated: bool,
    /// Lines only in the conf.
    pub lines_only_in_conf: usize,
    /// Lines only in the sample.
    pub lines_only_in_sample: usize,
    /// The unified diff, conf to sample.
    pub diff: String,
}

/// Filters and paging of `GET /configs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The device; absent = every device's records (or the detected SWAG device when nothing
    /// was synced yet).
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
    /// Only this service.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"))]
    pub service_name: Option<String>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this type.
    pub conf_type: Option<ConfType>,
    /// Only confs with (or without) TLS.
    pub ssl_enabled: Option<bool>,
    /// Only confs older (or not) than their sample.
    pub outdated: Option<bool>,
    /// Page size.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: u32,
    /// Records to skip.
    #[serde(default)]
    #[schemars(range(max = 1000000))]
    pub offset: u32,
    /// Sync from the device first.
    #[serde(default)]
    pub live: bool,
}

fn default_limit() -> u32 {
    100
}

/// The device and service a one-conf route is about.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneQuery {
    /// The device; absent = the detected SWAG device.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
    /// `subdomain` or `subfolder`; absent = the subdomain conf, else the subfolder one.
    pub conf_type: Option<ConfType>,
    /// Include the file's content (read from the device).
    #[serde(default = "yes")]
    pub include_content: bool,
    /// Sync this conf from the device first.
    #[serde(default)]
    pub live: bool,
}

fn yes() -> bool {
    true
}

/// The candidate file names of `service` (one type, or both in SWAG's order).
pub fn candidates(service: &str, conf_type: Option<ConfType>) -> Vec<String> {
    match conf_type {
        Some(t) => vec![t.conf_file(service)],
        None => ConfType::ALL.iter().map(|t| t.conf_file(service)).collect(),
    }
}

fn service(req: &Request) -> Result<String, Error> {
    let s = req.path("service_name")?;
    if !names::is_service(s) {
        return Err(Error::bad_request(format!("`{s}` is not a service name")));
    }
    Ok(s.to_owned())
}

fn was_synced(device: &str) -> Result<bool, Error> {
    Ok(storage::get_json::<LastSync>(SYNCS, &device.to_ascii_lowercase())?.is_some())
}

/// `GET /configs`.
pub fn list(req: &Request) -> Result<Response, Error> {
    let q: ListQuery = req.query()?;
    let mut synced = None;
    let device = match &q.device {
        Some(d) if q.live || !was_synced(d)? => {
            let detection = detect::locate(Some(d))?;
            let dir = remote::confs_dir(&detection)?;
            synced = Some(sync::sync(&detection, &dir, &[], false)?.0);
            Some(detection.device)
        }
        Some(d) => Some(d.clone()),
        None if q.live || storage::Query::new(SYNCS).count()? == 0 => {
            let detection = detect::locate(None)?;
            let dir = remote::confs_dir(&detection)?;
            synced = Some(sync::sync(&detection, &dir, &[], false)?.0);
            None
        }
        None => None,
    };
    let mut query = storage::Query::new(CONFIGS)
        .order_by("file_name", false)
        .page(q.limit, q.offset);
    if let Some(d) = &device {
        query = query.eq("device", d);
    }
    if let Some(s) = &q.service_name {
        query = query.eq("service_name", s);
    }
    if let Some(s) = q.status {
        query = query.eq("status", s);
    }
    if let Some(t) = q.conf_type {
        query = query.eq("conf_type", t);
    }
    if let Some(b) = q.ssl_enabled {
        query = query.eq("ssl_enabled", b);
    }
    if let Some(b) = q.outdated {
        query = query.eq("outdated", b);
    }
    let page = query.fetch::<Record>()?;
    let total_pages = page.total.div_ceil(u64::from(q.limit));
    Ok(Json(ConfPage {
        items: page.items.iter().map(|d| d.body.view(false)).collect(),
        total: page.total,
        page: q.offset / q.limit + 1,
        page_size: q.limit,
        total_pages,
        live_sync: synced,
    })
    .into())
}

/// The records of `service` on `device`, synced from the device first when asked or absent.
fn records_of(
    detection: &Detection,
    service: &str,
    conf_type: Option<ConfType>,
    live: bool,
) -> Result<Vec<Record>, Error> {
    let files = candidates(service, conf_type);
    let mut found = stored(&detection.device, &files)?;
    if live || found.is_empty() {
        let dir = remote::confs_dir(detection)?;
        sync::sync(detection, &dir, &files, false)?;
        found = stored(&detection.device, &files)?;
    }
    Ok(found)
}

fn stored(device: &str, files: &[String]) -> Result<Vec<Record>, Error> {
    let mut out = Vec::new();
    for f in files {
        if let Some(d) =
            storage::get_json::<Record>(CONFIGS, &crate::records::record_id(device, f))?
        {
            out.push(d.body);
        }
    }
    Ok(out)
}

/// `GET /configs/{service_name}`.
pub fn get(req: &Request) -> Result<Response, Error> {
    let service = service(req)?;
    let q: OneQuery = req.query()?;
    let detection = detect::locate(q.device.as_deref())?;
    let records = records_of(&detection, &service, q.conf_type, q.live)?;
    let Some(record) = records.into_iter().next() else {
        return Err(Error::not_found(format!(
            "no conf for `{service}` on `{}`",
            detection.device
        )));
    };
    let mut view = record.view(true);
    if q.include_content {
        let dir = remote::confs_dir(&detection)?;
        let file = remote::read_first(
            &detection.device,
            &dir,
            std::slice::from_ref(&record.file_name),
        )?;
        view.content = Some(file.map(|f| f.content));
    }
    Ok(Json(view).into())
}

/// `GET /configs/{service_name}/content`.
pub fn content(req: &Request) -> Result<Response, Error> {
    let service = service(req)?;
    let q: OneQuery = req.query()?;
    let detection = detect::locate(q.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    match remote::read_first(&detection.device, &dir, &candidates(&service, q.conf_type))? {
        Some(file) => Ok(Response::text(file.content).header("x-conf-file", &file.name)),
        None => Err(Error::not_found(format!(
            "no conf for `{service}` in `{dir}` on `{}`",
            detection.device
        ))),
    }
}

/// `POST /configs/{service_name}/sync`.
pub fn sync_one(req: &Request) -> Result<Response, Error> {
    let service = service(req)?;
    let q: OneQuery = req.query()?;
    let detection = detect::locate(q.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    let files = candidates(&service, q.conf_type);
    let (report, records) = sync::sync(&detection, &dir, &files, false)?;
    if records.is_empty() && report.removed_configs == 0 {
        return Err(Error::not_found(format!(
            "no conf for `{service}` in `{dir}` on `{}`",
            detection.device
        )));
    }
    Ok(Json(SyncOne {
        sync: report,
        configs: records.iter().map(|r| r.view(true)).collect(),
    })
    .into())
}

/// `GET /configs/{service_name}/diff`.
pub fn diff(req: &Request) -> Result<Response, Error> {
    let service = service(req)?;
    let q: OneQuery = req.query()?;
    let detection = detect::locate(q.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    let Some(conf) =
        remote::read_first(&detection.device, &dir, &candidates(&service, q.conf_type))?
    else {
        return Err(Error::not_found(format!(
            "no conf for `{service}` on `{}`",
            detection.device
        )));
    };
    let sample_name = format!("{}.sample", conf.name);
    let Some(sample) =
        remote::read_first(&detection.device, &dir, std::slice::from_ref(&sample_name))?
    else {
        return Err(Error::not_found(format!(
            "`{}` has no sample `{sample_name}` to compare with",
            conf.name
        )));
    };
    let mine = infrastructor_parsers::swag_conf::parse_conf(&conf.name, &conf.content);
    let theirs = infrastructor_parsers::swag_conf::parse_conf(&sample_name, &sample.content);
    let diff = similar::TextDiff::from_lines(&conf.content, &sample.content);
    let (mut added, mut removed) = (0usize, 0usize);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .header(&conf.name, &sample_name)
        .to_string();
    let outdated =
        matches!((&mine.version_date, &theirs.version_date), (Some(a), Some(b)) if a < b);
    Ok(Json(ConfDiff {
        device: detection.device,
        file: conf.name,
        sample: sample_name,
        version: mine.version_date,
        sample_version: theirs.version_date,
        outdated,
        lines_only_in_conf: removed,
        lines_only_in_sample: added,
        diff: unified,
    })
    .into())
}
