//! What every plan executor shares: running a [`Step`] on an [`Executor`] while keeping track of
//! the transaction and of the stage tables it created, counting the rows each table's steps
//! built, deleted and inserted, the one statement error, and the clean-up after a failure
//! (`ROLLBACK` first, then the stages dropped).

use super::{first_line, ExecError};
use crate::warehouse::plan::{Step, StepKind, ROLLBACK};
use crate::warehouse::server::{Executor, Reply, ServerError};
use crate::warehouse::sql::Dialect;

/// Rows the counted steps of one table reported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableRows {
    /// Rows [`StepKind::Build`] steps built into the table's stage.
    pub built: u64,
    /// Rows [`StepKind::Delete`] steps deleted from the table.
    pub deleted: u64,
    /// Rows [`StepKind::Insert`] steps inserted into the table.
    pub inserted: u64,
}

/// What executing a plan has done to the session so far.
#[derive(Debug)]
pub struct StepSession {
    dialect: Dialect,
    in_transaction: bool,
    /// Tables whose stage was created and not yet dropped.
    stages: Vec<&'static str>,
    rows: Vec<(&'static str, TableRows)>,
}

impl StepSession {
    /// A session of `dialect` in which nothing has run yet.
    pub fn new(dialect: Dialect) -> StepSession {
        StepSession {
            dialect,
            in_transaction: false,
            stages: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Runs `step` on `exec` and keeps track of what it did: `BEGIN` opens the transaction,
    /// `COMMIT` ends it whatever its outcome (the server ends a transaction whose `COMMIT`
    /// failed), a created stage is remembered, and the rows of build, delete and insert steps are
    /// counted for their table. A [`StepKind::DropStage`] failure is only logged.
    pub async fn run<E: Executor>(
        &mut self,
        exec: &mut E,
        step: &Step,
    ) -> Result<Reply, ServerError> {
        if step.kind == StepKind::DropStage {
            drop_stage(exec, step).await;
            self.stages.retain(|t| Some(*t) != step.table);
            return Ok(Reply::default());
        }
        let result = exec.run(&step.sql).await;
        if step.kind == StepKind::Commit {
            self.in_transaction = false;
        }
        let reply = result?;
        match &step.kind {
            StepKind::Begin => self.in_transaction = true,
            StepKind::CreateStage => self.stages.extend(step.table),
            StepKind::Build | StepKind::Delete | StepKind::Insert => {
                if let Some(table) = step.table {
                    let rows = self.rows_mut(table);
                    let count = match step.kind {
                        StepKind::Build => &mut rows.built,
                        StepKind::Delete => &mut rows.deleted,
                        _ => &mut rows.inserted,
                    };
                    *count += reply.affected;
                }
            }
            _ => {}
        }
        Ok(reply)
    }

    /// The rows counted for `table` so far.
    pub fn rows(&self, table: &str) -> TableRows {
        self.rows
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, r)| *r)
            .unwrap_or_default()
    }

    fn rows_mut(&mut self, table: &'static str) -> &mut TableRows {
        let at = match self.rows.iter().position(|(t, _)| *t == table) {
            Some(at) => at,
            None => {
                self.rows.push((table, TableRows::default()));
                self.rows.len() - 1
            }
        };
        &mut self.rows[at].1
    }

    /// The error of `step`, which failed with `source`.
    pub fn error(&self, step: &Step, source: ServerError) -> ExecError {
        ExecError::statement(self.dialect, step.table, &step.sql, source)
    }

    /// After a failure: `ROLLBACK` if the transaction is open (a failure of it is only logged:
    /// the server discards the transaction when the connection closes), then the stages created
    /// so far dropped with their [`StepKind::DropStage`] steps in `steps`. `what` names the
    /// failed work in the log (`load`, `ELT run`).
    pub async fn clean_up<E: Executor>(&mut self, exec: &mut E, steps: &[Step], what: &str) {
        self.roll_back(exec, what).await;
        for step in steps {
            let created = step.table.is_some_and(|t| self.stages.contains(&t));
            if step.kind == StepKind::DropStage && created {
                drop_stage(exec, step).await;
            }
        }
    }

    /// `ROLLBACK` if the transaction is open; a failure is only logged.
    pub async fn roll_back<E: Executor>(&mut self, exec: &mut E, what: &str) {
        if !self.in_transaction {
            return;
        }
        self.in_transaction = false;
        if let Err(e) = exec.run(ROLLBACK).await {
            tracing::warn!(
                error = %e,
                "ROLLBACK after a failed {what} failed; the server discards the open transaction \
                 when the connection closes"
            );
        }
    }
}

/// Runs a [`StepKind::DropStage`] step; a failure is only logged (the stage goes with the session).
async fn drop_stage<E: Executor>(exec: &mut E, step: &Step) {
    if let Err(e) = exec.run(&step.sql).await {
        tracing::warn!(
            statement = first_line(&step.sql),
            error = %e,
            "dropping a stage table failed; it goes when the session ends"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::plan::{BEGIN, COMMIT};

    /// Records statements; fails the one equal to `fail`, and answers `DELETE 2` to the others.
    struct Recorder {
        log: Vec<String>,
        fail: &'static str,
    }

    impl Executor for Recorder {
        async fn run(&mut self, sql: &str) -> Result<Reply, ServerError> {
            self.log.push(sql.to_owned());
            if sql == self.fail {
                return Err(ServerError {
                    code: Some("XX000".into()),
                    message: "ERROR: injected".into(),
                });
            }
            Ok(Reply {
                rows: Vec::new(),
                affected: 2,
            })
        }
    }

    fn plan() -> Vec<Step> {
        let on = |sql: &str, kind| Step::new(Some("users"), sql, kind);
        vec![
            on("CREATE TEMP TABLE stage_users;", StepKind::CreateStage),
            Step::of(BEGIN, StepKind::Begin),
            on("DELETE FROM users;", StepKind::Delete),
            on("INSERT INTO users;", StepKind::Insert),
            Step::of(COMMIT, StepKind::Commit),
            on("DROP TABLE stage_users;", StepKind::DropStage),
        ]
    }

    /// Runs `plan()` with `fail` failing; returns the statements sent and the rows counted.
    async fn execute(fail: &'static str) -> (Vec<String>, TableRows) {
        let mut exec = Recorder {
            log: Vec::new(),
            fail,
        };
        let mut session = StepSession::new(Dialect::Postgres);
        let steps = plan();
        for step in &steps {
            if session.run(&mut exec, step).await.is_err() {
                session.clean_up(&mut exec, &steps, "load").await;
                break;
            }
        }
        (exec.log, session.rows("users"))
    }

    #[tokio::test]
    async fn a_failure_rolls_back_then_drops_the_stage_and_rows_are_counted() {
        let (log, rows) = execute("INSERT INTO users;").await;
        assert_eq!(
            &log[3..],
            ["INSERT INTO users;", ROLLBACK, "DROP TABLE stage_users;"]
        );
        assert_eq!((rows.deleted, rows.inserted), (2, 0));

        // No ROLLBACK after a failed COMMIT: the server ended the transaction.
        let (log, _) = execute(COMMIT).await;
        assert_eq!(&log[4..], [COMMIT, "DROP TABLE stage_users;"]);

        // A failed stage drop is only logged; the plan completes.
        let (log, rows) = execute("DROP TABLE stage_users;").await;
        assert_eq!(log.len(), 6);
        assert_eq!((rows.deleted, rows.inserted), (2, 2));
    }
}
