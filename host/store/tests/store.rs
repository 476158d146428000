//! Integration tests of the storage layer against real SQLite files in temp directories.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::PathBuf;

use infrastructor_store::audit::{self, AuditEntry, AuditFilter, AuditStatus};
use infrastructor_store::devices::{self, DeviceFields, DeviceFilter, DeviceStatus};
use infrastructor_store::documents;
use infrastructor_store::migrations::{self, Migration};
use infrastructor_store::rusqlite::Connection;
use infrastructor_store::snapshots::{self, NewSnapshot};
use infrastructor_store::{Store, StoreError, now_rfc3339};
use serde_json::json;
use tempfile::TempDir;

fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data/infra.db")).unwrap();
    (dir, store)
}

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("data/infra.db")
}

fn fields(hostname: &str) -> DeviceFields {
    DeviceFields {
        hostname: Some(hostname.to_owned()),
        ..DeviceFields::default()
    }
}

fn snap(target: &str, key: &str, at: &str, n: i64) -> NewSnapshot {
    NewSnapshot {
        plugin: "containers".into(),
        data_type: "list".into(),
        target: target.into(),
        cache_key: key.into(),
        collected_at: Some(at.into()),
        duration_ms: 12,
        data: serde_json::value::to_raw_value(&json!({ "n": n })).expect("json"),
    }
}

fn entry(target: &str, status: AuditStatus) -> AuditEntry {
    AuditEntry {
        plugin: "containers".into(),
        data_type: "list".into(),
        target: target.into(),
        cache_key: format!("containers:list:{target}"),
        started_at: None,
        duration_ms: 5,
        cache_hit: false,
        force_refresh: true,
        status,
        error: (status == AuditStatus::Error).then(|| "ssh: connection refused".to_owned()),
        size_bytes: 42,
        requester: Some("poller".into()),
    }
}

fn count_rows(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Open, pragmas, migrations

#[test]
fn open_creates_parent_dir_and_sets_pragmas() {
    let (dir, store) = temp_store();
    assert!(db_path(&dir).exists());
    assert_eq!(store.file_name(), "infra.db");
    store
        .with_conn(|conn| {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
            let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            let busy: i64 = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?;
            assert_eq!(mode, "wal");
            assert_eq!(fk, 1);
            assert_eq!(sync, 1, "NORMAL");
            assert_eq!(busy, 5000);
            Ok(())
        })
        .unwrap();
}

#[test]
fn migrations_are_recorded_and_reopening_is_a_noop() {
    let (dir, store) = temp_store();
    let before = store.applied_migrations().unwrap();
    assert!(!before.is_empty());
    assert_eq!(before[0].version, 1);
    assert_eq!(before[0].name, "0001_init.sql");
    assert_eq!(before[0].checksum, migrations::embedded()[0].checksum());
    assert_eq!(before.len(), migrations::embedded().len());
    drop(store);

    let again = Store::open(&db_path(&dir)).unwrap();
    assert_eq!(again.applied_migrations().unwrap(), before);
    // Applying explicitly on a live connection is a no-op too.
    let applied_now = again
        .with_conn(|conn| migrations::apply(conn, migrations::embedded()))
        .unwrap();
    assert!(applied_now.is_empty());
    assert_eq!(again.applied_migrations().unwrap(), before);
}

#[test]
fn changed_checksum_is_an_error_naming_the_file() {
    let (dir, store) = temp_store();
    store
        .with_conn(|conn| {
            conn.execute(
                "UPDATE schema_migrations SET checksum = 'deadbeef' WHERE version = 1",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    drop(store);
    let err = Store::open(&db_path(&dir)).unwrap_err();
    match &err {
        StoreError::Migration { file, message } => {
            assert_eq!(file, "0001_init.sql");
            assert!(message.contains("checksum mismatch"), "{message}");
        }
        other => panic!("expected a migration error, got {other:?}"),
    }
    assert!(err.to_string().contains("0001_init.sql"));
}

#[test]
fn custom_migration_lists_apply_in_order_and_detect_edits() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("m.db")).unwrap();
    let v1 = Migration {
        version: 1,
        name: "0001_a.sql",
        sql: "CREATE TABLE a (x INTEGER);",
    };
    let v2 = Migration {
        version: 2,
        name: "0002_b.sql",
        sql: "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1);",
    };
    // Out-of-order input is applied in version order.
    assert_eq!(migrations::apply(&mut conn, &[v2, v1]).unwrap(), vec![1, 2]);
    assert!(migrations::apply(&mut conn, &[v1, v2]).unwrap().is_empty());
    assert_eq!(count_rows(&conn, "a"), 1, "0002 ran once");

    let edited = Migration {
        sql: "CREATE TABLE b (y TEXT);",
        ..v2
    };
    let err = migrations::apply(&mut conn, &[v1, edited]).unwrap_err();
    assert!(matches!(err, StoreError::Migration { ref file, .. } if file == "0002_b.sql"));

    // A version the build does not know is refused, naming the recorded file.
    let err = migrations::apply(&mut conn, &[v1]).unwrap_err();
    assert!(matches!(err, StoreError::Migration { ref file, .. } if file == "0002_b.sql"));

    // A failing script is rolled back and names its file; nothing is recorded.
    let broken = Migration {
        version: 3,
        name: "0003_broken.sql",
        sql: "CREATE TABLE c (z INTEGER); CREATE TABLOID d;",
    };
    let err = migrations::apply(&mut conn, &[v1, v2, broken]).unwrap_err();
    assert!(matches!(err, StoreError::Migration { ref file, .. } if file == "0003_broken.sql"));
    let c_exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'c')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!c_exists, "partial migration rolled back");
    assert_eq!(migrations::applied(&conn).unwrap().len(), 2);
}

