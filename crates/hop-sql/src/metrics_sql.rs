//! The SQL text of the per-strategy metrics (SPEC 2.3), one query per metric group, in SQL that
//! both SQLite and HeavyDB (Calcite) accept: standard window functions with an explicit `ROWS`
//! frame, `CASE`, `COUNT`, `SUM`, `MAX`, `ABS`, `CAST(.. AS DOUBLE)` and aliased derived tables.
//!
//! Both queries read a table `(strategy_id INTEGER, day_index INTEGER, pnl DOUBLE)` with days
//! `0..T` for every strategy and return one row per strategy, ordered by `strategy_id`.

/// The running frame: every day up to and including the current one, in day order.
const RUNNING: &str =
    "PARTITION BY strategy_id ORDER BY day_index ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW";

/// Path metrics: columns `strategy_id, roi, max_drawdown`.
///
/// Equity E[t] is the running `SUM(pnl)` in day order and the running peak M[t] the running
/// `MAX(E)` over the same frame, so the peak starts at day 1's equity (not at 0); MDD is the
/// largest `M[t] - E[t]` (0 on day 1, so never negative) and ROI is the equity of the last day
/// `last_day` (= T - 1), the same running sum the drawdown uses. The `SUM` of one equity and
/// zeros is exact, in any order.
pub fn path_metrics(pnl_table: &str, last_day: usize) -> String {
    format!(
        "SELECT strategy_id, \
                SUM(CASE WHEN day_index = {last_day} THEN equity ELSE 0.0 END) AS roi, \
                MAX(peak - equity) AS max_drawdown \
         FROM (\
           SELECT strategy_id, day_index, equity, \
                  MAX(equity) OVER ({RUNNING}) AS peak \
           FROM (\
             SELECT strategy_id, day_index, \
                    SUM(pnl) OVER ({RUNNING}) AS equity \
             FROM {pnl_table}\
           ) running_equity\
         ) running_peak \
         GROUP BY strategy_id \
         ORDER BY strategy_id"
    )
}

/// Distribution metrics: columns `strategy_id, win_percentage, profit_factor, expectancy`.
///
/// w = days with pnl > 0 / T; G = sum of the positive days, L = |sum of the negative days|;
/// profit factor G / L, **NULL when L = 0** (the caller reads NULL as `+inf`: SQL has no
/// infinity that both engines return); expectancy w * avgWin - (1 - w) * avgLoss, each average
/// 0 when it has no day, with the operations in the Rust reference's order so that equal sums
/// give equal bits.
pub fn distribution_metrics(pnl_table: &str) -> String {
    let w = "(CAST(win_days AS DOUBLE) / days)";
    format!(
        "SELECT strategy_id, \
                {w} AS win_percentage, \
                CASE WHEN losses = 0.0 THEN NULL ELSE gains / losses END AS profit_factor, \
                {w} * (CASE WHEN win_days > 0 THEN gains / win_days ELSE 0.0 END) \
                  - (1.0 - {w}) * (CASE WHEN loss_days > 0 THEN losses / loss_days ELSE 0.0 END) \
                  AS expectancy \
         FROM (\
           SELECT strategy_id, \
                  COUNT(*) AS days, \
                  SUM(CASE WHEN pnl > 0 THEN 1 ELSE 0 END) AS win_days, \
                  SUM(CASE WHEN pnl < 0 THEN 1 ELSE 0 END) AS loss_days, \
                  SUM(CASE WHEN pnl > 0 THEN pnl ELSE 0.0 END) AS gains, \
                  ABS(SUM(CASE WHEN pnl < 0 THEN pnl ELSE 0.0 END)) AS losses \
           FROM {pnl_table} \
           GROUP BY strategy_id\
         ) day_counts \
         ORDER BY strategy_id"
    )
}
