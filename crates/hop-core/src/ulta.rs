//! ULTA (SPEC 2.3): strategies that lose money are traded the other way round.

use crate::error::CoreError;
use crate::matrix::PnlMatrix;
use crate::metrics::SeriesStats;
use crate::types::Inversion;

/// Negates every strategy whose ROI < 0, renaming it `<name>_inv`. Returns the new matrix and the
/// inversions in strategy order.
pub fn apply(matrix: &PnlMatrix) -> Result<(PnlMatrix, Vec<Inversion>), CoreError> {
    let mut names = matrix.names().to_vec();
    let mut values = matrix.values().to_vec();
    let days = matrix.n_days();
    let mut inversions = Vec::new();
    for (j, name) in names.iter_mut().enumerate() {
        let roi = SeriesStats::of(matrix.column(j)).roi;
        if roi < 0.0 {
            let column = &mut values[j * days..(j + 1) * days];
            column.iter_mut().for_each(|v| *v = -*v);
            let inverted_name = format!("{name}_inv");
            inversions.push(Inversion {
                index: j as u32,
                original_name: std::mem::replace(name, inverted_name.clone()),
                inverted_name,
                original_roi: roi,
                inverted_roi: SeriesStats::of(column).roi,
            });
        }
    }
    Ok((
        PnlMatrix::new(names, matrix.dates().to_vec(), values)?,
        inversions,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverts_losers_only() {
        let m = PnlMatrix::new(
            vec!["a".into(), "b".into()],
            vec!["2024-01-01".into(), "2024-01-02".into()],
            vec![1.0, -3.0, 2.0, 1.0],
        )
        .unwrap();
        let (out, inv) = apply(&m).unwrap();
        assert_eq!(out.names(), ["a_inv", "b"]);
        assert_eq!(out.column(0), [-1.0, 3.0]);
        assert_eq!(out.column(1), [2.0, 1.0]);
        assert_eq!(inv.len(), 1);
        assert_eq!(inv[0].original_name, "a");
        assert_eq!(inv[0].original_roi, -2.0);
        assert_eq!(inv[0].inverted_roi, 2.0);
    }
}
