//! A deliberately faulty green engine for the dual-run tests: a `hop.v1.Engine` server in the
//! test process that forwards to a real `hop-compute` and injects one fault.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use hop_proto::v1::engine_client::EngineClient;
use hop_proto::v1::engine_server::{Engine, EngineServer};
use hop_proto::v1::job_event::{Event, Failed, Started};
use hop_proto::v1::{DescribeRequest, EngineInfo, JobEvent, RunRequest, Side};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// What goes wrong.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Results off by 2 % (best fitness, every algorithm's fitness, strategy 0's ROI).
    WrongNumbers,
    /// Every job fails with `INTERNAL`.
    Error,
    /// Every job waits this long before running.
    Slow(Duration),
    /// Every job's stream breaks after `Started` (a crash mid-job).
    Crash,
}

#[derive(Debug, Clone)]
struct Faulty {
    upstream: String,
    fault: Fault,
}

type Events = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

fn event(job_id: &str, sequence: u64, event: Event) -> Result<JobEvent, Status> {
    Ok(JobEvent {
        sequence,
        ..JobEvent::now(job_id, event)
    })
}

#[tonic::async_trait]
impl Engine for Faulty {
    type RunStream = Events;

    async fn run(&self, request: Request<RunRequest>) -> Result<Response<Events>, Status> {
        let request = request.into_inner();
        let job_id = request
            .spec
            .as_ref()
            .map(|s| s.job_id.clone())
            .unwrap_or_default();
        let started = Event::Started(Started {
            side: Side::Green as i32,
            engine: "cpu".into(),
        });
        let stream: Events = match self.fault {
            Fault::Error => Box::pin(futures::stream::iter([
                event(&job_id, 1, started),
                event(
                    &job_id,
                    2,
                    Event::Failed(Failed {
                        code: "INTERNAL".into(),
                        message: "injected failure".into(),
                    }),
                ),
            ])),
            Fault::Crash => Box::pin(futures::stream::iter([
                event(&job_id, 1, started),
                Err(Status::unavailable("injected crash: the engine died")),
            ])),
            Fault::Slow(delay) => {
                tokio::time::sleep(delay).await;
                self.forward(request).await?
            }
            Fault::WrongNumbers => {
                let upstream = self.forward(request).await?;
                Box::pin(upstream.map(|item| {
                    item.map(|mut event| {
                        if let Some(Event::Finished(finished)) = event.event.as_mut()
                            && let Some(result) = finished.result.as_mut()
                        {
                            result.best_fitness *= 1.02;
                            for a in &mut result.algorithms {
                                a.fitness *= 1.02;
                            }
                            if let Some(m) = result.strategy_metrics.first_mut() {
                                m.roi *= 1.02;
                            }
                        }
                        event
                    })
                }))
            }
        };
        Ok(Response::new(stream))
    }

    async fn describe(
        &self,
        request: Request<DescribeRequest>,
    ) -> Result<Response<EngineInfo>, Status> {
        self.client().await?.describe(request.into_inner()).await
    }
}

impl Faulty {
    async fn client(&self) -> Result<EngineClient<tonic::transport::Channel>, Status> {
        EngineClient::connect(self.upstream.clone())
            .await
            .map(|c| c.max_decoding_message_size(1 << 28))
            .map_err(|e| Status::unavailable(e.to_string()))
    }

    async fn forward(&self, request: RunRequest) -> Result<Events, Status> {
        let stream = self.client().await?.run(request).await?.into_inner();
        Ok(Box::pin(stream))
    }
}

/// Starts the faulty engine in front of `upstream` on a loopback port; returns its URI.
pub async fn start(upstream: String, fault: Fault) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("an address");
    let server = EngineServer::new(Faulty { upstream, fault }).max_encoding_message_size(1 << 28);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(server)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}