#[test]
fn timestamps_are_rfc3339_utc_millis() {
    let t = now_rfc3339();
    assert_eq!(t.len(), "2024-05-01T12:00:00.000Z".len(), "{t}");
    assert!(t.ends_with('Z'));
    assert_eq!(&t[19..20], ".");
    assert_eq!(
        infrastructor_store::normalize_ts("2024-05-01T14:00:00+02:00", "t").unwrap(),
        "2024-05-01T12:00:00.000Z"
    );
    assert!(matches!(
        infrastructor_store::normalize_ts("yesterday", "t"),
        Err(StoreError::Invalid(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Devices

#[test]
fn device_crud() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            let created = devices::create(
                conn,
                DeviceFields {
                    hostname: Some("  Web1.Example.COM ".into()),
                    ip_address: Some(Some("10.0.0.5".into())),
                    ssh_port: Some(Some(2222)),
                    tags: Some(json!({"env": "prod"})),
                    extra: Some(json!({"glances": {"port": 61208}})),
                    ..DeviceFields::default()
                },
            )?;
            assert_eq!(created.hostname, "web1.example.com");
            assert_eq!(created.id.len(), 36);
            assert_eq!(created.device_type, "server");
            assert_eq!(created.status, DeviceStatus::Unknown);
            assert!(created.monitoring_enabled);
            assert_eq!(created.ssh_port, Some(2222));
            assert_eq!(created.tags, json!({"env": "prod"}));
            assert_eq!(created.extra["glances"]["port"], 61208);
            assert_eq!(created.created_at, created.updated_at);
            assert!(created.last_seen.is_none());

            let got = devices::get(conn, "WEB1.example.com")?.unwrap();
            assert_eq!(got, created);
            assert_eq!(devices::get_by_id(conn, &created.id)?.unwrap(), created);
            assert!(devices::get(conn, "nope")?.is_none());

            // Serializes with lower-case status and JSON objects inline.
            let v = serde_json::to_value(&got)?;
            assert_eq!(v["status"], "unknown");
            assert_eq!(v["tags"]["env"], "prod");

            assert!(devices::set_status(
                conn,
                "web1.example.com",
                DeviceStatus::Online,
                Some("2024-05-01T14:00:00+02:00"),
            )?);
            let d = devices::get(conn, "web1.example.com")?.unwrap();
            assert_eq!(d.status, DeviceStatus::Online);
            assert_eq!(d.last_seen.as_deref(), Some("2024-05-01T12:00:00.000Z"));
            assert_eq!(d.updated_at, created.updated_at, "status is not an edit");
            // None keeps last_seen.
            assert!(devices::set_status(
                conn,
                "web1.example.com",
                DeviceStatus::Offline,
                None
            )?);
            let d = devices::get(conn, "web1.example.com")?.unwrap();
            assert_eq!(d.last_seen.as_deref(), Some("2024-05-01T12:00:00.000Z"));
            assert!(!devices::set_status(
                conn,
                "ghost",
                DeviceStatus::Online,
                None
            )?);

            assert!(devices::delete(conn, "Web1.example.com")?);
            assert!(!devices::delete(conn, "web1.example.com")?);
            assert!(devices::get(conn, "web1.example.com")?.is_none());
            Ok(())
        })
        .unwrap();
}

#[test]
fn device_validation() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            let invalid =
                |r: Result<devices::Device, StoreError>| matches!(r, Err(StoreError::Invalid(_)));
            for (user, key) in [
                (Some("root\n"), None),
                (Some("a;b"), None),
                (None, Some("/k\0")),
                (None, Some("/k;x")),
            ] {
                let f = DeviceFields {
                    ssh_username: user.map(|u| Some(u.to_owned())),
                    ssh_identity_file: key.map(|k| Some(k.to_owned())),
                    ..fields("ctl")
                };
                assert!(invalid(devices::create(conn, f)), "{user:?} {key:?}");
            }
            assert!(invalid(devices::create(conn, DeviceFields::default())));
            assert!(invalid(devices::create(conn, fields("   "))));
            assert!(invalid(devices::create(conn, fields("a b"))));
            assert!(invalid(devices::create(conn, fields(&"x".repeat(254)))));
            assert!(invalid(devices::create(
                conn,
                DeviceFields {
                    ssh_port: Some(Some(0)),
                    ..fields("h")
                }
            )));
            assert!(invalid(devices::create(
                conn,
                DeviceFields {
                    tags: Some(json!(["not", "an", "object"])),
                    ..fields("h")
                }
            )));
            assert!(invalid(devices::create(
                conn,
                DeviceFields {
                    device_type: Some(" ".into()),
                    ..fields("h")
                }
            )));
            devices::create(conn, fields("h"))?;
            assert!(matches!(
                devices::update(
                    conn,
                    "h",
                    DeviceFields {
                        extra: Some(json!(1)),
                        ..DeviceFields::default()
                    }
                ),
                Err(StoreError::Invalid(_))
            ));
            Ok(())
        })
        .unwrap();
}

