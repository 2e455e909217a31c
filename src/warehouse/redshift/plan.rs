//! Redshift plans: the statements of a load or of DDL, in order, with what each result means.
//! `--dry-run` prints exactly these; [`super::execute`] runs them. The steps are the warehouse
//! layer's one [`Step`] type.

use super::{RedshiftError, RedshiftTarget, Result};
use crate::s3::S3Location;
use crate::schema::{Table, TABLES};
use crate::sink::s3::{manifest_key, LatestRun};
use crate::warehouse::ddl::{ddl_steps, session_steps};
use crate::warehouse::plan::{script, Step, StepKind, BEGIN, COMMIT};
use crate::warehouse::sql::{IamRole, RedshiftLoad, S3Url, Sql, WriteMode};

/// The statements of a load or of DDL, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// The write mode (DDL plans say [`WriteMode::Replace`]; they load no table).
    pub mode: WriteMode,
    /// The tables loaded, in load order, with their file counts.
    pub tables: Vec<(&'static str, usize)>,
    /// The statements.
    pub steps: Vec<Step>,
}

impl LoadPlan {
    /// The statements, one after another, as `--dry-run` prints them.
    pub fn script(&self) -> String {
        script(&self.steps, "")
    }
}

/// One table of a published run, ready to COPY.
#[derive(Debug, Clone)]
pub struct CopySource {
    /// The table.
    pub table: &'static Table,
    /// Its COPY manifest.
    pub manifest: S3Url,
    /// Rows the run wrote.
    pub rows: u64,
    /// Parquet files in the manifest.
    pub files: usize,
}

/// The tables of `run`, in load order (dimensions first), with their manifests validated as COPY
/// literals. Every star-schema table must be present with a row count; entries that are not
/// star-schema tables are ignored, so their names never reach a statement.
pub fn copy_sources(run: &LatestRun) -> Result<Vec<CopySource>> {
    let fail = |reason: String| RedshiftError::Run {
        run_id: run.run_id.clone(),
        reason,
    };
    for extra in run
        .tables
        .iter()
        .filter(|t| Table::by_name(&t.name).is_none())
    {
        tracing::warn!(
            run = run.run_id,
            table = ?extra.name,
            "the run lists a table that is not part of the star schema; it is not loaded"
        );
    }
    TABLES
        .iter()
        .map(|&table| {
            let entry = run
                .table(table.name)
                .ok_or_else(|| fail(format!("it has no table {}", table.name)))?;
            let rows = entry.rows.ok_or_else(|| {
                fail(format!(
                    "its run pointer records no row count for {}, so the COPY could not be \
                     verified; republish it",
                    table.name
                ))
            })?;
            if entry.files == 0 && rows > 0 {
                return Err(fail(format!("{} has {rows} rows but no files", table.name)));
            }
            Ok(CopySource {
                table,
                manifest: S3Url::new(&entry.manifest_url)?,
                rows,
                files: entry.files,
            })
        })
        .collect()
}

