//! A session for checks, queries and reports: connected, then started with the session statements
//! of its dialect.

use tokio_postgres::Client;

use super::target::PgTarget;
use crate::warehouse::exec::{batch, session_statements};
use crate::warehouse::sql::Dialect;

impl PgTarget {
    /// Connects to this target and starts the session ([`session_statements`]) for `dialect`.
    pub async fn connect_session(&self, dialect: Dialect) -> crate::Result<Client> {
        let client = self.connect().await?;
        for statement in session_statements(&self.sql(dialect)) {
            batch(&client, dialect, None, &statement).await?;
        }
        Ok(client)
    }
}
