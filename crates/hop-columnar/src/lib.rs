//! The strategy-major Arrow layout of the P&L matrix and its lossless Parquet round trip (SPEC 2.2).
//!
//! One row per strategy:
//!
//! | field         | type                              | nullable |
//! |---------------|-----------------------------------|----------|
//! | `strategy_id` | `UInt32` (0-based strategy index) | no       |
//! | `name`        | `Utf8`                            | no       |
//! | `pnl`         | `FixedSizeList<Float64, T>`       | no       |
//!
//! The schema metadata carries `hop.format_version` = `1`, `hop.days` = `T` and `hop.dates` = the
//! ISO trading dates joined by `,`. The `pnl` child values buffer *is* the strategy-major matrix
//! (`values[j * T + t]`), so converting is one copy of the buffer, never a reshuffle.
//!
//! Parquet stores the same schema (the Arrow schema, metadata included, rides in the file's
//! key-value metadata), so dates round-trip and the values come back bit for bit.

use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Float64Array, RecordBatch};
use arrow::array::{StringArray, UInt32Array};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef, UInt32Type};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::file::reader::ChunkReader;
use parquet::schema::types::ColumnPath;
use thiserror::Error;

use hop_core::{CoreError, PnlMatrix};

pub use bytes::Bytes;
pub use parquet::basic::{Compression, Encoding, ZstdLevel};

/// Metadata key: the layout version (`1`).
pub const META_FORMAT_VERSION: &str = "hop.format_version";
/// Metadata key: the number of trading days `T`.
pub const META_DAYS: &str = "hop.days";
/// Metadata key: the trading dates, ISO `YYYY-MM-DD`, joined by `,`.
pub const META_DATES: &str = "hop.dates";
/// The layout version written and accepted.
pub const FORMAT_VERSION: &str = "1";

/// Strategies per record batch when nothing else is asked ("a few thousand", SPEC 2.2).
pub const DEFAULT_BATCH_ROWS: usize = 4096;

/// Parquet compression used by [`write_parquet`]: Snappy, chosen for speed.
///
/// Measured (release, this project's 2-core machine while other builds ran, best of 5; the
/// `timing_production_shape` test) on the production shape, 25,544 x 82 bootstrapped from the real
/// fixture: write / read / size
///
/// | codec               | write    | read     | size    |
/// |---------------------|----------|----------|---------|
/// | none                | 14-30 ms | 12-16 ms | 18.1 MB |
/// | snappy              | 17-34 ms | 14-19 ms | 17.2 MB |
/// | zstd(1)             | 32-51 ms | 25-29 ms | 16.3 MB |
/// | zstd(1) + byte split| 33-47 ms | 24-35 ms | 15.1 MB |
///
/// Bootstrapped columns are rescaled and so barely compress; real P&L repeats values across
/// strategies, and on the real 2,500 x 82 fixture the sizes are 1.74 MB (none), 1.49 MB (snappy)
/// and 0.99 MB (zstd(1)). Snappy costs next to nothing over no compression and still saves on real
/// data; where size matters more than ~20 ms, pass zstd(1) to [`write_parquet_with`].
pub const DEFAULT_COMPRESSION: Compression = Compression::SNAPPY;

/// Everything that can go wrong converting the matrix to and from Arrow and Parquet.
#[derive(Debug, Error)]
pub enum ColumnarError {
    /// The schema is not the P&L layout (wrong fields, types, metadata).
    #[error("the columnar schema is not the P&L layout: {0}")]
    Schema(String),
    /// The batches do not hold a valid matrix (nulls, ids out of order, lengths).
    #[error("the columnar data is invalid: {0}")]
    Data(String),
    /// A request that cannot be met (an empty strategy range, a zero batch size).
    #[error("invalid request: {0}")]
    Request(String),
    /// The assembled matrix was refused by the domain library.
    #[error("{0}")]
    Matrix(#[from] CoreError),
    #[error("Arrow error: {0}")]
    Arrow(#[from] ArrowError),
    #[error("Parquet error: {0}")]
    Parquet(#[from] ParquetError),
}

fn pnl_item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float64, false))
}

