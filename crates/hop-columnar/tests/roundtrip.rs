//! Arrow and Parquet round trips of the P&L matrix: lossless bit for bit, ranges, metadata, and
//! refusal of schemas that are not the layout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, FixedSizeListArray, Float64Array, RecordBatch, StringArray};
use arrow::array::{Int64Array, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use hop_columnar::{
    Bytes, ColumnarError, Compression, Encoding, META_DATES, META_DAYS, ZstdLevel, dataset_id,
    from_batches, pnl_column_path, read_parquet, schema, to_batches, write_parquet,
    write_parquet_with, writer_properties,
};
use hop_core::PnlMatrix;
use hop_core::csv::{parse_csv, write_csv};
use hop_core::fixtures::assert_bit_identical;

/// Awkward values: signed zeros, subnormals, extremes, non-terminating binary fractions.
fn odd_matrix() -> PnlMatrix {
    let specials = [
        -0.0,
        0.0,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        1e-300,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        0.1,
        -505.0525000000011,
        1e16,
        123456789.12345679,
    ];
    let names: Vec<String> = (0..7)
        .map(|j| format!("SENSEX {j}, with \"quotes\" and ünïcödé"))
        .collect();
    let dates: Vec<String> = (1..=9).map(|d| format!("2024-02-0{d}")).collect();
    let values = (0..names.len() * dates.len())
        .map(|i| specials[i % specials.len()])
        .collect();
    PnlMatrix::new(names, dates, values).unwrap()
}

fn parquet_bytes(m: &PnlMatrix) -> Vec<u8> {
    let mut out = Vec::new();
    write_parquet(m, &mut out).unwrap();
    out
}

#[test]
fn arrow_round_trip_is_lossless() {
    let m = odd_matrix();
    for rows in [1, 2, 3, 7, 4096] {
        let batches = to_batches(&m, rows, None).unwrap();
        assert_eq!(batches.len(), 7usize.div_ceil(rows));
        let back = from_batches(&batches[0].schema(), &batches).unwrap();
        assert_bit_identical(&back, &m);
    }
}

#[test]
fn pnl_child_buffer_is_the_strategy_major_matrix() {
    let m = odd_matrix();
    let batches = to_batches(&m, 4096, None).unwrap();
    assert_eq!(batches.len(), 1);
    let pnl = batches[0]
        .column(2)
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap();
    let child = pnl
        .values()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let bits: Vec<u64> = child.values().iter().map(|v| v.to_bits()).collect();
    let want: Vec<u64> = m.values().iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, want);
    let ids = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<UInt32Array>()
        .unwrap();
    assert_eq!(ids.values().to_vec(), (0..7).collect::<Vec<u32>>());
}

