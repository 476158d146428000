-- Jobs: long-running plugin routes and internal routes queued with `jobs.enqueue`, with their
-- progress, outcome and event log (progress snapshots, log lines, state changes).
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    plugin           TEXT NOT NULL,
    operation_id     TEXT NOT NULL,
    device           TEXT,
    state            TEXT NOT NULL CHECK (state IN
                       ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    scope            TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    principal        TEXT,
    request_id       TEXT NOT NULL,
    progress_done    INTEGER,
    progress_total   INTEGER,
    progress_unit    TEXT,
    progress_message TEXT,
    result_status    INTEGER,
    result           TEXT,
    error_kind       TEXT,
    error_message    TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT
);
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_plugin ON jobs (plugin, created_at DESC);
CREATE INDEX jobs_device ON jobs (device, created_at DESC);

CREATE TABLE job_events (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    kind   TEXT NOT NULL CHECK (kind IN ('state', 'progress', 'log')),
    data   TEXT NOT NULL,
    at     TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