#[test]
fn duplicate_hostname_is_a_conflict() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            devices::create(conn, fields("web1"))?;
            let err = devices::create(conn, fields("WEB1")).unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
            assert_eq!(err.to_string(), "device 'web1' already exists");
            Ok(())
        })
        .unwrap();
}

#[test]
fn rename_onto_existing_hostname_is_a_conflict_and_missing_is_not_found() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            devices::create(conn, fields("a"))?;
            devices::create(conn, fields("b"))?;
            let err = devices::update(conn, "a", fields("B")).unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
            assert!(
                devices::get(conn, "a")?.is_some(),
                "unchanged after conflict"
            );

            let renamed = devices::update(conn, "a", fields("c"))?;
            assert_eq!(renamed.hostname, "c");
            assert!(devices::get(conn, "a")?.is_none());

            let err = devices::update(conn, "zzz", DeviceFields::default()).unwrap_err();
            assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn partial_update_changes_only_sent_fields() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            let before = devices::create(
                conn,
                DeviceFields {
                    ip_address: Some(Some("10.0.0.1".into())),
                    ssh_port: Some(Some(22)),
                    ssh_username: Some(Some("root".into())),
                    description: Some(Some("db box".into())),
                    location: Some(Some("rack 3".into())),
                    tags: Some(json!({"a": 1})),
                    ..fields("db1")
                },
            )?;
            std::thread::sleep(std::time::Duration::from_millis(5));
            let after = devices::update(
                conn,
                "db1",
                DeviceFields {
                    ssh_port: Some(Some(2200)),
                    description: Some(None), // explicit null clears
                    monitoring_enabled: Some(false),
                    ..DeviceFields::default()
                },
            )?;
            assert_eq!(after.ssh_port, Some(2200));
            assert_eq!(after.description, None);
            assert!(!after.monitoring_enabled);
            // Untouched fields.
            assert_eq!(after.id, before.id);
            assert_eq!(after.hostname, "db1");
            assert_eq!(after.ip_address, before.ip_address);
            assert_eq!(after.ssh_username, before.ssh_username);
            assert_eq!(after.location, before.location);
            assert_eq!(after.tags, before.tags);
            assert_eq!(after.extra, before.extra);
            assert_eq!(after.device_type, before.device_type);
            assert_eq!(after.status, before.status);
            assert_eq!(after.created_at, before.created_at);
            assert!(after.updated_at > before.updated_at, "updated_at bumped");
            Ok(())
        })
        .unwrap();
}

#[test]
fn device_fields_deserialize_absent_vs_null() {
    let f: DeviceFields =
        serde_json::from_value(json!({"description": null, "ssh_port": 2022})).unwrap();
    assert_eq!(f.description, Some(None));
    assert_eq!(f.ssh_port, Some(Some(2022)));
    assert_eq!(f.location, None);
    assert_eq!(f.hostname, None);
    let f: DeviceFields = serde_json::from_value(json!({"status": "maintenance"})).unwrap();
    assert_eq!(f.status, Some(DeviceStatus::Maintenance));
}

