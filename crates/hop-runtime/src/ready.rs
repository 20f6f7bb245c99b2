//! The ready line: one machine-readable line on stdout once a service listens, e.g.
//! `HOP_READY service=ingest grpc=127.0.0.1:40123 metrics=127.0.0.1:40124`, so launchers and
//! tests that start real binaries on port 0 can read where they listen.

use std::io::Write;
use std::net::SocketAddr;

/// The line's first word.
pub const READY_PREFIX: &str = "HOP_READY";

/// Formats the ready line (no trailing newline). Names must not contain spaces or `=`.
pub fn ready_line(service: &str, addrs: &[(&str, SocketAddr)]) -> String {
    let mut line = format!("{READY_PREFIX} service={service}");
    for (name, addr) in addrs {
        line.push_str(&format!(" {name}={addr}"));
    }
    line
}

/// Prints the ready line on stdout and flushes it.
pub fn print_ready(service: &str, addrs: &[(&str, SocketAddr)]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", ready_line(service, addrs));
    let _ = out.flush();
}

/// A parsed ready line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// The service name.
    pub service: String,
    /// Every named address, in line order.
    pub addrs: Vec<(String, SocketAddr)>,
}

impl Ready {
    /// The address named `name` (`grpc`, `metrics`, ...).
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs.iter().find(|(n, _)| n == name).map(|(_, a)| *a)
    }
}

/// Parses a ready line; `None` for any other line.
pub fn parse_ready_line(line: &str) -> Option<Ready> {
    let mut words = line.split_whitespace();
    if words.next()? != READY_PREFIX {
        return None;
    }
    let service = words.next()?.strip_prefix("service=")?.to_owned();
    let addrs = words
        .map(|w| {
            let (name, addr) = w.split_once('=')?;
            Some((name.to_owned(), addr.parse().ok()?))
        })
        .collect::<Option<_>>()?;
    Some(Ready { service, addrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let grpc: SocketAddr = "127.0.0.1:40123".parse().unwrap();
        let metrics: SocketAddr = "[::1]:40124".parse().unwrap();
        let line = ready_line("ingest", &[("grpc", grpc), ("metrics", metrics)]);
        assert_eq!(
            line,
            "HOP_READY service=ingest grpc=127.0.0.1:40123 metrics=[::1]:40124"
        );
        let ready = parse_ready_line(&line).unwrap();
        assert_eq!(ready.service, "ingest");
        assert_eq!(ready.addr("grpc"), Some(grpc));
        assert_eq!(ready.addr("metrics"), Some(metrics));
        assert_eq!(parse_ready_line("INFO starting"), None);
    }
}
