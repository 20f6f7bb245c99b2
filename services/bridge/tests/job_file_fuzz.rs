//! Property-based fuzzing of the job file reader (`hop_bridge::decode::decode`, then
//! `hop_bridge::job_file::parse`): arbitrary bytes, and mutations of a valid job file (truncation,
//! byte flips, inserted quotes, commas, line breaks, byte-order marks, NUL bytes, huge numbers,
//! replaced field values). Nothing panics; a file that is not a JSON object says why (invalid JSON
//! with its line and column); a refused object's sentence names a field of the job file.
//!
//! `PROPTEST_CASES` sets the number of cases per property (default 2000 here). A longer run:
//! `PROPTEST_CASES=200000 cargo test --release -p hop-bridge --test job_file_fuzz`.

use hop_bridge::BridgeError;
use hop_bridge::decode::{Decoded, decode};
use hop_bridge::job_file::parse;
use hop_core::fuzz::{Edit, apply, config};
use proptest::prelude::*;
use serde_json::Value;

/// The fields a refusal may be about.
const FIELDS: [&str; 14] = [
    "job_id",
    "input_file",
    "portfolio_size",
    "job_type",
    "timestamp",
    "min_size",
    "max_size",
    "algorithms",
    "seed",
    "budget",
    "metric",
    "penalty_weight",
    "aggregation",
    "ulta",
];

const FILE_NAME: &str = "job_fuzz_20250730_154500.json";

const VALID: &str = "{\r\n  \"job_id\": \"job_fuzz_20250730_154500\",\r\n  \"input_file\": \"Z:\\\\input\\\\data.csv\",\r\n  \"portfolio_size\": 35,\r\n  \"job_type\": \"complete_optimization\",\r\n  \"timestamp\": \"Wed 07/30/2025 15:45:00.12\",\r\n  \"client_info\": {\"computer_name\": \"DESKTOP-1\", \"username\": \"analyst\"},\r\n  \"min_size\": 20,\r\n  \"max_size\": 40,\r\n  \"algorithms\": \"GA, SA\",\r\n  \"seed\": 7,\r\n  \"budget\": 500,\r\n  \"metric\": \"ratio\",\r\n  \"penalty_weight\": 10,\r\n  \"aggregation\": \"mean\",\r\n  \"ulta\": false\r\n}\r\n";

/// Decodes and parses `bytes`: never panics, and every answer says what is wrong.
fn check(bytes: &[u8]) {
    match decode(bytes) {
        Decoded::NotAnObject(why) => {
            assert!(!why.trim().is_empty(), "{bytes:?}");
            if why.contains("not valid JSON") {
                assert!(
                    why.contains("(line ") && why.contains(", column "),
                    "invalid JSON without its place: {why:?} ({bytes:?})"
                );
            }
        }
        Decoded::Object(map) => match parse(FILE_NAME, &map) {
            Ok(job) => {
                assert!(!job.input_file.trim().is_empty());
                assert_eq!(format!("{}.json", job.job_id), FILE_NAME);
                assert!((10..=100).contains(&job.options.min_size), "{job:?}");
                assert!(job.options.min_size <= job.options.max_size, "{job:?}");
                assert!(job.options.max_size <= 100, "{job:?}");
            }
            Err(BridgeError::Refused(message)) => {
                assert!(
                    FIELDS.iter().any(|f| message.contains(f)),
                    "a refusal that names no field: {message:?} ({:?})",
                    String::from_utf8_lossy(bytes)
                );
                assert!(message.ends_with('.'), "not a sentence: {message:?}");
            }
            Err(other) => panic!("not a refusal: {other:?} ({bytes:?})"),
        },
    }
}

/// Edits that insert the tokens this format's reader is most likely to stumble on.
fn edit() -> impl Strategy<Value = Edit> {
    hop_core::fuzz::edit(vec![
        &b"\""[..],
        b",",
        b"\r\n",
        b"\\",
        b"{",
        b"}",
        b"[",
        b"\xEF\xBB\xBF",
        b"\0",
        b"1e999",
        b"-1",
        b"99999999999999999999999999999",
        b"3.5",
        b"null",
        b"\xFF\xFE",
        b"\xC3",
    ])
}

/// Any JSON value, with huge and odd numbers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(Value::from),
        (0i64..=120).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        "[0-9 .e+-]{0,8}".prop_map(Value::from),
        prop::sample::select(vec![
            "GA,XX", "ga, hc", "yes", "maybe", "sum", "MEAN", "ratio", "sharpe", "", " ",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&bytes);
    }

    #[test]
    fn mutated_job_files_never_panic(edits in proptest::collection::vec(edit(), 1..5)) {
        check(&apply(VALID.as_bytes().to_vec(), &edits));
    }

    #[test]
    fn replaced_or_removed_fields_are_refused_by_name(
        field in prop::sample::select(FIELDS.to_vec()),
        value in proptest::option::of(json_value()),
    ) {
        let mut map = match decode(VALID.as_bytes()) {
            Decoded::Object(map) => map,
            other => panic!("{other:?}"),
        };
        match &value {
            Some(v) => {
                map.insert(field.to_owned(), v.clone());
            }
            None => {
                map.remove(field);
            }
        }
        let text = serde_json::to_vec(&Value::Object(map)).expect("serialised");
        check(&text);
        if let Decoded::Object(map) = decode(&text)
            && let Err(BridgeError::Refused(message)) = parse(FILE_NAME, &map)
        {
            // The field that was changed is the one named (min/max interplay may name both).
            prop_assert!(
                message.contains(field)
                    || (["min_size", "max_size", "portfolio_size"].contains(&field)
                        && (message.contains("min_size") || message.contains("max_size"))),
                "{field} = {value:?}: {message}"
            );
        }
    }
}
