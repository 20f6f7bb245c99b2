//! The walk-forward and selection statistics of a result (issue 14), compared after the summary.
//!
//! - `walk_forward` (present on one side only: one mismatch, the other side `missing`), then its
//!   `skipped`, `mode`, `test_days`, `random_portfolios`, `fold_count` (exact) and per fold both
//!   sides have `walk_forward.fold[i].`: `train`, `test` (exact, as `start..end first..last`),
//!   `algorithm`, `portfolio_size`, `portfolio` (exact), `fitness` (number), `zero_drawdown`,
//!   `evaluations` (exact), `in_sample.{roi,max_drawdown,ratio,win_rate}`,
//!   `out_of_sample.{...}`, `random_median_roi`, `percentile_rank`, `equal_weight_roi`
//!   (numbers).
//! - `selection` (present on one side only: one mismatch), then `trials` (exact),
//!   `sharpe_variance` (number), `in_sample` and `out_of_sample` (each: present on one side only is
//!   one mismatch; `days` exact, `sharpe`, `skewness`, `kurtosis`, `psr`, `sr0`, `dsr` numbers),
//!   `zero_drawdown` (exact).

use hop_proto::v1::{DayWindow, SelectionStats, SharpeStats, WalkForward, WindowFigures};

use super::{NumberField, PortfolioText, Walk};

const FIGURES: [NumberField<WindowFigures>; 4] = [
    ("roi", |f| f.roi),
    ("max_drawdown", |f| f.max_drawdown),
    ("ratio", |f| f.ratio),
    ("win_rate", |f| f.win_rate),
];

const SHARPE: [NumberField<SharpeStats>; 6] = [
    ("sharpe", |s| s.sharpe),
    ("skewness", |s| s.skewness),
    ("kurtosis", |s| s.kurtosis),
    ("psr", |s| s.psr),
    ("sr0", |s| s.sr0),
    ("dsr", |s| s.dsr),
];

/// `12..24 2024-01-01..2024-01-16`.
fn window_text(w: Option<&DayWindow>) -> String {
    w.map_or_else(
        || "missing".into(),
        |w| format!("{}..{} {}..{}", w.start, w.end, w.first_date, w.last_date),
    )
}

impl Walk {
    /// Both sides' `T`, or one mismatch named `field` when only one side has it.
    fn both<'a, T>(
        &mut self,
        field: &str,
        blue: Option<&'a T>,
        green: Option<&'a T>,
    ) -> Option<(&'a T, &'a T)> {
        match (blue, green) {
            (Some(b), Some(g)) => Some((b, g)),
            (None, None) => None,
            (b, g) => {
                let text = |side: Option<&T>| if side.is_some() { "present" } else { "missing" };
                self.fields = self.fields.saturating_add(1);
                self.mismatch(field.into(), text(b).into(), text(g).into(), f64::INFINITY);
                None
            }
        }
    }

    fn figures(
        &mut self,
        prefix: &str,
        blue: Option<&WindowFigures>,
        green: Option<&WindowFigures>,
    ) {
        if let Some((b, g)) = self.both(prefix, blue, green) {
            for (name, get) in FIGURES {
                self.number(|| format!("{prefix}.{name}"), get(b), get(g));
            }
        }
    }

    pub(super) fn walk_forward(&mut self, blue: Option<&WalkForward>, green: Option<&WalkForward>) {
        let Some((b, g)) = self.both("walk_forward", blue, green) else {
            return;
        };
        self.exact(|| "walk_forward.skipped".into(), &b.skipped, &g.skipped);
        self.exact(|| "walk_forward.mode".into(), &b.mode, &g.mode);
        self.exact(
            || "walk_forward.test_days".into(),
            &b.test_days,
            &g.test_days,
        );
        self.exact(
            || "walk_forward.random_portfolios".into(),
            &b.random_portfolios,
            &g.random_portfolios,
        );
        self.exact(
            || "walk_forward.fold_count".into(),
            &b.folds.len(),
            &g.folds.len(),
        );
        for (i, (b, g)) in b.folds.iter().zip(&g.folds).enumerate() {
            let p = format!("walk_forward.fold[{i}]");
            self.exact(
                || format!("{p}.train"),
                &window_text(b.train.as_ref()),
                &window_text(g.train.as_ref()),
            );
            self.exact(
                || format!("{p}.test"),
                &window_text(b.test.as_ref()),
                &window_text(g.test.as_ref()),
            );
            self.exact(|| format!("{p}.algorithm"), &b.algorithm, &g.algorithm);
            self.exact(
                || format!("{p}.portfolio_size"),
                &b.portfolio_size,
                &g.portfolio_size,
            );
            self.exact(
                || format!("{p}.portfolio"),
                &PortfolioText(&b.portfolio),
                &PortfolioText(&g.portfolio),
            );
            self.number(|| format!("{p}.fitness"), b.fitness, g.fitness);
            self.exact(
                || format!("{p}.zero_drawdown"),
                &b.zero_drawdown,
                &g.zero_drawdown,
            );
            self.exact(
                || format!("{p}.evaluations"),
                &b.evaluations,
                &g.evaluations,
            );
            self.figures(
                &format!("{p}.in_sample"),
                b.in_sample.as_ref(),
                g.in_sample.as_ref(),
            );
            self.figures(
                &format!("{p}.out_of_sample"),
                b.out_of_sample.as_ref(),
                g.out_of_sample.as_ref(),
            );
            self.number(
                || format!("{p}.random_median_roi"),
                b.random_median_roi,
                g.random_median_roi,
            );
            self.number(
                || format!("{p}.percentile_rank"),
                b.percentile_rank,
                g.percentile_rank,
            );
            self.number(
                || format!("{p}.equal_weight_roi"),
                b.equal_weight_roi,
                g.equal_weight_roi,
            );
        }
    }

    fn sharpe(&mut self, prefix: &str, blue: Option<&SharpeStats>, green: Option<&SharpeStats>) {
        if let Some((b, g)) = self.both(prefix, blue, green) {
            self.exact(|| format!("{prefix}.days"), &b.days, &g.days);
            for (name, get) in SHARPE {
                self.number(|| format!("{prefix}.{name}"), get(b), get(g));
            }
        }
    }

    pub(super) fn selection(
        &mut self,
        blue: Option<&SelectionStats>,
        green: Option<&SelectionStats>,
    ) {
        let Some((b, g)) = self.both("selection", blue, green) else {
            return;
        };
        self.exact(|| "selection.trials".into(), &b.trials, &g.trials);
        self.number(
            || "selection.sharpe_variance".into(),
            b.sharpe_variance,
            g.sharpe_variance,
        );
        self.sharpe(
            "selection.in_sample",
            b.in_sample.as_ref(),
            g.in_sample.as_ref(),
        );
        self.sharpe(
            "selection.out_of_sample",
            b.out_of_sample.as_ref(),
            g.out_of_sample.as_ref(),
        );
        self.exact(
            || "selection.zero_drawdown".into(),
            &b.zero_drawdown,
            &g.zero_drawdown,
        );
    }
}
