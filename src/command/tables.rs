//! `create-tables` and `drop-tables`: the star schema's DDL, idempotent, in one transaction.

use crate::cli::TargetArgs;
use crate::config::Config;
use crate::target::Target;
use crate::warehouse::ddl::ddl_steps;
use crate::warehouse::plan::StepKind;
use crate::warehouse::{ddl_postgres, ddl_redshift, redshift, sql::Dialect};
use crate::{Error, Result};

/// Creates (`create = true`) or drops the star-schema tables of `--target`, or prints the
/// statements (`--dry-run`).
pub(super) fn tables(args: &TargetArgs, config: &Config, create: bool) -> Result<i32> {
    let target = Target::parse(&args.target, args.allow_insecure, config)?;
    let pg = match &target {
        Target::Postgres(pg) => pg,
        Target::Redshift(rs) => {
            if args.dry_run {
                println!("-- on {rs}");
                print!("{}", redshift::plan_ddl(&rs.sql(), create).script());
            } else {
                ddl_redshift(rs, create)?;
            }
            return Ok(0);
        }
        Target::Local => {
            return Err(Error::Usage(
                "this command needs --target postgres://… or redshift".into(),
            ))
        }
    };
    if args.dry_run {
        println!("-- on {pg}");
        // The PostgreSQL script leaves out the shape check's query.
        let steps = ddl_steps(&pg.sql(Dialect::Postgres), create);
        for step in steps.iter().filter(|s| s.kind != StepKind::Shape) {
            println!("{};", step.sql.trim_end().trim_end_matches(';'));
        }
        return Ok(0);
    }
    ddl_postgres(pg, create)?;
    Ok(0)
}
