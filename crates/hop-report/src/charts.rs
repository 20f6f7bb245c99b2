//! The per-size PNG charts: `equity_curves_Best_Portfolio_Size<k>_<ts>.png` and
//! `drawdowns_Best_Portfolio_Size<k>_<ts>.png`; and the walk-forward chart
//! `walk_forward_equity_<ts>.png` ([`draw_walk_forward`]).
//!
//! Drawn with plotters' bitmap backend at [`CHART_SIZE`] pixels. Text uses DejaVu Sans embedded in
//! the binary (registered once as the `sans-serif` family through plotters' `ab_glyph` support), so
//! no system font and no fontconfig is needed.
//!
//! - Equity: `E[t] = p[1] + ... + p[t]`, the cumulative sum of the best portfolio's daily P&L.
//! - Drawdown: `D[t] = M[t] - E[t]` with the running peak `M[t] = max(E[1..t])` (the peak starts
//!   at day 1's equity, as in SPEC 2.3), plotted as **negative** values (`-D[t]`, an area below
//!   zero) so the chart reads like an underwater curve; its deepest point is -max_drawdown.
//!
//! The x axis is the trading-day index labelled with the run's ISO dates (a handful of ticks).

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

/// Width and height of every chart, pixels.
pub const CHART_SIZE: (u32, u32) = (1200, 600);

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the embedded font for the `sans-serif` family (once per process).
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded DejaVu Sans font could not be loaded".into())
    }
}

/// `E[t]`: the running sum of the daily series.
pub fn equity_curve(daily: &[f64]) -> Vec<f64> {
    let mut sum = 0.0;
    daily
        .iter()
        .map(|p| {
            sum += p;
            sum
        })
        .collect()
}

/// `D[t] = M[t] - E[t] >= 0`, the peak starting at `E[1]`.
pub fn drawdown_curve(equity: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            peak - e
        })
        .collect()
}

/// Which chart to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Equity,
    Drawdown,
}

/// A y range covering the finite values (and 0 for the drawdown), padded by 5 %.
fn y_range(values: &[f64], include_zero: bool) -> (f64, f64) {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if include_zero || lo > hi {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad, hi + pad)
}

/// A y tick label: whole currency units for large ranges, two decimals for small ones.
fn amount_label(value: f64, span: f64) -> String {
    if span >= 20.0 {
        let v = value.round();
        if v == 0.0 {
            "0".into()
        } else {
            format!("{v:.0}")
        }
    } else {
        format!("{value:.2}")
    }
}

