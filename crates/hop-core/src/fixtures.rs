//! The legacy fixtures (`shared/fixtures/legacy/`, real production data and the legacy system's own
//! output), which live beside this repository: one place for every test and benchmark to find them.

use std::path::PathBuf;

use crate::matrix::PnlMatrix;

/// `shared/fixtures/legacy/` beside the repository root.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/legacy")
}

/// The path of a fixture; panics with a clear message when it is not there.
pub fn path(name: &str) -> PathBuf {
    let path = dir().join(name);
    assert!(
        path.exists(),
        "the legacy fixture {} is missing: the repository expects shared/ beside it",
        path.display()
    );
    path
}

pub fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("cannot read fixture {name}: {e}"))
}

/// A fixture CSV parsed (it must parse).
pub fn matrix(name: &str) -> PnlMatrix {
    crate::csv::parse_csv(&bytes(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Asserts two matrices are equal bit for bit (names, dates and every value's bits).
pub fn assert_bit_identical(a: &PnlMatrix, b: &PnlMatrix) {
    assert_eq!(a.names(), b.names());
    assert_eq!(a.dates(), b.dates());
    assert_eq!(a.values().len(), b.values().len());
    for (i, (x, y)) in a.values().iter().zip(b.values()).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "value {i}: {x:?} vs {y:?}");
    }
}
