//! Secrets stay where they are kept: the admin token (its file in the data directory) and the
//! HeavyDB password (its file, outside the cluster) appear in no service's log, in no file on the
//! share (job files, completed and failed files, run folders) and nowhere else in the services'
//! data directories — after jobs that succeed, fail on blue (HeavyDB unreachable, so the legacy
//! service used the password's configuration) and fail on bad input, and after Admin calls with
//! the right token, a wrong one and none. The cluster runs with mutual TLS and caller tokens: the
//! tokens of every kind (their files in `<data>/tokens`) and the services' TLS private keys appear
//! nowhere else either. And every
//! service listens on loopback by default.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hop_e2e::{ADMIN_TOKEN, Cluster};
use hop_proto::v1::admin_client::AdminClient;
use hop_proto::v1::{
    CutoverStatusRequest, ResumeRequest, RollbackRequest, SetWeightRequest, ValidationOutcome,
};
use hop_runtime::config::{CommonArgs, MapSource, load};
use hop_runtime::security::{CallerKind, Token};

const HEAVYDB_PASSWORD: &str = "e2e-heavydb-password-7d3e91";
const WRONG_TOKEN: &str = "e2e-wrong-token-0b8a44";
const FIXTURE: &str = "sensex_500x82.csv";

fn job(input_file: &str) -> Vec<(&'static str, String)> {
    vec![
        ("input_file", format!("\"{input_file}\"")),
        ("portfolio_size", "10".into()),
        ("job_type", "\"complete_optimization\"".into()),
        ("timestamp", "\"2025-07-30 15:45:00\"".into()),
        ("budget", "300".into()),
    ]
}

