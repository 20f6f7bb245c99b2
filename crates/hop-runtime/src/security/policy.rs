//! Who may call what: the one policy table, and the decision for one request (a pure function).
//!
//! | gRPC service | callers |
//! |---|---|
//! | `hop.v1.Jobs` | bridge, client, admin |
//! | `hop.v1.Admin` | admin |
//! | `hop.v1.Engine` | service |
//! | `hop.v1.Ingest`, `arrow.flight.protocol.FlightService` | service, client |
//! | `hop.v1.Validator` | service, admin |
//! | `grpc.health.v1.Health`, `grpc.reflection.*` | anyone (kubelet probes send no token) |
//!
//! A service not in the table takes any authenticated caller (its server answers
//! `UNIMPLEMENTED`).

use super::tokens::CallerKind::{self, Admin, Bridge, Client, Service};

/// The callers each gRPC service accepts; `None` for services open to anyone.
pub fn allowed(grpc_service: &str) -> Option<&'static [CallerKind]> {
    match grpc_service {
        "hop.v1.Jobs" => Some(&[Bridge, Client, Admin]),
        "hop.v1.Admin" => Some(&[Admin]),
        "hop.v1.Engine" => Some(&[Service]),
        "hop.v1.Ingest" | "arrow.flight.protocol.FlightService" => Some(&[Service, Client]),
        "hop.v1.Validator" => Some(&[Service, Admin]),
        "grpc.health.v1.Health"
        | "grpc.reflection.v1.ServerReflection"
        | "grpc.reflection.v1alpha.ServerReflection" => None,
        _ => Some(&CallerKind::ALL),
    }
}

/// What the caller sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// No `authorization: Bearer` header.
    Nothing,
    /// A token that is none of the accepted ones.
    Unknown,
    /// The token of this kind.
    Kind(CallerKind),
}

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Served; the caller's kind when it sent a known token.
    Allow(Option<CallerKind>),
    /// `UNAUTHENTICATED`: no token, or an unknown one.
    Unauthenticated,
    /// `PERMISSION_DENIED`: a known kind this service does not accept.
    Denied(CallerKind),
}

/// Decides a request to `path` (`/<service>/<method>`). `enforcing` is false on a loopback
/// server without `tokens_dir` (development): callers without a token are then served, except
/// on `hop.v1.Admin`, which always wants the admin token.
pub fn decide(path: &str, presented: Presented, enforcing: bool) -> Decision {
    let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let Some(kinds) = allowed(service) else {
        return Decision::Allow(match presented {
            Presented::Kind(kind) => Some(kind),
            Presented::Nothing | Presented::Unknown => None,
        });
    };
    match presented {
        Presented::Kind(kind) if kinds.contains(&kind) => Decision::Allow(Some(kind)),
        Presented::Kind(kind) => Decision::Denied(kind),
        Presented::Nothing if !enforcing && service != "hop.v1.Admin" => Decision::Allow(None),
        Presented::Nothing | Presented::Unknown => Decision::Unauthenticated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_decides() {
        use Decision::*;
        let kind = Presented::Kind;
        assert_eq!(
            decide("/hop.v1.Jobs/Submit", kind(Bridge), true),
            Allow(Some(Bridge))
        );
        assert_eq!(
            decide("/hop.v1.Jobs/Submit", kind(Service), true),
            Denied(Service)
        );
        assert_eq!(
            decide("/hop.v1.Admin/Rollback", kind(Client), true),
            Denied(Client)
        );
        assert_eq!(
            decide("/hop.v1.Engine/Run", kind(Client), true),
            Denied(Client)
        );
        assert_eq!(
            decide(
                "/arrow.flight.protocol.FlightService/DoGet",
                kind(Service),
                true
            ),
            Allow(Some(Service))
        );
        assert_eq!(
            decide("/hop.v1.Validator/Compare", kind(Admin), true),
            Allow(Some(Admin))
        );
        assert_eq!(
            decide("/hop.v1.Jobs/Get", Presented::Nothing, true),
            Unauthenticated
        );
        assert_eq!(
            decide("/hop.v1.Jobs/Get", Presented::Unknown, false),
            Unauthenticated
        );
        // Probes and reflection are open.
        assert_eq!(
            decide("/grpc.health.v1.Health/Check", Presented::Nothing, true),
            Allow(None)
        );
        assert_eq!(
            decide(
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                Presented::Unknown,
                true
            ),
            Allow(None)
        );
        // Development: anonymous callers are served, except on Admin.
        assert_eq!(
            decide("/hop.v1.Engine/Run", Presented::Nothing, false),
            Allow(None)
        );
        assert_eq!(
            decide("/hop.v1.Admin/CutoverStatus", Presented::Nothing, false),
            Unauthenticated
        );
        // Unknown services want an authenticated caller.
        assert_eq!(decide("/x.Y/Z", Presented::Nothing, true), Unauthenticated);
        assert_eq!(decide("/x.Y/Z", kind(Client), true), Allow(Some(Client)));
    }
}
