//! The queue on PostgreSQL: every ticket change happens under its pool's row
//! lock (the lock every write to a pool takes first), so with any number of
//! replicas each ticket is granted once, in order, never over capacity.
//! The decisions are the pure [`crate::domain::queue`]'s.

use allocation_contract::{AllocationRequest, Ticket, TicketStatus};
use deadpool_postgres::Transaction;

use super::{record_event, LockedPool, NewGrant, PgStore};
use crate::domain::clock::rfc3339;
use crate::domain::queue::{self, Ask, Lease, PoolAt, BACKFILL_DEPTH};
use crate::store::events::{self, NewEvent};
use crate::store::ticket::{TicketRecord, TICKET_COLUMNS};
use allocation_contract::EventKind::{Granted, Queued, TimedOut};

/// What serving a locked pool came to.
pub(super) struct Served {
    /// Units the waiting tickets were granted.
    pub units: u64,
    /// Whether the newcomer, if any, may be granted now.
    pub newcomer: bool,
}

impl PgStore {
    /// The pool's active leases at `now` (its expired grants swept).
    async fn leases(tx: &Transaction<'_>, pool: &str, now: i64) -> anyhow::Result<Vec<Lease>> {
        let statement = tx
            .prepare_cached(
                "SELECT amount, expires_at FROM allocations WHERE pool = $1 AND NOT returned \
                 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .await?;
        Ok(tx
            .query(&statement, &[&pool, &now])
            .await?
            .iter()
            .map(|row| Lease {
                amount: row.get::<_, i64>(0) as u64,
                expires_at_ms: row.get(1),
            })
            .collect())
    }

    /// The first `limit` tickets in the pool's line.
    async fn line(
        tx: &Transaction<'_>,
        pool: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<TicketRecord>> {
        let statement = tx
            .prepare_cached(&format!(
                "SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.pool = $1 \
                 AND t.status = 'waiting' ORDER BY t.seq LIMIT $2"
            ))
            .await?;
        let rows = tx.query(&statement, &[&pool, &limit]).await?;
        Ok(rows
            .iter()
            .map(TicketRecord::read)
            .collect::<Result<_, _>>()?)
    }

    /// What the first `limit` tickets in the pool's line ask for, and no
    /// more: what placing a ticket needs.
    async fn asks(tx: &Transaction<'_>, pool: &str, limit: i64) -> anyhow::Result<Vec<Ask>> {
        let statement = tx
            .prepare_cached(
                "SELECT amount, ttl_seconds FROM tickets WHERE pool = $1 \
                 AND status = 'waiting' ORDER BY seq LIMIT $2",
            )
            .await?;
        Ok(tx
            .query(&statement, &[&pool, &limit])
            .await?
            .iter()
            .map(|row| Ask {
                amount: row.get::<_, i64>(0) as u64,
                ttl_ms: row
                    .get::<_, Option<i64>>(1)
                    .map(|ttl| ttl.saturating_mul(1000)),
            })
            .collect())
    }

    /// The estimates of the first `count` tickets of the pool's line at `now`.
    async fn estimates(
        tx: &Transaction<'_>,
        pool: &str,
        capacity: u64,
        now: i64,
        asks: Vec<Ask>,
    ) -> anyhow::Result<Vec<Option<i64>>> {
        let leases = Self::leases(tx, pool, now).await?;
        let at = PoolAt {
            capacity,
            now_ms: now,
            leases: &leases,
        };
        Ok(queue::estimates(at, asks))
    }

    /// Grants what the locked `pool` can serve now, and says whether
    /// `newcomer` may be granted after. Reads the head of the line only
    /// (the whole line when a newcomer could fit in what is free).
    pub(super) async fn serve_locked(
        &self,
        tx: &Transaction<'_>,
        pool: &LockedPool,
        pool_id: &str,
        newcomer: Option<Ask>,
    ) -> anyhow::Result<Served> {
        let limit = match newcomer {
            _ if pool.available == 0 && newcomer.is_none() => 0,
            Some(ask) if ask.amount <= pool.available => i64::MAX,
            _ => 1 + BACKFILL_DEPTH as i64 + pool.available as i64,
        };
        let line = if limit == 0 {
            Vec::new()
        } else {
            Self::line(tx, pool_id, limit).await?
        };
        if line.is_empty() {
            // Nobody waits (the common case: no lease is read), or nothing
            // is free for anyone.
            let fits = newcomer.is_some_and(|ask| ask.amount <= pool.available);
            return Ok(Served {
                units: 0,
                newcomer: fits,
            });
        }
        let leases = Self::leases(tx, pool_id, pool.now).await?;
        let at = PoolAt {
            capacity: pool.capacity as u64,
            now_ms: pool.now,
            leases: &leases,
        };
        let asks = line.iter().map(|ticket| ticket.waiting(0).ask());
        let turns = queue::serve(at, asks, newcomer);
        let mut units = 0;
        for index in turns.granted {
            self.grant_ticket(tx, &line[index], pool).await?;
            units += line[index].amount as u64;
        }
        Ok(Served {
            units,
            newcomer: turns.newcomer,
        })
    }

    /// The ticket's grant: an allocation whose lease starts now, the ticket
    /// `granted` (only if it still waits: never twice).
    async fn grant_ticket(
        &self,
        tx: &Transaction<'_>,
        ticket: &TicketRecord,
        pool: &LockedPool,
    ) -> anyhow::Result<()> {
        let request = AllocationRequest {
            pool: ticket.pool.clone(),
            amount: ticket.amount,
            owner: ticket.owner.clone(),
            ttl_seconds: ticket.ttl_seconds,
            note: ticket.note.clone(),
            wait_seconds: None,
        };
        let seq: i64 = tx
            .query_one("SELECT nextval('allocation_seq')", &[])
            .await?
            .get(0);
        let granting = LockedPool { seq, ..*pool };
        let grant = NewGrant::decide(tx, &request, &granting).await?;
        self.insert_grant(tx, &request, None, &granting, &grant)
            .await?;
        let marked = tx
            .execute(
                "UPDATE tickets SET status = 'granted', allocation_seq = $2, ended_at = $3 \
                 WHERE seq = $1 AND status = 'waiting'",
                &[&ticket.seq, &seq, &pool.now],
            )
            .await?;
        if marked != 1 {
            anyhow::bail!("ticket {} was no longer waiting", ticket.id);
        }
        tracing::info!(ticket = %ticket.id, allocation = %grant.id, owner = %ticket.owner, "ticket granted");
        let allocation = grant.allocation(&request, pool.now);
        let waiting = ticket.ticket(pool.now);
        let after = events::ended(&waiting, TicketStatus::Granted, pool.now, Some(allocation));
        record_event(tx, NewEvent::ticket(Granted, pool.now, None, after)).await?;
        Ok(())
    }

    /// Units in the pool's line (of one owner, if given).
    pub(super) async fn waiting_units(
        tx: &Transaction<'_>,
        pool: &str,
        owner: Option<&str>,
    ) -> anyhow::Result<u64> {
        let row = tx
            .query_one(
                "SELECT COALESCE(sum(amount), 0)::bigint FROM tickets WHERE pool = $1 \
                 AND status = 'waiting' AND ($2::text IS NULL OR owner = $2)",
                &[&pool, &owner],
            )
            .await?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// Units `owner` holds in the pool at `now`.
    pub(super) async fn held_by(
        tx: &Transaction<'_>,
        pool: &str,
        owner: &str,
        now: i64,
    ) -> anyhow::Result<u64> {
        let row = tx
            .query_one(
                "SELECT COALESCE(sum(amount), 0)::bigint FROM allocations WHERE pool = $1 \
                 AND owner = $2 AND NOT returned AND (expires_at IS NULL OR expires_at > $3)",
                &[&pool, &owner, &now],
            )
            .await?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// The request joins the locked pool's line; the ticket as first sent.
    pub(super) async fn queue_ticket(
        &self,
        tx: &Transaction<'_>,
        request: &AllocationRequest,
        (key, actor): (Option<&str>, Option<&str>),
        wait_seconds: i64,
        pool: &LockedPool,
    ) -> anyhow::Result<Ticket> {
        let seq: i64 = tx
            .query_one("SELECT nextval('ticket_seq')", &[])
            .await?
            .get(0);
        let mut record = TicketRecord::waiting_from(seq, request, wait_seconds, pool.now);
        (record.first_position, record.first_estimate) =
            Self::place_last(tx, pool, &request.pool, record.waiting(0).ask()).await?;
        tx.execute(
            "INSERT INTO tickets (seq, id, pool, amount, owner, ttl_seconds, note, wait_seconds, \
             created_at, wait_until, first_position, first_estimate, idempotency_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &record.seq,
                &record.id,
                &record.pool,
                &record.amount,
                &record.owner,
                &record.ttl_seconds,
                &record.note,
                &record.wait_seconds,
                &record.created_at,
                &record.wait_until,
                &record.first_position,
                &record.first_estimate,
                &key,
            ],
        )
        .await?;
        bump(tx, &request.pool, pool.now).await?;
        tracing::info!(ticket = %record.id, pool = %record.pool, owner = %record.owner, "ticket queued");
        let queued = record.first_answer();
        record_event(
            tx,
            NewEvent::ticket(Queued, pool.now, actor, queued.clone()),
        )
        .await?;
        Ok(queued)
    }

    /// The position and estimate a ticket asking `ask` gets at the end of
    /// the locked pool's line.
    async fn place_last(
        tx: &Transaction<'_>,
        pool: &LockedPool,
        pool_id: &str,
        ask: Ask,
    ) -> anyhow::Result<(i64, Option<i64>)> {
        let mut asks = Self::asks(tx, pool_id, i64::MAX).await?;
        asks.push(ask);
        let position = asks.len() as i64;
        let capacity = pool.capacity as u64;
        let mut estimates = Self::estimates(tx, pool_id, capacity, pool.now, asks).await?;
        Ok((position, estimates.pop().flatten()))
    }

    /// Times out the locked pool's tickets past their `wait_until`.
    pub(super) async fn time_out(
        tx: &Transaction<'_>,
        pool: &str,
        now: i64,
    ) -> anyhow::Result<u64> {
        let gone = tx
            .query(
                &format!(
                    "UPDATE tickets t SET status = 'timed_out', ended_at = wait_until \
                     WHERE pool = $1 AND status = 'waiting' AND wait_until <= $2 \
                     RETURNING {TICKET_COLUMNS}"
                ),
                &[&pool, &now],
            )
            .await?;
        for row in &gone {
            let record = TicketRecord::read(row)?;
            let event = NewEvent::ticket(TimedOut, record.wait_until, None, record.ticket(now));
            record_event(tx, event).await?;
        }
        let gone = gone.len() as u64;
        if gone > 0 {
            bump(tx, pool, now).await?;
        }
        Ok(gone)
    }

    /// The pools with something due now: a lease expired and not given back
    /// yet (its `expired` event is stored by the sweep) or due to be told it
    /// is `expiring`, or a ticket past its deadline.
    pub(super) async fn due_pools(&self) -> anyhow::Result<Vec<String>> {
        let client = self.connection().await?;
        let statement = client
            .prepare_cached(
                "SELECT DISTINCT a.pool FROM allocations a WHERE NOT a.returned \
                 AND a.expires_at <= allocation_now_ms($1) + $2 \
                 AND (a.expires_at <= allocation_now_ms($1) \
                   OR (a.expires_at - COALESCE(a.renewed_at, a.created_at) > $2 \
                       AND a.expiring_sent IS DISTINCT FROM a.expires_at)) \
                 UNION SELECT t.pool FROM tickets t WHERE t.status = 'waiting' \
                 AND t.wait_until <= allocation_now_ms($1)",
            )
            .await?;
        let notice = crate::domain::levels::EXPIRING_NOTICE_MS;
        let rows = client.query(&statement, &[&self.offset(), &notice]).await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// One ticket in any status, placed when it waits.
    pub(super) async fn ticket_in(
        &self,
        tx: &Transaction<'_>,
        seq: i64,
        id: &str,
    ) -> anyhow::Result<Option<Ticket>> {
        let statement = tx
            .prepare_cached(&format!(
                "SELECT {TICKET_COLUMNS}, {} FROM tickets t \
                 LEFT JOIN allocations a ON a.seq = t.allocation_seq WHERE t.seq = $1 AND t.id = $2",
                crate::store::record::COLUMNS
            ))
            .await?;
        let Some(row) = tx.query_opt(&statement, &[&seq, &id]).await? else {
            return Ok(None);
        };
        let record = TicketRecord::read(&row)?;
        let now: i64 = tx
            .query_one("SELECT allocation_now_ms($1)", &[&self.offset()])
            .await?
            .get(0);
        if record.status != TicketStatus::Waiting {
            return Ok(Some(record.ticket(now)));
        }
        let ahead: i64 = tx
            .query_one(
                "SELECT count(*) FROM tickets WHERE pool = $1 AND status = 'waiting' AND seq < $2",
                &[&record.pool, &record.seq],
            )
            .await?
            .get(0);
        let asks = Self::asks(tx, &record.pool, ahead + 1).await?;
        let capacity = Self::capacity(tx, &record.pool).await?;
        let estimate = Self::estimates(tx, &record.pool, capacity, now, asks)
            .await?
            .pop()
            .flatten();
        Ok(Some(Ticket {
            position: Some(ahead as u64 + 1),
            estimated_grant_at: estimate.map(rfc3339),
            ..record.ticket(now)
        }))
    }

    async fn capacity(tx: &Transaction<'_>, pool: &str) -> anyhow::Result<u64> {
        let row = tx
            .query_one("SELECT capacity FROM pools WHERE id = $1", &[&pool])
            .await?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// The pool's line with the positions and estimates at `now`; a ticket
    /// due now (an expiry not swept yet) shows `as_of`, not the clock: one
    /// ETag, one body.
    pub(super) async fn placed(
        &self,
        tx: &Transaction<'_>,
        pool: &str,
        now: i64,
        as_of: i64,
    ) -> anyhow::Result<Vec<Ticket>> {
        let line = Self::line(tx, pool, i64::MAX).await?;
        if line.is_empty() {
            return Ok(Vec::new());
        }
        let capacity = Self::capacity(tx, pool).await?;
        let asks = line.iter().map(|t| t.waiting(0).ask()).collect();
        let estimates = Self::estimates(tx, pool, capacity, now, asks).await?;
        Ok(line
            .iter()
            .zip(estimates)
            .enumerate()
            .map(|(index, (record, estimate))| Ticket {
                position: Some(index as u64 + 1),
                estimated_grant_at: estimate
                    .map(|at| if at == now { as_of } else { at })
                    .map(rfc3339),
                ..record.ticket(now)
            })
            .collect())
    }
}

/// Moves the pool's version (the listings' ETag) and its `changed_at`.
pub(super) async fn bump(tx: &Transaction<'_>, pool: &str, now: i64) -> anyhow::Result<()> {
    tx.execute(
        "UPDATE pools SET version = version + 1, changed_at = GREATEST(changed_at, $2) \
         WHERE id = $1",
        &[&pool, &now],
    )
    .await?;
    Ok(())
}
