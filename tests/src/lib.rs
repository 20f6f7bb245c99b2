//! The end-to-end harness: a [`Cluster`] is the six real `hop-*` binaries (built by Cargo next to
//! this test binary) started with `hop_cli::stack::Stack` on loopback port 0 over a temporary
//! share, plus what a Windows client does on the share (drop a job file, poll for the answer)
//! and what the tests compare against (`hop run`, in process).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hop_cli::stack::{Launcher, SERVICES, Stack, StackConfig, StackSecurity};
use hop_core::JobOptions;
use hop_proto::v1::admin_client::AdminClient;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{
    CutoverStatus, CutoverStatusRequest, GetRequest, JobRecord, JobSpec, JobState, Side,
    SubmitRequest, ValidationOutcome,
};
use hop_runtime::client::{ClientSecurity, ServiceChannel};
use hop_runtime::security::{CallerKind, Token};
use hop_runtime::testing::TestPki;
use serde_json::Value;

/// The directory of the service binaries: `target/<profile>`, the parent of this test binary's
/// `deps/`. Binaries missing there are built (`hop_runtime::testing::binary_in`).
pub fn binaries() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf();
    for service in SERVICES {
        let name = format!("hop-{service}");
        hop_runtime::testing::binary_in(&dir, &name, &name);
    }
    dir
}

/// The six services over a temporary share, with an admin token and a watched cut-over file.
pub struct Cluster {
    pub stack: Stack,
    share: tempfile::TempDir,
    data: tempfile::TempDir,
    /// The certificates of a [`Cluster::start_secure`] cluster.
    pki: Option<TestPki>,
}

/// The admin token every cluster's router accepts.
pub const ADMIN_TOKEN: &str = "e2e-admin-token-5f1d0c";

impl Cluster {
    /// Starts the services with the green weight and extra `(service, "key=value")` settings.
    pub fn start(green_percent: u32, settings: &[(&str, &str)]) -> Self {
        Self::start_with_stage(green_percent, None, settings)
    }

    /// Starts the services; with `stage`, the router watches a cut-over file holding it (see
    /// [`Cluster::write_stage`]) instead of using `green_percent`.
    pub fn start_with_stage(
        green_percent: u32,
        stage: Option<&str>,
        settings: &[(&str, &str)],
    ) -> Self {
        Self::launch(green_percent, stage, settings, None, false, &[])
    }

    /// As [`Cluster::start_with_stage`], with the services logging at `log_filter` into files
    /// (see [`Cluster::logs`]) instead of this process's stderr.
    pub fn start_logged(
        green_percent: u32,
        stage: Option<&str>,
        settings: &[(&str, &str)],
        log_filter: &str,
    ) -> Self {
        Self::launch(green_percent, stage, settings, Some(log_filter), false, &[])
    }

    /// As [`Cluster::start_logged`], with several processes of some services, e.g.
    /// `[("router", 2), ("compute", 2)]` (see `hop_cli::stack::StackConfig::replicas`; several
    /// routers need a `postgres` setting).
    pub fn start_replicated(
        green_percent: u32,
        settings: &[(&str, &str)],
        replicas: &[(&str, usize)],
        log_filter: &str,
    ) -> Self {
        Self::launch(
            green_percent,
            None,
            settings,
            Some(log_filter),
            false,
            replicas,
        )
    }

    /// As [`Cluster::start_logged`], with caller identity and mutual TLS on every hop: a test
    /// CA, a certificate per service and one for the tests (`client`), and fresh tokens of every
    /// kind in `<data>/tokens` (see `hop_cli::stack::StackSecurity`).
    pub fn start_secure(
        green_percent: u32,
        stage: Option<&str>,
        settings: &[(&str, &str)],
        log_filter: &str,
    ) -> Self {
        Self::launch(green_percent, stage, settings, Some(log_filter), true, &[])
    }

