//! Parquet files per table: `<dir>/<table>/part-NNNNN.parquet`, rolled over at a row limit so that
//! large tables become several files a Redshift cluster can COPY in parallel.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::FieldRef;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use super::{io_error, Error, Result};
use crate::schema::{ColumnType, Table};

/// Page compression. Snappy is what Redshift's Parquet COPY is known to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Snappy (default; loads into Redshift).
    #[default]
    Snappy,
    /// Zstandard level 1: smaller files for local use.
    Zstd,
    /// No compression.
    None,
}

/// How files are laid out.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Page compression.
    pub codec: Codec,
    /// Rows per file before a new part is started.
    pub rows_per_file: usize,
    /// Rows per row group.
    pub rows_per_group: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            codec: Codec::Snappy,
            rows_per_file: 4_000_000,
            rows_per_group: 1 << 20,
        }
    }
}

impl WriterOptions {
    /// Writer settings for `table`. 64-bit columns (ids, instants) are nearly all distinct, so they
    /// are written without a dictionary: one would be built per page only to be abandoned. Text
    /// columns carry no min/max statistics: ranges of names, agents and random ids prune nothing,
    /// and computing them compares every value (a few per cent of a 1 GB run).
    fn properties(&self, table: &Table) -> WriterProperties {
        let compression = match self.codec {
            Codec::Snappy => Compression::SNAPPY,
            Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
            Codec::None => Compression::UNCOMPRESSED,
        };
        let mut builder = WriterProperties::builder();
        for column in table.columns {
            match column.ty {
                ColumnType::BigInt | ColumnType::Timestamp => {
                    builder = builder.set_column_dictionary_enabled(column.name.into(), false);
                }
                ColumnType::Varchar(_) => {
                    builder = builder
                        .set_column_statistics_enabled(column.name.into(), EnabledStatistics::None);
                }
                ColumnType::Integer | ColumnType::Double => {}
            }
        }
        builder
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(compression)
            .set_created_by(concat!("sparkify ", env!("CARGO_PKG_VERSION")).to_string())
            .build()
    }
}

/// One written file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WrittenFile {
    /// Path of the file.
    pub path: PathBuf,
    /// Rows in it.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// Writes one table's batches into numbered part files.
pub struct TableWriter {
    table: &'static Table,
    dir: PathBuf,
    options: WriterOptions,
    /// Whether columns are encoded side by side on the rayon pool.
    parallel: bool,
    current: Option<OpenFile>,
    files: Vec<WrittenFile>,
    /// Number of the first part file (parts of earlier windows come before it).
    first_part: usize,
}

/// The part file being written and its open row group.
struct OpenFile {
    path: PathBuf,
    writer: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    /// The open row group's column writers and rows.
    group: Option<(Vec<ArrowColumnWriter>, usize)>,
    rows: u64,
}

impl TableWriter {
    /// A writer for `table` under `root/<table>/`.
    pub fn new(root: &Path, table: &'static Table, options: WriterOptions) -> Result<Self> {
        let dir = root.join(table.name);
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        Ok(Self {
            table,
            dir,
            options,
            parallel: false,
            current: None,
            files: Vec::new(),
            first_part: 0,
        })
    }

    /// Numbers the part files from `first` on, after the parts an earlier window of the same
    /// output wrote. A writer that does not start at 0 writes no file when given no rows.
    pub fn starting_at(mut self, first: usize) -> Self {
        self.first_part = first;
        self
    }

    /// Encodes the columns of each batch side by side on the rayon pool (arrow's
    /// `ArrowColumnWriter`s), so that a large table written while the pool is otherwise idle, such
    /// as `time` at the end of a run, keeps every core busy. Not for a writer beside busy workers:
    /// its batches would wait behind their jobs.
    pub fn encoding_in_parallel(mut self) -> Self {
        self.parallel = true;
        self
    }

    /// Appends `batch`, starting new row groups and part files as their row limits are reached.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let (per_file, per_group) = (
            self.options.rows_per_file.max(1),
            self.options.rows_per_group.max(1),
        );
        let mut offset = 0;
        while offset < batch.num_rows() {
            let Some(open) = self.current.as_mut() else {
                self.open()?;
                continue;
            };
            let parquet_err = |source| Error::Parquet {
                path: open.path.clone(),
                source,
            };
            let (writers, group_rows) = match open.group.as_mut() {
                Some(group) => group,
                None => {
                    let index = open.writer.flushed_row_groups().len();
                    let writers = open
                        .factory
                        .create_column_writers(index)
                        .map_err(parquet_err)?;
                    open.group.insert((writers, 0))
                }
            };
            let n = (per_file - open.rows as usize)
                .min(per_group - *group_rows)
                .min(batch.num_rows() - offset);
            encode_columns(writers, &batch.slice(offset, n), self.parallel).map_err(parquet_err)?;
            *group_rows += n;
            open.rows += n as u64;
            offset += n;
            if *group_rows >= per_group {
                open.close_group(self.parallel)?;
            }
            if open.rows as usize >= per_file {
                self.close()?;
            }
        }
        Ok(())
    }

    /// Closes the last file and lists every file written. A table with no rows still gets one
    /// (empty) file, so every table has a schema to read and a file to load (unless parts come
    /// before this writer's, see [`TableWriter::starting_at`]).
    pub fn finish(mut self) -> Result<Vec<WrittenFile>> {
        if self.files.is_empty() && self.current.is_none() && self.first_part == 0 {
            self.open()?;
        }
        self.close()?;
        Ok(self.files)
    }

    fn open(&mut self) -> Result<()> {
        let path = self.dir.join(format!(
            "part-{:05}.parquet",
            self.first_part + self.files.len()
        ));
        let file = File::create(&path).map_err(io_error(&path))?;
        let parquet_err = |source| Error::Parquet {
            path: path.clone(),
            source,
        };
        // Built as an `ArrowWriter` for its schema conversion and embedded Arrow schema, then
        // taken apart to encode columns in parallel.
        let (writer, factory) = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            self.table.arrow_schema(),
            Some(self.options.properties(self.table)),
        )
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(parquet_err)?;
        self.current = Some(OpenFile {
            path,
            writer,
            factory,
            group: None,
            rows: 0,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let Some(mut open) = self.current.take() else {
            return Ok(());
        };
        open.close_group(self.parallel)?;
        let OpenFile {
            path, writer, rows, ..
        } = open;
        writer.close().map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        let bytes = std::fs::metadata(&path).map_err(io_error(&path))?.len();
        self.files.push(WrittenFile { path, rows, bytes });
        Ok(())
    }
}

