//! The schema as one list of versioned steps, each written for both
//! databases: a database records the versions it has (`schema_migrations`)
//! and, at start, takes the steps it lacks in one transaction. Never edit a
//! step that has shipped: add the next.
//!
//! SQLite's first two steps keep `IF NOT EXISTS`: databases made before
//! SQLite was versioned have their tables and no `schema_migrations`, so
//! they take both steps again, harmlessly, and are versioned from then on.

/// One schema change, for each database.
pub struct Step {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Which database a step's SQL is for.
#[derive(Clone, Copy, Debug)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Step {
    pub fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

impl Dialect {
    /// Creates the table of applied versions if it is missing.
    pub fn create_log(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    INTEGER PRIMARY KEY,
                     applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            }
            Dialect::Postgres => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    integer PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now())"
            }
        }
    }
}

/// The newest version applied (0 for none), as both databases read it.
pub const APPLIED: &str =
    "SELECT CAST(COALESCE(max(version), 0) AS integer) FROM schema_migrations";

/// Records that step `$1` is applied.
pub const RECORD: &str = "INSERT INTO schema_migrations (version) VALUES ($1)";

/// The steps a database at version `applied` lacks, each with its version
/// (its position + 1); an error when the database is newer than this server.
pub fn pending(applied: i64, dialect: Dialect) -> anyhow::Result<Vec<(i32, &'static str)>> {
    if applied > STEPS.len() as i64 {
        anyhow::bail!(
            "the database is at schema version {applied}, newer than this server's {}",
            STEPS.len()
        );
    }
    Ok(STEPS
        .iter()
        .enumerate()
        .skip(applied.max(0) as usize)
        .map(|(index, step)| (index as i32 + 1, step.sql(dialect)))
        .collect())
}

