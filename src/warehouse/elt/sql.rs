//! The ELT statements, rendered from `sql/<dialect>/elt_*.sql`.
//!
//! The two dialects' templates have the same structure line for line; where a dialect needs other
//! syntax, the differing line follows a `-- dialect:` comment saying why (a test holds them to
//! that). The only other difference is how the staging tables are filled: `COPY … FROM STDIN` fed by
//! sparkify on PostgreSQL, `COPY … FROM 's3://…' … FORMAT AS JSON` on Redshift.
//!
//! Templates are filled with nothing but names from [`crate::schema`] and the staging definitions,
//! and, for Redshift's COPY, literals that were validated first ([`S3Input`]).

use std::fmt;

use super::staging::{Input, StagingTable, STAGING_EVENTS, STAGING_SONGS};
use crate::schema::{Table, ARTISTS, SONGPLAYS, SONGS, TABLES, TIME, USERS};
use crate::warehouse::ddl::session_steps;
use crate::warehouse::literal::{IamRole, InvalidLiteral, Region, S3Prefix, S3Url};
use crate::warehouse::plan::{script, Step, StepKind, BEGIN, COMMIT};
use crate::warehouse::session::SessionSettings;
use crate::warehouse::sql::{Dialect, Sql, WriteMode};
use crate::warehouse::template::render;

/// The deduplicated song catalogue the build statements read.
pub const CATALOG: &str = "elt_catalog";

/// Redshift's largest MAXERROR.
pub const MAX_ERRORS_LIMIT: u64 = 100_000;

/// A template in both dialects.
struct Template {
    postgres: &'static str,
    redshift: &'static str,
}

macro_rules! template {
    ($name:literal) => {
        Template {
            postgres: include_str!(concat!("../../../sql/postgres/", $name)),
            redshift: include_str!(concat!("../../../sql/redshift/", $name)),
        }
    };
}

const CREATE_STAGING: Template = template!("elt_create_staging.sql");
const COPY_STAGING: Template = template!("elt_copy_staging.sql");
const ANALYZE: Template = template!("elt_analyze.sql");
const CATALOG_SQL: Template = template!("elt_catalog.sql");
const SONGS_SQL: Template = template!("elt_songs.sql");
const ARTISTS_SQL: Template = template!("elt_artists.sql");
const SONGPLAYS_SQL: Template = template!("elt_songplays.sql");
const USERS_SQL: Template = template!("elt_users.sql");
const TIME_SQL: Template = template!("elt_time.sql");
const COUNTS_SQL: Template = template!("elt_counts.sql");

/// Every template by file name, for the structure test.
#[cfg(test)]
fn all_templates() -> Vec<(&'static str, Template)> {
    vec![
        ("elt_create_staging.sql", CREATE_STAGING),
        ("elt_copy_staging.sql", COPY_STAGING),
        ("elt_analyze.sql", ANALYZE),
        ("elt_catalog.sql", CATALOG_SQL),
        ("elt_songs.sql", SONGS_SQL),
        ("elt_artists.sql", ARTISTS_SQL),
        ("elt_songplays.sql", SONGPLAYS_SQL),
        ("elt_users.sql", USERS_SQL),
        ("elt_time.sql", TIME_SQL),
        ("elt_counts.sql", COUNTS_SQL),
    ]
}

impl Template {
    fn get(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Postgres => self.postgres,
            Dialect::Redshift => self.redshift,
        }
    }
}

/// Where Redshift's COPY reads the raw JSON, and as whom. Every field was validated by
/// [`crate::warehouse::literal`], so it can be written into the statement as a quoted literal (COPY
/// takes no bind parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Input {
    log_data: S3Prefix,
    song_data: S3Prefix,
    log_jsonpath: S3Url,
    iam_role: IamRole,
    region: Option<Region>,
    max_errors: u64,
}

