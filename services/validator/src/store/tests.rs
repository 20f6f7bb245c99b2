//! The store on temporary files: round trips, order, filters, reopening and refusals.

use std::time::{Duration, SystemTime};

use super::*;

fn reply(job_id: &str, mismatches: &[(&str, f64)], at_ns: u64) -> CompareReply {
    CompareReply {
        job_id: job_id.into(),
        matched: mismatches.is_empty(),
        max_relative_difference: 2.5e-6,
        mismatches: mismatches
            .iter()
            .map(|(field, difference)| Mismatch {
                field: (*field).into(),
                blue: "1.0".into(),
                green: "NaN".into(),
                relative_difference: *difference,
            })
            .collect(),
        tolerance: 1e-5,
        fields_compared: 57,
        compared_at: Some((SystemTime::UNIX_EPOCH + Duration::from_nanos(at_ns)).into()),
    }
}

fn jobs(replies: &[CompareReply]) -> Vec<&str> {
    replies.iter().map(|r| r.job_id.as_str()).collect()
}

#[test]
fn comparisons_read_back_newest_first_with_their_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let store = ComparisonStore::open(&dir.path().join("validator/comparisons.sqlite")).unwrap();
    let first = reply("job_1", &[], 1_753_890_300_123_456_789);
    let second = reply(
        "job_2",
        &[
            ("strategy[3].roi", 1e-3),
            ("size[10].GA.portfolio", f64::INFINITY),
        ],
        1_753_890_301_000_000_001,
    );
    let third = reply("job_3", &[], 1_753_890_302_000_000_000);
    let ids: Vec<i64> = [&first, &second, &third]
        .iter()
        .map(|r| store.record(r).unwrap())
        .collect();
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");

    let all = store.list(100, false).unwrap();
    assert_eq!(all, [third.clone(), second.clone(), first]);
    assert_eq!(all[1].mismatches[1].relative_difference, f64::INFINITY);
    assert_eq!(jobs(&store.list(2, false).unwrap()), ["job_3", "job_2"]);
    assert_eq!(store.list(100, true).unwrap(), [second]);
    assert!(store.list(0, false).unwrap().is_empty());
}

#[test]
fn the_store_survives_reopening_and_is_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("comparisons.sqlite");
    let recorded = reply("job_1", &[("best_fitness", 0.5)], 42);
    ComparisonStore::open(&path)
        .unwrap()
        .record(&recorded)
        .unwrap();
    let store = ComparisonStore::open(&path).unwrap();
    assert_eq!(store.path(), path);
    assert_eq!(store.list(10, false).unwrap(), [recorded]);

    let other = Connection::open(&path).unwrap();
    let journal: String = other
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let counts: (i64, i64) = other
        .query_row(
            "SELECT mismatch_count, (SELECT count(*) FROM mismatches) FROM comparisons",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(counts, (1, 1));
    let at: String = other
        .query_row("SELECT compared_at FROM comparisons", [], |row| row.get(0))
        .unwrap();
    assert_eq!(at, "1970-01-01T00:00:00.000000042Z");
}

#[test]
fn an_unusable_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let path = file.join("comparisons.sqlite");
    let e = ComparisonStore::open(&path).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("cannot create its directory"), "{text}");

    let not_sqlite = dir.path().join("garbage.sqlite");
    std::fs::write(&not_sqlite, vec![b'x'; 4096]).unwrap();
    let text = ComparisonStore::open(&not_sqlite).unwrap_err().to_string();
    assert!(text.contains("garbage.sqlite"), "{text}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("comparisons.sqlite");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let text = ComparisonStore::open(&path).unwrap_err().to_string();
    assert!(text.contains("newer validator"), "{text}");
}

#[test]
fn timestamps_keep_their_nanoseconds() {
    let stamp = Timestamp {
        seconds: 1_753_890_300,
        nanos: 123_456_789,
    };
    let text = timestamp_text(Some(&stamp));
    assert_eq!(text, "2025-07-30T15:45:00.123456789Z");
    assert_eq!(parse_timestamp(&text), Some(stamp));
    assert_eq!(timestamp_text(None), "1970-01-01T00:00:00.000000000Z");
    assert_eq!(parse_timestamp("yesterday"), None);
}
