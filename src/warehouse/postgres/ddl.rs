//! DDL: creating and dropping the star schema's tables, as the plan both dialects share
//! ([`ddl_steps`]).

use tokio_postgres::Client;

use super::error::{commit_error, PgError, Result};
use crate::warehouse::ddl::ddl_steps;
use crate::warehouse::exec::steps::StepSession;
use crate::warehouse::plan::StepKind;
use crate::warehouse::server::Executor;
use crate::warehouse::shape::{compare, ShapeError};
use crate::warehouse::sql::{Dialect, Ident, Sql};

/// Creates the schema (when given) and all tables if they do not exist, in one transaction.
pub async fn create_tables(client: &mut Client, schema: Option<&Ident>) -> Result<()> {
    execute_ddl(client, &Sql::new(Dialect::Postgres, schema.cloned()), true).await
}

/// Drops all tables if they exist (the schema is kept), in one transaction.
pub async fn drop_tables(client: &mut Client, schema: Option<&Ident>) -> Result<()> {
    execute_ddl(client, &Sql::new(Dialect::Postgres, schema.cloned()), false).await
}

/// Runs the session setup of `sql`, then (checking the existing tables' shape first) creates
/// (`create`) or drops the tables in one transaction, rolled back on a failure.
pub async fn execute_ddl<E: Executor>(exec: &mut E, sql: &Sql, create: bool) -> Result<()> {
    let steps = ddl_steps(sql, create);
    let mut session = StepSession::new(Dialect::Postgres);
    for step in &steps {
        let outcome = match (session.run(exec, step).await, &step.kind) {
            (Ok(reply), StepKind::Shape) => compare(&reply.rows).map_err(PgError::from),
            (Ok(_), _) => Ok(()),
            (Err(e), StepKind::Shape) => Err(ShapeError::Query(e).into()),
            (Err(e), StepKind::Commit) => Err(commit_error(e)),
            (Err(e), _) => Err(session.error(step, e).into()),
        };
        if let Err(e) = outcome {
            session.clean_up(exec, &steps, "DDL").await;
            return Err(e);
        }
    }
    Ok(())
}