/// Every step, oldest first; version = position + 1.
pub const STEPS: &[Step] = &[
    // 1: the first schema.
    Step {
        sqlite: "
CREATE TABLE IF NOT EXISTS allocations (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL,      -- `al_` + 8 random + seq: found by seq
    pool            TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    owner           TEXT NOT NULL,
    resources       TEXT NOT NULL,      -- JSON array of unit names
    created_at      INTEGER NOT NULL,   -- Unix ms
    expires_at      INTEGER,            -- Unix ms
    ttl_seconds     INTEGER,
    note            TEXT,
    released_at     INTEGER,            -- Unix ms
    idempotency_key TEXT UNIQUE         -- kept with the allocation, for replay
);
CREATE INDEX IF NOT EXISTS allocations_unreleased ON allocations(seq) WHERE released_at IS NULL;
",
        postgres: "
CREATE TABLE meta (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch     bigint NOT NULL,        -- random: tells this database apart in ETags
    probed_at timestamptz             -- the readiness probe's write
);
INSERT INTO meta (epoch) VALUES (floor(random() * 4294967296)::bigint);
CREATE TABLE pools (
    id        text PRIMARY KEY,
    capacity  bigint NOT NULL CHECK (capacity >= 0),
    allocated bigint NOT NULL DEFAULT 0 CHECK (allocated >= 0),
    version   bigint NOT NULL DEFAULT 0,  -- every write to the pool bumps it
    changed_at bigint NOT NULL DEFAULT 0  -- Unix ms of the last write, database clock
);
CREATE SEQUENCE allocation_seq;
CREATE TABLE allocations (
    seq             bigint PRIMARY KEY,
    id              text NOT NULL,        -- `al_` + 8 random + seq: found by seq
    pool            text NOT NULL REFERENCES pools (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    owner           text NOT NULL,
    resources       text[] NOT NULL,
    created_at      bigint NOT NULL,      -- Unix ms, database clock
    expires_at      bigint,
    ttl_seconds     bigint,
    note            text,
    released_at     bigint,
    returned        boolean NOT NULL DEFAULT false,  -- units back in the pool's count
    idempotency_key text UNIQUE,
    CHECK (returned OR released_at IS NULL)
);
CREATE INDEX allocations_held ON allocations (pool, expires_at) WHERE NOT returned;
CREATE INDEX allocations_expiring ON allocations (expires_at)
    WHERE NOT returned AND expires_at IS NOT NULL;
CREATE TABLE held_units (
    pool text NOT NULL,
    unit integer NOT NULL CHECK (unit >= 0),
    seq  bigint NOT NULL REFERENCES allocations (seq) ON DELETE CASCADE,
    PRIMARY KEY (pool, unit)
);
CREATE INDEX held_units_seq ON held_units (seq);
CREATE FUNCTION allocation_now_ms(offset_ms bigint) RETURNS bigint
    LANGUAGE sql STABLE
    AS 'SELECT floor(extract(epoch FROM now()) * 1000)::bigint + offset_ms';
",
    },
    // 2: the usage history.
    Step {
        sqlite: "
CREATE TABLE IF NOT EXISTS usage_samples (
    pool      TEXT NOT NULL,
    minute    INTEGER NOT NULL,     -- Unix ms / 60,000
    allocated INTEGER NOT NULL,     -- at the end of the minute (the last write in it)
    capacity  INTEGER NOT NULL,
    PRIMARY KEY (pool, minute)
) WITHOUT ROWID;
",
        postgres: "
CREATE TABLE usage_samples (
    pool      text NOT NULL,
    minute    bigint NOT NULL,        -- Unix ms / 60,000, database clock
    allocated bigint NOT NULL,        -- at the end of the minute (the last write in it)
    capacity  bigint NOT NULL,
    PRIMARY KEY (pool, minute)
);
",
    },
    // 3: the queue of a full pool.
    Step {
        sqlite: "
CREATE TABLE tickets (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL,      -- `tk_` + 8 random + seq: found by seq
    pool            TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    owner           TEXT NOT NULL,
    ttl_seconds     INTEGER,
    note            TEXT,
    wait_seconds    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,   -- Unix ms
    wait_until      INTEGER NOT NULL,   -- Unix ms
    status          TEXT NOT NULL DEFAULT 'waiting',  -- waiting, granted, cancelled, timed_out
    allocation_seq  INTEGER,            -- the grant
    ended_at        INTEGER,            -- Unix ms
    first_position  INTEGER NOT NULL,   -- as first sent (an idempotent replay)
    first_estimate  INTEGER,
    idempotency_key TEXT UNIQUE
);
CREATE INDEX tickets_waiting ON tickets (pool, seq) WHERE status = 'waiting';
",
        postgres: "
CREATE SEQUENCE ticket_seq;
CREATE TABLE tickets (
    seq             bigint PRIMARY KEY,
    id              text NOT NULL,
    pool            text NOT NULL REFERENCES pools (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    owner           text NOT NULL,
    ttl_seconds     bigint,
    note            text,
    wait_seconds    bigint NOT NULL,
    created_at      bigint NOT NULL,
    wait_until      bigint NOT NULL,
    status          text NOT NULL DEFAULT 'waiting'
        CHECK (status IN ('waiting', 'granted', 'cancelled', 'timed_out')),
    allocation_seq  bigint,
    ended_at        bigint,
    first_position  bigint NOT NULL,
    first_estimate  bigint,
    idempotency_key text UNIQUE,
    CHECK ((status = 'granted') = (allocation_seq IS NOT NULL))
);
CREATE INDEX tickets_waiting ON tickets (pool, seq) WHERE status = 'waiting';
CREATE INDEX tickets_deadline ON tickets (wait_until) WHERE status = 'waiting';
",
    },
    // 4: the event log (issue 16).
    Step {
        sqlite: "
CREATE TABLE events (
    seq   INTEGER PRIMARY KEY,  -- one writer: commit order is seq order
    at    INTEGER NOT NULL,     -- Unix ms
    kind  TEXT NOT NULL,
    pool  TEXT NOT NULL,
    owner TEXT,
    body  TEXT NOT NULL         -- the event as JSON, without its seq
);
CREATE INDEX events_pool ON events (pool, seq);
CREATE INDEX events_owner ON events (owner, seq);
",
        postgres: "
CREATE TABLE event_counter (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last     bigint NOT NULL     -- the last seq taken; its row lock orders commits
);
INSERT INTO event_counter (last) VALUES (0);
CREATE TABLE events (
    seq   bigint PRIMARY KEY,
    at    bigint NOT NULL,       -- Unix ms, database clock
    kind  text NOT NULL,
    pool  text NOT NULL,
    owner text,
    body  text NOT NULL          -- the event as JSON, without its seq
);
CREATE INDEX events_pool ON events (pool, seq);
CREATE INDEX events_owner ON events (owner, seq);
",
    },
    // 5: the server's own events (issue 16): each lease's `expiring` mark,
    // the purged prefix of the log, SQLite's record of the capacities.
    Step {
        sqlite: "
ALTER TABLE allocations ADD COLUMN renewed_at INTEGER;     -- Unix ms: the lease's start, if renewed
ALTER TABLE allocations ADD COLUMN expiring_sent INTEGER;  -- the expires_at whose `expiring` is stored
CREATE TABLE event_retention (
    only_row       INTEGER PRIMARY KEY CHECK (only_row = 1),
    purged_through INTEGER NOT NULL  -- every seq up to this one is purged
);
INSERT INTO event_retention (only_row, purged_through) VALUES (1, 0);
CREATE TABLE pool_capacities (
    pool     TEXT PRIMARY KEY,
    capacity INTEGER NOT NULL       -- as the pools file last said
) WITHOUT ROWID;
",
        postgres: "
ALTER TABLE allocations ADD COLUMN renewed_at bigint,
    ADD COLUMN expiring_sent bigint;
CREATE TABLE event_retention (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    purged_through bigint NOT NULL   -- every seq up to this one is purged
);
INSERT INTO event_retention (purged_through) VALUES (0);
",
    },
    // 6: each webhook's delivery position and lease (issue 16).
    Step {
        sqlite: "
CREATE TABLE webhook_deliveries (
    hook          TEXT PRIMARY KEY,           -- SHA-256 of the URL, hex (a URL may hold a token)
    delivered     INTEGER NOT NULL,           -- the last seq the hook is done with
    failing_since INTEGER,                    -- Unix ms: first failed attempt at the next event
    failed        INTEGER NOT NULL DEFAULT 0, -- events given up after the retry window
    holder        TEXT,                       -- the server delivering (its lease)
    lease_until   INTEGER NOT NULL DEFAULT 0  -- Unix ms
);
",
        postgres: "
CREATE TABLE webhook_deliveries (
    hook          text PRIMARY KEY,           -- SHA-256 of the URL, hex (a URL may hold a token)
    delivered     bigint NOT NULL,            -- the last seq the hook is done with
    failing_since bigint,                     -- Unix ms: first failed attempt at the next event
    failed        bigint NOT NULL DEFAULT 0,  -- events given up after the retry window
    holder        text,                       -- the replica delivering (its lease)
    lease_until   bigint NOT NULL DEFAULT 0   -- Unix ms, database clock
);
",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_takes_the_steps_it_lacks_and_refuses_a_newer_schema() {
        let all = STEPS.len() as i64;
        let versions = |applied| -> Vec<i32> {
            let steps = pending(applied, Dialect::Sqlite).unwrap();
            steps.into_iter().map(|(version, _)| version).collect()
        };
        assert_eq!(versions(0), (1..=all as i32).collect::<Vec<_>>());
        assert_eq!(versions(1), (2..=all as i32).collect::<Vec<_>>());
        assert!(versions(all).is_empty());
        let newer = pending(all + 1, Dialect::Postgres).unwrap_err().to_string();
        assert!(newer.contains("newer than this server"), "{newer}");
    }
}