impl OpenFile {
    /// Finishes the open row group (its column chunks closed in parallel when `parallel`) and
    /// appends it to the file.
    fn close_group(&mut self, parallel: bool) -> Result<()> {
        let Some((writers, _)) = self.group.take() else {
            return Ok(());
        };
        let parquet_err = |source| Error::Parquet {
            path: self.path.clone(),
            source,
        };
        let chunks: parquet::errors::Result<Vec<_>> = if parallel {
            writers
                .into_par_iter()
                .map(ArrowColumnWriter::close)
                .collect()
        } else {
            writers.into_iter().map(ArrowColumnWriter::close).collect()
        };
        let chunks = chunks.map_err(parquet_err)?;
        let mut group = self.writer.next_row_group().map_err(parquet_err)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group).map_err(parquet_err)?;
        }
        group.close().map_err(parquet_err)?;
        Ok(())
    }
}

/// Rows of a column turned into Parquet leaves at a time: `compute_leaves` lists the index of every
/// non-null row (8 bytes a row), which for a million-row batch is megabytes of fresh pages per
/// column; a slice this size reuses a small, cached allocation.
const LEAF_ROWS: usize = 1 << 16;

/// Encodes `batch` into the row group's column `writers` (one per column: the tables are flat),
/// the columns side by side on the rayon pool when `parallel`.
fn encode_columns(
    writers: &mut [ArrowColumnWriter],
    batch: &RecordBatch,
    parallel: bool,
) -> parquet::errors::Result<()> {
    let schema = batch.schema();
    let encode = |(writer, (field, column)): (&mut ArrowColumnWriter, (&FieldRef, &ArrayRef))| {
        let mut at = 0;
        while at < column.len() {
            let rows = LEAF_ROWS.min(column.len() - at);
            for leaf in compute_leaves(field, &column.slice(at, rows))? {
                writer.write(&leaf)?;
            }
            at += rows;
        }
        Ok(())
    };
    let columns = schema.fields().iter().zip(batch.columns());
    if parallel {
        let columns: Vec<_> = columns.collect();
        writers.par_iter_mut().zip(columns).try_for_each(encode)
    } else {
        writers.iter_mut().zip(columns).try_for_each(encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::TIME;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn write(dir: &Path, parallel: bool, batches: &[RecordBatch]) -> Vec<WrittenFile> {
        let options = WriterOptions {
            rows_per_file: 7,
            rows_per_group: 3,
            ..WriterOptions::default()
        };
        let mut writer = TableWriter::new(dir, &TIME, options).unwrap();
        if parallel {
            writer = writer.encoding_in_parallel();
        }
        for batch in batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn files_and_row_groups_are_cut_at_their_limits_alike_in_parallel_and_not() {
        let hour = 3_600_000_000i64;
        let starts: Vec<i64> = (0..16).map(|i| i * hour).collect();
        let all: Vec<RecordBatch> = crate::transform::time::time_batches(starts, 16)
            .map(|b| b.unwrap())
            .collect();
        // Batches of 5, 1, 0 and 10 rows: cuts fall inside and between them.
        let batches: Vec<RecordBatch> = [(0, 5), (5, 1), (6, 0), (6, 10)]
            .iter()
            .map(|&(at, n)| all[0].slice(at, n))
            .collect();
        let (seq, par) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (
            write(seq.path(), false, &batches),
            write(par.path(), true, &batches),
        );
        assert_eq!(a.iter().map(|f| f.rows).collect::<Vec<_>>(), [7, 7, 2]);
        let mut read_back = Vec::new();
        for (x, y) in a.iter().zip(&b) {
            let bytes = std::fs::read(&x.path).unwrap();
            assert_eq!(bytes, std::fs::read(&y.path).unwrap(), "{:?}", x.path);
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(File::open(&x.path).unwrap()).unwrap();
            let groups: Vec<i64> = reader
                .metadata()
                .row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect();
            let expected: &[i64] = if x.rows == 7 { &[3, 3, 1] } else { &[2] };
            assert_eq!(groups, expected);
            for batch in reader.build().unwrap() {
                read_back.push(batch.unwrap());
            }
        }
        let read_back = arrow::compute::concat_batches(&TIME.arrow_schema(), &read_back).unwrap();
        assert_eq!(read_back, all[0]);
    }
}