/// The P&L schema for `days` trading days with the given dates in its metadata.
pub fn schema(days: usize, dates: &[String]) -> SchemaRef {
    let metadata = [
        (META_FORMAT_VERSION, FORMAT_VERSION.to_string()),
        (META_DAYS, days.to_string()),
        (META_DATES, dates.join(",")),
    ];
    let size = i32::try_from(days).expect("a day count fits in i32");
    Arc::new(Schema::new_with_metadata(
        vec![
            Field::new("strategy_id", DataType::UInt32, false),
            Field::new("name", DataType::Utf8, false),
            Field::new(
                "pnl",
                DataType::FixedSizeList(pnl_item_field(), size),
                false,
            ),
        ],
        metadata,
    ))
}

/// Converts strategies `range` (all when `None`) of `m` into record batches of at most
/// `rows_per_batch` strategies. `strategy_id` is the strategy's index in `m`, so a range's first
/// id is `range.start`. Each batch's `pnl` values buffer is one copy of the matching slice of the
/// strategy-major buffer.
pub fn to_batches(
    m: &PnlMatrix,
    rows_per_batch: usize,
    range: Option<Range<usize>>,
) -> Result<Vec<RecordBatch>, ColumnarError> {
    let range = range.unwrap_or(0..m.n_strategies());
    if rows_per_batch == 0 {
        return Err(ColumnarError::Request(
            "rows_per_batch must be at least 1".into(),
        ));
    }
    if range.is_empty() || range.end > m.n_strategies() {
        return Err(ColumnarError::Request(format!(
            "strategy range {}..{} is empty or outside the matrix's {} strategies",
            range.start,
            range.end,
            m.n_strategies()
        )));
    }
    if u32::try_from(range.end - 1).is_err() {
        return Err(ColumnarError::Request(format!(
            "strategy ids above {} do not fit the UInt32 strategy_id",
            u32::MAX
        )));
    }
    if let Some(date) = m.dates().iter().find(|d| d.contains(',')) {
        return Err(ColumnarError::Request(format!(
            "the date {date:?} contains a comma and cannot be stored in the {META_DATES} metadata"
        )));
    }
    let days = m.n_days();
    let schema = schema(days, m.dates());
    let DataType::FixedSizeList(item, size) = schema.field(2).data_type().clone() else {
        unreachable!("schema() builds a FixedSizeList")
    };
    let mut batches = Vec::with_capacity(range.len().div_ceil(rows_per_batch));
    let mut start = range.start;
    while start < range.end {
        let end = (start + rows_per_batch).min(range.end);
        // Checked above: every id in the range fits u32.
        let ids: UInt32Array = (start..end).map(|j| j as u32).collect();
        let names = StringArray::from_iter_values(&m.names()[start..end]);
        let values = Float64Array::new(
            ScalarBuffer::from(m.values()[start * days..end * days].to_vec()),
            None,
        );
        let pnl = FixedSizeListArray::try_new(item.clone(), size, Arc::new(values), None)?;
        let columns: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(names), Arc::new(pnl)];
        batches.push(RecordBatch::try_new(schema.clone(), columns)?);
        start = end;
    }
    Ok(batches)
}

