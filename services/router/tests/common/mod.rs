//! The dual-run harness: real `hop-legacy`, `hop-compute`, `hop-validator` and `hop-router`
//! binaries on loopback port 0 (the others found next to `hop-router`), an admin token file, and
//! helpers to run jobs and read the cut-over status.

#![allow(dead_code, reason = "each test file uses a part")]

pub mod faulty_green;
pub mod jobs;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use hop_proto::v1::admin_client::AdminClient;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{
    CutoverStatus, CutoverStatusRequest, GetRequest, JobOptions, JobRecord, JobSpec, SubmitRequest,
    ValidationOutcome, WatchRequest,
};
use hop_runtime::testing::{ServiceProcess, sibling_binary};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

fn binary(name: &str) -> PathBuf {
    sibling_binary(Path::new(env!("CARGO_BIN_EXE_hop-router")), name, name)
}

/// The engines and the validator (the router is started per test with its settings).
pub struct Backends {
    pub legacy: ServiceProcess,
    pub compute: ServiceProcess,
    pub validator: ServiceProcess,
}

impl Backends {
    pub fn start() -> Self {
        Self {
            legacy: ServiceProcess::start(&binary("hop-legacy"), "legacy", &[]),
            compute: ServiceProcess::start(&binary("hop-compute"), "compute", &[]),
            validator: ServiceProcess::start(&binary("hop-validator"), "validator", &[]),
        }
    }
}

/// A router in front of `backends` with `green` as its green engine, the cut-over file
/// `stage_toml`, and extra `--set` settings.
pub struct Router {
    pub process: ServiceProcess,
    pub token: String,
    pub dir: tempfile::TempDir,
}

pub const TOKEN: &str = "test-admin-token-0123456789";

impl Router {
    pub fn start(backends: &Backends, green: &str, stage_toml: &str, settings: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("admin.token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        let cutover = dir.path().join("cutover.toml");
        std::fs::write(&cutover, stage_toml).unwrap();
        let mut args: Vec<String> = vec![
            format!("blue={}", backends.legacy.uri()),
            format!("green={green}"),
            format!("validator={}", backends.validator.uri()),
            format!("cutover.file={}", cutover.display()),
            format!("cutover.admin_token_file={}", token_file.display()),
            "cutover.poll=20ms".into(),
        ];
        args.extend(settings.iter().map(|s| (*s).to_owned()));
        let flags: Vec<String> = args
            .iter()
            .flat_map(|a| ["--set".to_owned(), a.clone()])
            .collect();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let process = ServiceProcess::start(&binary("hop-router"), "router", &flags);
        Self {
            process,
            token: TOKEN.into(),
            dir,
        }
    }

    /// Rewrites the watched cut-over file.
    pub fn write_stage(&self, toml: &str) {
        let path = self.dir.path().join("cutover.toml");
        let temp = self.dir.path().join("cutover.toml.tmp");
        std::fs::write(&temp, toml).unwrap();
        std::fs::rename(temp, path).unwrap();
    }

    pub async fn jobs(&self) -> JobsClient<Channel> {
        JobsClient::new(self.process.channel().await).max_decoding_message_size(1 << 28)
    }

    pub async fn admin(
        &self,
    ) -> AdminClient<
        InterceptedService<
            Channel,
            impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + use<>,
        >,
    > {
        let header: tonic::metadata::MetadataValue<_> =
            format!("Bearer {}", self.token).parse().unwrap();
        AdminClient::with_interceptor(
            self.process.channel().await,
            move |mut request: tonic::Request<()>| {
                request
                    .metadata_mut()
                    .insert("authorization", header.clone());
                Ok(request)
            },
        )
    }

    pub async fn status(&self) -> CutoverStatus {
        self.admin()
            .await
            .cutover_status(CutoverStatusRequest {})
            .await
            .expect("status")
            .into_inner()
    }
}

/// A small job on the 500-strategy fixture.
pub fn spec(job_id: &str) -> JobSpec {
    JobSpec {
        job_id: job_id.into(),
        input: Some(Input::CsvPath(
            hop_core::fixtures::path("sensex_500x82.csv")
                .display()
                .to_string(),
        )),
        options: Some(JobOptions {
            min_size: 10,
            budget: Some(400),
            ..JobOptions::default()
        }),
        labels: Default::default(),
    }
}

/// Submits, follows to the final event, and returns the record once the shadow comparison (if
/// any) is settled.
pub async fn run_job(router: &Router, job_id: &str) -> JobRecord {
    let mut jobs = router.jobs().await;
    jobs.submit(SubmitRequest {
        spec: Some(spec(job_id)),
    })
    .await
    .expect("submitted");
    let mut stream = jobs
        .watch(WatchRequest {
            job_id: job_id.into(),
            after_sequence: 0,
        })
        .await
        .expect("watch")
        .into_inner();
    while stream.next().await.is_some() {}
    settled(router, job_id).await
}

/// The record once its validation is no longer pending.
pub async fn settled(router: &Router, job_id: &str) -> JobRecord {
    let mut jobs = router.jobs().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let record = jobs
            .get(GetRequest {
                job_id: job_id.into(),
            })
            .await
            .expect("get")
            .into_inner();
        if record.validation() != ValidationOutcome::Pending {
            return record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{job_id} never settled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