#[test]
fn parquet_round_trip_is_lossless_from_memory_and_from_a_file() {
    let m = odd_matrix();
    let bytes = parquet_bytes(&m);
    assert_bit_identical(&read_parquet(Bytes::from(bytes.clone())).unwrap(), &m);

    let path =
        std::env::temp_dir().join(format!("hop-columnar-test-{}.parquet", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let from_file = read_parquet(std::fs::File::open(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    assert_bit_identical(&from_file.unwrap(), &m);
}

#[test]
fn parquet_round_trip_of_the_real_fixture_with_every_codec() {
    let m = parse_csv(&hop_core::fixtures::bytes("sensex_2500x82.csv")).unwrap();
    assert_eq!((m.n_strategies(), m.n_days()), (2500, 82));
    for codec in [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::ZSTD(ZstdLevel::try_new(1).unwrap()),
    ] {
        let mut out = Vec::new();
        write_parquet_with(&m, &mut out, writer_properties(codec).build()).unwrap();
        assert_bit_identical(&read_parquet(Bytes::from(out)).unwrap(), &m);
    }
}

#[test]
fn strategy_range_keeps_global_ids() {
    let m = parse_csv(&hop_core::fixtures::bytes("sensex_500x82.csv")).unwrap();
    let batches = to_batches(&m, 64, Some(100..250)).unwrap();
    assert_eq!(batches.len(), 3);
    let ids = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<UInt32Array>()
        .unwrap();
    assert_eq!(ids.value(0), 100);
    let back = from_batches(&batches[0].schema(), &batches).unwrap();
    let want = m.select(&(100..250).collect::<Vec<_>>()).unwrap();
    assert_bit_identical(&back, &want);

    for bad in [0..0, 400..501] {
        let err = to_batches(&m, 64, Some(bad)).unwrap_err();
        assert!(err.to_string().contains("strategy range"), "{err}");
    }
    assert!(
        to_batches(&m, 0, None)
            .unwrap_err()
            .to_string()
            .contains("rows_per_batch")
    );
}

#[test]
fn metadata_carries_the_dates() {
    let m = parse_csv(&hop_core::fixtures::bytes("sensex_500x82.csv")).unwrap();
    let batches = to_batches(&m, 4096, None).unwrap();
    let meta = batches[0].schema().metadata().clone();
    assert_eq!(meta[META_DAYS], "82");
    assert_eq!(meta[META_DATES], m.dates().join(","));
    assert!(meta[META_DATES].starts_with("2024-01-04,"));
    assert_eq!(meta["hop.format_version"], "1");
    assert_eq!(*schema(m.n_days(), m.dates()), *batches[0].schema());

    // And Parquet keeps them.
    let back = read_parquet(Bytes::from(parquet_bytes(&m))).unwrap();
    assert_eq!(back.dates(), m.dates());
}

fn expect_schema_error(result: Result<PnlMatrix, ColumnarError>, fragment: &str) {
    match result {
        Ok(_) => panic!("accepted; expected an error containing {fragment:?}"),
        Err(e) => assert!(e.to_string().contains(fragment), "{e:?} lacks {fragment:?}"),
    }
}

#[test]
fn mismatched_schemas_and_data_are_refused() {
    let m = odd_matrix();
    let batches = to_batches(&m, 3, None).unwrap();
    let good = batches[0].schema();
    let with_meta = |key: &str, value: Option<&str>| {
        let mut meta = good.metadata().clone();
        match value {
            Some(v) => meta.insert(key.to_string(), v.to_string()),
            None => meta.remove(key),
        };
        Arc::new(Schema::new_with_metadata(good.fields().clone(), meta))
    };

    expect_schema_error(
        from_batches(&with_meta(META_DATES, None), &batches),
        "no \"hop.dates\"",
    );
    expect_schema_error(
        from_batches(&with_meta(META_DAYS, Some("10")), &batches),
        "lists 9 dates",
    );
    expect_schema_error(
        from_batches(&with_meta(META_DAYS, Some("x")), &batches),
        "not a day count",
    );
    expect_schema_error(
        from_batches(&with_meta("hop.format_version", Some("2")), &batches),
        "reads version 1",
    );
    let ten_dates: Vec<String> = (10..20).map(|d| format!("2024-02-{d}")).collect();
    expect_schema_error(
        from_batches(&schema(10, &ten_dates), &batches),
        "field \"pnl\" is FixedSizeList",
    );
    expect_schema_error(from_batches(&good, &[]), "no strategy");

    // A different field type.
    let renamed = Arc::new(Schema::new_with_metadata(
        vec![
            Field::new("strategy_id", DataType::Int64, false),
            good.field(1).clone(),
            good.field(2).clone(),
        ],
        good.metadata().clone(),
    ));
    expect_schema_error(from_batches(&renamed, &batches), "strategy_id is Int64");

    // A batch whose columns do not match the schema.
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![0i64, 1, 2]));
    let wrong = RecordBatch::try_new(
        renamed.clone(),
        vec![
            ids,
            batches[0].column(1).clone(),
            batches[0].column(2).clone(),
        ],
    )
    .unwrap();
    expect_schema_error(
        from_batches(&good, &[wrong]),
        "batch 0: field \"strategy_id\" is Int64",
    );

    // Ids that skip.
    let mut shuffled = batches.clone();
    shuffled.swap(0, 1);
    expect_schema_error(
        from_batches(&good, &shuffled),
        "strategy_id 0 where 6 was expected",
    );

    // Nulls.
    let names: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("c")]));
    let nullable = Arc::new(Schema::new_with_metadata(
        vec![
            good.field(0).clone(),
            Field::new("name", DataType::Utf8, true),
            good.field(2).clone(),
        ],
        good.metadata().clone(),
    ));
    let with_null = RecordBatch::try_new(
        nullable.clone(),
        vec![
            batches[0].column(0).clone(),
            names,
            batches[0].column(2).clone(),
        ],
    )
    .unwrap();
    expect_schema_error(from_batches(&nullable, &[with_null]), "name has 1 nulls");

    // A Parquet file that is not one.
    let err = read_parquet(Bytes::from_static(b"not a parquet file at all")).unwrap_err();
    assert!(matches!(err, ColumnarError::Parquet(_)), "{err}");
    let mut bytes = parquet_bytes(&m);
    bytes.truncate(bytes.len() / 2);
    assert!(read_parquet(Bytes::from(bytes)).is_err());
}

