//! The device registry (`devices` table).
//!
//! Hostnames are the public key of a device: stored trimmed and lower-case, looked up
//! case-insensitively (the argument is lower-cased too). Deleting a device deletes its
//! snapshot and audit history in the same statement (`ON DELETE CASCADE`).

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{
    FromSql, FromSqlError, FromSqlResult, ToSqlOutput, Value as SqlValue, ValueRef,
};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, named_params, params_from_iter};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::is_unique_violation;
use crate::{StoreError, json_column, normalize_ts, now_rfc3339, sql_limit};

/// Default `device_type` of a new device.
pub const DEFAULT_DEVICE_TYPE: &str = "server";

/// Longest accepted hostname (DNS limit).
pub const MAX_HOSTNAME_LEN: usize = 253;

/// Reachability state of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// Answered the last probe.
    Online,
    /// Did not answer the last probe.
    Offline,
    /// Never probed (the default).
    #[default]
    Unknown,
    /// Taken out of service by an operator.
    Maintenance,
}

impl DeviceStatus {
    /// Every status, in declaration order.
    pub const ALL: [DeviceStatus; 4] = [
        DeviceStatus::Online,
        DeviceStatus::Offline,
        DeviceStatus::Unknown,
        DeviceStatus::Maintenance,
    ];

    /// The stored (and serialized) name: `online`, `offline`, `unknown`, `maintenance`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Online => "online",
            DeviceStatus::Offline => "offline",
            DeviceStatus::Unknown => "unknown",
            DeviceStatus::Maintenance => "maintenance",
        }
    }
}

impl fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceStatus {
    type Err = StoreError;

    /// Parses a status name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "status must be one of online, offline, unknown, maintenance (got '{s}')"
                ))
            })
    }
}

impl ToSql for DeviceStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for DeviceStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        s.parse()
            .map_err(|e: StoreError| FromSqlError::Other(Box::new(e)))
    }
}

/// A registered device: every column of `devices`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Stable id (uuid v4).
    pub id: String,
    /// Lower-case hostname, unique.
    pub hostname: String,
    /// Address to connect to instead of resolving the hostname.
    pub ip_address: Option<String>,
    /// SSH port (default of the SSH layer when `None`).
    pub ssh_port: Option<u16>,
    /// SSH user (default of the SSH layer when `None`).
    pub ssh_username: Option<String>,
    /// Private key file for this device.
    pub ssh_identity_file: Option<String>,
    /// Free-form kind, `server` by default.
    pub device_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Free text (rack, room, site).
    pub location: Option<String>,
    /// JSON object of tags (analysis results, import markers, user tags).
    pub tags: Value,
    /// Whether the background poller collects from this device.
    pub monitoring_enabled: bool,
    /// Last known reachability.
    pub status: DeviceStatus,
    /// When the device last answered (RFC 3339 UTC).
    pub last_seen: Option<String>,
    /// Creation time (RFC 3339 UTC).
    pub created_at: String,
    /// Last change through [`create`]/[`update`] (RFC 3339 UTC); status changes do not bump it.
    pub updated_at: String,
    /// JSON object of plugin-specific settings (e.g. `{"glances": {"port": 61208}}`).
    pub extra: Value,
}

/// Fields of a device for [`create`] and [`update`]. Every field is optional: `update` changes
/// only the fields that are `Some`. Nullable columns are `Option<Option<T>>`: `Some(None)` sets
/// them to NULL; when deserializing, an absent key is `None` and `null` is `Some(None)`.
/// Empty strings in nullable text fields are stored as NULL.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DeviceFields {
    /// Hostname; required by `create`; renames on `update`. Trimmed and lower-cased.
    pub hostname: Option<String>,
    /// See [`Device::ip_address`].
    #[serde(deserialize_with = "double_option")]
    pub ip_address: Option<Option<String>>,
    /// See [`Device::ssh_port`]; 0 is rejected.
    #[serde(deserialize_with = "double_option")]
    pub ssh_port: Option<Option<u16>>,
    /// See [`Device::ssh_username`].
    #[serde(deserialize_with = "double_option")]
    pub ssh_username: Option<Option<String>>,
    /// See [`Device::ssh_identity_file`].
    #[serde(deserialize_with = "double_option")]
    pub ssh_identity_file: Option<Option<String>>,
    /// See [`Device::device_type`]; must not be empty.
    pub device_type: Option<String>,
    /// See [`Device::description`].
    #[serde(deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    /// See [`Device::location`].
    #[serde(deserialize_with = "double_option")]
    pub location: Option<Option<String>>,
    /// See [`Device::tags`]; must be a JSON object; replaces the whole object.
    pub tags: Option<Value>,
    /// See [`Device::monitoring_enabled`].
    pub monitoring_enabled: Option<bool>,
    /// See [`Device::status`].
    pub status: Option<DeviceStatus>,
    /// See [`Device::extra`]; must be a JSON object; replaces the whole object.
    pub extra: Option<Value>,
}