/// The statements loading `sources` in `mode` (see the module documentation). A table without
/// files is emptied by a replace, has its range emptied by a window replace (when it is an event
/// table) and is left alone otherwise.
pub fn plan_load(sql: &Sql, sources: &[CopySource], role: &IamRole, mode: WriteMode) -> LoadPlan {
    let loads: Vec<(&CopySource, RedshiftLoad)> = sources
        .iter()
        .filter(|s| s.files > 0 || mode.clears(s.table))
        .map(|s| (s, sql.redshift_load(s.table, mode, &s.manifest, role)))
        .collect();
    let on = |s: &CopySource, sql: &str, kind: StepKind| Step::new(Some(s.table.name), sql, kind);
    let copy = |s: &CopySource, l: &RedshiftLoad| {
        let manifest = s.manifest.clone();
        let expected = s.rows;
        [
            on(
                s,
                &l.copy,
                StepKind::Copy {
                    manifest: manifest.clone(),
                },
            ),
            on(s, &l.copy_count, StepKind::CopyCount { manifest, expected }),
        ]
    };
    // Tables copied into a stage before the transaction (and inserted from it inside).
    let staged = |s: &CopySource| mode.stages() && s.files > 0;
    let mut steps = session_steps(sql, true);
    for (s, l) in loads.iter().filter(|(s, _)| staged(s)) {
        steps.extend(
            l.create_stage
                .iter()
                .map(|c| on(s, c, StepKind::CreateStage)),
        );
        steps.extend(copy(s, l));
    }
    steps.push(Step::of(BEGIN, StepKind::Begin));
    steps.extend(loads.iter().map(|(s, l)| on(s, &l.lock, StepKind::Plain)));
    for (s, l) in &loads {
        steps.push(on(s, &l.delete, StepKind::Delete));
        match &l.insert {
            Some(insert) if staged(s) => steps.push(on(s, insert, StepKind::Insert)),
            None if s.files > 0 => steps.extend(copy(s, l)),
            _ => {}
        }
    }
    steps.push(Step::of(COMMIT, StepKind::Commit));
    for (s, l) in loads.iter().filter(|(s, _)| staged(s)) {
        steps.extend(l.drop_stage.iter().map(|d| on(s, d, StepKind::DropStage)));
    }
    LoadPlan {
        mode,
        tables: sources.iter().map(|s| (s.table.name, s.files)).collect(),
        steps,
    }
}

/// Creates (`create = true`) or drops the star-schema tables, idempotently, in one transaction.
pub fn plan_ddl(sql: &Sql, create: bool) -> LoadPlan {
    LoadPlan {
        mode: WriteMode::Replace,
        tables: Vec::new(),
        steps: ddl_steps(sql, create),
    }
}