/// Drops the job and waits for its outcome file; returns the outcome and the file's `error`.
async fn run_job(cluster: &Cluster, job_id: &str, input_file: &str) -> (&'static str, String) {
    let fields = job(input_file);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    cluster.drop_job(job_id, &fields);
    let (outcome, doc) = cluster.wait_outcome(job_id, Duration::from_secs(120));
    if outcome == "completed" {
        // Wait for the shadow (blue, failing on the unreachable HeavyDB) to be logged.
        let record = cluster.settled(job_id).await;
        assert_ne!(record.validation(), ValidationOutcome::Pending);
    }
    (
        outcome,
        doc["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Every file below `dir` (recursively), except `skip`.
fn files_below(dir: &Path, skip: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("entry").path();
        if skip.contains(&path) {
            continue;
        } else if path.is_dir() {
            found.extend(files_below(&path, skip));
        } else {
            found.push(path);
        }
    }
    found
}

/// The secrets found in `bytes`.
fn secrets_in<'a>(secrets: &'a [String], bytes: &[u8]) -> Vec<&'a str> {
    secrets
        .iter()
        .map(String::as_str)
        .filter(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
        .collect()
}

/// Admin calls with the right token, a wrong one and none.
async fn admin_calls(cluster: &Cluster) {
    let mut admin = cluster.admin().await;
    admin
        .cutover_status(CutoverStatusRequest {})
        .await
        .expect("status with the token");
    let reason = "secrets test".to_owned();
    admin
        .rollback(RollbackRequest { reason })
        .await
        .expect("rollback with the token");
    admin
        .resume(ResumeRequest { acknowledge: true })
        .await
        .expect("resume with the token");
    let router = cluster.stack.uri("router");
    let connect = |token: Option<Token>| {
        let caller = cluster.caller_sending(token);
        let router = router.clone();
        async move { caller.connect(&router).await.expect("the router answers") }
    };
    let mut wrong = AdminClient::new(connect(Token::new(WRONG_TOKEN)).await);
    let request = SetWeightRequest {
        green_percent: 0,
        reason: "secrets test".into(),
    };
    let refused = wrong.set_weight(request).await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);
    let refused = wrong.cutover_status(CutoverStatusRequest {}).await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);
    let refused = AdminClient::new(connect(None).await)
        .cutover_status(CutoverStatusRequest {})
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_logs_share_or_data() {
    let secrets = tempfile::tempdir().expect("a folder for the password file");
    let password_file = secrets.path().join("heavydb.password");
    fs::write(&password_file, format!("{HEAVYDB_PASSWORD}\n")).expect("password file");
    let heavydb = format!("127.0.0.1:{}", closed_port());
    let backend = format!("backend=heavydb://hop@{heavydb}/hop");
    let password = format!("password_file={}", password_file.display());
    // Green primary with a blue shadow: the shadow meets the unreachable HeavyDB.
    let stage = "stage = \"weighted\"\ngreen_percent = 100\n";
    let settings = [("legacy", backend.as_str()), ("legacy", password.as_str())];
    let cluster = Cluster::start_secure(0, Some(stage), &settings, "debug");
    let tokens_dir = cluster.data().join("tokens");
    let mut secrets: Vec<String> = [ADMIN_TOKEN, HEAVYDB_PASSWORD, WRONG_TOKEN]
        .map(str::to_owned)
        .to_vec();
    for kind in CallerKind::ALL {
        let token = fs::read_to_string(tokens_dir.join(kind.name())).expect("a token file");
        secrets.push(token.trim().to_owned());
    }
    // The services' TLS private keys: every base64 line of every key file.
    let tls_dir = cluster
        .stack
        .security()
        .and_then(|s| s.tls_dir.clone())
        .expect("a secure cluster");
    for entry in fs::read_dir(&tls_dir).expect("the TLS folder") {
        let path = entry.expect("an entry").path();
        if path.to_string_lossy().ends_with("-key.pem") {
            let pem = fs::read_to_string(&path).expect("a key file");
            secrets.extend(
                pem.lines()
                    .filter(|line| !line.starts_with("-----") && line.len() >= 40)
                    .map(str::to_owned),
            );
        }
    }
    cluster.put_fixture(FIXTURE);

    let (outcome, error) = run_job(&cluster, "job_secret_green", FIXTURE).await;
    assert_eq!(outcome, "completed", "{error}");
    let (outcome, error) = run_job(&cluster, "job_secret_missing", "missing.csv").await;
    assert_eq!(outcome, "failed", "a missing CSV");
    assert!(error.contains("missing.csv"), "{error}");
    cluster.write_stage("stage = \"dual\"\n");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while cluster.cutover().await.stage != "dual" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stage dual not taken"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (outcome, error) = run_job(&cluster, "job_secret_blue", FIXTURE).await;
    assert_eq!(outcome, "failed", "blue without its HeavyDB");
    assert!(error.contains(&heavydb), "names the HeavyDB: {error}");
    admin_calls(&cluster).await;

    let logs = cluster.logs();
    assert_eq!(logs.len(), 6, "one log per service: {logs:?}");
    let all: String = logs.iter().map(|(_, text)| text.as_str()).collect();
    assert!(all.contains(&heavydb), "the logs show the HeavyDB failure");
    assert!(all.contains("call refused"), "the logs show the refusal");
    for (path, text) in &logs {
        let found = secrets_in(&secrets, text.as_bytes());
        assert!(found.is_empty(), "{found:?} in {}", path.display());
    }
    let share = files_below(cluster.share(), &[]);
    assert!(share.len() > 10, "job files and a run folder: {share:?}");
    let data = cluster.data();
    let token = data.join("admin.token");
    assert_eq!(fs::read_to_string(&token).expect("token file"), ADMIN_TOKEN);
    let stored = files_below(data, &[token, data.join("logs"), tokens_dir]);
    assert!(
        stored.iter().any(|p| p.starts_with(data.join("router"))),
        "the router's store is searched: {stored:?}"
    );
    for path in share.iter().chain(&stored) {
        let found = secrets_in(&secrets, &fs::read(path).expect("readable file"));
        assert!(found.is_empty(), "{found:?} in {}", path.display());
    }
}

#[test]
fn every_service_listens_on_loopback_by_default() {
    for service in hop_cli::stack::SERVICES {
        let loaded = load::<serde_json::Value>(service, &CommonArgs::default(), &MapSource::new())
            .unwrap_or_else(|e| panic!("{service}'s defaults: {e}"));
        let common = loaded.common;
        for (key, addr) in [
            ("listen", common.listen),
            ("metrics_listen", common.metrics_listen),
        ] {
            assert!(addr.ip().is_loopback(), "{service} {key} is {addr}");
        }
    }
}
