use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;

use super::{Dns, Listed, Resolve, Target, next_targets};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

#[test]
fn resolved_addresses_replace_the_set_and_failures_keep_it() {
    let none = BTreeSet::new();
    let two = BTreeSet::from([Target::Addr(addr(1)), Target::Addr(addr(2))]);
    assert_eq!(next_targets(&none, &Ok(vec![addr(2), addr(1)])), two);
    assert_eq!(
        next_targets(&two, &Ok(vec![addr(2), addr(3)])),
        BTreeSet::from([Target::Addr(addr(2)), Target::Addr(addr(3))])
    );
    // A failed or empty resolution keeps what there is...
    assert_eq!(next_targets(&two, &Ok(vec![])), two);
    assert_eq!(next_targets(&two, &Err(io::Error::other("no DNS"))), two);
    // ...and with nothing yet, the URI itself stands in (calls fail as unreachable, not hang).
    let unresolved = BTreeSet::from([Target::Unresolved]);
    assert_eq!(next_targets(&none, &Ok(vec![])), unresolved);
    assert_eq!(
        next_targets(&none, &Err(io::Error::other("no DNS"))),
        unresolved
    );
    assert_eq!(
        next_targets(&unresolved, &Ok(vec![addr(1)])),
        BTreeSet::from([Target::Addr(addr(1))])
    );
}

#[tokio::test]
async fn dns_resolves_localhost_to_loopback_with_the_port() {
    let addrs = Dns::new("localhost", 50052).resolve().await.unwrap();
    assert!(!addrs.is_empty());
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 50052),
        "{addrs:?}"
    );
    assert!(
        Dns::new("no-such-host.invalid", 1).resolve().await.is_err(),
        "an unknown name is an error"
    );
}

#[tokio::test]
async fn a_list_resolves_to_every_name_that_resolves() {
    let both = Listed(vec![Dns::new("127.0.0.1", 1), Dns::new("127.0.0.2", 2)]);
    assert_eq!(
        both.resolve().await.unwrap(),
        vec![
            SocketAddr::from(([127, 0, 0, 1], 1)),
            SocketAddr::from(([127, 0, 0, 2], 2))
        ]
    );
    let one_bad = Listed(vec![
        Dns::new("no-such-host.invalid", 1),
        Dns::new("127.0.0.1", 3),
    ]);
    assert_eq!(
        one_bad.resolve().await.unwrap(),
        vec![SocketAddr::from(([127, 0, 0, 1], 3))]
    );
    let all_bad = Listed(vec![Dns::new("no-such-host.invalid", 1)]);
    assert!(all_bad.resolve().await.is_err());
}
