//! `hop.v1.Jobs` over [`Admission`] and [`JobLog`]: request decoding, the wire record, and the
//! `tonic::Status` mapping only.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use hop_proto::v1::jobs_server::Jobs;
use hop_proto::v1::{
    CancelRequest, GetRequest, JobEvent, JobRecord, JobState, ListReply, ListRequest, SubmitReply,
    SubmitRequest, WatchRequest,
};
use tonic::{Request, Response, Status};

use crate::admission::Admission;
use crate::error::RouterError;
use crate::log::JobLog;

/// Records listed when a `List` asks for none in particular.
const DEFAULT_LIST_LIMIT: usize = 100;

/// The `hop.v1.Jobs` handler.
#[derive(Debug, Clone)]
pub struct JobsService {
    admission: Arc<Admission>,
    log: Arc<JobLog>,
}

impl JobsService {
    pub fn new(admission: Arc<Admission>, log: Arc<JobLog>) -> Self {
        Self { admission, log }
    }
}

/// The `Watch` stream on the wire.
pub type WireEvents = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Jobs for JobsService {
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitReply>, Status> {
        let spec = request.into_inner().spec.ok_or_else(|| {
            RouterError::InvalidRequest("SubmitRequest.spec is missing: send a job".into())
        })?;
        let (job, duplicate) = self.admission.submit(spec).await?;
        Ok(Response::new(SubmitReply {
            job_id: job.id,
            side: job.side as i32,
            duplicate,
        }))
    }

    type WatchStream = WireEvents;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<WireEvents>, Status> {
        let request = request.into_inner();
        let events = self
            .log
            .watch(&request.job_id, request.after_sequence)
            .await?;
        Ok(Response::new(Box::pin(
            events.map(|e| e.map_err(Status::from)),
        )))
    }

    async fn get(&self, request: Request<GetRequest>) -> Result<Response<JobRecord>, Status> {
        let job = self.log.get(&request.into_inner().job_id).await?;
        Ok(Response::new(job.to_wire()))
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
        let limit = match request.limit {
            0 => DEFAULT_LIST_LIMIT,
            n => n as usize,
        };
        let jobs = self.log.store().list(limit, state).await?;
        Ok(Response::new(ListReply {
            jobs: jobs.iter().map(|j| j.to_wire()).collect(),
        }))
    }

    async fn cancel(&self, request: Request<CancelRequest>) -> Result<Response<JobRecord>, Status> {
        let request = request.into_inner();
        let job = self
            .admission
            .cancel(&request.job_id, &request.reason)
            .await?;
        Ok(Response::new(job.to_wire()))
    }
}
