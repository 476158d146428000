//! The conf records: one plugin-storage document per conf file of a device (collection
//! [`CONFIGS`], id `device|file`), holding what the file is (path, hash, size, mtime), what
//! the parser read from it, and whether it is older than its sample. Lists, gets and the
//! summary read these; scans and syncs write them.

use infrastructor_parsers::swag_conf::{self, SwagConf};
use infrastructor_sdk::text::rfc3339_from_micros;
use serde::{Deserialize, Serialize};

use crate::listing::ListedFile;

/// The storage collection of conf records.
pub const CONFIGS: &str = "configs";

/// The storage collection of each device's last sync.
pub const SYNCS: &str = "syncs";

/// Whether SWAG loads a conf, and whether it could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A `*.subdomain.conf` or `*.subfolder.conf` SWAG includes, read and parsed.
    Active,
    /// Another `*.conf` in the directory, which SWAG's default site does not include.
    Inactive,
    /// Not a regular file, too big, unreadable, or with syntax problems.
    Error,
}

/// One conf file of a device, as last synced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Record {
    /// The device.
    pub device: String,
    /// The file name (`nextcloud.subdomain.conf`).
    pub file_name: String,
    /// Its full path on the device.
    pub file_path: String,
    /// The service it proxies (the file name without `.subdomain.conf` etc.).
    pub service_name: String,
    /// `subdomain`, `subfolder` or `other`.
    pub conf_type: String,
    /// See [`Status`].
    pub status: Status,
    /// sha256 of the content.
    pub content_hash: Option<String>,
    /// Size in bytes.
    pub file_size: u64,
    /// Last modification (RFC 3339).
    pub modified_at: String,
    /// The `## Version` date of the conf (`2024-05-01`).
    pub version: Option<String>,
    /// The `## Version` date of its sample.
    pub sample_version: Option<String>,
    /// Whether the conf is older than its sample: SWAG updated the sample, the copy was not.
    pub outdated: bool,
    /// Every `server_name`.
    pub server_names: Vec<String>,
    /// Listened ports.
    pub listen_ports: Vec<u16>,
    /// TLS on.
    pub ssl_enabled: bool,
    /// `set $upstream_app` of the main location.
    pub upstream_app: Option<String>,
    /// `set $upstream_port`.
    pub upstream_port: Option<String>,
    /// `set $upstream_proto`.
    pub upstream_proto: Option<String>,
    /// The main location's `proxy_pass`.
    pub proxy_pass: Option<String>,
    /// `none`, `authelia`, `authentik`, `ldap`, `tinyauth`, `basic`, or several joined by `+`.
    pub auth_method: String,
    /// The parse, in full (locations, includes, problems). Left out of the schema: the API
    /// shows it only in [`ConfView::parsed`].
    #[schemars(skip)]
    pub parsed: Option<SwagConf>,
    /// Why the file is in error.
    pub error: Option<String>,
    /// When this record was last synced (RFC 3339).
    pub synced_at: String,
}

/// A conf record as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConfView {
    /// The record's fields.
    #[serde(flatten)]
    #[schemars(with = "Record")]
    pub record: serde_json::Map<String, serde_json::Value>,
    /// The parse, in full (locations, includes, problems; `null` for a file in error), where
    /// the route shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parsed: Option<Option<SwagConf>>,
    /// The file's content as read from the device now (`null` when it is gone), where asked
    /// (`include_content`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Option<String>>,
}

/// The document id of `device`'s `file`.
pub fn record_id(device: &str, file: &str) -> String {
    format!("{}|{file}", device.to_ascii_lowercase())
}

/// The current time, RFC 3339.
pub fn now_rfc3339() -> String {
    let micros =
        i64::try_from(infrastructor_sdk::clock::unix_now().as_micros()).unwrap_or(i64::MAX);
    rfc3339_from_micros(micros)
}

impl Record {
    /// A record of `file` in `confs_dir` from its parse (or its previous record when the
    /// content was not sent because the hash is unchanged).
    pub fn build(
        device: &str,
        confs_dir: &str,
        file: &ListedFile,
        previous: Option<&Record>,
        sample_version_line: Option<&str>,
        synced_at: &str,
    ) -> Record {
        let name = swag_conf::conf_name(&file.name);
        let (service_name, conf_type) = match &name {
            Some(n) => (n.service.clone(), n.kind.as_str().to_owned()),
            None => (file.name.clone(), "other".to_owned()),
        };
        let mut record = Record {
            device: device.to_owned(),
            file_name: file.name.clone(),
            file_path: format!("{confs_dir}/{}", file.name),
            service_name,
            conf_type,
            status: Status::Error,
            content_hash: file.sha256.clone(),
            file_size: file.size,
            modified_at: rfc3339_from_micros(file.mtime.saturating_mul(1_000_000)),
            version: None,
            sample_version: sample_version_line.and_then(swag_conf::header_version_date),
            outdated: false,
            server_names: Vec::new(),
            listen_ports: Vec::new(),
            ssl_enabled: false,
            upstream_app: None,
            upstream_port: None,
            upstream_proto: None,
            proxy_pass: None,
            auth_method: "none".to_owned(),
            parsed: None,
            error: None,
            synced_at: synced_at.to_owned(),
        };
        let parsed = match (&file.content, previous) {
            _ if !file.regular => {
                record.error = Some("not a regular file".to_owned());
                None
            }
            _ if file.error.is_some() => {
                record.error.clone_from(&file.error);
                None
            }
            (Some(content), _) => Some(swag_conf::parse_conf(
                &file.name,
                &String::from_utf8_lossy(content),
            )),
            (None, Some(prev)) if prev.content_hash == file.sha256 => prev.parsed.clone(),
            (None, _) => {
                record.error = Some("its content could not be read".to_owned());
                None
            }
        };
        if let Some(conf) = parsed {
            record.apply_parse(conf);
        }
        record
    }

    fn apply_parse(&mut self, conf: SwagConf) {
        self.version.clone_from(&conf.version_date);
        self.outdated = match (&self.version, &self.sample_version) {
            (Some(mine), Some(sample)) => mine < sample,
            _ => false,
        };
        self.server_names.clone_from(&conf.server_names);
        self.listen_ports.clone_from(&conf.listen_ports);
        self.ssl_enabled = conf.ssl_enabled;
        self.upstream_app.clone_from(&conf.upstream_app);
        self.upstream_port.clone_from(&conf.upstream_port);
        self.upstream_proto.clone_from(&conf.upstream_proto);
        self.proxy_pass.clone_from(&conf.proxy_pass);
        self.auth_method.clone_from(&conf.auth_method);
        self.status = if !conf.problems.is_empty() {
            self.error = Some(conf.problems.join("; "));
            Status::Error
        } else if self.conf_type == "other" {
            Status::Inactive
        } else {
            Status::Active
        };
        self.parsed = Some(conf);
    }

    /// The record as the API shows it: without the full parse unless `full`.
    pub fn view(&self, full: bool) -> ConfView {
        let mut record = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        record.remove("parsed");
        ConfView {
            record,
            parsed: full.then(|| self.parsed.clone()),
            content: None,
        }
    }
}

/// Whether `a` and `b` describe the same file state (everything but the sync time).
pub fn same(a: &Record, b: &Record) -> bool {
    Record {
        synced_at: String::new(),
        ..a.clone()
    } == Record {
        synced_at: String::new(),
        ..b.clone()
    }
}