/// `absent` → `None` (with `#[serde(default)]`), `null` → `Some(None)`, value → `Some(Some(v))`.
fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Filters for [`list`]. `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DeviceFilter {
    /// Exact device type.
    pub device_type: Option<String>,
    /// Exact status.
    pub status: Option<DeviceStatus>,
    /// Monitoring flag.
    pub monitoring_enabled: Option<bool>,
    /// Case-insensitive (ASCII) substring of the location.
    pub location: Option<String>,
    /// Case-insensitive (ASCII) substring of the hostname or the description.
    pub search: Option<String>,
    /// Page size; `None` returns every match.
    pub limit: Option<u32>,
    /// Rows to skip (after ordering by hostname).
    pub offset: u32,
}

/// The columns every query returns, in [`from_row`]'s order (a macro, so that the queries
/// run on every request are whole `&'static str`s built at compile time).
macro_rules! columns {
    () => {
        "id, hostname, ip_address, ssh_port, ssh_username, ssh_identity_file, \
         device_type, description, location, tags, monitoring_enabled, status, last_seen, \
         created_at, updated_at, extra"
    };
}
const COLUMNS: &str = columns!();

fn from_row(r: &Row<'_>) -> rusqlite::Result<Device> {
    let port: Option<i64> = r.get(3)?;
    Ok(Device {
        id: r.get(0)?,
        hostname: r.get(1)?,
        ip_address: r.get(2)?,
        ssh_port: port
            .map(|p| u16::try_from(p).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(3, p)))
            .transpose()?,
        ssh_username: r.get(4)?,
        ssh_identity_file: r.get(5)?,
        device_type: r.get(6)?,
        description: r.get(7)?,
        location: r.get(8)?,
        tags: json_column(r, 9)?,
        monitoring_enabled: r.get(10)?,
        status: r.get(11)?,
        last_seen: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        extra: json_column(r, 15)?,
    })
}

/// Trims and lower-cases a hostname; rejects empty, over-long and whitespace/control content.
pub fn normalize_hostname(hostname: &str) -> Result<String, StoreError> {
    let h = hostname.trim().to_lowercase();
    if h.is_empty() {
        return Err(StoreError::Invalid("hostname must not be empty".into()));
    }
    if h.len() > MAX_HOSTNAME_LEN {
        return Err(StoreError::Invalid(format!(
            "hostname must be at most {MAX_HOSTNAME_LEN} characters"
        )));
    }
    if h.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(StoreError::Invalid(
            "hostname must not contain whitespace or control characters".into(),
        ));
    }
    Ok(h)
}

/// Lookup key: lower-cased, trimmed (no validation: an invalid name simply matches nothing).
fn key(hostname: &str) -> String {
    hostname.trim().to_lowercase()
}

/// Validated, normalized form of [`DeviceFields`] ready for binding.
struct Checked {
    hostname: Option<String>,
    ip_address: Option<Option<String>>,
    ssh_port: Option<Option<i64>>,
    ssh_username: Option<Option<String>>,
    ssh_identity_file: Option<Option<String>>,
    device_type: Option<String>,
    description: Option<Option<String>>,
    location: Option<Option<String>>,
    tags: Option<String>,
    monitoring_enabled: Option<bool>,
    status: Option<DeviceStatus>,
    extra: Option<String>,
}

fn check(fields: DeviceFields) -> Result<Checked, StoreError> {
    fn text(v: Option<Option<String>>) -> Option<Option<String>> {
        v.map(|inner| inner.filter(|s| !s.is_empty()))
    }
    fn object(v: Option<Value>, what: &str) -> Result<Option<String>, StoreError> {
        match v {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(serde_json::to_string(&v)?)),
            Some(_) => Err(StoreError::Invalid(format!("{what} must be a JSON object"))),
        }
    }
    let ssh_port = match fields.ssh_port {
        Some(Some(0)) => {
            return Err(StoreError::Invalid(
                "ssh_port must be between 1 and 65535".into(),
            ));
        }
        other => other.map(|p| p.map(i64::from)),
    };
    let device_type = match fields.device_type {
        Some(t) if t.trim().is_empty() => {
            return Err(StoreError::Invalid("device_type must not be empty".into()));
        }
        other => other,
    };
    // Fields that end up in SSH settings or one-line displays: no control characters (a
    // newline or NUL in a user name or key path is never meant), no `;` in those two.
    for (what, value, no_semicolon) in [
        ("ip_address", &fields.ip_address, true),
        ("ssh_username", &fields.ssh_username, true),
        ("ssh_identity_file", &fields.ssh_identity_file, true),
        ("location", &fields.location, false),
    ] {
        if let Some(Some(v)) = value
            && (v.chars().any(char::is_control) || (no_semicolon && v.contains(';')))
        {
            return Err(StoreError::Invalid(format!(
                "{what} must not contain control characters{}",
                if no_semicolon { " or `;`" } else { "" }
            )));
        }
    }
    Ok(Checked {
        hostname: fields
            .hostname
            .as_deref()
            .map(normalize_hostname)
            .transpose()?,
        ip_address: text(fields.ip_address),
        ssh_port,
        ssh_username: text(fields.ssh_username),
        ssh_identity_file: text(fields.ssh_identity_file),
        device_type,
        description: text(fields.description),
        location: text(fields.location),
        tags: object(fields.tags, "tags")?,
        monitoring_enabled: fields.monitoring_enabled,
        status: fields.status,
        extra: object(fields.extra, "extra")?,
    })
}

