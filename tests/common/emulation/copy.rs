//! The COPY command: options, credentials and regions checked as Redshift checks them, the rows
//! read by the Parquet or JSON emulation, then inserted into the table in one statement (so a
//! COPY loads all its rows or none).
//!
//! - Parameters: https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
//! - Parquet accepts only ACCEPTINVCHARS, FILLRECORD, FROM, IAM_ROLE, CREDENTIALS, STATUPDATE,
//!   MANIFEST, EXPLICIT_IDS (and SERIALIZETOJSON); anything else, REGION included, is refused, and
//!   the bucket must be in the cluster's region:
//!   https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html
//! - IAM_ROLE takes a role ARN: https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-authorization.html
//! - REGION names the bucket's region, which defaults to the cluster's:
//!   https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html

use super::statement::{parse_copy, s3_url, Format};
use super::{json_copy, literal, parquet_copy, redshift_error, Emulator, Failure};

/// Rows as text values (`None`: NULL), in the order of the COPY's columns.
pub type TextRows = Vec<Vec<Option<String>>>;

/// A column of the target table.
#[derive(Debug, Clone)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type, as `format_type` prints it (`character varying(256)`, `bigint`, …).
    pub pg_type: String,
    /// The VARCHAR length in bytes, if it is one.
    pub varchar_len: Option<usize>,
}

const PARQUET_OPTIONS: [&str; 9] = [
    "ACCEPTINVCHARS",
    "FILLRECORD",
    "IAM_ROLE",
    "CREDENTIALS",
    "STATUPDATE",
    "MANIFEST",
    "EXPLICIT_IDS",
    "SERIALIZETOJSON",
    "FORMAT",
];

/// Whether `arn` is an IAM role ARN (`arn:aws:iam::<12 digits>:role/<name>`; a chain is
/// comma-separated).
fn is_role_arn(arn: &str) -> bool {
    arn.split(',').all(|one| {
        let parts: Vec<&str> = one.splitn(6, ':').collect();
        matches!(parts.as_slice(), ["arn", partition, "iam", "", account, role]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && role.strip_prefix("role/").is_some_and(|n| !n.is_empty()))
    })
}

/// The columns of `table` as the session resolves the name (temporary tables first).
async fn table_columns(emu: &mut Emulator, table: &str) -> Result<Vec<Column>, Failure> {
    let sql = format!(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = CAST({} AS regclass) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        literal(table)
    );
    let reply = emu.pg(&sql).await?;
    Ok(reply
        .rows
        .into_iter()
        .map(|r| {
            let name = r[0].clone().unwrap_or_default();
            let pg_type = r[1].clone().unwrap_or_default();
            let varchar_len = pg_type
                .strip_prefix("character varying(")
                .and_then(|n| n.strip_suffix(')'))
                .and_then(|n| n.parse().ok());
            Column {
                name,
                pg_type,
                varchar_len,
            }
        })
        .collect())
}

/// Runs the COPY whose text follows `COPY `; the rows loaded.
pub async fn run(emu: &mut Emulator, rest: &str) -> Result<u64, Failure> {
    let copy = parse_copy(rest)?;
    match copy.credentials.as_deref() {
        None => {
            return Err(redshift_error(
                "XX000",
                "COPY from S3 needs IAM_ROLE or CREDENTIALS",
            ))
        }
        Some(role) if copy.options.contains(&"IAM_ROLE".to_owned()) && !is_role_arn(role) => {
            return Err(redshift_error(
                "XX000",
                format!("Invalid IAM_ROLE {role:?}: expected arn:aws:iam::<account>:role/<name>"),
            ))
        }
        Some(_) => {}
    }
    let (bucket, _) = s3_url(&copy.from)?;
    let bucket_region = emu.region_of(bucket).to_owned();
    let format = copy.format.clone().ok_or_else(|| {
        redshift_error(
            "0A000",
            "emulation: only FORMAT AS PARQUET and JSON are emulated",
        )
    })?;
    if format == Format::Parquet {
        if let Some(bad) = copy
            .options
            .iter()
            .find(|o| !PARQUET_OPTIONS.contains(&o.as_str()))
        {
            return Err(redshift_error(
                "0A000",
                format!("{bad} argument is not supported for PARQUET based COPY"),
            ));
        }
        if !copy.manifest {
            return Err(redshift_error(
                "0A000",
                "emulation: Parquet COPY is emulated from a MANIFEST only",
            ));
        }
    }
    let wanted_region = copy
        .region
        .clone()
        .unwrap_or_else(|| emu.cluster_region.clone());
    if bucket_region != wanted_region {
        return Err(redshift_error(
            "XX000",
            format!(
                "S3ServiceException:The bucket you are attempting to access must be addressed \
                 using the specified endpoint (bucket {bucket} is in {bucket_region}, COPY \
                 reads {wanted_region}),Status 301,Error PermanentRedirect"
            ),
        ));
    }
    let all = table_columns(emu, &copy.table).await?;
    let columns = match &copy.columns {
        None => all,
        Some(names) => names
            .iter()
            .map(|n| {
                all.iter().find(|c| &c.name == n).cloned().ok_or_else(|| {
                    redshift_error(
                        "42703",
                        format!(
                            "column \"{n}\" of relation \"{}\" does not exist",
                            copy.table
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let rows = match &format {
        Format::Parquet => parquet_copy::read(&emu.s3_root, &copy.from, &columns)?,
        Format::Json(spec) => json_copy::read(&emu.s3_root, &copy, spec, &columns)?,
    };
    insert(emu, &copy.table, &columns, &rows).await?;
    Ok(rows.len() as u64)
}

/// Inserts `rows` into `table` in one statement.
async fn insert(
    emu: &mut Emulator,
    table: &str,
    columns: &[Column],
    rows: &TextRows,
) -> Result<(), Failure> {
    if rows.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                sql.push_str(", ");
            }
            match v {
                Some(v) => sql.push_str(&literal(v)),
                None => sql.push_str("NULL"),
            }
        }
        sql.push(')');
    }
    emu.pg(&sql).await?;
    Ok(())
}