/// Draws one chart of `daily` (the best portfolio's daily P&L) into `path`.
pub fn draw_chart(
    path: &Path,
    kind: ChartKind,
    title: &str,
    dates: &[String],
    daily: &[f64],
) -> Result<(), String> {
    ensure_font()?;
    let equity = equity_curve(daily);
    let (values, y_desc, color) = match kind {
        ChartKind::Equity => (equity, "Cumulative P&L", RGBColor(31, 119, 180)),
        ChartKind::Drawdown => {
            let dd: Vec<f64> = drawdown_curve(&equity).into_iter().map(|d| -d).collect();
            (dd, "Drawdown", RGBColor(214, 39, 40))
        }
    };
    let n = values.len();
    let x_max = n.saturating_sub(1).max(1) as i32;
    let y = y_range(&values, kind == ChartKind::Drawdown || n == 0);
    let root = BitMapBackend::new(path, CHART_SIZE).into_drawing_area();
    let mut chart = framed(&root, title, y_desc, y, dates, n)?;
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    let (y_lo, y_hi) = y;

    if n == 0 {
        root.draw(&Text::new(
            "No trading days",
            (CHART_SIZE.0 as i32 / 2 - 70, CHART_SIZE.1 as i32 / 2),
            ("sans-serif", 22).into_font(),
        ))
        .map_err(e)?;
    } else {
        let points: Vec<(i32, f64)> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| (i as i32, v))
            .collect();
        if kind == ChartKind::Drawdown {
            let mut area = Vec::with_capacity(points.len() + 2);
            area.push((points.first().map_or(0, |p| p.0), 0.0));
            area.extend(points.iter().copied());
            area.push((points.last().map_or(0, |p| p.0), 0.0));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    area,
                    color.mix(0.25).filled(),
                )))
                .map_err(e)?;
        }
        if y_lo < 0.0 && y_hi > 0.0 {
            // The zero line, for reference.
            chart
                .draw_series(LineSeries::new([(0, 0.0), (x_max, 0.0)], BLACK.mix(0.4)))
                .map_err(e)?;
        }
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// The chart area of every chart over `n` points: white background, title, the date axis
/// (labelled with `dates` when there is one per point, else day numbers) and the amount axis.
fn framed<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    (y_lo, y_hi): (f64, f64),
    dates: &[String],
    n: usize,
) -> Result<Chart<'a, 'b>, String> {
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    let x_max = n.saturating_sub(1).max(1) as i32;
    let span = y_hi - y_lo;
    let x_label = |i: &i32| -> String {
        let i = *i;
        if i < 0 || i as usize >= n.max(1) {
            return String::new();
        }
        match dates.get(i as usize) {
            Some(d) if dates.len() == n => d.clone(),
            _ => format!("day {}", i + 1),
        }
    };
    let y_label = |v: &f64| amount_label(*v, span);
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        // Room for the last date label, which is centred on the right edge of the plot.
        .margin_right(60)
        .x_label_area_size(60)
        .y_label_area_size(100)
        .build_cartesian_2d(0..x_max, y_lo..y_hi)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("Date")
        .y_desc(y_desc)
        .x_labels(8)
        .y_labels(10)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 18))
        .max_light_lines(1)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(e)?;
    Ok(chart)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordi32, plotters::coord::types::RangedCoordf64>,
>;

/// One fold of the walk-forward chart: the chosen portfolio's daily series from `start` (a day
/// index of the run), its first `train_days` in sample, the rest out of sample.
pub struct FoldSeries<'a> {
    pub start: usize,
    pub train_days: usize,
    pub daily: &'a [f64],
}

/// The walk-forward chart: per fold, the chosen portfolio's equity over its training days (solid,
/// in sample) continued over its test days (thick, out of sample), dates on the x axis.
pub fn draw_walk_forward(
    path: &Path,
    title: &str,
    dates: &[String],
    folds: &[FoldSeries<'_>],
) -> Result<(), String> {
    ensure_font()?;
    const COLORS: [RGBColor; 4] = [
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    const OUT_OF_SAMPLE: RGBColor = RGBColor(214, 39, 40);
    let curves: Vec<(usize, usize, Vec<f64>)> = folds
        .iter()
        .map(|f| (f.start, f.train_days, equity_curve(f.daily)))
        .collect();
    let all: Vec<f64> = curves.iter().flat_map(|c| c.2.iter().copied()).collect();
    let n = dates.len();
    let root = BitMapBackend::new(path, CHART_SIZE).into_drawing_area();
    let y = y_range(&all, true);
    let mut chart = framed(&root, title, "Cumulative P&L", y, dates, n)?;
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    for (i, (start, train_days, equity)) in curves.iter().enumerate() {
        let point = |t: usize| ((start + t) as i32, equity[t]);
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                (0..*train_days).map(point),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(format!("fold {} in sample", i + 1))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        // From the last in-sample day, so the two parts join.
        let out_of_sample = train_days.saturating_sub(1)..equity.len();
        let series = chart
            .draw_series(LineSeries::new(
                out_of_sample.map(point),
                OUT_OF_SAMPLE.stroke_width(3),
            ))
            .map_err(e)?;
        if i == 0 {
            series.label("out of sample (each fold)").legend(|(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], OUT_OF_SAMPLE.stroke_width(3))
            });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}
