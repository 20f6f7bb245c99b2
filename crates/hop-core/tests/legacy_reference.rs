//! The legacy optimizer's own numbers (SPEC 2.3): per-strategy metrics to 1e-9 relative and the
//! three reference fitness values to 1e-12.

use hop_core::JobOptions;
use hop_core::fitness::{Accum, FitnessSpec, Problem};
use hop_core::metrics::all_strategy_metrics;

fn close(a: f64, b: f64, rel: f64) -> bool {
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn strategy_metrics_match_the_legacy_output() {
    let m = hop_core::fixtures::matrix("sensex_2500x82.csv");
    let ours = all_strategy_metrics(&m);
    let text = std::fs::read_to_string(hop_core::fixtures::path(
        "expected_strategy_metrics_2500.csv",
    ))
    .unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        ",ROI,Max Drawdown,Win Percentage,Profit Factor,Expectancy"
    );
    let index: std::collections::HashMap<&str, usize> = m
        .names()
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut checked = 0;
    for line in lines {
        // Names hold no comma in this fixture; the five numbers are the last five cells.
        let cells: Vec<&str> = line.rsplitn(6, ',').collect();
        let name = cells[5];
        let j = *index
            .get(name)
            .unwrap_or_else(|| panic!("{name:?} not in the fixture"));
        let want: Vec<f64> = cells[..5]
            .iter()
            .rev()
            .map(|c| c.parse().unwrap())
            .collect();
        let got = ours[j];
        let got = [
            got.roi,
            got.max_drawdown,
            got.win_percentage,
            got.profit_factor,
            got.expectancy,
        ];
        for (col, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                close(*g, *w, 1e-9),
                "{name}: column {col}: ours {g} legacy {w}"
            );
        }
        checked += 1;
    }
    // The legacy optimizer skipped the first strategy (SPEC 2.1); every other one is compared.
    assert_eq!(checked, m.n_strategies() - 1);
}

#[test]
fn reference_fitness_values() {
    let m = hop_core::fixtures::matrix("sensex_2500x82.csv");
    let problem = Problem::new(&m, FitnessSpec::from(&JobOptions::default()), 100).unwrap();
    let cases: [(Vec<u32>, f64); 3] = [
        ((0..35).collect(), -1.82604746746997),
        ((100..110).collect(), -2.64140647561754),
        (vec![0, 1, 2], -1.84874227869528),
    ];
    let mut acc = Accum::new(m.n_days());
    for (members, want) in cases {
        problem.accumulate(&members, &mut acc);
        let got = problem.fitness(&acc, members.len());
        assert!(
            (got - want).abs() <= 1e-12,
            "P = {members:?}: got {got:.15} want {want:.15}"
        );
    }
}
