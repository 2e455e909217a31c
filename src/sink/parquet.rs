//! Parquet files per table: `<dir>/<table>/part-NNNNN.parquet`, rolled over at a row limit so that
//! large tables become several files a Redshift cluster can COPY in parallel.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

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
    /// and computing them compares every value (without them the 1 GB bench runs ~3% faster).
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
            .set_max_row_group_row_count(Some(self.rows_per_group))
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
    current: Option<(PathBuf, ArrowWriter<BufWriter<File>>, u64)>,
    files: Vec<WrittenFile>,
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
            current: None,
            files: Vec::new(),
        })
    }

    /// Appends `batch`, starting new part files as the row limit is reached.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let Some((path, writer, rows)) = self.current.as_mut() else {
                self.open()?;
                continue;
            };
            let room = self.options.rows_per_file - *rows as usize;
            let n = room.min(batch.num_rows() - offset);
            writer
                .write(&batch.slice(offset, n))
                .map_err(|source| Error::Parquet {
                    path: path.clone(),
                    source,
                })?;
            *rows += n as u64;
            offset += n;
            if *rows as usize >= self.options.rows_per_file {
                self.close()?;
            }
        }
        Ok(())
    }

    /// Closes the last file and lists every file written. A table with no rows still gets one
    /// (empty) file, so every table has a schema to read and a file to load.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>> {
        if self.files.is_empty() && self.current.is_none() {
            self.open()?;
        }
        self.close()?;
        Ok(self.files)
    }

    fn open(&mut self) -> Result<()> {
        let path = self
            .dir
            .join(format!("part-{:05}.parquet", self.files.len()));
        let file = File::create(&path).map_err(io_error(&path))?;
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            self.table.arrow_schema(),
            Some(self.options.properties(self.table)),
        )
        .map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        self.current = Some((path, writer, 0));
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let Some((path, writer, rows)) = self.current.take() else {
            return Ok(());
        };
        writer.close().map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        let bytes = std::fs::metadata(&path).map_err(io_error(&path))?.len();
        self.files.push(WrittenFile { path, rows, bytes });
        Ok(())
    }
}