/// The device with this hostname (case-insensitive), if any.
pub fn get(conn: &Connection, hostname: &str) -> Result<Option<Device>, StoreError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM devices WHERE hostname = ?1");
    Ok(conn
        .prepare_cached(SQL)?
        .query_row([key(hostname)], from_row)
        .optional()?)
}

/// The device with this id, if any.
pub fn get_by_id(conn: &Connection, id: &str) -> Result<Option<Device>, StoreError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM devices WHERE id = ?1");
    Ok(conn
        .prepare_cached(SQL)?
        .query_row([id], from_row)
        .optional()?)
}

/// One page of devices matching `filter`, ordered by hostname, and the total number of matches
/// (ignoring `limit`/`offset`).
pub fn list(conn: &Connection, filter: &DeviceFilter) -> Result<(Vec<Device>, u64), StoreError> {
    let mut clauses: Vec<&'static str> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(t) = &filter.device_type {
        clauses.push("device_type = ?");
        args.push(SqlValue::Text(t.clone()));
    }
    if let Some(s) = filter.status {
        clauses.push("status = ?");
        args.push(SqlValue::Text(s.as_str().to_owned()));
    }
    if let Some(m) = filter.monitoring_enabled {
        clauses.push("monitoring_enabled = ?");
        args.push(SqlValue::Integer(i64::from(m)));
    }
    if let Some(l) = &filter.location {
        clauses.push("instr(lower(coalesce(location, '')), lower(?)) > 0");
        args.push(SqlValue::Text(l.clone()));
    }
    if let Some(q) = &filter.search {
        clauses.push(
            "(instr(lower(hostname), lower(?)) > 0 \
              OR instr(lower(coalesce(description, '')), lower(?)) > 0)",
        );
        args.push(SqlValue::Text(q.clone()));
        args.push(SqlValue::Text(q.clone()));
    }
    let where_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };

    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM devices{where_sql}"))?
        .query_row(params_from_iter(args.iter()), |r| r.get(0))?;

    args.push(SqlValue::Integer(sql_limit(filter.limit)));
    args.push(SqlValue::Integer(i64::from(filter.offset)));
    let sql =
        format!("SELECT {COLUMNS} FROM devices{where_sql} ORDER BY hostname LIMIT ? OFFSET ?");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// Registers a device. `hostname` is required (trimmed, lower-cased); unset fields take the
/// column defaults (`device_type` `server`, empty `tags`/`extra`, monitoring on, status
/// `unknown`). A taken hostname is [`StoreError::Conflict`].
pub fn create(conn: &Connection, fields: DeviceFields) -> Result<Device, StoreError> {
    let c = check(fields)?;
    let hostname = c
        .hostname
        .ok_or_else(|| StoreError::Invalid("hostname is required".into()))?;
    let now = now_rfc3339();
    let sql = format!(
        "INSERT INTO devices ({COLUMNS}) VALUES \
         (:id, :hostname, :ip, :port, :user, :identity, :type, :description, :location, \
          :tags, :monitoring, :status, NULL, :now, :now, :extra) \
         RETURNING {COLUMNS}"
    );
    let result = conn.prepare_cached(&sql)?.query_row(
        named_params! {
            ":id": uuid::Uuid::new_v4().to_string(),
            ":hostname": hostname,
            ":ip": c.ip_address.flatten(),
            ":port": c.ssh_port.flatten(),
            ":user": c.ssh_username.flatten(),
            ":identity": c.ssh_identity_file.flatten(),
            ":type": c.device_type.as_deref().unwrap_or(DEFAULT_DEVICE_TYPE),
            ":description": c.description.flatten(),
            ":location": c.location.flatten(),
            ":tags": c.tags.as_deref().unwrap_or("{}"),
            ":monitoring": c.monitoring_enabled.unwrap_or(true),
            ":status": c.status.unwrap_or_default(),
            ":now": now,
            ":extra": c.extra.as_deref().unwrap_or("{}"),
        },
        from_row,
    );
    result.map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("device '{hostname}' already exists"))
        } else {
            e.into()
        }
    })
}

