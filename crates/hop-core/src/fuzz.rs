//! Byte-level mutation for the parsers' property tests (feature `fuzz`): the edits (truncate,
//! flip a byte, insert a token, delete a byte), a strategy over them with the caller's tokens, and
//! the case count from `PROPTEST_CASES`. The CSV reader's and the job file reader's fuzz tests
//! share it.

use proptest::prelude::*;

/// Cases per property: `PROPTEST_CASES`, else 2000; no failure files written.
pub fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One edit of a byte string (positions are taken modulo its length).
#[derive(Debug, Clone)]
pub enum Edit {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, &'static [u8]),
    Delete(usize),
}

/// Any edit; insertions pick one of `tokens`.
pub fn edit(tokens: Vec<&'static [u8]>) -> impl Strategy<Value = Edit> {
    let pos = any::<usize>();
    prop_oneof![
        pos.prop_map(Edit::Truncate),
        (pos, any::<u8>()).prop_map(|(p, b)| Edit::Flip(p, b)),
        (pos, prop::sample::select(tokens)).prop_map(|(p, s)| Edit::Insert(p, s)),
        pos.prop_map(Edit::Delete),
    ]
}

/// `bytes` after `edits`, in order.
pub fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len();
        match *e {
            Edit::Truncate(p) => bytes.truncate(p % (len + 1)),
            Edit::Flip(p, b) if len > 0 => bytes[p % len] = b,
            Edit::Insert(p, s) => {
                let at = p % (len + 1);
                bytes.splice(at..at, s.iter().copied());
            }
            Edit::Delete(p) if len > 0 => {
                bytes.remove(p % len);
            }
            _ => {}
        }
    }
    bytes
}
