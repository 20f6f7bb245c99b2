//! deploy/: the alert rules checked and unit-tested by `promtool`; the Grafana dashboard's
//! thresholds matching the alerts; every metric the dashboard and the rules name exported by the
//! running services; and a real Prometheus scraping the six services during a share job,
//! answering a query per KPI, evaluating the rules, and firing `HopRollbackLatched` after a
//! rollback.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hop_cli::stack::SERVICES;
use hop_e2e::Cluster;
use hop_proto::v1::RollbackRequest;
use hop_runtime::testing::{or_skip, scrape_metrics};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// The started green weight: both sides run every job (primary and shadow), so both are measured.
const GREEN_PERCENT: f64 = 50.0;
const STAGE_FILE: &str = "stage = \"weighted\"\ngreen_percent = 50\n";
/// How long Prometheus may take to show what the services export (first scrape ~6 s).
const DEADLINE: Duration = Duration::from_secs(90);

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn rules_file() -> PathBuf {
    deploy().join("prometheus/alerts.yml")
}

fn dashboard() -> Value {
    let path = deploy().join("grafana/heavy-optimizer.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The dashboard's non-row panels.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let all = dashboard["panels"].as_array().expect("panels");
    all.iter().filter(|p| p["type"] != "row").collect()
}

/// Every `expr` of the panel's targets.
fn panel_exprs(panel: &Value) -> Vec<String> {
    let targets = panel["targets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    targets
        .iter()
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect()
}

/// `(alert name, expr)` of every rule in alerts.yml.
fn alert_rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(rules_file()).expect("alerts.yml");
    let doc: serde_norway::Value = serde_norway::from_str(&text).expect("alerts.yml is YAML");
    let groups = doc["groups"].as_sequence().expect("groups");
    let rules = groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules"));
    rules
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} in {r:?}"));
            (field("alert").to_owned(), field("expr").trim().to_owned())
        })
        .collect()
}

/// The metric names an expression uses (ours: `hop_*` and `process_*`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("hop_") || t.starts_with("process_"))
        .map(str::to_owned)
        .collect()
}

