//! Request-level balancing over every address a service name resolves to (a Kubernetes headless
//! Service: one A record per ready pod).
//!
//! [`ClientSecurity::balanced_channel`] resolves the host of its URI now and every
//! [`REFRESH_INTERVAL`], and keeps one tonic balanced channel (power of two choices over the
//! least-loaded endpoints) with an endpoint per resolved `ip:port`. Each endpoint has the same
//! timeouts, keepalives and TLS as [`ClientSecurity::endpoint`]; the server's certificate is
//! verified against the host *name* (and requests carry it as their authority), never the IP.
//!
//! [`next_targets`] is the rule: a resolution with addresses replaces the set; one that fails or
//! finds none keeps the current set (a DNS hiccup, or every pod restarting, does not drop the
//! endpoints), and an empty set falls back to the URI itself, so that calls fail like calls to an
//! unreachable address instead of waiting for an endpoint forever. A host that is an IP address
//! gets a plain channel.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint, Error, Uri};

use super::{ClientSecurity, ServiceChannel};

/// How often the host name is resolved again.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(15);

/// Room for pending endpoint changes (one refresh's worth).
const CHANGE_CAPACITY: usize = 64;

/// Where a service's replicas are: the socket addresses it resolves to now.
pub trait Resolve: Send + Sync + 'static {
    /// The current addresses (in any order, possibly empty).
    fn resolve(&self) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;
}

/// [`Resolve`] through the system resolver (`host:port`, as `getaddrinfo` answers it).
#[derive(Debug, Clone)]
pub struct Dns {
    host: String,
    port: u16,
}

impl Dns {
    /// Resolves `host` with `port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl Resolve for Dns {
    async fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((self.host.as_str(), self.port))
            .await?
            .collect())
    }
}

/// [`Resolve`] over several names (a comma-separated address): the addresses of every one that
/// resolves; an error only when none does.
#[derive(Debug, Clone)]
pub struct Listed(pub Vec<Dns>);

impl Resolve for Listed {
    async fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        let mut all = Vec::new();
        let mut failure = None;
        for dns in &self.0 {
            match dns.resolve().await {
                Ok(addrs) => all.extend(addrs),
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) if all.is_empty() => Err(e),
            _ => Ok(all),
        }
    }
}

/// One endpoint of a balanced channel: a resolved address, or the URI itself while nothing has
/// been resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// The URI as configured (its host resolved by each connection).
    Unresolved,
    /// One resolved address.
    Addr(SocketAddr),
}

/// The endpoints to have after a resolution, given the current ones (see the module docs).
pub fn next_targets(
    current: &BTreeSet<Target>,
    resolved: &io::Result<Vec<SocketAddr>>,
) -> BTreeSet<Target> {
    match resolved {
        Ok(addrs) if !addrs.is_empty() => addrs.iter().copied().map(Target::Addr).collect(),
        _ if current.is_empty() => BTreeSet::from([Target::Unresolved]),
        _ => current.clone(),
    }
}

impl ClientSecurity {
    /// A channel that balances requests over every address `uri`'s host resolves to
    /// ([`Dns`], refreshed every [`REFRESH_INTERVAL`]); a plain [`Self::lazy_channel`] when the
    /// host is an IP address. `uri` may also list several addresses separated by commas
    /// (replicas on one host, as `hop up` and the tests run them): requests are then balanced
    /// over all of them ([`Listed`]), and the first one names the service for TLS. Must be called
    /// within a Tokio runtime.
    pub fn balanced_channel(&self, uri: &str) -> Result<ServiceChannel, Error> {
        let uris: Vec<&str> = uri
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        let first = uris.first().copied().unwrap_or(uri);
        let mut hosts = Vec::with_capacity(uris.len());
        for uri in &uris {
            let configured = self.endpoint(uri)?.uri().clone();
            let port = configured
                .port_u16()
                .unwrap_or(match configured.scheme_str() {
                    Some("https") => 443,
                    _ => 80,
                });
            let host = configured.host().unwrap_or_default().to_owned();
            hosts.push((host, port));
        }
        if let [(host, _)] = hosts.as_slice()
            && host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
        {
            return self.lazy_channel(first);
        }
        let resolver = Listed(
            hosts
                .into_iter()
                .map(|(host, port)| Dns::new(host.trim_matches(['[', ']']), port))
                .collect(),
        );
        self.balanced_channel_with(first, resolver, REFRESH_INTERVAL)
    }

    /// [`Self::balanced_channel`] with another resolver and refresh interval (tests, or a
    /// service discovery other than DNS). Must be called within a Tokio runtime.
    pub fn balanced_channel_with(
        &self,
        uri: &str,
        resolver: impl Resolve,
        refresh: Duration,
    ) -> Result<ServiceChannel, Error> {
        let named = self.endpoint(uri)?;
        let (channel, changes) = Channel::balance_channel::<Target>(CHANGE_CAPACITY);
        tokio::spawn(self.clone().follow(named, resolver, refresh, changes));
        Ok(InterceptedService::new(channel, self.outgoing()))
    }

    /// Resolves every `refresh` and sends the balance the endpoints that came or went, until the
    /// channel and all its clones are gone.
    async fn follow(
        self,
        named: Endpoint,
        resolver: impl Resolve,
        refresh: Duration,
        changes: Sender<Change<Target, Endpoint>>,
    ) {
        let mut current = BTreeSet::new();
        let mut ticks = tokio::time::interval(refresh);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = changes.closed() => return,
            }
            let resolved = resolver.resolve().await;
            if let Err(e) = &resolved {
                tracing::warn!(uri = %named.uri(), error = %e, "cannot resolve a balanced address");
            }
            let next = next_targets(&current, &resolved);
            if next == current {
                continue;
            }
            for gone in current.difference(&next) {
                if changes.send(Change::Remove(*gone)).await.is_err() {
                    return;
                }
            }
            let mut added = next.clone();
            for new in next.difference(&current) {
                let endpoint = match new {
                    Target::Unresolved => named.clone(),
                    Target::Addr(addr) => match self.endpoint_at(named.uri(), *addr) {
                        Ok(endpoint) => endpoint,
                        Err(e) => {
                            // Left out of `current`, so tried again at the next refresh.
                            tracing::warn!(%addr, error = %e, "cannot build an endpoint");
                            added.remove(new);
                            continue;
                        }
                    },
                };
                if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                    return;
                }
            }
            tracing::info!(uri = %named.uri(), endpoints = ?added, "balanced endpoints");
            current = added;
        }
    }

    /// The endpoint for one address of `named`: connects to `addr`, verifies the certificate
    /// against `named`'s host and sends `named` as the requests' authority.
    fn endpoint_at(&self, named: &Uri, addr: SocketAddr) -> Result<Endpoint, Error> {
        let scheme = named.scheme_str().unwrap_or("http");
        let endpoint = self
            .endpoint(&format!("{scheme}://{addr}"))?
            .origin(named.clone());
        match &self.tls {
            Some(tls) => endpoint.tls_config(
                tls.clone()
                    .domain_name(named.host().unwrap_or_default().to_owned()),
            ),
            None => Ok(endpoint),
        }
    }
}

#[cfg(test)]
mod tests;
