//! Outgoing gRPC channels: one configuration for every service-to-service call.
//!
//! HTTP/2 keepalive pings (also while idle) make a stream to a peer that vanished without a TCP
//! reset (a rescheduled pod, a lost node, a cut network) fail within [`KEEPALIVE_INTERVAL`] +
//! [`KEEPALIVE_TIMEOUT`] instead of hanging; the callers' "the peer went away" paths then take
//! over (the router re-runs the job, the bridge re-attaches).

use std::time::Duration;

use tonic::transport::{Endpoint, Error};

use crate::trace::{TracedChannel, traced};

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an HTTP/2 ping checks the peer.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long a ping may go unanswered before the connection counts as dead.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The endpoint for `uri` with the timeouts and keepalives above.
pub fn endpoint(uri: &str) -> Result<Endpoint, Error> {
    Ok(Endpoint::from_shared(uri.to_owned())?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true))
}

/// A traced channel to `uri` that connects on first use (and reconnects after a failure).
pub fn lazy_channel(uri: &str) -> Result<TracedChannel, Error> {
    Ok(traced(endpoint(uri)?.connect_lazy()))
}
