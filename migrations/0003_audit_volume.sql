-- Audit without write amplification: cache hits (and joins of a collection already running)
-- are counted in memory and written here as one row per plugin, data type, target and
-- requester per flush window, instead of one collection_audit row each. collection_audit
-- keeps a row for every remote run and every error.
CREATE TABLE collection_hits (
    id          INTEGER PRIMARY KEY,
    plugin      TEXT    NOT NULL,
    data_type   TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    device_id   TEXT    REFERENCES devices (id) ON DELETE CASCADE,
    requester   TEXT,
    first_at    TEXT    NOT NULL,
    last_at     TEXT    NOT NULL,
    hits        INTEGER NOT NULL CHECK (hits >= 1),
    bytes       INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0)
);
CREATE INDEX collection_hits_target ON collection_hits (plugin, data_type, target, last_at DESC);
CREATE INDEX collection_hits_last_at ON collection_hits (last_at);
CREATE INDEX collection_hits_device ON collection_hits (device_id);

-- One row per call of a route that changes something (plugin routes that mutate, job
-- cancels), kept after the device it touched is gone.
CREATE TABLE operation_audit (
    id           INTEGER PRIMARY KEY,
    at           TEXT    NOT NULL,
    plugin       TEXT    NOT NULL,
    operation_id TEXT    NOT NULL,
    method       TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    principal    TEXT,
    status       INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    request_id   TEXT    NOT NULL,
    job_id       TEXT
);
CREATE INDEX operation_audit_at ON operation_audit (at);