/// The plan `--dry-run` prints for a run that is not published yet: every table with files, under
/// run id `run_id` of the target's staging prefix. Row counts are not known before the run.
pub fn plan_for_dry_run(
    target: &RedshiftTarget,
    run_id: &str,
    mode: WriteMode,
) -> Result<LoadPlan> {
    let sources = TABLES
        .iter()
        .map(|&table| {
            let key = manifest_key(&target.staging, run_id, table.name);
            Ok(CopySource {
                table,
                manifest: S3Url::new(&target.staging.url_of(&key))?,
                rows: 0,
                files: 1,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(plan_load(&target.sql(), &sources, &target.iam_role, mode))
}

/// Refuses a run whose manifests are not under the `staging` prefix: `_latest` is read from S3,
/// and COPY must read only runs published there, not whatever bucket a changed pointer names.
pub fn check_run_location(staging: &S3Location, run: &LatestRun) -> Result<()> {
    let prefix = format!(
        "{}/",
        staging.url_of(&staging.key("")).trim_end_matches('/')
    );
    match run
        .tables
        .iter()
        .find(|t| !t.manifest_url.starts_with(&prefix) || t.manifest_url.contains("/../"))
    {
        Some(t) => Err(RedshiftError::Run {
            run_id: run.run_id.clone(),
            reason: format!(
                "its manifest for {} is {}, outside the staging prefix {prefix}",
                t.name, t.manifest_url
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SONGS, USERS};
    use crate::warehouse::sql::Dialect;

    fn source(table: &'static Table, rows: u64, files: usize) -> CopySource {
        CopySource {
            table,
            manifest: S3Url::new(&format!("s3://bkt/p/runs/r/{}.manifest", table.name)).unwrap(),
            rows,
            files,
        }
    }

    fn kinds(plan: &LoadPlan) -> Vec<(Option<&str>, String)> {
        plan.steps
            .iter()
            .map(|s| {
                (
                    s.table,
                    format!("{:?}", s.kind)
                        .split([' ', '{'])
                        .next()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn a_table_without_files_is_emptied_by_replace_and_skipped_by_merge() {
        let sql = Sql::new(Dialect::Redshift, None);
        let role = IamRole::new("arn:aws:iam::123456789012:role/r").unwrap();
        let sources = [source(&USERS, 0, 0), source(&SONGS, 7, 1)];
        let k = |s: &str| s.to_owned();

        let plan = plan_load(&sql, &sources, &role, WriteMode::Replace);
        assert_eq!(
            kinds(&plan),
            [
                (None, k("Shape")),
                (None, k("Begin")),
                (Some("users"), k("Plain")),
                (Some("songs"), k("Plain")),
                (Some("users"), k("Delete")),
                (Some("songs"), k("Delete")),
                (Some("songs"), k("Copy")),
                (Some("songs"), k("CopyCount")),
                (None, k("Commit")),
            ]
        );
        assert_eq!(plan.tables, [("users", 0), ("songs", 1)]);

        let plan = plan_load(&sql, &sources, &role, WriteMode::Merge);
        assert!(plan.steps.iter().all(|s| s.table != Some("users")));
        assert_eq!(
            plan.steps
                .iter()
                .filter(|s| s.kind == StepKind::Begin)
                .count(),
            1
        );
        assert_eq!(
            plan.steps.last().map(|s| s.sql.as_str()),
            Some("DROP TABLE stage_songs;\n")
        );
    }

    #[test]
    fn a_window_replace_without_plays_still_clears_their_range() {
        use crate::schema::SONGPLAYS;
        use crate::warehouse::sql::StartRange;
        let sql = Sql::new(Dialect::Redshift, None);
        let role = IamRole::new("arn:aws:iam::123456789012:role/r").unwrap();
        let sources = [source(&USERS, 0, 0), source(&SONGPLAYS, 0, 0)];
        let range = StartRange::new(0, 86_400_000).unwrap();
        let plan = plan_load(&sql, &sources, &role, WriteMode::ReplaceWindow(range));
        let k = |s: &str| s.to_owned();
        assert_eq!(
            kinds(&plan),
            [
                (None, k("Shape")),
                (None, k("Begin")),
                (Some("songplays"), k("Plain")),
                (Some("songplays"), k("Delete")),
                (None, k("Commit")),
            ]
        );
        assert!(plan.steps[3]
            .sql
            .contains("start_time >= TIMESTAMP '1970-01-01 00:00:00.000'"));
    }

    #[test]
    fn a_manifest_outside_the_staging_prefix_is_refused() {
        let staging = S3Location::parse("s3://bkt/dwh").unwrap();
        let table = |url: &str| crate::sink::s3::LatestTable {
            name: "users".into(),
            manifest_key: String::new(),
            manifest_url: url.into(),
            files: 1,
            bytes: 1,
            rows: Some(1),
        };
        let mut run = LatestRun {
            format: 1,
            run_id: "r".into(),
            previous_run_id: None,
            history: Vec::new(),
            bucket: "bkt".into(),
            run_prefix: "dwh/runs/r/".into(),
            published_at: 0,
            tables: vec![table("s3://bkt/dwh/runs/r/users.manifest")],
            rejects: Vec::new(),
        };
        assert!(check_run_location(&staging, &run).is_ok());
        for bad in [
            "s3://other/dwh/runs/r/users.manifest",
            "s3://bkt/dwh2/runs/r/users.manifest",
            "s3://bkt/users.manifest",
            "s3://bkt/dwh/../x/users.manifest",
        ] {
            run.tables = vec![table(bad)];
            let e = check_run_location(&staging, &run).unwrap_err().to_string();
            assert!(
                e.contains("outside the staging prefix s3://bkt/dwh/"),
                "{e}"
            );
        }
    }

    #[test]
    fn ddl_runs_in_one_transaction() {
        let plan = plan_ddl(&Sql::new(Dialect::Redshift, None), false);
        let script = plan.script();
        assert!(
            script.starts_with("BEGIN;\nDROP TABLE IF EXISTS songplays;\n"),
            "{script}"
        );
        assert!(
            script.ends_with("DROP TABLE IF EXISTS users;\nCOMMIT;\n"),
            "{script}"
        );
    }
}
