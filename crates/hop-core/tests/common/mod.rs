//! Shared test helpers: the legacy fixtures in `../shared/fixtures/legacy/`.
#![allow(dead_code)]

use std::path::PathBuf;

use hop_core::PnlMatrix;

pub fn fixture_path(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/legacy")
        .join(name);
    assert!(
        path.exists(),
        "fixture {} is missing: the repo expects shared/ beside it",
        path.display()
    );
    path
}

pub fn fixture_matrix(name: &str) -> PnlMatrix {
    let bytes = std::fs::read(fixture_path(name)).expect("read fixture");
    hop_core::csv::parse_csv(&bytes).expect("the fixture parses")
}