    fn launch(
        green_percent: u32,
        stage: Option<&str>,
        settings: &[(&str, &str)],
        log_filter: Option<&str>,
        secure: bool,
        replicas: &[(&str, usize)],
    ) -> Self {
        let share = tempfile::tempdir().expect("a temporary share");
        let data = tempfile::tempdir().expect("a temporary data directory");
        let token = data.path().join("admin.token");
        std::fs::write(&token, ADMIN_TOKEN).expect("token file");
        let mut router_settings = vec![format!("cutover.admin_token_file={}", token.display())];
        if let Some(stage) = stage {
            let file = data.path().join("cutover.toml");
            std::fs::write(&file, stage).expect("cut-over file");
            router_settings.push(format!("cutover.file={}", file.display()));
            router_settings.push("cutover.poll=20ms".into());
        }
        for dir in [
            "input",
            "output",
            "jobs/queue",
            "jobs/processing",
            "jobs/completed",
            "jobs/failed",
        ] {
            std::fs::create_dir_all(share.path().join(dir)).expect("share folders");
        }
        let mut all = vec![("bridge", "poll_interval=20ms")];
        all.extend(router_settings.iter().map(|s| ("router", s.as_str())));
        all.extend_from_slice(settings);
        let config = StackConfig {
            launcher: Launcher::Binaries(binaries()),
            share: share.path().canonicalize().expect("share path"),
            data_dir: data.path().to_path_buf(),
            green_percent,
            log_filter: log_filter.unwrap_or("warn").into(),
            settings: all
                .iter()
                .map(|(s, kv)| ((*s).to_owned(), (*kv).to_owned()))
                .collect(),
            security: None,
            replicas: replicas
                .iter()
                .map(|(service, n)| ((*service).to_owned(), *n))
                .collect(),
        };
        let pki = secure.then(|| {
            let pki = TestPki::new("cluster");
            for name in SERVICES.into_iter().chain(["client"]) {
                pki.issue(name);
            }
            pki
        });
        let config = match &pki {
            Some(pki) => {
                let tokens_dir = data.path().join("tokens");
                hop_runtime::security::tokens::provision(&tokens_dir).expect("tokens written");
                StackConfig {
                    security: Some(StackSecurity {
                        tokens_dir,
                        tls_dir: Some(pki.dir().to_path_buf()),
                    }),
                    ..config
                }
            }
            None => config,
        };
        let stack = match log_filter {
            None => Stack::start(config),
            Some(_) => Stack::start_with_log_dir(config, &data.path().join("logs")),
        };
        let stack = stack.unwrap_or_else(|e| panic!("the stack starts: {e}"));
        Self {
            stack,
            share,
            data,
            pki,
        }
    }

    /// How a caller of `kind` reaches the cluster: its certificate and token when secure, else
    /// plaintext (with [`ADMIN_TOKEN`] for the admin).
    pub fn caller(&self, kind: CallerKind) -> ClientSecurity {
        if self.pki.is_some() {
            return self.stack.client(kind).expect("the caller's files");
        }
        let token = (kind == CallerKind::Admin).then(|| Token::new(ADMIN_TOKEN).expect("a token"));
        ClientSecurity::new(None, token).expect("plaintext")
    }

    /// The parent of every service's data directory (`<service>/`), also holding the admin token
    /// file `admin.token`, the cut-over file and, for [`Cluster::start_logged`], `logs/`.
    pub fn data(&self) -> &Path {
        self.data.path()
    }

    /// Each service's log file and its text so far (only for [`Cluster::start_logged`]).
    pub fn logs(&self) -> Vec<(PathBuf, String)> {
        let Ok(entries) = std::fs::read_dir(self.data.path().join("logs")) else {
            return Vec::new();
        };
        entries
            .map(|e| e.expect("log entry").path())
            .map(|path| {
                let text = std::fs::read_to_string(&path).expect("log file");
                (path, text)
            })
            .collect()
    }

    /// Rewrites the router's watched cut-over file (atomically, as a ConfigMap update does).
    pub fn write_stage(&self, toml: &str) {
        let temp = self.data.path().join("cutover.toml.tmp");
        std::fs::write(&temp, toml).expect("cut-over file");
        std::fs::rename(temp, self.data.path().join("cutover.toml")).expect("renamed");
    }

    /// A caller with the cluster's client certificate (when secure) sending `token`: for
    /// refusals.
    pub fn caller_sending(&self, token: Option<Token>) -> ClientSecurity {
        let files = self.stack.security().and_then(|s| s.tls_files("client"));
        ClientSecurity::new(files.as_ref(), token).expect("the client's files")
    }

