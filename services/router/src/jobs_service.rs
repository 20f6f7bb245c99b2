//! `hop.v1.Jobs` over [`JobManager`]: request decoding and `tonic::Status` mapping only.

use std::sync::Arc;

use hop_proto::v1::jobs_server::Jobs;
use hop_proto::v1::{
    CancelRequest, GetRequest, JobRecord, JobState, ListReply, ListRequest, SubmitReply,
    SubmitRequest, WatchRequest,
};
use tonic::{Request, Response, Status};

use crate::error::RouterError;
use crate::manager::{EventStream, JobManager};

/// The `hop.v1.Jobs` handler.
#[derive(Debug, Clone)]
pub struct JobsService {
    manager: Arc<JobManager>,
}

impl JobsService {
    pub fn new(manager: Arc<JobManager>) -> Self {
        Self { manager }
    }
}

#[tonic::async_trait]
impl Jobs for JobsService {
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitReply>, Status> {
        let spec = request.into_inner().spec.ok_or_else(|| {
            RouterError::InvalidRequest("SubmitRequest.spec is missing: send a job".into())
        })?;
        let (record, duplicate) = self.manager.submit(spec)?;
        Ok(Response::new(SubmitReply {
            job_id: record.job_id,
            side: record.side,
            duplicate,
        }))
    }

    type WatchStream = EventStream;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        Ok(Response::new(
            self.manager
                .watch(&request.job_id, request.after_sequence)?,
        ))
    }

    async fn get(&self, request: Request<GetRequest>) -> Result<Response<JobRecord>, Status> {
        Ok(Response::new(
            self.manager.get(&request.into_inner().job_id)?,
        ))
    }

    async fn list(&self, request: Request<ListRequest>) -> Result<Response<ListReply>, Status> {
        let request = request.into_inner();
        let state = match request.state {
            None => None,
            Some(value) => match JobState::try_from(value) {
                Ok(JobState::Unspecified) | Err(_) => {
                    return Err(RouterError::InvalidRequest(format!(
                        "ListRequest.state {value} is not a job state"
                    ))
                    .into());
                }
                Ok(state) => Some(state),
            },
        };
        let jobs = self.manager.list(request.limit, state)?;
        Ok(Response::new(ListReply { jobs }))
    }

    async fn cancel(&self, request: Request<CancelRequest>) -> Result<Response<JobRecord>, Status> {
        let request = request.into_inner();
        Ok(Response::new(
            self.manager.cancel(&request.job_id, &request.reason)?,
        ))
    }
}
