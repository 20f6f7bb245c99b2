//! `hop.v1.Admin` over [`Cutover`]: the operators' control of the cut-over, behind the admin
//! token.
//!
//! Who may call is decided by hop-runtime's caller check for every service (the `admin` kind:
//! the `admin` file of `tokens_dir`, or `cutover.admin_token_file`, compared in constant time;
//! `UNAUTHENTICATED` otherwise, also on a development router without tokens). The handler
//! re-checks the identified caller it is handed, so it never serves without that check. Each
//! accepted change is logged with the caller's address; the token never is.

use std::sync::Arc;

use hop_proto::v1::admin_server::{Admin, AdminServer};
use hop_proto::v1::{
    CutoverStatus, CutoverStatusRequest, ResumeRequest, RollbackRequest, SetWeightRequest,
};
use hop_runtime::security::{Caller, CallerKind};
use tonic::{Request, Response, Status};

use crate::cutover::Cutover;
use crate::error::RouterError;

/// The `hop.v1.Admin` handler.
#[derive(Debug, Clone)]
pub struct AdminService {
    cutover: Arc<Cutover>,
}

/// The Admin server over `cutover`.
pub fn admin_server(cutover: Arc<Cutover>) -> AdminServer<AdminService> {
    AdminServer::new(AdminService::new(cutover))
}

impl AdminService {
    /// A handler over `cutover`.
    pub fn new(cutover: Arc<Cutover>) -> Self {
        Self { cutover }
    }

    /// Checks that the caller was identified as an admin and returns the request's message and
    /// the caller's address.
    fn authorize<T>(&self, rpc: &str, request: Request<T>) -> Result<(T, String), RouterError> {
        let peer = request
            .remote_addr()
            .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        match request.extensions().get::<Caller>() {
            Some(Caller(CallerKind::Admin)) => Ok((request.into_inner(), peer)),
            caller => {
                tracing::warn!(rpc, peer, caller = ?caller, "Admin call refused: not an admin");
                Err(RouterError::Unauthenticated(
                    "send the admin token as `authorization: Bearer <token>` (hop cutover: \
                     --token-file or HOP_ADMIN_TOKEN)"
                        .into(),
                ))
            }
        }
    }
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
                .set_weight(request.green_percent, &request.reason)
                .await?,
        ))
    }

    async fn rollback(
        &self,
        request: Request<RollbackRequest>,
    ) -> Result<Response<CutoverStatus>, Status> {
        let (request, peer) = self.authorize("Rollback", request)?;
        tracing::warn!(peer, reason = request.reason, "Admin.Rollback");
        Ok(Response::new(self.cutover.rollback(&request.reason).await))
    }

    async fn resume(
        &self,
        request: Request<ResumeRequest>,
    ) -> Result<Response<CutoverStatus>, Status> {
        let (request, peer) = self.authorize("Resume", request)?;
        tracing::warn!(peer, acknowledge = request.acknowledge, "Admin.Resume");
        Ok(Response::new(
            self.cutover.resume(request.acknowledge).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use hop_proto::v1::Side;

    use super::*;
    use crate::cutover::{CutoverConfig, FileStore};

    async fn service() -> (tempfile::TempDir, AdminService) {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("cutover.json"));
        let cutover = Cutover::open(&CutoverConfig::default(), Arc::new(store), 50)
            .await
            .unwrap();
        (dir, AdminService::new(cutover))
    }

    /// A request as the caller check hands it on: with the identified caller, if any.
    fn from<T>(message: T, caller: Option<CallerKind>) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(kind) = caller {
            request.extensions_mut().insert(Caller(kind));
        }
        request
    }

    #[tokio::test]
    async fn every_call_needs_an_admin_caller() {
        let (_dir, admin) = service().await;
        for caller in [None, Some(CallerKind::Client), Some(CallerKind::Service)] {
            let status = admin
                .cutover_status(from(CutoverStatusRequest {}, caller))
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{caller:?}");
            let rollback = RollbackRequest { reason: "x".into() };
            let status = admin.rollback(from(rollback, caller)).await.unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            let weight = SetWeightRequest {
                green_percent: 0,
                reason: String::new(),
            };
            assert!(admin.set_weight(from(weight, caller)).await.is_err());
            let resume = ResumeRequest { acknowledge: true };
            assert!(admin.resume(from(resume, caller)).await.is_err());
        }
        assert!(
            !admin.cutover.status().latched,
            "no refused call changed anything"
        );
        let status = admin
            .cutover_status(from(CutoverStatusRequest {}, Some(CallerKind::Admin)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.effective_green_percent, 50);
    }

    #[tokio::test]
    async fn rollback_set_weight_and_resume_through_the_service() {
        let (_dir, admin) = service().await;
        let auth = Some(CallerKind::Admin);
        let status = admin
            .rollback(from(
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
        let refused = admin.set_weight(from(weight, auth)).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        let refused = admin
            .resume(from(ResumeRequest { acknowledge: false }, auth))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        let status = admin
            .resume(from(ResumeRequest { acknowledge: true }, auth))
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
        let refused = admin.set_weight(from(weight, auth)).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    }
}