    /// A `hop.v1.Jobs` client of the router (an internal client).
    pub async fn jobs(&self) -> JobsClient<ServiceChannel> {
        let channel = self
            .caller(CallerKind::Client)
            .connect(&self.stack.uri("router"))
            .await
            .expect("the router answers");
        JobsClient::new(channel).max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES)
    }

    /// A `hop.v1.Admin` client of the router carrying the admin token.
    pub async fn admin(&self) -> AdminClient<ServiceChannel> {
        let channel = self
            .caller(CallerKind::Admin)
            .connect(&self.stack.uri("router"))
            .await
            .expect("the router answers");
        AdminClient::new(channel)
    }

    /// The router's cut-over status.
    pub async fn cutover(&self) -> CutoverStatus {
        self.admin()
            .await
            .cutover_status(CutoverStatusRequest {})
            .await
            .expect("cut-over status")
            .into_inner()
    }

    /// Submits a small job on the 500-strategy fixture (copied into `input/` when missing) and
    /// returns the side the router chose.
    pub async fn submit_small(&self, job_id: &str) -> Side {
        let csv = self.share().join("input").join("sensex_500x82.csv");
        if !csv.exists() {
            self.put_fixture("sensex_500x82.csv");
        }
        let spec = JobSpec {
            job_id: job_id.to_owned(),
            input: Some(Input::CsvPath(csv.display().to_string())),
            options: Some(hop_proto::v1::JobOptions {
                min_size: 10,
                budget: Some(400),
                ..Default::default()
            }),
            labels: Default::default(),
        };
        self.jobs()
            .await
            .submit(SubmitRequest { spec: Some(spec) })
            .await
            .expect("submitted")
            .into_inner()
            .side()
    }

    /// The job's record once it is final and its shadow comparison (if any) settled.
    pub async fn settled(&self, job_id: &str) -> JobRecord {
        let mut jobs = self.jobs().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let record = jobs
                .get(GetRequest {
                    job_id: job_id.to_owned(),
                })
                .await
                .expect("get")
                .into_inner();
            let finished = matches!(
                record.state(),
                JobState::Succeeded | JobState::Failed | JobState::Cancelled
            );
            if finished && record.validation() != ValidationOutcome::Pending {
                return record;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{job_id} never settled"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn share(&self) -> &Path {
        self.share.path()
    }

    /// Copies a fixture of `../shared/fixtures/legacy` into `input/`; returns its path there.
    pub fn put_fixture(&self, name: &str) -> PathBuf {
        let target = self.share().join("input").join(name);
        std::fs::write(&target, hop_core::fixtures::bytes(name)).expect("fixture copied");
        target
    }

    /// Writes `jobs/queue/<job_id>.json` the way the launcher does: `lines` appended one at a
    /// time with CRLF.
    pub fn drop_job(&self, job_id: &str, fields: &[(&str, &str)]) {
        let mut lines = vec!["{".to_owned()];
        let mut all = vec![("job_id", format!("\"{job_id}\""))];
        all.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        for (i, (key, value)) in all.iter().enumerate() {
            let comma = if i + 1 < all.len() { "," } else { "" };
            lines.push(format!("  \"{key}\": {value}{comma}"));
        }
        lines.push("}".into());
        let path = self
            .share()
            .join("jobs/queue")
            .join(format!("{job_id}.json"));
        for line in lines {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("job file opens");
            file.write_all(format!("{line}\r\n").as_bytes())
                .expect("job file line");
        }
    }

    /// Polls `jobs/completed/` and `jobs/failed/` for the job's file, like the launcher.
    pub fn wait_outcome(&self, job_id: &str, timeout: Duration) -> (&'static str, Value) {
        wait_outcome_in(self.share(), job_id, timeout)
    }

    /// The run folders under `output/` whose `results.json` names `job_id`.
    pub fn run_folders(&self, job_id: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(self.share().join("output")).expect("output/") {
            let path = entry.expect("entry").path();
            let Ok(bytes) = std::fs::read(path.join("results.json")) else {
                continue;
            };
            let doc = hop_report::read_results_json(&bytes).expect("results.json parses");
            if doc.job_id.as_deref() == Some(job_id) {
                found.push(path);
            }
        }
        found
    }

    /// Every entry of `output/` (to find half-written folders).
    pub fn output_entries(&self) -> Vec<String> {
        std::fs::read_dir(self.share().join("output"))
            .expect("output/")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// `hop run` of the same job in this process (CSV -> run folder under `out`).
pub fn hop_run(csv: &Path, options: &JobOptions, out: &Path) -> hop_cli::JobOutput {
    hop_cli::run_job(csv, options, out, &|_| {}).expect("hop run succeeds")
}

/// The file of `folder` whose name starts with `prefix` (the run's timestamp differs).
pub fn file_with_prefix(folder: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(folder)
        .expect("run folder")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix}* in {}", folder.display()))
}

/// Polls `<share>/jobs/completed/` and `jobs/failed/` for the job's file, like the launcher:
/// which of the two, and the file's JSON.
pub fn wait_outcome_in(share: &Path, job_id: &str, timeout: Duration) -> (&'static str, Value) {
    let start = Instant::now();
    loop {
        for dir in ["completed", "failed"] {
            let path = share.join("jobs").join(dir).join(format!("{job_id}.json"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                let value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{} is JSON: {e}\n{text}", path.display()));
                return (dir, value);
            }
        }
        assert!(
            start.elapsed() < timeout,
            "job {job_id} not answered within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every size's eight algorithms agree with `want`: the same portfolio, the same fitness bits and
/// the same number of evaluations (a job through the services against `hop run`).
pub fn assert_same_portfolios(got: &hop_core::RunResult, want: &hop_core::RunResult) {
    assert_eq!(got.sizes.len(), want.sizes.len());
    for (g, w) in got.sizes.iter().zip(&want.sizes) {
        assert_eq!(g.algorithms.len(), w.algorithms.len());
        for (a, b) in g.algorithms.iter().zip(&w.algorithms) {
            assert_eq!(a.algorithm, b.algorithm);
            assert_eq!(a.portfolio, b.portfolio, "{:?}", a.algorithm);
            assert_eq!(
                a.fitness.to_bits(),
                b.fitness.to_bits(),
                "{:?}",
                a.algorithm
            );
            assert_eq!(a.evaluations, b.evaluations, "{:?}", a.algorithm);
        }
    }
}