#[test]
fn list_filters_pagination_total_and_search() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            for i in 0..12 {
                devices::create(
                    conn,
                    DeviceFields {
                        device_type: Some(if i % 3 == 0 { "nas" } else { "server" }.into()),
                        location: Some(Some(if i < 6 { "Berlin DC-1" } else { "Paris" }.into())),
                        description: Some(Some(format!("Box number {i}"))),
                        monitoring_enabled: Some(i % 2 == 0),
                        ..fields(&format!("host{i:02}"))
                    },
                )?;
            }
            devices::create(
                conn,
                DeviceFields {
                    description: Some(Some("The BACKUP target".into())),
                    ..fields("zeta")
                },
            )?;
            devices::set_status(conn, "host03", DeviceStatus::Maintenance, None)?;

            let (all, total) = devices::list(conn, &DeviceFilter::default())?;
            assert_eq!(total, 13);
            assert_eq!(all.len(), 13);
            let names: Vec<_> = all.iter().map(|d| d.hostname.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted, "ordered by hostname");

            // Pagination: total ignores limit/offset.
            let page = DeviceFilter {
                limit: Some(5),
                offset: 10,
                ..DeviceFilter::default()
            };
            let (rows, total) = devices::list(conn, &page)?;
            assert_eq!(total, 13);
            assert_eq!(
                rows.iter().map(|d| d.hostname.as_str()).collect::<Vec<_>>(),
                ["host10", "host11", "zeta"]
            );

            let by_type = DeviceFilter {
                device_type: Some("nas".into()),
                ..DeviceFilter::default()
            };
            let (rows, total) = devices::list(conn, &by_type)?;
            assert_eq!(total, 4);
            assert!(rows.iter().all(|d| d.device_type == "nas"));

            let by_status = DeviceFilter {
                status: Some(DeviceStatus::Maintenance),
                ..DeviceFilter::default()
            };
            let (rows, _) = devices::list(conn, &by_status)?;
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].hostname, "host03");

            let monitored_off = DeviceFilter {
                monitoring_enabled: Some(false),
                ..DeviceFilter::default()
            };
            assert_eq!(devices::list(conn, &monitored_off)?.1, 6);
            assert_eq!(devices::monitored(conn)?.len(), 7, "6 even hosts + zeta");

            let berlin = DeviceFilter {
                location: Some("berlin dc".into()),
                ..DeviceFilter::default()
            };
            assert_eq!(devices::list(conn, &berlin)?.1, 6);

            let combined = DeviceFilter {
                location: Some("BERLIN".into()),
                device_type: Some("nas".into()),
                limit: Some(1),
                ..DeviceFilter::default()
            };
            let (rows, total) = devices::list(conn, &combined)?;
            assert_eq!(total, 2, "host00, host03");
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].hostname, "host00");

            // Search matches hostname or description, case-insensitively.
            let search = |q: &str| {
                devices::list(
                    conn,
                    &DeviceFilter {
                        search: Some(q.into()),
                        ..DeviceFilter::default()
                    },
                )
                .map(|(_, total)| total)
            };
            assert_eq!(search("HOST1")?, 2, "host10, host11");
            assert_eq!(search("backup")?, 1);
            assert_eq!(search("NUMBER 7")?, 1);
            assert_eq!(search("%")?, 0, "no LIKE wildcards");
            assert_eq!(search("nothing-like-this")?, 0);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Snapshots, audit and cascades

#[test]
fn delete_cascades_history_but_raw_host_rows_survive() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            let dev = devices::create(conn, fields("web1"))?;
            devices::create(conn, fields("web2"))?;
            for i in 0..5 {
                let at = format!("2024-01-01T00:00:0{i}Z");
                // Target case differs from the stored hostname: still linked.
                let id = snapshots::insert(conn, &snap("WEB1", "k", &at, i))?;
                assert!(id > 0);
                snapshots::insert(conn, &snap("web2", "k", &at, i))?;
                snapshots::insert(conn, &snap("10.1.2.3", "k", &at, i))?;
                audit::insert(conn, &entry("web1", AuditStatus::Ok))?;
                audit::insert(conn, &entry("web2", AuditStatus::Ok))?;
                audit::insert(conn, &entry("10.1.2.3", AuditStatus::Error))?;
            }
            let linked = snapshots::list(conn, "containers", "list", Some("WEB1"), 10)?;
            assert_eq!(linked.len(), 5);
            assert!(
                linked
                    .iter()
                    .all(|s| s.device_id.as_deref() == Some(dev.id.as_str()))
            );
            let raw = snapshots::list(conn, "containers", "list", Some("10.1.2.3"), 10)?;
            assert!(raw.iter().all(|s| s.device_id.is_none()));

            assert_eq!(count_rows(conn, "snapshots"), 15);
            assert_eq!(count_rows(conn, "collection_audit"), 15);

            assert!(devices::delete(conn, "web1")?);

            assert_eq!(count_rows(conn, "snapshots"), 10);
            assert_eq!(count_rows(conn, "collection_audit"), 10);
            assert_eq!(
                snapshots::count(conn, "containers", "list", Some("WEB1"))?,
                0
            );
            assert_eq!(
                snapshots::count(conn, "containers", "list", Some("web2"))?,
                5
            );
            assert_eq!(
                snapshots::count(conn, "containers", "list", Some("10.1.2.3"))?,
                5
            );
            let f = |t: &str| AuditFilter {
                target: Some(t.into()),
                ..AuditFilter::default()
            };
            assert_eq!(audit::count(conn, &f("web1"))?, 0);
            assert_eq!(audit::count(conn, &f("web2"))?, 5);
            assert_eq!(audit::count(conn, &f("10.1.2.3"))?, 5);
            Ok(())
        })
        .unwrap();
}

