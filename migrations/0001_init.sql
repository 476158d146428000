-- 0001_init: the host's storage schema.
--
-- Applied by infrastructor-store at open, inside one transaction, and recorded in
-- schema_migrations with its checksum: never edit this file once released, add 0002_….sql.
-- Timestamps are RFC 3339 UTC with milliseconds and `Z` (2024-05-01T12:00:00.000Z), so text
-- order is time order. JSON columns hold serialized JSON text, validated on write.

-- The device registry. One row per managed host; the hostname (lower-case) is the public key.
CREATE TABLE devices (
    id                 TEXT    PRIMARY KEY NOT NULL,               -- uuid v4
    hostname           TEXT    NOT NULL UNIQUE
                               CHECK (hostname <> '' AND hostname = lower(hostname)),
    ip_address         TEXT,
    ssh_port           INTEGER CHECK (ssh_port BETWEEN 1 AND 65535),
    ssh_username       TEXT,
    ssh_identity_file  TEXT,
    device_type        TEXT    NOT NULL DEFAULT 'server' CHECK (device_type <> ''),
    description        TEXT,
    location           TEXT,
    tags               TEXT    NOT NULL DEFAULT '{}'
                               CHECK (json_valid(tags) AND json_type(tags) = 'object'),
    monitoring_enabled INTEGER NOT NULL DEFAULT 1 CHECK (monitoring_enabled IN (0, 1)),
    status             TEXT    NOT NULL DEFAULT 'unknown'
                               CHECK (status IN ('online', 'offline', 'unknown', 'maintenance')),
    last_seen          TEXT,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    -- Plugin-specific settings (e.g. glances port/url), a JSON object.
    extra              TEXT    NOT NULL DEFAULT '{}'
                               CHECK (json_valid(extra) AND json_type(extra) = 'object')
);
-- List filters (hostname is covered by its UNIQUE index; location/search are substring
-- matches, which no index serves).
CREATE INDEX devices_device_type ON devices (device_type);
CREATE INDEX devices_status ON devices (status);
CREATE INDEX devices_monitoring ON devices (monitoring_enabled, hostname);

-- Collected data history: one row per collector run that produced data.
-- device_id is resolved from target at insert time; raw hosts (not registered) keep NULL and
-- survive device deletes, registered devices take their history with them (ON DELETE CASCADE).
CREATE TABLE snapshots (
    id           INTEGER PRIMARY KEY,
    plugin       TEXT    NOT NULL,
    data_type    TEXT    NOT NULL,
    target       TEXT    NOT NULL,                                 -- hostname or raw host
    device_id    TEXT    REFERENCES devices (id) ON DELETE CASCADE,
    cache_key    TEXT    NOT NULL,
    collected_at TEXT    NOT NULL,
    duration_ms  INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    data         TEXT    NOT NULL CHECK (json_valid(data)),
    size_bytes   INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0)
);
-- History of one (plugin, data_type, target), newest first; latest-per-target (window
-- partitioned by target, ordered by collected_at DESC) walks this index in order.
CREATE INDEX snapshots_target_time
    ON snapshots (plugin, data_type, target, collected_at DESC, id DESC);
-- Latest value of one cache key, and retention by count per key.
CREATE INDEX snapshots_key_time
    ON snapshots (plugin, data_type, target, cache_key, collected_at DESC, id DESC);
-- Retention by age.
CREATE INDEX snapshots_collected_at ON snapshots (collected_at);
-- ON DELETE CASCADE looks children up by device_id.
CREATE INDEX snapshots_device ON snapshots (device_id);

-- One row per collection request: cache hits, refreshes and failures included.
CREATE TABLE collection_audit (
    id            INTEGER PRIMARY KEY,
    plugin        TEXT    NOT NULL,
    data_type     TEXT    NOT NULL,
    target        TEXT    NOT NULL,
    device_id     TEXT    REFERENCES devices (id) ON DELETE CASCADE,
    cache_key     TEXT    NOT NULL,
    started_at    TEXT    NOT NULL,
    duration_ms   INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    cache_hit     INTEGER NOT NULL DEFAULT 0 CHECK (cache_hit IN (0, 1)),
    force_refresh INTEGER NOT NULL DEFAULT 0 CHECK (force_refresh IN (0, 1)),
    status        TEXT    NOT NULL CHECK (status IN ('ok', 'error')),
    error         TEXT,
    size_bytes    INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    requester     TEXT                                             -- api key name or 'poller'
);
CREATE INDEX collection_audit_target_time
    ON collection_audit (plugin, data_type, target, started_at DESC, id DESC);
CREATE INDEX collection_audit_started_at ON collection_audit (started_at);
CREATE INDEX collection_audit_device ON collection_audit (device_id);

-- Plugin-scoped JSON documents (the `storage` import). The plugin name leads the key, so
-- every lookup is scoped to one plugin.
CREATE TABLE plugin_documents (
    plugin     TEXT NOT NULL CHECK (plugin <> ''),
    collection TEXT NOT NULL CHECK (collection <> ''),
    id         TEXT NOT NULL CHECK (id <> ''),
    body       TEXT NOT NULL CHECK (json_valid(body)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (plugin, collection, id)
);
