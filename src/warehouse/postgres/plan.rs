//! The PostgreSQL load as a plan: the steps [`super::load_with`] executes and `--dry-run` prints.

use super::WriteMode;
use crate::schema::{Table, TABLES};
use crate::warehouse::ddl::session_steps;
use crate::warehouse::plan::{script, Step, StepKind, BEGIN, COMMIT};
use crate::warehouse::sql::Sql;

/// The steps loading `tables` (in load order) in `mode` with statements rendered by `sql`: the
/// session's `SET`s and the shape check, then in one transaction one `LOCK` per table (so that a
/// missing table is named in the error), each table's stage created, copied into (once per
/// Parquet file), counted and analyzed, then each table's `DELETE` and `INSERT`, and `COMMIT`.
pub fn load_steps(sql: &Sql, tables: &[&'static Table], mode: WriteMode) -> Vec<Step> {
    let loads: Vec<_> = tables
        .iter()
        .map(|t| (t.name, sql.load_statements(t, mode)))
        .collect();
    let on = |table: &'static str, sql: &str, kind: StepKind| Step::new(Some(table), sql, kind);
    let mut steps = session_steps(sql, true);
    steps.push(Step::of(BEGIN, StepKind::Begin));
    steps.extend(loads.iter().map(|(t, s)| on(t, &s.lock, StepKind::Plain)));
    for (t, s) in &loads {
        steps.push(on(t, &s.create_stage, StepKind::Plain));
        steps.extend(s.copy.iter().map(|c| on(t, c, StepKind::CopyParquet)));
        steps.push(on(t, &s.count_stage, StepKind::CountStage));
        steps.push(on(t, &s.analyze_stage, StepKind::Plain));
    }
    for (t, s) in &loads {
        steps.push(on(t, &s.delete, StepKind::Delete));
        steps.push(on(t, &s.insert, StepKind::Insert));
    }
    steps.push(Step::of(COMMIT, StepKind::Commit));
    steps
}

/// Every statement of a load of all tables in `mode`, in the order [`super::load_with`] runs
/// them, for `--dry-run` (the COPY of a table runs once per Parquet file). The shape check's query
/// is left out.
pub fn load_script(sql: &Sql, mode: WriteMode) -> String {
    let steps: Vec<Step> = load_steps(sql, &TABLES, mode)
        .into_iter()
        .filter(|s| s.kind != StepKind::Shape)
        .collect();
    script(&steps, "")
}
