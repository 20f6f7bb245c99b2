//! `hop.v1.Admin` over [`Cutover`]: the operators' control of the cut-over, behind a token.
//!
//! Every call must carry `authorization: Bearer <token>` with the token of
//! `cutover.admin_token_file` (compared in constant time); otherwise it is refused with
//! `UNAUTHENTICATED`. Without a configured token every call is refused (secure default). Each
//! accepted change is logged with the caller's address; the token never is.

use std::sync::Arc;

use hop_proto::v1::admin_server::{Admin, AdminServer};
use hop_proto::v1::{
    CutoverStatus, CutoverStatusRequest, ResumeRequest, RollbackRequest, SetWeightRequest,
};
use tonic::{Request, Response, Status};

use crate::cutover::Cutover;
use crate::error::RouterError;

/// The `hop.v1.Admin` handler.
#[derive(Clone)]
pub struct AdminService {
    cutover: Arc<Cutover>,
    token: Option<Arc<str>>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminService")
            .field("cutover", &self.cutover)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The Admin server over `cutover`, accepting callers that send `token` (none: refuse all).
pub fn admin_server(cutover: Arc<Cutover>, token: Option<String>) -> AdminServer<AdminService> {
    AdminServer::new(AdminService::new(cutover, token))
}

impl AdminService {
    /// A handler accepting callers that send `token` (none: refuse all).
    pub fn new(cutover: Arc<Cutover>, token: Option<String>) -> Self {
        Self {
            cutover,
            token: token.map(Arc::from),
        }
    }

    /// Checks the caller's token and returns the request's message and the caller's address.
    fn authorize<T>(&self, rpc: &str, request: Request<T>) -> Result<(T, String), RouterError> {
        let Some(token) = &self.token else {
            return Err(RouterError::Unauthenticated(
                "no admin token is configured on the router (cutover.admin_token_file): Admin \
                 calls are refused"
                    .into(),
            ));
        };
        let peer = request
            .remote_addr()
            .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        let sent = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        match sent {
            Some(sent) if constant_time_eq(sent.trim().as_bytes(), token.as_bytes()) => {
                Ok((request.into_inner(), peer))
            }
            sent => {
                tracing::warn!(
                    rpc,
                    peer,
                    token_sent = sent.is_some(),
                    "Admin call refused: missing or wrong token"
                );
                Err(RouterError::Unauthenticated(
                    "send the admin token as `authorization: Bearer <token>` (hop cutover: \
                     --token-file or HOP_ADMIN_TOKEN)"
                        .into(),
                ))
            }
        }
    }
}

/// Equality whose time depends on the lengths only, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        difference |= usize::from(x ^ y);
    }
    difference == 0
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn cutover_status(
        &self,
        request: Request<CutoverStatusRequest>,
    ) -> Result<Response<CutoverStatus>, Status> {
        self.authorize("CutoverStatus", request)?;
        Ok(Response::new(self.cutover.status()))
    }

    async fn set_weight(
        &self,
        request: Request<SetWeightRequest>,
    ) -> Result<Response<CutoverStatus>, Status> {
        let (request, peer) = self.authorize("SetWeight", request)?;
        tracing::info!(
            peer,
            green_percent = request.green_percent,
            reason = request.reason,
            "Admin.SetWeight"
        );
        Ok(Response::new(
            self.cutover
                .set_weight(request.green_percent, &request.reason)?,
        ))
    }

    async fn rollback(
        &self,
        request: Request<RollbackRequest>,
    ) -> Result<Response<CutoverStatus>, Status> {
        let (request, peer) = self.authorize("Rollback", request)?;
        tracing::warn!(peer, reason = request.reason, "Admin.Rollback");
        Ok(Response::new(self.cutover.rollback(&request.reason)))
    }

    async fn resume(
        &self,
        request: Request<ResumeRequest>,
    ) -> Result<Response<CutoverStatus>, Status> {
        let (request, peer) = self.authorize("Resume", request)?;
        tracing::warn!(peer, acknowledge = request.acknowledge, "Admin.Resume");
        Ok(Response::new(self.cutover.resume(request.acknowledge)?))
    }
}

#[cfg(test)]
mod tests {
    use hop_proto::v1::Side;

    use super::*;
    use crate::cutover::CutoverConfig;

    fn service(token: Option<&str>) -> (tempfile::TempDir, AdminService) {
        let dir = tempfile::tempdir().unwrap();
        let cutover = Cutover::open(
            &CutoverConfig::default(),
            &dir.path().join("cutover.json"),
            50,
        )
        .unwrap();
        (dir, AdminService::new(cutover, token.map(str::to_owned)))
    }

    fn with_auth<T>(message: T, authorization: Option<&str>) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(value) = authorization {
            request
                .metadata_mut()
                .insert("authorization", value.parse().unwrap());
        }
        request
    }

    #[tokio::test]
    async fn every_call_needs_the_token() {
        let (_dir, admin) = service(Some("s3cret"));
        for authorization in [
            None,
            Some("Bearer wrong"),
            Some("s3cret"),
            Some("Bearer s3cre"),
        ] {
            let status = admin
                .cutover_status(with_auth(CutoverStatusRequest {}, authorization))
                .await
                .unwrap_err();
            assert_eq!(
                status.code(),
                tonic::Code::Unauthenticated,
                "{authorization:?}"
            );
            assert!(!status.message().contains("s3cret"));
            let rollback = RollbackRequest { reason: "x".into() };
            let status = admin
                .rollback(with_auth(rollback, authorization))
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            let weight = SetWeightRequest {
                green_percent: 0,
                reason: String::new(),
            };
            assert!(
                admin
                    .set_weight(with_auth(weight, authorization))
                    .await
                    .is_err()
            );
            let resume = ResumeRequest { acknowledge: true };
            assert!(
                admin
                    .resume(with_auth(resume, authorization))
                    .await
                    .is_err()
            );
        }
        assert!(
            !admin.cutover.status().latched,
            "no refused call changed anything"
        );
        let status = admin
            .cutover_status(with_auth(CutoverStatusRequest {}, Some("Bearer s3cret")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.effective_green_percent, 50);
    }

    #[tokio::test]
    async fn no_configured_token_refuses_everything() {
        let (_dir, admin) = service(None);
        let status = admin
            .cutover_status(with_auth(CutoverStatusRequest {}, Some("Bearer ")))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains("no admin token is configured"));
    }

    #[tokio::test]
    async fn rollback_set_weight_and_resume_through_the_service() {
        let (_dir, admin) = service(Some("s3cret"));
        let auth = Some("Bearer s3cret");
        let status = admin
            .rollback(with_auth(
                RollbackRequest {
                    reason: "drill".into(),
                },
                auth,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(status.latched);
        assert_eq!(status.latch_reason, "manual rollback: drill");
        assert_eq!(admin.cutover.route("job_1").primary, Side::Blue);
        let weight = SetWeightRequest {
            green_percent: 90,
            reason: "next step".into(),
        };
        let refused = admin.set_weight(with_auth(weight, auth)).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        let refused = admin
            .resume(with_auth(ResumeRequest { acknowledge: false }, auth))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        let status = admin
            .resume(with_auth(ResumeRequest { acknowledge: true }, auth))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (status.latched, status.effective_green_percent),
            (false, 50)
        );
        let weight = SetWeightRequest {
            green_percent: 101,
            reason: String::new(),
        };
        let refused = admin.set_weight(with_auth(weight, auth)).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn constant_time_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
