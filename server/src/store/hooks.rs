//! Webhook deliveries as both stores keep them (issue 16): one row per hook
//! (`webhook_deliveries`) with the last `seq` it is done with and a lease,
//! so a restart resumes where it stopped and, of several PostgreSQL
//! replicas, one delivers each hook. The same SQL on both stores; "now" is
//! passed in (PostgreSQL: the database's clock, read first).
//! SQLite binds the `$N` parameters by name (it numbers them by first
//! appearance).

/// Where a hook stands, as its lease holder reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookPosition {
    /// The last `seq` the hook is done with (delivered, not for it, or given up).
    pub delivered: u64,
    /// Unix ms of the first failed attempt at the next event, if one failed.
    pub failing_since_ms: Option<i64>,
}

/// A move of a hook's position, by its lease holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookAdvance {
    /// The last `seq` the hook is now done with.
    pub to: u64,
    /// Events given up on by this move (0 or 1).
    pub given_up: u64,
}

/// How far one hook is behind the log, for `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookLag {
    /// The hook's key (see [`crate::webhooks::Hook::key`]).
    pub hook: String,
    /// Events in the log after its position.
    pub events: u64,
    /// Unix ms of the first of them, if any.
    pub oldest_ms: Option<i64>,
    /// Events given up on, over the hook's life.
    pub given_up: u64,
}

/// Takes `$1`'s lease for holder `$2` until `$3` (now) + `$4` ms, when
/// `$when` (empty: always): its position, or no row. A hook seen for the
/// first time starts at the log's end.
macro_rules! claim {
    ($when:literal) => {
        concat!(
            "INSERT INTO webhook_deliveries (hook, delivered, holder, lease_until) \
             VALUES ($1, (SELECT COALESCE(max(seq), 0) FROM events), $2, \
                     CAST($3 AS bigint) + CAST($4 AS bigint)) \
             ON CONFLICT (hook) DO UPDATE SET holder = excluded.holder, \
                 lease_until = excluded.lease_until ",
            $when,
            " RETURNING delivered, failing_since"
        )
    };
}

/// Takes or renews the lease when it is free, lapsed or already `$2`'s.
pub const CLAIM: &str = claim!(
    "WHERE webhook_deliveries.holder = excluded.holder \
        OR webhook_deliveries.lease_until <= CAST($3 AS bigint)"
);

/// [`CLAIM`] for a store only one server opens (SQLite's file lock): the
/// lease is always this server's, so a restart after a crash resumes at
/// once instead of waiting for the dead process's lease to lapse.
pub const TAKE: &str = claim!("");

/// Moves hook `$1`'s position to `$3` and counts `$4` given up, if holder
/// `$2` still holds it (never backwards).
pub const ADVANCE: &str = "UPDATE webhook_deliveries SET \
     delivered = CAST($3 AS bigint), failed = failed + CAST($4 AS bigint), failing_since = NULL \
     WHERE hook = $1 AND holder = $2 AND delivered <= CAST($3 AS bigint)";

/// Records `$3` (now) as when hook `$1`'s next event began failing, unless
/// an earlier failure did, if holder `$2` still holds it: the instant kept.
pub const FAILING: &str = "UPDATE webhook_deliveries SET \
     failing_since = COALESCE(failing_since, CAST($3 AS bigint)) \
     WHERE hook = $1 AND holder = $2 RETURNING failing_since";

/// Lets go of hook `$1`'s lease if holder `$2` holds it (at shutdown: another
/// replica takes over at once).
pub const RELEASE: &str =
    "UPDATE webhook_deliveries SET lease_until = 0 WHERE hook = $1 AND holder = $2";

/// Every hook's lag: key, events after its position, the first one's time,
/// events given up.
pub const LAGS: &str = "SELECT w.hook, \
     (SELECT COALESCE(max(seq), 0) FROM events) - w.delivered, \
     (SELECT e.at FROM events e WHERE e.seq > w.delivered ORDER BY e.seq LIMIT 1), \
     w.failed \
     FROM webhook_deliveries w ORDER BY w.hook";

/// A [`LAGS`] row's numbers as they are read.
pub fn lag(hook: String, events: i64, oldest_ms: Option<i64>, given_up: i64) -> HookLag {
    HookLag {
        hook,
        events: events.max(0) as u64,
        oldest_ms,
        given_up: given_up.max(0) as u64,
    }
}

/// A [`CLAIM`] row's columns as they are read.
pub fn position(delivered: i64, failing_since_ms: Option<i64>) -> HookPosition {
    HookPosition {
        delivered: delivered.max(0) as u64,
        failing_since_ms,
    }
}

/// A `seq` as the databases store it.
pub fn stored_seq(seq: u64) -> i64 {
    seq.min(i64::MAX as u64) as i64
}