/// Checks that `schema` is the P&L layout and returns its dates.
fn check_schema(schema: &Schema) -> Result<Vec<String>, ColumnarError> {
    let bad = |what: String| Err(ColumnarError::Schema(what));
    let meta = schema.metadata();
    let get = |key: &str| {
        meta.get(key).ok_or_else(|| {
            ColumnarError::Schema(format!("the schema metadata has no {key:?} entry"))
        })
    };
    let version = get(META_FORMAT_VERSION)?;
    if version != FORMAT_VERSION {
        return bad(format!(
            "{META_FORMAT_VERSION} is {version:?}; this build reads version {FORMAT_VERSION}"
        ));
    }
    let days_text = get(META_DAYS)?;
    let Ok(days) = days_text.parse::<usize>() else {
        return bad(format!("{META_DAYS} is {days_text:?}, not a day count"));
    };
    let dates_text = get(META_DATES)?;
    let dates: Vec<String> = if dates_text.is_empty() {
        Vec::new()
    } else {
        dates_text.split(',').map(str::to_string).collect()
    };
    if dates.len() != days {
        return bad(format!(
            "{META_DATES} lists {} dates but {META_DAYS} is {days}",
            dates.len()
        ));
    }

    let fields = schema.fields();
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    if names != ["strategy_id", "name", "pnl"] {
        return bad(format!(
            "the fields are {names:?}; expected [\"strategy_id\", \"name\", \"pnl\"]"
        ));
    }
    if fields[0].data_type() != &DataType::UInt32 {
        return bad(format!(
            "strategy_id is {}; expected UInt32",
            fields[0].data_type()
        ));
    }
    if !matches!(fields[1].data_type(), DataType::Utf8) {
        return bad(format!("name is {}; expected Utf8", fields[1].data_type()));
    }
    match fields[2].data_type() {
        DataType::FixedSizeList(item, size)
            if item.data_type() == &DataType::Float64 && *size as usize == days && *size >= 0 => {}
        DataType::FixedSizeList(item, size) if item.data_type() == &DataType::Float64 => {
            return bad(format!(
                "pnl holds {size} days per strategy but {META_DAYS} is {days}"
            ));
        }
        other => {
            return bad(format!(
                "pnl is {other}; expected FixedSizeList<Float64, {days}>"
            ));
        }
    }
    Ok(dates)
}

/// Reassembles a matrix from record batches in the P&L layout, checking the schema, that the
/// batches match it, that there are no nulls and that the ids run contiguously from the first.
pub fn from_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<PnlMatrix, ColumnarError> {
    let dates = check_schema(schema)?;
    let days = dates.len();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows == 0 {
        return Err(ColumnarError::Data("the batches hold no strategy".into()));
    }
    let mut names = Vec::with_capacity(rows);
    let mut values = Vec::with_capacity(rows * days);
    let mut next_id: Option<u32> = None;
    for (b, batch) in batches.iter().enumerate() {
        // Names and types must match the schema (nullability is checked on the data below).
        let batch_schema = batch.schema();
        if batch_schema.fields().len() != schema.fields().len() {
            return Err(ColumnarError::Schema(format!(
                "batch {b} has {} fields; the schema has {}",
                batch_schema.fields().len(),
                schema.fields().len()
            )));
        }
        for (got, want) in batch_schema.fields().iter().zip(schema.fields()) {
            if got.name() != want.name() || !same_type(got.data_type(), want.data_type()) {
                return Err(ColumnarError::Schema(format!(
                    "batch {b}: field {:?} is {} where the schema has {:?}: {}",
                    got.name(),
                    got.data_type(),
                    want.name(),
                    want.data_type()
                )));
            }
        }
        for (column, name) in batch.columns().iter().zip(["strategy_id", "name", "pnl"]) {
            if column.null_count() > 0 {
                return Err(ColumnarError::Data(format!(
                    "batch {b}: {name} has {} nulls",
                    column.null_count()
                )));
            }
        }
        let ids = batch.column(0).as_primitive::<UInt32Type>();
        for (i, &id) in ids.values().iter().enumerate() {
            let expected = next_id.unwrap_or(id);
            if id != expected {
                return Err(ColumnarError::Data(format!(
                    "batch {b} row {i}: strategy_id {id} where {expected} was expected (ids must \
                     run contiguously from the first)"
                )));
            }
            next_id = Some(id.checked_add(1).ok_or_else(|| {
                ColumnarError::Data(format!("batch {b} row {i}: strategy_id overflows"))
            })?);
        }
        names.extend(
            batch
                .column(1)
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or_default().to_string()),
        );
        let pnl = batch.column(2).as_fixed_size_list();
        let child = pnl.values().as_primitive::<Float64Type>();
        if child.null_count() > 0 {
            return Err(ColumnarError::Data(format!(
                "batch {b}: pnl has {} null values",
                child.null_count()
            )));
        }
        if child.len() != batch.num_rows() * days {
            return Err(ColumnarError::Data(format!(
                "batch {b}: pnl holds {} values for {} strategies x {days} days",
                child.len(),
                batch.num_rows()
            )));
        }
        values.extend_from_slice(child.values());
    }
    Ok(PnlMatrix::new(names, dates, values)?)
}