#[test]
fn snapshot_list_latest_per_target_and_latest() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            snapshots::insert(conn, &snap("b", "k", "2024-01-01T00:00:00Z", 1))?;
            snapshots::insert(conn, &snap("b", "k", "2024-01-01T00:00:05Z", 2))?;
            snapshots::insert(conn, &snap("a", "k", "2024-01-01T00:00:03Z", 3))?;
            // Written later but collected earlier: not the latest.
            snapshots::insert(conn, &snap("a", "k", "2024-01-01T01:00:00+02:00", 4))?;
            // Same instant as n=5: the later insert wins.
            snapshots::insert(conn, &snap("c", "k", "2024-01-01T00:00:01Z", 5))?;
            snapshots::insert(conn, &snap("c", "k2", "2024-01-01T00:00:01Z", 6))?;
            let mut other = snap("a", "k", "2024-01-02T00:00:00Z", 7);
            other.data_type = "stats".into();
            snapshots::insert(conn, &other)?;

            let latest = snapshots::latest_per_target(conn, "containers", "list")?;
            let got: Vec<_> = latest
                .iter()
                .map(|s| (s.target.as_str(), s.data["n"].as_i64().unwrap_or(-1)))
                .collect();
            assert_eq!(got, [("a", 3), ("b", 2), ("c", 6)]);

            let b = snapshots::list(conn, "containers", "list", Some("b"), 10)?;
            assert_eq!(
                b.iter().map(|s| s.data["n"].clone()).collect::<Vec<_>>(),
                [json!(2), json!(1)]
            );
            assert_eq!(b[0].collected_at, "2024-01-01T00:00:05.000Z");
            assert_eq!(b[0].size_bytes, r#"{"n":2}"#.len() as u64);
            assert_eq!(b[0].duration_ms, 12);

            let all = snapshots::list(conn, "containers", "list", None, 3)?;
            assert_eq!(all.len(), 3);
            assert_eq!(all[0].collected_at, "2024-01-01T00:00:05.000Z");

            let k = snapshots::latest(conn, "containers", "list", "c", "k")?.unwrap();
            assert_eq!(k.data["n"], 5);
            assert!(snapshots::latest(conn, "containers", "list", "c", "zz")?.is_none());

            assert!(matches!(
                snapshots::insert(conn, &snap("a", "k", "not a time", 0)),
                Err(StoreError::Invalid(_))
            ));
            Ok(())
        })
        .unwrap();
}

#[test]
fn prune_by_age_and_by_count() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            let now = chrono::Utc::now();
            let ago =
                |secs: i64| infrastructor_store::format_ts(now - chrono::Duration::seconds(secs));
            // Key "old": 3 rows older than an hour, 2 recent.
            for s in [7200, 7100, 7000, 60, 30] {
                snapshots::insert(conn, &snap("h", "old", &ago(s), s))?;
            }
            // Key "many": 6 recent rows.
            for s in 1..=6 {
                snapshots::insert(conn, &snap("h", "many", &ago(s), s))?;
            }
            // Same key on another target is a separate group.
            snapshots::insert(conn, &snap("h2", "many", &ago(1), 1))?;
            assert_eq!(count_rows(conn, "snapshots"), 12);

            // Disabled rules delete nothing.
            assert_eq!(snapshots::prune(conn, 0, 0)?, 0);

            // Age only.
            assert_eq!(snapshots::prune(conn, 3600, 0)?, 3);
            assert_eq!(count_rows(conn, "snapshots"), 9);

            // Count only: keep the newest 2 per key.
            assert_eq!(snapshots::prune(conn, 0, 2)?, 4, "4 of 'many' on h");
            let many = snapshots::list(conn, "containers", "list", Some("h"), 100)?
                .into_iter()
                .filter(|s| s.cache_key == "many")
                .map(|s| s.data["n"].as_i64().unwrap_or(-1))
                .collect::<Vec<_>>();
            assert_eq!(many, [1, 2], "the two newest survive");
            assert_eq!(snapshots::count(conn, "containers", "list", Some("h2"))?, 1);

            // Both rules, nothing left to do.
            assert_eq!(snapshots::prune(conn, 3600, 2)?, 0);
            assert_eq!(count_rows(conn, "snapshots"), 5);
            Ok(())
        })
        .unwrap();
}

