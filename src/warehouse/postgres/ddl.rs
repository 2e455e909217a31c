//! DDL: creating and dropping the star schema's tables.

use tokio_postgres::Client;

use super::error::{commit_error, statement_error, Result};
use crate::warehouse::sql::{Dialect, Ident, Sql};

/// Creates the schema (when given) and all tables if they do not exist, in one transaction.
pub async fn create_tables(client: &mut Client, schema: Option<&Ident>) -> Result<()> {
    execute_ddl(client, &Sql::new(Dialect::Postgres, schema.cloned()), true).await
}

/// Drops all tables if they exist (the schema is kept), in one transaction.
pub async fn drop_tables(client: &mut Client, schema: Option<&Ident>) -> Result<()> {
    execute_ddl(client, &Sql::new(Dialect::Postgres, schema.cloned()), false).await
}

/// Runs the session setup of `sql`, then creates (`create`) or drops the tables in one
/// transaction.
pub async fn execute_ddl(client: &mut Client, sql: &Sql, create: bool) -> Result<()> {
    for s in sql.setup() {
        client
            .batch_execute(s)
            .await
            .map_err(statement_error(None, s))?;
    }
    if create {
        crate::warehouse::shape::check(client, sql).await?;
    }
    let statements = if create {
        sql.create_tables()
    } else {
        sql.drop_tables()
    };
    let tx = client
        .transaction()
        .await
        .map_err(statement_error(None, "BEGIN"))?;
    for s in &statements {
        tx.batch_execute(s)
            .await
            .map_err(statement_error(None, s))?;
    }
    tx.commit().await.map_err(commit_error)
}
