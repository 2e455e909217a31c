//! `query`: an example analytics query by name (`--list` shows them), or the user's own read-only
//! SQL (`--sql`, `--sql-file`), on a warehouse or the local Parquet.

use std::path::PathBuf;

use super::{local_input, on_warehouse, print_plan};
use crate::cli::QueryArgs;
use crate::config::Config;
use crate::warehouse::adhoc::{self, AdHoc, AdHocResult};
use crate::warehouse::local::LocalWarehouse;
use crate::warehouse::query;
use crate::warehouse::render;
use crate::{Error, Result};

/// `query NAME` / `query --list` / `query --sql …`.
pub(super) fn query(args: &QueryArgs, config: &Config) -> Result<i32> {
    if args.list {
        print!("{}", query::list());
        return Ok(0);
    }
    let local = local_input(&args.tables)?;
    let adhoc = match (&args.sql, &args.sql_file) {
        (Some(sql), _) => Some(AdHoc::new(sql)?),
        (None, Some(file)) => Some(AdHoc::from_file(file)?),
        (None, None) => None,
    };
    if let Some(query) = adhoc {
        if args.dry_run {
            let statements = match local {
                Some(_) => vec![query.sql().to_owned()],
                None => ["BEGIN READ ONLY", query.sql(), "ROLLBACK"]
                    .map(str::to_owned)
                    .to_vec(),
            };
            return print_plan(&args.tables, config, local.as_deref(), &statements);
        }
        return read_only(args, config, local, &query);
    }
    let name = args.name.as_deref().unwrap_or_default();
    let analytic = query::find(name).ok_or_else(|| {
        Error::Usage(format!(
            "no query named {name:?}; `sparkify query --list` shows them"
        ))
    })?;
    if args.dry_run {
        return print_plan(
            &args.tables,
            config,
            local.as_deref(),
            &[analytic.sql.to_owned()],
        );
    }
    let result = if let Some(dir) = local {
        query::QueryResult {
            query: analytic.name,
            title: analytic.title(),
            rows: LocalWarehouse::open(&dir)?.query(analytic.sql)?,
        }
    } else {
        on_warehouse(&args.tables, config, async |client, dialect| {
            query::execute(client, dialect, analytic).await
        })?
    };
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else if args.csv {
        print!("{}", render::csv(&result.rows.columns, &result.rows.rows));
    } else {
        print!("{}", result.render());
    }
    Ok(0)
}

/// `query --sql …` / `--sql-file F`: one read-only query (see [`adhoc`]).
fn read_only(
    args: &QueryArgs,
    config: &Config,
    local: Option<PathBuf>,
    query: &AdHoc,
) -> Result<i32> {
    let rows = if let Some(dir) = local {
        LocalWarehouse::open(&dir)?.query(query.sql())?
    } else {
        on_warehouse(&args.tables, config, async |client, dialect| {
            adhoc::execute_read_only(client, dialect, query).await
        })?
    };
    if args.json {
        let result = AdHocResult {
            sql: query.sql().to_owned(),
            rows,
        };
        println!("{}", serde_json::to_string(&result)?);
    } else if args.csv {
        print!("{}", render::csv(&rows.columns, &rows.rows));
    } else {
        print!("{}", render::table(&rows.columns, &rows.rows));
    }
    Ok(0)
}
