//! PostgreSQL's side of the webhooks' positions and leases
//! ([`crate::store::hooks`]): each statement on its own (autocommit), "now"
//! the database's clock, so replicas agree on when a lease lapses.

use crate::store::hooks::{self, stored_seq, HookAdvance, HookLag, HookPosition};
use crate::store::Storage;

use super::PgStore;

impl PgStore {
    pub(super) async fn claim(
        &self,
        hook: &str,
        holder: &str,
        lease_ms: i64,
    ) -> anyhow::Result<Option<HookPosition>> {
        let now = self.now_ms().await?;
        let client = self.connection().await?;
        let statement = client.prepare_cached(hooks::CLAIM).await?;
        let row = client
            .query_opt(&statement, &[&hook, &holder, &now, &lease_ms])
            .await?;
        Ok(row.map(|row| hooks::position(row.get(0), row.get(1))))
    }

    pub(super) async fn advance(
        &self,
        hook: &str,
        holder: &str,
        advance: HookAdvance,
    ) -> anyhow::Result<bool> {
        let client = self.connection().await?;
        let statement = client.prepare_cached(hooks::ADVANCE).await?;
        let (to, given_up) = (stored_seq(advance.to), stored_seq(advance.given_up));
        let moved = client
            .execute(&statement, &[&hook, &holder, &to, &given_up])
            .await?;
        Ok(moved == 1)
    }

    pub(super) async fn failing(
        &self,
        hook: &str,
        holder: &str,
        now_ms: i64,
    ) -> anyhow::Result<Option<i64>> {
        let client = self.connection().await?;
        let statement = client.prepare_cached(hooks::FAILING).await?;
        let row = client
            .query_opt(&statement, &[&hook, &holder, &now_ms])
            .await?;
        Ok(row.and_then(|row| row.get(0)))
    }

    pub(super) async fn release_lease(&self, hook: &str, holder: &str) -> anyhow::Result<()> {
        let client = self.connection().await?;
        let statement = client.prepare_cached(hooks::RELEASE).await?;
        client.execute(&statement, &[&hook, &holder]).await?;
        Ok(())
    }

    pub(super) async fn lags(&self) -> anyhow::Result<Vec<HookLag>> {
        let client = self.connection().await?;
        let statement = client.prepare_cached(hooks::LAGS).await?;
        let rows = client.query(&statement, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| hooks::lag(row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect())
    }
}
