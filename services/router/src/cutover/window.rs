//! [`HealthWindow`]: green's most recent finished runs and the figures the automatic rollback
//! watches (SPEC 5: error rate, runtime, accuracy).

use std::collections::VecDeque;

use super::config::CutoverConfig;

/// What the window keeps of one green run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub seconds: f64,
    pub failed: bool,
    /// `(matched, max_relative_difference)` when the run was compared with blue's.
    pub comparison: Option<(bool, f64)>,
}

/// The window's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    pub samples: usize,
    /// Failed share, in [0, 1] (0 when empty).
    pub error_rate: f64,
    /// 95th percentile of the runtimes by nearest rank, seconds (0 when empty).
    pub p95_seconds: f64,
    /// Largest relative difference of the comparisons (NaN counts as infinite).
    pub max_relative_difference: f64,
    /// Comparisons that did not match.
    pub mismatches: usize,
}

/// The last `capacity` green runs, oldest first.
#[derive(Debug, Clone)]
pub struct HealthWindow {
    capacity: usize,
    samples: VecDeque<Sample>,
}

impl HealthWindow {
    /// An empty window of `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            samples: VecDeque::with_capacity(capacity),
        }
    }

    /// Adds a run, dropping the oldest when full.
    pub fn push(&mut self, sample: Sample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// Forgets every run (when an operator resumes).
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    /// The current figures.
    pub fn figures(&self) -> Figures {
        let samples = self.samples.len();
        if samples == 0 {
            return Figures::default();
        }
        let failed = self.samples.iter().filter(|s| s.failed).count();
        let mut seconds: Vec<f64> = self.samples.iter().map(|s| s.seconds).collect();
        seconds.sort_by(f64::total_cmp);
        let rank = (samples * 95).div_ceil(100).max(1);
        let comparisons = self.samples.iter().filter_map(|s| s.comparison);
        let max_relative_difference = comparisons
            .clone()
            .map(|(_, d)| if d.is_nan() { f64::INFINITY } else { d })
            .fold(0.0, f64::max);
        Figures {
            samples,
            error_rate: failed as f64 / samples as f64,
            p95_seconds: seconds[rank - 1],
            max_relative_difference,
            mismatches: comparisons.filter(|(matched, _)| !matched).count(),
        }
    }

    /// Why green must be rolled back, or `None`: nothing before `min_samples` runs (hold), then
    /// every threshold exceeded, each with its figure and limit.
    pub fn breach(&self, config: &CutoverConfig) -> Option<String> {
        let figures = self.figures();
        if figures.samples < config.min_samples {
            return None;
        }
        let over = format!("over the last {} jobs", figures.samples);
        let max_runtime = config.max_runtime.as_secs_f64();
        let mut reasons = Vec::new();
        if figures.error_rate > config.max_error_rate {
            reasons.push(format!(
                "green error rate {} {over} exceeds {}",
                round(figures.error_rate),
                config.max_error_rate
            ));
        }
        if figures.p95_seconds > max_runtime {
            reasons.push(format!(
                "green p95 runtime {} s {over} exceeds {max_runtime} s",
                round(figures.p95_seconds)
            ));
        }
        if figures.max_relative_difference > config.max_relative_difference {
            reasons.push(format!(
                "largest relative difference from blue {} {over} exceeds {}",
                round(figures.max_relative_difference),
                config.max_relative_difference
            ));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

/// Four significant decimals are plenty for a reason someone reads.
fn round(value: f64) -> f64 {
    if value.is_finite() {
        (value * 1e4).round() / 1e4
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ok(seconds: f64) -> Sample {
        Sample {
            seconds,
            failed: false,
            comparison: None,
        }
    }

    fn failed() -> Sample {
        Sample {
            failed: true,
            ..ok(0.5)
        }
    }

    fn compared(difference: f64) -> Sample {
        Sample {
            comparison: Some((difference <= 1e-5, difference)),
            ..ok(0.5)
        }
    }

    fn window(samples: impl IntoIterator<Item = Sample>) -> HealthWindow {
        let mut window = HealthWindow::new(20);
        samples.into_iter().for_each(|s| window.push(s));
        window
    }

    #[test]
    fn figures() {
        assert_eq!(window([]).figures(), Figures::default());
        let mut samples: Vec<Sample> = (1..=20).map(|i| ok(f64::from(i))).collect();
        samples[0] = failed();
        samples[1] = compared(0.02);
        samples[2] = compared(1e-9);
        let figures = window(samples).figures();
        assert_eq!(figures.samples, 20);
        assert_eq!(figures.error_rate, 0.05);
        assert_eq!(figures.p95_seconds, 19.0);
        assert_eq!(figures.max_relative_difference, 0.02);
        assert_eq!(figures.mismatches, 1);
        assert_eq!(
            window([compared(f64::NAN)])
                .figures()
                .max_relative_difference,
            f64::INFINITY
        );
        assert_eq!(window([ok(3.0)]).figures().p95_seconds, 3.0);
    }

    #[test]
    fn slides_and_clears() {
        let mut window = HealthWindow::new(3);
        for _ in 0..3 {
            window.push(failed());
        }
        for _ in 0..3 {
            window.push(ok(1.0));
        }
        assert_eq!(window.figures().error_rate, 0.0);
        assert_eq!(window.figures().samples, 3);
        window.clear();
        assert_eq!(window.figures().samples, 0);
    }

    #[test]
    fn breaches_only_after_min_samples() {
        let config = CutoverConfig::default();
        assert_eq!(
            window([failed(); 4]).breach(&config),
            None,
            "4 < 5 samples: hold"
        );
        let reason = window([
            failed(),
            failed(),
            ok(1.0),
            ok(1.0),
            ok(1.0),
            ok(1.0),
            ok(1.0),
            ok(1.0),
        ])
        .breach(&config)
        .unwrap();
        assert_eq!(
            reason,
            "green error rate 0.25 over the last 8 jobs exceeds 0.05"
        );
        let healthy = window([ok(4.9), ok(1.0), compared(0.009), ok(1.0), ok(1.0)]);
        assert_eq!(healthy.breach(&config), None);
        let slow = window([ok(5.5); 5]).breach(&config).unwrap();
        assert_eq!(
            slow,
            "green p95 runtime 5.5 s over the last 5 jobs exceeds 5 s"
        );
        let inaccurate = window([compared(0.0125), ok(1.0), ok(1.0), ok(1.0), ok(1.0)]);
        assert_eq!(
            inaccurate.breach(&config).unwrap(),
            "largest relative difference from blue 0.0125 over the last 5 jobs exceeds 0.01"
        );
        let strict = CutoverConfig {
            max_runtime: Duration::from_millis(500),
            ..CutoverConfig::default()
        };
        let slow_failure = Sample {
            seconds: 0.6,
            ..failed()
        };
        let both = window([slow_failure; 5]).breach(&strict).unwrap();
        assert!(
            both.contains("error rate 1") && both.contains("; green p95 runtime"),
            "{both}"
        );
        assert_eq!(
            window([ok(0.5); 5]).breach(&strict),
            None,
            "at the limit is not over it"
        );
    }
}