#[test]
fn dataset_id_is_a_stable_content_hash() {
    // XXH3-128 reference values (xxhsum -H2): the empty input.
    assert_eq!(dataset_id(b""), "99aa06d3014798d86001c324468d497f");
    let a = dataset_id(b"Date,A\n2024-01-04,1\n");
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(a, dataset_id(b"Date,A\n2024-01-04,1\n"));
    assert_ne!(a, dataset_id(b"Date,A\n2024-01-04,2\n"));
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = f();
        best = best.min(start.elapsed());
        last = Some(out);
    }
    (best, last.unwrap())
}

/// Production-shape timings (run: `cargo test --release -p hop-columnar -- --ignored --nocapture`).
#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn timing_production_shape() {
    let base = parse_csv(&hop_core::fixtures::bytes("sensex_2500x82.csv")).unwrap();
    let m = hop_core::synth::bootstrap(&base, 25_544, 2026);
    let csv = write_csv(&m, true);
    println!(
        "production shape: {} x {}, CSV {:.1} MB",
        m.n_strategies(),
        m.n_days(),
        csv.len() as f64 / 1e6
    );

    let (t, parsed) = best_of(5, || parse_csv(&csv).unwrap());
    assert_bit_identical(&parsed, &m);
    println!(
        "parse_csv:              {:7.1} ms (best of 5)",
        t.as_secs_f64() * 1e3
    );
    let (t, _) = best_of(5, || dataset_id(&csv));
    println!("dataset_id:             {:7.1} ms", t.as_secs_f64() * 1e3);
    let (t, _) = best_of(5, || to_batches(&m, 4096, None).unwrap());
    println!("to_batches:             {:7.1} ms", t.as_secs_f64() * 1e3);

    let zstd1 = Compression::ZSTD(ZstdLevel::try_new(1).unwrap());
    let split = Encoding::BYTE_STREAM_SPLIT;
    for (label, props) in [
        ("none", writer_properties(Compression::UNCOMPRESSED)),
        ("snappy", writer_properties(Compression::SNAPPY)),
        ("zstd(1)", writer_properties(zstd1)),
        (
            "bss+zstd(1)",
            writer_properties(zstd1).set_column_encoding(pnl_column_path(), split),
        ),
        (
            "bss+snappy",
            writer_properties(Compression::SNAPPY).set_column_encoding(pnl_column_path(), split),
        ),
    ] {
        let props = props.build();
        let (tw, bytes) = best_of(5, || {
            let mut out = Vec::with_capacity(24 << 20);
            write_parquet_with(&m, &mut out, props.clone()).unwrap();
            out
        });
        let bytes = Bytes::from(bytes);
        let (tr, back) = best_of(5, || read_parquet(bytes.clone()).unwrap());
        assert_bit_identical(&back, &m);
        println!(
            "parquet {label:12} write {:7.1} ms, read {:7.1} ms, {:6.1} MB",
            tw.as_secs_f64() * 1e3,
            tr.as_secs_f64() * 1e3,
            bytes.len() as f64 / 1e6
        );
    }
    // Real values compress differently from bootstrapped ones: sizes on the real fixture.
    let real = parse_csv(&hop_core::fixtures::bytes("sensex_2500x82.csv")).unwrap();
    for (label, codec) in [
        ("none", Compression::UNCOMPRESSED),
        ("snappy", Compression::SNAPPY),
        ("zstd(1)", zstd1),
    ] {
        let mut out = Vec::new();
        write_parquet_with(&real, &mut out, writer_properties(codec).build()).unwrap();
        println!(
            "real 2500x82 fixture, parquet {label:8} {:6.2} MB",
            out.len() as f64 / 1e6
        );
    }
    let (t, _) = best_of(5, || {
        let m = parse_csv(&csv).unwrap();
        let mut out = Vec::with_capacity(24 << 20);
        write_parquet(&m, &mut out).unwrap();
        out
    });
    println!(
        "parse_csv + write_parquet (default): {:7.1} ms",
        t.as_secs_f64() * 1e3
    );
}