#[test]
fn audit_insert_list_count_prune() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            devices::create(conn, fields("web1"))?;
            let mut old = entry("web1", AuditStatus::Ok);
            old.started_at = Some("2000-01-01T00:00:00Z".into());
            old.cache_hit = true;
            audit::insert(conn, &old)?;
            audit::insert(conn, &entry("web1", AuditStatus::Ok))?;
            let mut long = entry("web1", AuditStatus::Error);
            long.error = Some("é".repeat(5000));
            let id = audit::insert(conn, &long)?;
            let mut zfs = entry("web1", AuditStatus::Ok);
            zfs.plugin = "zfs".into();
            audit::insert(conn, &zfs)?;

            let f = AuditFilter {
                plugin: Some("containers".into()),
                ..AuditFilter::default()
            };
            assert_eq!(audit::count(conn, &f)?, 3);
            let rows = audit::list(
                conn,
                &AuditFilter {
                    limit: Some(2),
                    ..f.clone()
                },
            )?;
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0].id, id, "newest first");
            assert_eq!(rows[0].status, AuditStatus::Error);
            assert!(rows[0].error.as_ref().unwrap().len() <= audit::MAX_ERROR_LEN);
            assert!(rows[0].device_id.is_some());
            assert_eq!(rows[0].requester.as_deref(), Some("poller"));
            assert!(rows[0].force_refresh);
            let all = audit::list(conn, &f)?;
            let oldest = all.last().unwrap();
            assert!(oldest.cache_hit);
            assert_eq!(oldest.started_at, "2000-01-01T00:00:00.000Z");
            assert_eq!(
                audit::count(
                    conn,
                    &AuditFilter {
                        plugin: Some("containers".into()),
                        data_type: Some("list".into()),
                        target: Some("web1".into()),
                        limit: Some(1),
                    }
                )?,
                3,
                "count ignores limit"
            );
            assert_eq!(serde_json::to_value(oldest)?["status"], "ok");

            assert_eq!(audit::prune(conn, 86_400)?, 1);
            assert_eq!(audit::count(conn, &AuditFilter::default())?, 3);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Documents

#[test]
fn documents_are_scoped_per_plugin() {
    let (_dir, store) = temp_store();
    store
        .with_conn(|conn| {
            let first = documents::put(conn, "proxy", "configs", "a", &json!({"v": 1}))?;
            assert_eq!(first.created_at, first.updated_at);
            documents::put(conn, "proxy", "configs", "b", &json!({"v": 2}))?;
            documents::put(conn, "proxy", "templates", "a", &json!("tpl"))?;
            documents::put(conn, "compose", "configs", "a", &json!({"other": true}))?;

            // Same collection and id, different plugin: separate documents.
            let proxy_a = documents::get(conn, "proxy", "configs", "a")?.unwrap();
            let compose_a = documents::get(conn, "compose", "configs", "a")?.unwrap();
            assert_eq!(proxy_a.body, json!({"v": 1}));
            assert_eq!(compose_a.body, json!({"other": true}));
            assert!(documents::get(conn, "zfs", "configs", "a")?.is_none());

            let listed = documents::list(conn, "proxy", "configs", None, 0)?;
            assert_eq!(
                listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
                ["a", "b"]
            );
            assert!(listed.iter().all(|d| d.plugin == "proxy"));
            assert_eq!(
                documents::list(conn, "compose", "configs", None, 0)?.len(),
                1
            );
            assert_eq!(
                documents::list(conn, "proxy", "configs", Some(1), 1)?[0].id,
                "b"
            );
            assert_eq!(documents::count(conn, "proxy", "configs")?, 2);

            // Deleting from another plugin does not touch this one.
            assert!(!documents::delete(conn, "zfs", "configs", "a")?);
            assert!(documents::delete(conn, "compose", "configs", "a")?);
            assert!(documents::get(conn, "proxy", "configs", "a")?.is_some());

            // Upsert keeps created_at.
            std::thread::sleep(std::time::Duration::from_millis(5));
            let replaced = documents::put(conn, "proxy", "configs", "a", &json!({"v": 9}))?;
            assert_eq!(replaced.created_at, first.created_at);
            assert!(replaced.updated_at > first.updated_at);
            assert_eq!(replaced.body, json!({"v": 9}));

            assert!(matches!(
                documents::put(conn, "", "configs", "a", &json!(1)),
                Err(StoreError::Invalid(_))
            ));
            assert!(matches!(
                documents::put(conn, "proxy", "configs", "", &json!(1)),
                Err(StoreError::Invalid(_))
            ));
            Ok(())
        })
        .unwrap();
}