impl S3Input {
    /// Validates the COPY sources: `log_data` and `song_data` are `s3://` prefixes (loaded as
    /// `<prefix>/`, so `log_data_old/` is not picked up), `log_jsonpath` an `s3://` object,
    /// `iam_role` an IAM role ARN, `region` an AWS region name. `max_errors` is capped at
    /// [`MAX_ERRORS_LIMIT`].
    pub fn new(
        log_data: &str,
        song_data: &str,
        log_jsonpath: &str,
        iam_role: &str,
        region: Option<&str>,
        max_errors: u64,
    ) -> Result<S3Input, InvalidLiteral> {
        Ok(S3Input {
            log_data: S3Prefix::new(log_data)?,
            song_data: S3Prefix::new(song_data)?,
            log_jsonpath: S3Url::new(log_jsonpath)?,
            iam_role: IamRole::new(iam_role)?,
            region: region.map(Region::new).transpose()?,
            max_errors: max_errors.min(MAX_ERRORS_LIMIT),
        })
    }
}

/// Renders the ELT run for one dialect and write mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EltSql {
    sql: Sql,
    mode: WriteMode,
    s3: Option<S3Input>,
}

impl EltSql {
    /// The PostgreSQL run: sparkify stages the input itself. The final tables are in the
    /// session's schema, if any, and the run starts with its time limits.
    pub fn postgres(mode: WriteMode, session: &SessionSettings) -> EltSql {
        EltSql {
            sql: Sql::for_session(Dialect::Postgres, session),
            mode,
            s3: None,
        }
    }

    /// The Redshift run: COPY stages the input from S3.
    pub fn redshift(mode: WriteMode, session: &SessionSettings, s3: S3Input) -> EltSql {
        EltSql {
            sql: Sql::for_session(Dialect::Redshift, session),
            mode,
            s3: Some(s3),
        }
    }

    /// The renderer of the final tables' statements (schema, session settings).
    pub fn sql(&self) -> &Sql {
        &self.sql
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.sql.dialect()
    }

