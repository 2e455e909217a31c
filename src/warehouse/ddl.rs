//! The DDL plan of both dialects, and the steps every plan of a session starts with.

use super::plan::{Step, StepKind, BEGIN, COMMIT};
use super::shape::columns_query;
use super::sql::Sql;

/// The steps a plan of `sql` starts with: the session's `SET`s, then, with `shape`, the shape
/// check of the existing tables ([`StepKind::Shape`]).
pub fn session_steps(sql: &Sql, shape: bool) -> Vec<Step> {
    let mut steps: Vec<Step> = sql
        .setup()
        .iter()
        .map(|s| Step::of(s, StepKind::Plain))
        .collect();
    if shape {
        steps.push(Step::of(columns_query(sql), StepKind::Shape));
    }
    steps
}

/// Creates (`create = true`, after the shape check) or drops the star-schema tables,
/// idempotently, in one transaction.
pub fn ddl_steps(sql: &Sql, create: bool) -> Vec<Step> {
    let statements = if create {
        sql.create_tables()
    } else {
        sql.drop_tables()
    };
    let mut steps = session_steps(sql, create);
    steps.push(Step::of(BEGIN, StepKind::Begin));
    steps.extend(statements.iter().map(|s| Step::of(s, StepKind::Plain)));
    steps.push(Step::of(COMMIT, StepKind::Commit));
    steps
}
