//! DDL: creating and dropping the star schema's tables.

use tokio_postgres::Client;

use super::error::{describe, statement_error, PgError, Result};
use crate::warehouse::sql::{Dialect, Ident, Sql};

/// Creates the schema (when given) and all tables if they do not exist, in one transaction.
pub async fn create_tables(client: &mut Client, schema: Option<&Ident>) -> Result<()> {
    let sql = Sql::new(Dialect::Postgres, schema.cloned());
    run_ddl(client, &sql.create_tables()).await
}

/// Drops all tables if they exist (the schema is kept), in one transaction.
pub async fn drop_tables(client: &mut Client, schema: Option<&Ident>) -> Result<()> {
    let sql = Sql::new(Dialect::Postgres, schema.cloned());
    run_ddl(client, &sql.drop_tables()).await
}

async fn run_ddl(client: &mut Client, statements: &[String]) -> Result<()> {
    let tx = client
        .transaction()
        .await
        .map_err(statement_error(None, "BEGIN"))?;
    for s in statements {
        tx.batch_execute(s)
            .await
            .map_err(statement_error(None, s))?;
    }
    tx.commit().await.map_err(|source| PgError::Commit {
        reason: describe(&source),
        source,
    })
}
