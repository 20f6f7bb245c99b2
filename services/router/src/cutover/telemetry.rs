//! The cut-over's metrics: names, descriptions, and one function that sets every gauge.

use super::stage::Stage;
use super::window::Figures;

/// Rollbacks by `kind` (`automatic` or `manual`).
pub const ROLLBACKS_TOTAL: &str = "hop_router_rollbacks_total";
/// Desired-state file changes by `outcome` (`applied`, `invalid`, `unreadable`).
pub const FILE_CHANGES_TOTAL: &str = "hop_router_cutover_file_changes_total";
/// 1 while the desired-state file is readable and valid, else 0 (absent without a file).
pub const FILE_VALID: &str = "hop_router_cutover_file_valid";
/// Failed writes of the cut-over state to its store, a file or the shared database (the latch
/// may not survive a restart nor reach the other replicas).
pub const STATE_WRITE_FAILURES_TOTAL: &str = "hop_router_cutover_state_write_failures_total";
/// Failed reloads of the cut-over state the replicas share.
pub const REFRESH_FAILURES_TOTAL: &str = "hop_router_cutover_refresh_failures_total";
/// The green weight asked for.
pub const DESIRED_PERCENT: &str = "hop_router_cutover_desired_percent";
/// The green weight in force.
pub const EFFECTIVE_PERCENT: &str = "hop_router_cutover_effective_percent";
/// 1 while a rollback is latched.
pub const LATCHED: &str = "hop_router_cutover_latched";
/// 1 for the current `stage`, 0 for the others.
pub const STAGE: &str = "hop_router_cutover_stage";
/// Green runs in the health window.
pub const WINDOW_SAMPLES: &str = "hop_router_window_samples";
/// Failed share of the window's green runs.
pub const WINDOW_ERROR_RATE: &str = "hop_router_window_error_rate";
/// 95th percentile of the window's green runtimes.
pub const WINDOW_P95_SECONDS: &str = "hop_router_window_p95_seconds";
/// Largest relative difference from blue in the window.
pub const WINDOW_MAX_RELATIVE_DIFFERENCE: &str = "hop_router_window_max_relative_difference";

/// Registers the descriptions.
pub fn describe() {
    metrics::describe_counter!(ROLLBACKS_TOTAL, "Rollbacks to blue by kind");
    metrics::describe_counter!(FILE_CHANGES_TOTAL, "Cutover file changes by outcome");
    metrics::describe_gauge!(FILE_VALID, "1 while the cutover file is valid");
    metrics::describe_counter!(STATE_WRITE_FAILURES_TOTAL, "Failed cutover state writes");
    metrics::describe_counter!(
        REFRESH_FAILURES_TOTAL,
        "Failed shared cutover state reloads"
    );
    metrics::describe_gauge!(DESIRED_PERCENT, "Desired green weight, percent");
    metrics::describe_gauge!(EFFECTIVE_PERCENT, "Green weight in force, percent");
    metrics::describe_gauge!(LATCHED, "1 while a rollback is latched");
    metrics::describe_gauge!(STAGE, "1 for the current cutover stage");
    metrics::describe_gauge!(WINDOW_SAMPLES, "Green runs in the health window");
    metrics::describe_gauge!(WINDOW_ERROR_RATE, "Failed share of the window");
    metrics::describe_gauge!(
        WINDOW_P95_SECONDS,
        metrics::Unit::Seconds,
        "Window p95 runtime"
    );
    metrics::describe_gauge!(
        WINDOW_MAX_RELATIVE_DIFFERENCE,
        "Largest relative difference from blue in the window"
    );
}

/// Sets the state gauges.
pub fn publish_state(stage: Stage, desired: u32, effective: u32, latched: bool) {
    metrics::gauge!(DESIRED_PERCENT).set(f64::from(desired));
    metrics::gauge!(EFFECTIVE_PERCENT).set(f64::from(effective));
    metrics::gauge!(LATCHED).set(if latched { 1.0 } else { 0.0 });
    for each in Stage::ALL {
        let value = if each == stage { 1.0 } else { 0.0 };
        metrics::gauge!(STAGE, "stage" => each.as_str()).set(value);
    }
}

/// Sets the window gauges.
pub fn publish_window(figures: &Figures) {
    metrics::gauge!(WINDOW_SAMPLES).set(figures.samples as f64);
    metrics::gauge!(WINDOW_ERROR_RATE).set(figures.error_rate);
    metrics::gauge!(WINDOW_P95_SECONDS).set(figures.p95_seconds);
    metrics::gauge!(WINDOW_MAX_RELATIVE_DIFFERENCE).set(figures.max_relative_difference);
}
