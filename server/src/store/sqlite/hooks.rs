//! SQLite's side of the webhooks' positions and leases
//! ([`crate::store::hooks`]): the writes go through the writer (in its next
//! batch, sharing its commit), the reads through the reader. One server per
//! database file: its lease is always its own ([`hooks::TAKE`]).

use rusqlite::{named_params, OptionalExtension};

use super::SqliteStore;
use crate::store::hooks::{self, stored_seq, HookAdvance, HookLag, HookPosition};

impl SqliteStore {
    pub(super) async fn claim(
        &self,
        hook: &str,
        holder: &str,
        lease_ms: i64,
    ) -> anyhow::Result<Option<HookPosition>> {
        let (hook, holder, now) = (hook.to_owned(), holder.to_owned(), self.clock.now_ms());
        self.write(move |conn| {
            let params = named_params! {"$1": hook, "$2": holder, "$3": now, "$4": lease_ms};
            Ok(conn
                .prepare_cached(hooks::TAKE)?
                .query_row(params, |row| Ok(hooks::position(row.get(0)?, row.get(1)?)))
                .optional()?)
        })
        .await
    }

    pub(super) async fn advance(
        &self,
        hook: &str,
        holder: &str,
        advance: HookAdvance,
    ) -> anyhow::Result<bool> {
        let (hook, holder) = (hook.to_owned(), holder.to_owned());
        let (to, given_up) = (stored_seq(advance.to), stored_seq(advance.given_up));
        self.write(move |conn| {
            let params = named_params! {"$1": hook, "$2": holder, "$3": to, "$4": given_up};
            Ok(conn.prepare_cached(hooks::ADVANCE)?.execute(params)? == 1)
        })
        .await
    }

    pub(super) async fn failing(
        &self,
        hook: &str,
        holder: &str,
        now_ms: i64,
    ) -> anyhow::Result<Option<i64>> {
        let (hook, holder) = (hook.to_owned(), holder.to_owned());
        self.write(move |conn| {
            let params = named_params! {"$1": hook, "$2": holder, "$3": now_ms};
            Ok(conn
                .prepare_cached(hooks::FAILING)?
                .query_row(params, |row| row.get(0))
                .optional()?)
        })
        .await
    }

    pub(super) async fn release_lease(&self, hook: &str, holder: &str) -> anyhow::Result<()> {
        let (hook, holder) = (hook.to_owned(), holder.to_owned());
        self.write(move |conn| {
            let params = named_params! {"$1": hook, "$2": holder};
            conn.prepare_cached(hooks::RELEASE)?.execute(params)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn lags(&self) -> anyhow::Result<Vec<HookLag>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(hooks::LAGS)?;
            let rows = statement.query_map([], |row| {
                Ok(hooks::lag(
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}