    /// The write mode.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    fn fill(&self, template: &Template, vars: &[(&str, &str)]) -> String {
        let stage_songplays = Sql::stage_name(&SONGPLAYS);
        let mut all: Vec<(&str, &str)> = vec![
            ("staging_events", STAGING_EVENTS.name),
            ("staging_songs", STAGING_SONGS.name),
            ("catalog", CATALOG),
            ("stage_songplays", &stage_songplays),
        ];
        all.extend_from_slice(vars);
        render(template.get(self.dialect()), &all)
    }

    fn copy(&self, input: Input) -> Step {
        let table: &StagingTable = input.table();
        let columns = table.column_list();
        let mut vars: Vec<(&str, String)> =
            vec![("staging", table.name.to_owned()), ("columns", columns)];
        if let Some(s3) = &self.s3 {
            let (source, format) = match input {
                Input::Events => (s3.log_data.literal(), s3.log_jsonpath.literal()),
                Input::Songs => (s3.song_data.literal(), "'auto'".to_owned()),
            };
            vars.push(("source", source));
            vars.push(("json_format", format));
            vars.push(("iam_role", s3.iam_role.literal()));
            vars.push((
                "region",
                s3.region
                    .as_ref()
                    .map(|r| format!("REGION {}", r.literal()))
                    .unwrap_or_default(),
            ));
            vars.push(("max_errors", s3.max_errors.to_string()));
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sql = self.fill(&COPY_STAGING, &vars);
        match self.dialect() {
            Dialect::Postgres => Step::of(sql, StepKind::CopyIn(input)),
            Dialect::Redshift => Step::of(sql, StepKind::Plain),
        }
    }

    fn build(&self, table: &'static Table, template: &Template) -> Step {
        let stage = Sql::stage_name(table);
        let columns = table.column_list();
        let sql = self.fill(template, &[("stage", &stage), ("columns", &columns)]);
        Step::new(Some(table.name), sql, StepKind::Build)
    }

    fn analyze(&self, name: &str) -> Step {
        Step::of(self.fill(&ANALYZE, &[("name", name)]), StepKind::Plain)
    }

    /// Every statement of the run, in order:
    /// 1. the session's time limits (`SET`);
    /// 2. create the temporary staging tables and COPY the raw JSON into them;
    /// 3. build the deduplicated song catalogue (temporary);
    /// 4. in one transaction: lock every final table in one `LOCK` first (as AWS advises for
    ///    serializable isolation), create each table's stage (as the Parquet load does), build the
    ///    stage rows with `INSERT … SELECT`, then replace or merge the final tables with the same
    ///    `DELETE`/`INSERT` statements as the Parquet load; `COMMIT`.
    pub fn steps(&self) -> Vec<Step> {
        let plain = |sql: String| Step::of(sql, StepKind::Plain);
        let mut steps = session_steps(&self.sql, false);
        for table in [&STAGING_SONGS, &STAGING_EVENTS] {
            let defs = table.column_defs();
            steps.push(plain(self.fill(
                &CREATE_STAGING,
                &[("staging", table.name), ("column_defs", &defs)],
            )));
        }
        steps.push(self.copy(Input::Songs));
        steps.push(self.copy(Input::Events));
        steps.push(self.analyze(STAGING_SONGS.name));
        steps.push(self.analyze(STAGING_EVENTS.name));
        steps.push(plain(self.fill(&CATALOG_SQL, &[])));
        steps.push(self.analyze(CATALOG));

        steps.push(Step::of(BEGIN, StepKind::Begin));
        steps.push(plain(self.sql.lock_tables(&TABLES)));
        let loads: Vec<_> = TABLES
            .iter()
            .map(|t| (*t, self.sql.load_statements(t, self.mode)))
            .collect();
        for (_, s) in &loads {
            steps.push(plain(s.create_stage.clone()));
        }
        // songplays before time: time is the distinct start times of the plays.
        steps.push(self.build(&SONGS, &SONGS_SQL));
        steps.push(self.build(&ARTISTS, &ARTISTS_SQL));
        steps.push(self.build(&SONGPLAYS, &SONGPLAYS_SQL));
        steps.push(self.build(&USERS, &USERS_SQL));
        steps.push(self.build(&TIME, &TIME_SQL));
        for (_, s) in &loads {
            steps.push(plain(s.analyze_stage.clone()));
        }
        steps.push(Step::of(self.fill(&COUNTS_SQL, &[]), StepKind::Counts));
        for (table, s) in &loads {
            steps.push(Step::new(Some(table.name), &s.delete, StepKind::Delete));
            steps.push(Step::new(Some(table.name), &s.insert, StepKind::Insert));
        }
        steps.push(Step::of(COMMIT, StepKind::Commit));
        steps
    }

    /// The whole run as one script, for `--dry-run` and the golden tests: the statements
    /// separated by blank lines.
    pub fn script(&self) -> String {
        script(&self.steps(), "\n")
    }
}