/// Types equal up to the nullability and name of a list's item field.
fn same_type(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::FixedSizeList(x, n), DataType::FixedSizeList(y, m)) => {
            n == m && x.data_type() == y.data_type()
        }
        _ => a == b,
    }
}

/// Writes `m` as Parquet in the P&L layout with [`writer_properties`]`(`[`DEFAULT_COMPRESSION`]`)`.
pub fn write_parquet(m: &PnlMatrix, w: impl Write + Send) -> Result<(), ColumnarError> {
    write_parquet_with(m, w, writer_properties(DEFAULT_COMPRESSION).build())
}

/// The Parquet writer settings of this layout, with the given compression: one row group, no
/// dictionary (names are unique, values nearly so), no statistics (nothing filters on them), and
/// the Arrow schema (dates included) in the file metadata, which `ArrowWriter` always adds.
pub fn writer_properties(compression: Compression) -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_max_row_group_row_count(None)
        .set_created_by(format!("hop-columnar {}", env!("CARGO_PKG_VERSION")))
}

/// The Parquet column path of the `pnl` values (for per-column writer settings).
pub fn pnl_column_path() -> ColumnPath {
    ColumnPath::new(vec!["pnl".into(), "list".into(), "item".into()])
}

/// Writes `m` as Parquet in the P&L layout with the given writer settings (start from
/// [`writer_properties`]).
pub fn write_parquet_with(
    m: &PnlMatrix,
    w: impl Write + Send,
    props: WriterProperties,
) -> Result<(), ColumnarError> {
    let batches = to_batches(m, DEFAULT_BATCH_ROWS, None)?;
    let schema = batches[0].schema();
    let mut writer = ArrowWriter::try_new(w, schema, Some(props))?;
    for batch in &batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(())
}

/// Reads a matrix written by [`write_parquet`] from a [`std::fs::File`] or from bytes in memory
/// ([`Bytes`], e.g. `Bytes::from(vec)`), checking the layout as [`from_batches`] does.
pub fn read_parquet<R: ChunkReader + 'static>(reader: R) -> Result<PnlMatrix, ColumnarError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader)?;
    let schema = builder.schema().clone();
    check_schema(&schema)?;
    let batches = builder
        .with_batch_size(DEFAULT_BATCH_ROWS * 4)
        .build()?
        .collect::<Result<Vec<_>, ArrowError>>()?;
    from_batches(&schema, &batches)
}

/// The dataset id of an input CSV: the XXH3-128 hash (seed 0) of its exact bytes, as 32 lowercase
/// hex digits (the canonical big-endian form; `xxhsum -H2 file` prints the same digits).
///
/// XXH3 is a fast, well-distributed, non-cryptographic hash with a frozen specification (xxHash
/// 0.8), so ids are stable across versions and machines; 128 bits make accidental collisions
/// negligible. It identifies content, it does not authenticate it. It hashes the production CSV
/// (~39 MB) in a few milliseconds, versus ~100 ms for FNV-1a, and the crate (`twox-hash`) was
/// already in the dependency tree through `parquet`.
pub fn dataset_id(csv_bytes: &[u8]) -> String {
    format!("{:032x}", twox_hash::XxHash3_128::oneshot(csv_bytes))
}