/// Changes the fields of `fields` that are `Some` (in one statement) and bumps `updated_at`.
/// [`StoreError::NotFound`] when no device has `hostname`; [`StoreError::Conflict`] when a
/// rename hits another device's hostname.
pub fn update(
    conn: &Connection,
    hostname: &str,
    fields: DeviceFields,
) -> Result<Device, StoreError> {
    let c = check(fields)?;
    let new_name = c.hostname.clone();
    let sql = format!(
        "UPDATE devices SET \
           hostname = coalesce(:hostname, hostname), \
           ip_address = CASE WHEN :set_ip THEN :ip ELSE ip_address END, \
           ssh_port = CASE WHEN :set_port THEN :port ELSE ssh_port END, \
           ssh_username = CASE WHEN :set_user THEN :user ELSE ssh_username END, \
           ssh_identity_file = CASE WHEN :set_identity THEN :identity ELSE ssh_identity_file END, \
           device_type = coalesce(:type, device_type), \
           description = CASE WHEN :set_description THEN :description ELSE description END, \
           location = CASE WHEN :set_location THEN :location ELSE location END, \
           tags = coalesce(:tags, tags), \
           monitoring_enabled = coalesce(:monitoring, monitoring_enabled), \
           status = coalesce(:status, status), \
           extra = coalesce(:extra, extra), \
           updated_at = :now \
         WHERE hostname = :key \
         RETURNING {COLUMNS}"
    );
    let key = key(hostname);
    let result = conn
        .prepare_cached(&sql)?
        .query_row(
            named_params! {
                ":key": key,
                ":hostname": c.hostname,
                ":set_ip": c.ip_address.is_some(),
                ":ip": c.ip_address.flatten(),
                ":set_port": c.ssh_port.is_some(),
                ":port": c.ssh_port.flatten(),
                ":set_user": c.ssh_username.is_some(),
                ":user": c.ssh_username.flatten(),
                ":set_identity": c.ssh_identity_file.is_some(),
                ":identity": c.ssh_identity_file.flatten(),
                ":type": c.device_type,
                ":set_description": c.description.is_some(),
                ":description": c.description.flatten(),
                ":set_location": c.location.is_some(),
                ":location": c.location.flatten(),
                ":tags": c.tags,
                ":monitoring": c.monitoring_enabled,
                ":status": c.status,
                ":extra": c.extra,
                ":now": now_rfc3339(),
            },
            from_row,
        )
        .optional();
    match result {
        Ok(Some(device)) => Ok(device),
        Ok(None) => Err(StoreError::NotFound(format!("device '{key}' not found"))),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "device '{}' already exists",
            new_name.unwrap_or_default()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the device and, through `ON DELETE CASCADE`, its snapshots and audit rows, in one
/// statement. Returns whether a device was deleted.
pub fn delete(conn: &Connection, hostname: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM devices WHERE hostname = ?1")?
        .execute([key(hostname)])?;
    Ok(n > 0)
}

/// Records a reachability observation: sets `status` and, when given, `last_seen` (any RFC 3339
/// timestamp, stored normalized; `None` keeps the previous value). Does not bump `updated_at`.
/// Returns whether the device exists.
pub fn set_status(
    conn: &Connection,
    hostname: &str,
    status: DeviceStatus,
    last_seen: Option<&str>,
) -> Result<bool, StoreError> {
    let last_seen = last_seen
        .map(|t| normalize_ts(t, "last_seen"))
        .transpose()?;
    let n = conn
        .prepare_cached(
            "UPDATE devices SET status = ?1, last_seen = coalesce(?2, last_seen) \
             WHERE hostname = ?3",
        )?
        .execute(rusqlite::params![status, last_seen, key(hostname)])?;
    Ok(n > 0)
}

/// Devices with monitoring enabled, ordered by hostname (for the background poller).
pub fn monitored(conn: &Connection) -> Result<Vec<Device>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM devices WHERE monitoring_enabled = 1 ORDER BY hostname"
    );
    let mut stmt = conn.prepare_cached(SQL)?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every registered device, ordered by hostname (for metrics: the targets they name and
/// their statuses).
pub fn all(conn: &Connection) -> Result<Vec<Device>, StoreError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM devices ORDER BY hostname");
    let mut stmt = conn.prepare_cached(SQL)?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