impl fmt::Display for EltSql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.script())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::warehouse::literal::Ident;

    fn s3() -> S3Input {
        S3Input::new(
            "s3://udacity-dend/log_data",
            "s3://udacity-dend/song_data/",
            "s3://udacity-dend/log_json_path.json",
            "arn:aws:iam::123456789012:role/dwhRole",
            Some("us-west-2"),
            0,
        )
        .unwrap()
    }

    #[test]
    fn literals_are_validated() {
        let ok = |log: &str, arn: &str| {
            S3Input::new(log, "s3://bkt/s", "s3://bkt/p.json", arn, None, 5).map(|_| ())
        };
        let role = "arn:aws:iam::123456789012:role/dwhRole";
        assert!(ok("s3://bkt/log_data", role).is_ok());
        assert!(ok("s3://bkt/it's", role).is_err());
        assert!(ok("s3://bkt/a\\b", role).is_err());
        assert!(ok("s3://bkt/a b", role).is_err());
        assert!(ok("https://bkt/log", role).is_err());
        assert!(ok("s3://bkt", role).is_err());
        assert!(ok("s3://bkt/x", "arn:aws:iam::123:role/x").is_err());
        assert!(ok("s3://bkt/x", "arn:aws:iam::123456789012:user/x").is_err());
        assert!(ok("s3://bkt/x", "arn:aws:iam::123456789012:role/x' --").is_err());
        assert!(ok("s3://udacity-dend/a;b", role).is_err());
        assert!(ok("s3://bkt/x", "arn:awsX:iam::123456789012:role/x").is_err());
        let region = S3Input::new(
            "s3://bkt/l",
            "s3://bkt/s",
            "s3://bkt/p",
            role,
            Some("us west"),
            0,
        );
        assert!(region.is_err());
        let capped = S3Input::new(
            "s3://bkt/l",
            "s3://bkt/s",
            "s3://bkt/p",
            role,
            None,
            u64::MAX,
        );
        assert_eq!(capped.unwrap().max_errors, MAX_ERRORS_LIMIT);
    }

    /// The dialects differ only on lines announced by a `-- dialect:` comment, except for the COPY
    /// into staging, which is a different mechanism.
    #[test]
    fn dialects_share_the_structure() {
        for (name, t) in all_templates() {
            if name == "elt_copy_staging.sql" {
                continue;
            }
            let (pg, rs): (Vec<&str>, Vec<&str>) =
                (t.postgres.lines().collect(), t.redshift.lines().collect());
            assert_eq!(pg.len(), rs.len(), "{name}: line counts differ");
            for (i, (a, b)) in pg.iter().zip(&rs).enumerate() {
                if a != b {
                    let announced = i > 0 && pg[i - 1].starts_with("-- dialect:");
                    assert!(announced, "{name}:{}: undeclared difference", i + 1);
                    assert_eq!(pg[i - 1], rs[i - 1], "{name}:{}", i);
                }
            }
        }
    }

    #[test]
    fn no_placeholder_left() {
        for sql in [
            EltSql::postgres(WriteMode::Merge, &SessionSettings::default()),
            EltSql::redshift(WriteMode::Replace, &SessionSettings::default(), s3()),
        ] {
            for step in sql.steps() {
                let text: String = step
                    .sql
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect();
                assert!(!text.contains('{') && !text.contains('}'), "{text}");
            }
        }
    }

    #[test]
    fn without_region_the_clause_is_left_out() {
        let mut input = s3();
        input.region = None;
        let script =
            EltSql::redshift(WriteMode::Merge, &SessionSettings::default(), input).script();
        assert!(!script.contains("REGION"));
        assert!(script.contains("FORMAT AS JSON 'auto'\nTRUNCATECOLUMNS"));
    }

    fn golden_scripts() -> Vec<(String, String)> {
        let mut out = Vec::new();
        for mode in [WriteMode::Replace, WriteMode::Merge] {
            out.push((
                format!("redshift/{mode}.sql"),
                EltSql::redshift(mode, &SessionSettings::default(), s3()).script(),
            ));
            out.push((
                format!("postgres/{mode}.sql"),
                EltSql::postgres(mode, &SessionSettings::default()).script(),
            ));
        }
        let in_schema = SessionSettings::with_schema(Some(Ident::new("sparkify").unwrap()));
        out.push((
            "redshift/in_schema_merge.sql".to_owned(),
            EltSql::redshift(WriteMode::Merge, &in_schema, s3()).script(),
        ));
        out
    }

    /// The exact statements, compared with `tests/golden/elt/`; `UPDATE_GOLDEN=1` rewrites them.
    #[test]
    fn golden() {
        let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/elt");
        let mut failures = Vec::new();
        for (name, text) in golden_scripts() {
            let path = root.join(&name);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(expected) if expected == text => {}
                Ok(expected) => failures.push(format!(
                    "{}: differs\n--- expected\n{expected}\n--- rendered\n{text}",
                    path.display()
                )),
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
        assert!(
            failures.is_empty(),
            "golden ELT SQL mismatch (rerun with UPDATE_GOLDEN=1 after checking the change):\n{}",
            failures.join("\n")
        );
    }
}
