//! Process metrics, refreshed on every scrape: resident memory (from `/proc/self/status`),
//! start time and uptime.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Start {
    instant: Instant,
    unix_seconds: f64,
}

static START: OnceLock<Start> = OnceLock::new();

/// Records the process start (first call wins) and describes the process metrics.
pub(super) fn register() {
    START.get_or_init(|| Start {
        instant: Instant::now(),
        unix_seconds: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    });
    ::metrics::describe_gauge!(
        "process_resident_memory_bytes",
        ::metrics::Unit::Bytes,
        "Resident set size of the process."
    );
    ::metrics::describe_gauge!(
        "process_start_time_seconds",
        ::metrics::Unit::Seconds,
        "Start time of the process since the Unix epoch."
    );
    ::metrics::describe_gauge!(
        "process_uptime_seconds",
        ::metrics::Unit::Seconds,
        "Seconds since the process started."
    );
}

/// Sets the process gauges to their current values.
pub(super) fn refresh() {
    if let Some(start) = START.get() {
        ::metrics::gauge!("process_start_time_seconds").set(start.unix_seconds);
        ::metrics::gauge!("process_uptime_seconds").set(start.instant.elapsed().as_secs_f64());
    }
    if let Some(bytes) = resident_bytes() {
        ::metrics::gauge!("process_resident_memory_bytes").set(bytes as f64);
    }
}

/// `VmRSS` from `/proc/self/status`, in bytes (`None` off Linux).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\thop\nVmPeak:\t  2000 kB\nVmRSS:\t    1234 kB\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\thop\n"), None);
    }
}