/// The series names of a `/metrics` response (HTTP head, then the text exposition).
fn exported_names(response: &str) -> BTreeSet<String> {
    let (_, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// Runs an outside program; `Err` when it cannot start (missing), the output either way.
fn run(program: &str, args: &[&str], dir: &Path) -> Result<std::process::Output, String> {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{program} cannot run: {e}"))
}

#[test]
fn promtool_checks_and_unit_tests_the_alert_rules() {
    let dir = deploy().join("prometheus");
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["test", "rules", "alerts_test.yml"][..],
    ] {
        let Some(out) = or_skip(run("promtool", args, &dir)) else {
            return;
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
        println!("promtool {}: {}", args.join(" "), text.trim());
    }
}

#[test]
fn every_alert_is_unit_tested_and_the_dashboard_shows_its_threshold() {
    let text = std::fs::read_to_string(deploy().join("prometheus/alerts_test.yml"))
        .expect("alerts_test.yml");
    let doc: serde_norway::Value = serde_norway::from_str(&text).expect("alerts_test.yml is YAML");
    // (alert name, whether it is expected to fire) of every promtool case.
    let cases: BTreeSet<(String, bool)> = doc["tests"]
        .as_sequence()
        .expect("tests")
        .iter()
        .flat_map(|t| {
            t["alert_rule_test"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| {
            let fires = c["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty());
            (c["alertname"].as_str().unwrap_or("").to_owned(), fires)
        })
        .collect();
    let dashboard = dashboard();
    for (alert, expr) in alert_rules() {
        for fires in [true, false] {
            let case = (alert.clone(), fires);
            assert!(
                cases.contains(&case),
                "no promtool case with {alert} firing: {fires}"
            );
        }
        // `... > 5`, `... >= 20`, `... == 1`: the number the dashboard must mark.
        let Some(threshold) = expr
            .rsplit([' ', '>', '='])
            .next()
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|n| *n != 0.0)
        else {
            continue;
        };
        let names = metric_names(&expr);
        let marked = panels(&dashboard).into_iter().any(|p| {
            let shows = panel_exprs(p)
                .iter()
                .any(|e| !metric_names(e).is_disjoint(&names));
            let steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"].as_array();
            shows && steps.is_some_and(|s| s.iter().any(|s| s["value"].as_f64() == Some(threshold)))
        });
        assert!(
            marked,
            "{alert}: no panel on {names:?} has a threshold at {threshold}"
        );
    }
    for panel in panels(&dashboard) {
        assert_eq!(
            panel["datasource"]["uid"], "${DS_PROMETHEUS}",
            "{}",
            panel["title"]
        );
        assert!(
            !panel_exprs(panel).is_empty(),
            "{} has no query",
            panel["title"]
        );
    }
    let rows: Vec<_> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        rows,
        [
            "Migration",
            "Jobs",
            "Accuracy",
            "Client impact",
            "Resources"
        ]
    );
}

/// A Prometheus server in a temporary directory, killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `prometheus` scraping every service of `cluster` each second, with the alert rules.
    fn start(cluster: &Cluster) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: hop\n    static_configs:\n",
            rules_file().display()
        );
        for (service, _, metrics) in cluster.stack.addresses() {
            config += &format!(
                "      - targets: [\"{metrics}\"]\n        labels: {{service: {service}}}\n"
            );
        }
        std::fs::write(dir.path().join("prometheus.yml"), config).map_err(|e| e.to_string())?;
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("prometheus.log")).map_err(|e| e.to_string())?;
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("prometheus cannot run: {e}"))?;
        Ok(Self { child, addr, dir })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` (HTTP/1.0: no chunking, closed at the end): status code and body.
    async fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok((code, body.to_owned()))
    }

    /// `GET /api/v1/<api>` as JSON: its `data`, or the error Prometheus gave.
    async fn api(&self, api: &str) -> Result<Value, String> {
        let (code, body) = self
            .get(&format!("/api/v1/{api}"))
            .await
            .map_err(|e| e.to_string())?;
        let json: Value = serde_json::from_str(&body).map_err(|e| format!("{code} {body}: {e}"))?;
        if json["status"] != "success" {
            return Err(format!("{code} {body}"));
        }
        Ok(json["data"].clone())
    }

    /// The instant vector `promql` evaluates to: `(labels, value)` per series.
    async fn query(&self, promql: &str) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
        let data = self.api(&format!("query?query={}", encode(promql))).await?;
        let result = data["result"]
            .as_array()
            .ok_or(format!("not a vector: {data}"))?;
        Ok(result
            .iter()
            .map(|s| {
                let labels = serde_json::from_value(s["metric"].clone()).unwrap_or_default();
                let value = s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                (labels, value)
            })
            .collect())
    }

    /// Polls `promql` until `ok` holds for its result; panics with the last result at the
    /// deadline.
    async fn until(
        &self,
        kpi: &str,
        promql: &str,
        ok: impl Fn(&[(BTreeMap<String, String>, f64)]) -> bool,
    ) -> Vec<(BTreeMap<String, String>, f64)> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let result = self.query(promql).await;
            if let Ok(samples) = &result
                && ok(samples)
            {
                println!("{kpi}: {promql} = {}", show(samples));
                return result.unwrap_or_default();
            }
            assert!(
                Instant::now() < deadline,
                "{kpi}: `{promql}` gave {result:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn show(samples: &[(BTreeMap<String, String>, f64)]) -> String {
    let shown: Vec<_> = samples
        .iter()
        .map(|(labels, value)| {
            let keep = ["service", "side", "engine", "stage", "outcome"];
            let named: Vec<_> = labels
                .iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{{{}}} {value}", named.join(","))
        })
        .collect();
    shown.join(" ")
}

/// One value per label value: `{service="..."}` etc.
fn by(samples: &[(BTreeMap<String, String>, f64)], label: &str) -> BTreeMap<String, f64> {
    samples
        .iter()
        .map(|(l, v)| (l.get(label).cloned().unwrap_or_default(), *v))
        .collect()
}

fn all_services(samples: &[(BTreeMap<String, String>, f64)], ok: impl Fn(f64) -> bool) -> bool {
    let values = by(samples, "service");
    SERVICES
        .iter()
        .all(|s| values.get(*s).is_some_and(|v| ok(*v)))
}

fn single(samples: &[(BTreeMap<String, String>, f64)], ok: impl Fn(f64) -> bool) -> bool {
    samples.len() == 1 && ok(samples[0].1)
}

/// Each KPI of the dashboard, asked of the real Prometheus after a share job ran on both sides.
async fn assert_kpis(prometheus: &Prometheus) {
    prometheus
        .until("services up", "up", |s| all_services(s, |v| v == 1.0))
        .await;
    let both_sides = |s: &[(BTreeMap<String, String>, f64)]| {
        let sides = by(s, "side");
        ["blue", "green"]
            .iter()
            .all(|side| sides.get(*side).is_some_and(|n| *n >= 1.0))
    };
    let runtime = "sum by (side, engine) (hop_engine_job_seconds_count)";
    prometheus
        .until("job runtime histogram", runtime, both_sides)
        .await;
    // Since the start: `rate` needs an earlier sample, and the first job creates the series.
    let p95 = "histogram_quantile(0.95, sum by (side, le) (hop_engine_job_seconds_bucket))";
    prometheus
        .until("job runtime p95", p95, |s| {
            s.len() == 2 && s.iter().all(|(_, v)| *v > 0.0)
        })
        .await;
    let failed = "sum by (side) (hop_engine_jobs_total{outcome=\"failed\"}) / sum by (side) (hop_engine_jobs_total)";
    prometheus
        .until("error rate", failed, |s| {
            s.len() == 2 && s.iter().all(|(_, v)| *v == 0.0)
        })
        .await;
    let compared = "sum(hop_validator_comparisons_total)";
    prometheus
        .until("comparisons", compared, |s| single(s, |v| v >= 1.0))
        .await;
    let accuracy = "max(hop_validator_max_relative_difference)";
    prometheus
        .until("accuracy", accuracy, |s| {
            single(s, |v| (0.0..0.01).contains(&v))
        })
        .await;
    let mismatched = "sum(hop_validator_mismatched_fields_total)";
    prometheus
        .until("mismatched fields", mismatched, |s| single(s, |v| v == 0.0))
        .await;
    let rss = "process_resident_memory_bytes";
    prometheus
        .until("memory", rss, |s| all_services(s, |v| v > 1e6))
        .await;
    let claim = "hop_bridge_claim_seconds_count";
    prometheus
        .until("job file to claim", claim, |s| single(s, |v| v >= 1.0))
        .await;
    let answered = "hop_bridge_job_seconds_count";
    prometheus
        .until("job file to answer", answered, |s| single(s, |v| v >= 1.0))
        .await;
    let queue = "hop_bridge_queue_depth";
    prometheus
        .until("queue depth", queue, |s| single(s, |v| v == 0.0))
        .await;
    let completed = "hop_bridge_jobs_total{outcome=\"completed\"}";
    prometheus
        .until("share jobs", completed, |s| single(s, |v| v >= 1.0))
        .await;
    let weight = "hop_router_cutover_effective_percent";
    prometheus
        .until("effective weight", weight, |s| {
            single(s, |v| v == GREEN_PERCENT)
        })
        .await;
    let desired = "hop_router_cutover_desired_percent";
    prometheus
        .until("desired weight", desired, |s| {
            single(s, |v| v == GREEN_PERCENT)
        })
        .await;
    let stage = "hop_router_cutover_stage == 1";
    prometheus
        .until("stage", stage, |s| by(s, "stage").keys().eq(["weighted"]))
        .await;
    let latch = "hop_router_cutover_latched";
    prometheus
        .until("latch", latch, |s| single(s, |v| v == 0.0))
        .await;
    let engines = prometheus
        .query("hop_engine_jobs_total{side=\"green\"}")
        .await
        .unwrap_or_default();
    if by(&engines, "engine").contains_key("gpu") {
        let gpu = "hop_gpu_memory_used_bytes";
        prometheus
            .until("GPU memory", gpu, |s| single(s, |v| v > 0.0))
            .await;
        let util = "hop_gpu_utilization_ratio";
        prometheus
            .until("GPU utilization", util, |s| {
                single(s, |v| (0.0..=1.0).contains(&v))
            })
            .await;
    } else {
        println!("GPU memory and utilization: not exported (compute runs on the CPU here)");
    }
}

/// Every dashboard query evaluates; every rule is evaluated without error and none fires.
async fn assert_dashboard_and_rules_evaluate(prometheus: &Prometheus) {
    let (mut queries, mut non_empty) = (0, 0);
    for panel in panels(&dashboard()) {
        for expr in panel_exprs(panel) {
            let result = prometheus.query(&expr).await;
            let samples = result.unwrap_or_else(|e| panic!("{}: `{expr}`: {e}", panel["title"]));
            queries += 1;
            non_empty += usize::from(!samples.is_empty());
        }
    }
    println!("dashboard: {queries} queries evaluate, {non_empty} with data");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let data = prometheus.api("rules").await.expect("rules");
        let rules: Vec<Value> = data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let healthy = rules.iter().filter(|r| r["health"] == "ok").count();
        if !rules.is_empty() && healthy == rules.len() {
            let firing: Vec<_> = rules
                .iter()
                .filter(|r| r["state"] == "firing")
                .map(|r| &r["name"])
                .collect();
            assert!(
                firing.is_empty(),
                "alerts fire on a healthy cluster: {firing:?}"
            );
            println!("rules: {healthy} evaluated by Prometheus, none firing");
            return;
        }
        assert!(Instant::now() < deadline, "rules not all healthy: {data:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for an alert named `name` to fire.
async fn assert_fires(prometheus: &Prometheus, name: &str) -> Duration {
    let start = Instant::now();
    loop {
        let data = prometheus.api("alerts").await.expect("alerts");
        let alerts = data["alerts"].as_array().cloned().unwrap_or_default();
        if alerts
            .iter()
            .any(|a| a["labels"]["alertname"] == name && a["state"] == "firing")
        {
            return start.elapsed();
        }
        assert!(start.elapsed() < DEADLINE, "{name} never fired: {alerts:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every metric the dashboard and the rules name is one the six services export (scraped after a
/// job and a rollback); GPU metrics may only be missing where compute has no GPU, and must then
/// be compute's own names.
async fn assert_names_exported(cluster: &Cluster) {
    let mut exported = BTreeSet::new();
    let mut gpu_engine = false;
    for (service, _, metrics) in cluster.stack.addresses() {
        let text = scrape_metrics(metrics).await;
        gpu_engine |= service == "compute" && text.contains("engine=\"gpu\"");
        exported.extend(exported_names(&text));
    }
    let dashboard = dashboard();
    let mut used: BTreeSet<String> = panels(&dashboard)
        .into_iter()
        .flat_map(panel_exprs)
        .flat_map(|e| metric_names(&e))
        .collect();
    used.extend(alert_rules().iter().flat_map(|(_, e)| metric_names(e)));
    let compute = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/compute/src/engine.rs"),
    )
    .expect("compute's engine.rs");
    let missing: Vec<_> = used
        .difference(&exported)
        .filter(|n| {
            gpu_engine || !(n.starts_with("hop_gpu_") && compute.contains(&format!("\"{n}\"")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "used by deploy/ but not exported: {missing:?}\nexported: {exported:?}"
    );
    println!("{} metric names used by deploy/, all exported", used.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_every_kpi_of_a_share_job_and_fires_on_rollback() {
    let cluster = Cluster::start_with_stage(0, Some(STAGE_FILE), &[]);
    let prometheus = or_skip(Prometheus::start(&cluster));
    if let Some(prometheus) = &prometheus {
        let deadline = Instant::now() + DEADLINE;
        while !matches!(prometheus.get("/-/ready").await, Ok((200, _))) {
            assert!(
                Instant::now() < deadline,
                "prometheus not ready:\n{}",
                prometheus.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    cluster.put_fixture("sensex_500x82.csv");
    let job_id = "job_monitoring_20250730_154500";
    cluster.drop_job(
        job_id,
        &[
            ("input_file", "\"sensex_500x82.csv\""),
            ("portfolio_size", "10"),
            ("budget", "400"),
            ("job_type", "\"complete_optimization\""),
            ("timestamp", "\"Wed 07/30/2025 15:45:00.12\""),
        ],
    );
    let (outcome, completed) = cluster.wait_outcome(job_id, Duration::from_secs(180));
    assert_eq!(outcome, "completed", "{completed:#}");
    cluster.settled(job_id).await;
    if let Some(prometheus) = &prometheus {
        assert_kpis(prometheus).await;
        assert_dashboard_and_rules_evaluate(prometheus).await;
    }
    let status = cluster
        .admin()
        .await
        .rollback(RollbackRequest {
            reason: "monitoring e2e".into(),
        })
        .await
        .expect("rollback")
        .into_inner();
    assert!(status.latched, "{status:?}");
    if let Some(prometheus) = &prometheus {
        let after = assert_fires(prometheus, "HopRollbackLatched").await;
        println!(
            "HopRollbackLatched firing {:.1} s after the rollback",
            after.as_secs_f64()
        );
    }
    assert_names_exported(&cluster).await;
}