#[test]
fn documents_query_count_and_apply() {
    use documents::{FieldMatch, Query};
    let (_dir, store) = temp_store();
    let m = |field: &str, value: serde_json::Value| FieldMatch {
        field: field.to_owned(),
        value,
    };
    store
        .with_conn(|conn| {
            let puts: Vec<(String, serde_json::Value)> = (0..6)
                .map(|i| {
                    (
                        format!("d{i}"),
                        json!({
                            "device": if i < 4 { "a" } else { "b" },
                            "ssl": i % 2 == 0,
                            "n": i,
                            "parsed": {"kind": if i == 5 { "subfolder" } else { "subdomain" }},
                        }),
                    )
                })
                .collect();
            assert_eq!(documents::apply(conn, "proxy", "configs", &puts, &[])?, 0);
            documents::put(conn, "other", "configs", "x", &json!({"device": "a"}))?;

            // Filter, order, page, total.
            let q = Query {
                filter: vec![m("device", json!("a"))],
                order_by: Some("n".into()),
                descending: true,
                limit: Some(2),
                offset: 1,
            };
            let (items, total) = documents::query(conn, "proxy", "configs", &q)?;
            assert_eq!(total, 4);
            assert_eq!(
                items.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
                ["d2", "d1"]
            );
            // Booleans and nested paths compare by value; null matches an absent field.
            let q = Query {
                filter: vec![m("ssl", json!(true)), m("parsed.kind", json!("subdomain"))],
                ..Query::default()
            };
            assert_eq!(documents::query(conn, "proxy", "configs", &q)?.1, 3);
            let q = Query {
                filter: vec![m("missing", json!(null))],
                ..Query::default()
            };
            assert_eq!(documents::query(conn, "proxy", "configs", &q)?.1, 6);
            // "1" (text) is not 1 (number).
            let q = Query {
                filter: vec![m("n", json!("1"))],
                ..Query::default()
            };
            assert_eq!(documents::query(conn, "proxy", "configs", &q)?.1, 0);

            // Grouped counts keep the JSON type and the plugin scope.
            let by_device =
                documents::count_grouped(conn, "proxy", "configs", &[], Some("device"))?;
            assert_eq!(
                by_device,
                [("\"a\"".to_owned(), 4), ("\"b\"".to_owned(), 2)]
            );
            let by_ssl = documents::count_grouped(
                conn,
                "proxy",
                "configs",
                &[m("device", json!("a"))],
                Some("ssl"),
            )?;
            assert_eq!(by_ssl, [("false".to_owned(), 2), ("true".to_owned(), 2)]);
            assert_eq!(
                documents::count_grouped(conn, "proxy", "configs", &[], None)?,
                [("null".to_owned(), 6)]
            );

            // Hostile field paths and non-scalar values are refused.
            for bad in ["a') OR 1=1 --", "", "a..b", "1a", "a.b c"] {
                assert!(
                    matches!(
                        documents::query(
                            conn,
                            "proxy",
                            "configs",
                            &Query {
                                filter: vec![m(bad, json!(1))],
                                ..Query::default()
                            }
                        ),
                        Err(StoreError::Invalid(_))
                    ),
                    "{bad}"
                );
            }
            assert!(matches!(
                documents::count_grouped(conn, "proxy", "configs", &[m("a", json!([1]))], None),
                Err(StoreError::Invalid(_))
            ));

            // A batch is all or nothing: an invalid id rolls back the writes before it.
            let bad = vec![
                ("d0".to_owned(), json!({"changed": true})),
                (String::new(), json!({})),
            ];
            assert!(documents::apply(conn, "proxy", "configs", &bad, &["d1".into()]).is_err());
            assert_eq!(
                documents::get(conn, "proxy", "configs", "d0")?
                    .unwrap()
                    .body["n"],
                0
            );
            let over: Vec<(String, serde_json::Value)> = (0..=documents::MAX_BATCH)
                .map(|i| (format!("x{i}"), json!(1)))
                .collect();
            assert!(matches!(
                documents::apply(conn, "proxy", "configs", &over, &[]),
                Err(StoreError::Invalid(_))
            ));
            let deleted = documents::apply(
                conn,
                "proxy",
                "configs",
                &[("d9".to_owned(), json!({"device": "c"}))],
                &["d0".into(), "d1".into(), "nope".into()],
            )?;
            assert_eq!(deleted, 2);
            assert_eq!(documents::count(conn, "proxy", "configs")?, 5);
            assert_eq!(documents::count(conn, "other", "configs")?, 1);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Async access and concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_from_many_tasks_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(&dir.path().join("c.db"), 4).unwrap();
    store
        .call(|conn| devices::create(conn, fields("web1")).map(drop))
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for t in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let s = snap("web1", &format!("k{}", t % 4), &now_rfc3339(), i);
                store.call(move |conn| snapshots::insert(conn, &s)).await?;
                // A write transaction mixing tables, then reads.
                store
                    .call(move |conn| {
                        let tx = conn.transaction()?;
                        audit::insert(&tx, &entry("web1", AuditStatus::Ok))?;
                        documents::put(&tx, "p", "c", &format!("{t}"), &json!({ "i": i }))?;
                        tx.commit()?;
                        Ok(())
                    })
                    .await?;
                store
                    .call(|conn| snapshots::latest_per_target(conn, "containers", "list"))
                    .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }

    let (snaps, audits, docs) = store
        .call(|conn| {
            Ok((
                snapshots::count(conn, "containers", "list", Some("web1"))?,
                audit::count(conn, &AuditFilter::default())?,
                documents::count(conn, "p", "c")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(snaps, 32 * 20);
    assert_eq!(audits, 32 * 20);
    assert_eq!(docs, 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_sees_committed_writes_inline_and_waits_its_turn_when_every_connection_is_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(&dir.path().join("r.db"), 2).unwrap();
    store
        .call(|conn| devices::create(conn, fields("web1")).map(drop))
        .await
        .unwrap();
    let found = store
        .read(|conn| devices::get(conn, "WEB1"))
        .await
        .unwrap()
        .map(|d| d.hostname);
    assert_eq!(found.as_deref(), Some("web1"));
    // Both connections held by writers on the blocking pool: the read cannot run inline and
    // is served, through the blocking pool, once one comes back.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let release = std::sync::Arc::new(std::sync::Barrier::new(3));
    let mut holders = Vec::new();
    for _ in 0..2 {
        let (store, held_tx, release) = (store.clone(), held_tx.clone(), release.clone());
        holders.push(tokio::spawn(async move {
            store
                .call(move |_conn| {
                    held_tx.send(()).expect("send");
                    release.wait();
                    Ok(())
                })
                .await
        }));
    }
    for _ in 0..2 {
        held_rx.recv().unwrap();
    }
    let waiting = {
        let store = store.clone();
        tokio::spawn(async move { store.read(|conn| devices::get(conn, "web1")).await })
    };
    tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(50)))
        .await
        .unwrap();
    assert!(!waiting.is_finished(), "the read ran without a connection");
    tokio::task::spawn_blocking(move || release.wait())
        .await
        .unwrap();
    let found = waiting.await.unwrap().unwrap().map(|d| d.hostname);
    assert_eq!(found.as_deref(), Some("web1"));
    for h in holders {
        h.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn call_reports_panics_as_join_errors_and_the_pool_survives() {
    let (_dir, store) = temp_store();
    let err = store
        .call(|_conn| -> Result<(), StoreError> { panic!("boom") })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Join(_)), "{err:?}");
    let n = store
        .call(|conn| devices::list(conn, &DeviceFilter::default()).map(|(_, n)| n))
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn sqlite_errors_do_not_leak_sql() {
    let (_dir, store) = temp_store();
    let err = store
        .with_conn(|conn| {
            conn.execute("INSERT INTO devices (id) VALUES ('x')", [])?;
            Ok(())
        })
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("database error: "), "{text}");
    assert!(
        !text.contains("devices") && !text.contains("INSERT"),
        "{text}"
    );
}

#[test]
fn open_errors_name_only_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // The parent "directory" is a regular file: cannot be created.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let err = Store::open(&blocker.join("sub/infra.db")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(text.contains("infra.db"), "{text}");
    assert!(!text.contains(dir.path().to_str().unwrap()), "{text}");
}
