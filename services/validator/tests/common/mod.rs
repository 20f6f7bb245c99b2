//! Starts the real `hop-validator` binary on loopback port 0 (`hop_runtime::testing`) and builds
//! realistic results: one small real job (500 strategies, k = 10, all eight algorithms, budget
//! 500) run in this process and converted with `hop_contract::result_to_proto`.

#![allow(dead_code, reason = "each test file uses a part")]

use std::path::Path;
use std::sync::OnceLock;

use hop_contract::{ResultSource, result_to_proto};
use hop_core::JobOptions;
use hop_core::eval::CpuEvaluator;
use hop_core::run::{Prepared, run_search};
use hop_proto::v1::validator_client::ValidatorClient;
use hop_proto::v1::{CompareReply, CompareRequest, JobResult, Side};
use hop_runtime::testing::ServiceProcess;
use tonic::transport::Channel;

/// A running `hop-validator` (killed when dropped), with a Validator client.
pub struct Server(pub ServiceProcess);

impl std::ops::Deref for Server {
    type Target = ServiceProcess;
    fn deref(&self) -> &ServiceProcess {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut ServiceProcess {
        &mut self.0
    }
}

impl Server {
    /// The binary with a temporary `--data-dir` and the extra arguments.
    pub fn start(extra: &[&str]) -> Self {
        Self(ServiceProcess::start(binary(), "validator", extra))
    }

    pub async fn validator(&self) -> ValidatorClient<Channel> {
        ValidatorClient::new(self.channel().await)
            .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
    }

    /// `Compare` that must succeed.
    pub async fn compare(&self, request: CompareRequest) -> CompareReply {
        self.validator()
            .await
            .compare(request)
            .await
            .expect("Compare succeeds")
            .into_inner()
    }
}

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hop-validator"))
}

/// The blue and the green result of the same real job (the same bits: both engines are
/// deterministic), differing only in what is never compared (side, engine, seconds).
pub fn results() -> (JobResult, JobResult) {
    static RUN: OnceLock<hop_core::RunResult> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let options = JobOptions {
            budget: Some(500),
            ..JobOptions::with_size(10)
        };
        let matrix = hop_core::fixtures::matrix("sensex_500x82.csv");
        let prepared = Prepared::new(matrix, &options, None).expect("the job prepares");
        let eval = CpuEvaluator::new(&prepared.problem);
        run_search(&prepared, &options, &eval, &|_| {})
    });
    let side = |side, engine, seconds| {
        result_to_proto(
            run,
            &ResultSource {
                job_id: "job_12345_20250730_154500",
                side,
                engine,
                seconds,
                run_folder: "",
            },
        )
    };
    (
        side(Side::Blue, "embedded-sql", 4.5),
        side(Side::Green, "cpu", 0.75),
    )
}

/// A request comparing `blue` and `green` for `job_id`.
pub fn request(
    job_id: &str,
    blue: JobResult,
    green: JobResult,
    tolerance: Option<f64>,
) -> CompareRequest {
    CompareRequest {
        job_id: job_id.into(),
        blue: Some(blue),
        green: Some(green),
        tolerance,
    }
}

/// The mismatched fields of a reply, in order.
pub fn fields(reply: &CompareReply) -> Vec<&str> {
    reply.mismatches.iter().map(|m| m.field.as_str()).collect()
}
