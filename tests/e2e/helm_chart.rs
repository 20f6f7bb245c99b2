//! helm/: the chart rendered by real Helm for every stage file, linted, validated by kubernetes-validate, and parsed into k8s-openapi types.
//!
//! `helm/render.py` (run with `$HOP_PYTHON`, the venv holding helm-python-sdk and
//! kubernetes-validate) renders every `stages/*.yaml` over `helm/site.example.yaml`; each
//! document must be a kind this test knows, and the invariants of SPEC 6 must hold: GPU only on
//! compute, gRPC probes and resources on every container, pinned images, a PDB and a Service per
//! workload, non-root pods, the cut-over ConfigMap carrying the stage file's weight, and every
//! service's config file accepted by that service's own config types and wired to real Services
//! (`https://`). Issue 13: every service has mutual TLS (its Secret mounted, the config keys set,
//! a cert-manager Certificate when an issuer is given), its callers' tokens, probes on the
//! plaintext health port, and exactly one NetworkPolicy selecting it that lets gRPC in only from
//! the callers the policy table allows. Several replicas: compute and legacy have a headless
//! Service the router balances over; more than one ingest replica needs a shared cache claim.

use std::path::{Path, PathBuf};
use std::process::Command;

use hop_runtime::testing::or_skip;
use k8s_openapi::api::apps::v1::Deployment;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::api::networking::v1::NetworkPolicyIngressRule;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[path = "helm_chart/manifests.rs"]
mod manifests;
#[path = "helm_chart/service_configs.rs"]
mod service_configs;

use manifests::{Rendered, config_of, parse, pod, pod_labels, port, selects, share_mounts};
use service_configs::check_service_configs;

use hop_cli::stack::SERVICES;
const KUBE_VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn python() -> Result<PathBuf, String> {
    let python = std::env::var_os("HOP_PYTHON")
        .ok_or("HOP_PYTHON is not set (the venv with helm-python-sdk and kubernetes-validate)")?;
    let probe = Command::new(&python)
        .args(["-c", "import helm_python, kubernetes_validate"])
        .output()
        .map_err(|e| format!("cannot run HOP_PYTHON {python:?}: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "{python:?} lacks helm-python-sdk or kubernetes-validate: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    Ok(python.into())
}

fn yaml<T: DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Runs helm/render.py over the site file and `extra` values; asserts that every stage file was
/// linted without warnings, rendered, and validated strictly against each Kubernetes version.
fn render(python: &Path, extra: &[&Path]) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(python);
    command
        .arg(repo().join("helm/render.py"))
        .arg("--out")
        .arg(out.path())
        .arg("--values")
        .arg(repo().join("helm/site.example.yaml"));
    for values in extra {
        command.arg("--values").arg(values);
    }
    let done = command.output().expect("run render.py");
    assert!(
        done.status.success(),
        "render.py failed (lint, render or kubernetes-validate --strict):\n{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).expect("report"))
            .expect("report.json is JSON");
    for stage in stage_files() {
        let name = stem(&stage);
        let entry = &report[&name];
        assert_eq!(entry["problems"], Value::Array(vec![]), "stage {name}");
        assert_eq!(
            entry["validated"],
            serde_json::json!(KUBE_VERSIONS),
            "stage {name}"
        );
        let lint = entry["lint"].as_array().expect("lint messages");
        assert!(
            lint.iter().all(|m| m["severity"].as_u64() < Some(2)),
            "stage {name}: helm lint warnings or errors: {lint:?}"
        );
    }
    out
}

fn stage_files() -> Vec<PathBuf> {
    let dir = repo().join("helm/heavy-optimizer/stages");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// SPEC 6's invariants of one container of one workload.
/// Init containers (`init`) get everything but the probes, which Kubernetes forbids them.
fn check_container(workload: &str, container: &Container, chart_version: &str, init: bool) {
    let name = &container.name;
    let image = container.image.as_deref().expect("an image");
    let (_, tag) = image
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .unwrap_or_else(|| panic!("{name}: image {image} has no tag"));
    assert!(tag != "latest", "{name}: image {image} is tagged latest");
    assert!(
        image.ends_with(&format!("/hop-{workload}:{chart_version}")),
        "{name}: image {image} is not hop-{workload}:<appVersion {chart_version}>"
    );
    let probes = [&container.readiness_probe, &container.liveness_probe];
    for probe in probes.iter().filter(|_| !init).map(|p| {
        p.as_ref()
            .unwrap_or_else(|| panic!("{name}: a probe is missing"))
    }) {
        if workload == "samba" {
            let tcp = probe.tcp_socket.as_ref().expect("samba: tcpSocket probe");
            assert_eq!(tcp.port, IntOrString::String("smb".into()));
        } else {
            let grpc = probe
                .grpc
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no gRPC probe"));
            // The plaintext health-only port: the kubelet's gRPC probes cannot do TLS.
            assert_eq!(grpc.port, port(container, "health"), "{name}: probe port");
        }
    }
    let resources = container.resources.as_ref().expect("resources");
    for (what, set) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        let set = set
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no resource {what}"));
        assert!(
            set.contains_key("cpu") && set.contains_key("memory"),
            "{name}: {what} lack cpu or memory: {set:?}"
        );
    }
    let gpu = resources
        .limits
        .as_ref()
        .and_then(|l| l.get("nvidia.com/gpu"));
    assert_eq!(
        gpu.is_some(),
        workload == "compute",
        "{name}: nvidia.com/gpu limit {gpu:?}"
    );
    let security = container
        .security_context
        .as_ref()
        .expect("securityContext");
    assert_eq!(security.allow_privilege_escalation, Some(false), "{name}");
}

fn check_workload(name: &str, deployment: &Deployment, rendered: &Rendered, chart_version: &str) {
    let pod = pod(deployment);
    let labels = pod_labels(deployment);
    let security = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(security.run_as_non_root, Some(true), "{name}: runAsNonRoot");
    assert!(
        security.run_as_user.is_some_and(|uid| uid > 0),
        "{name}: runAsUser"
    );
    let workload = name.strip_prefix("hop-").expect("hop- prefix");
    let gpu_node = workload == "compute";
    let tolerates_gpu = pod
        .tolerations
        .iter()
        .flatten()
        .any(|t| t.key.as_deref() == Some("nvidia.com/gpu"));
    let gpu_selector = pod
        .node_selector
        .as_ref()
        .is_some_and(|s| s.keys().any(|k| k.starts_with("nvidia.com/")));
    assert_eq!(
        (tolerates_gpu, gpu_selector),
        (gpu_node, gpu_node),
        "{name}: GPU node placement"
    );
    for container in &pod.containers {
        check_container(workload, container, chart_version, false);
    }
    for container in pod.init_containers.iter().flatten() {
        check_container(workload, container, chart_version, true);
    }
    let pdbs = rendered.pdbs.values().filter(|p| {
        selects(
            p.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| s.match_labels.as_ref()),
            labels,
        )
    });
    assert_eq!(
        pdbs.count(),
        1,
        "{name}: PodDisruptionBudgets selecting its pods"
    );
    // One Service with a cluster IP each; the engines one headless Service more (balancing).
    let (headless, clustered): (Vec<_>, Vec<_>) = rendered
        .services
        .values()
        .filter_map(|s| s.spec.as_ref())
        .filter(|s| selects(s.selector.as_ref(), labels))
        .partition(|s| s.cluster_ip.as_deref() == Some("None"));
    assert_eq!(clustered.len(), 1, "{name}: Services selecting its pods");
    let balanced = matches!(workload, "compute" | "legacy");
    assert_eq!(
        headless.len(),
        usize::from(balanced),
        "{name}: headless Services selecting its pods"
    );
    check_network_policy(name, labels, rendered);
}

/// The component names of the pods a NetworkPolicy rule's peers select.
fn peer_components(rule: &NetworkPolicyIngressRule) -> Vec<String> {
    rule.from
        .iter()
        .flatten()
        .filter_map(|peer| peer.pod_selector.as_ref()?.match_labels.as_ref())
        .filter_map(|labels| labels.get("app.kubernetes.io/component").cloned())
        .collect()
}

/// Exactly one NetworkPolicy selects the workload: gRPC only from the callers the policy table
/// allows, /metrics only from a namespace selector, nothing else but the health port.
fn check_network_policy(name: &str, labels: &BTreeMap<String, String>, rendered: &Rendered) {
    let policies: Vec<_> = rendered
        .network_policies
        .values()
        .filter_map(|p| p.spec.as_ref())
        .filter(|spec| {
            selects(
                spec.pod_selector
                    .as_ref()
                    .and_then(|s| s.match_labels.as_ref()),
                labels,
            )
        })
        .collect();
    assert_eq!(
        policies.len(),
        1,
        "{name}: NetworkPolicies selecting its pods"
    );
    let spec = policies[0];
    assert_eq!(
        spec.policy_types.as_deref(),
        Some(&["Ingress".to_owned()][..]),
        "{name}"
    );
    let workload = name.strip_prefix("hop-").expect("hop- prefix");
    let mut allowed = Vec::new();
    for rule in spec.ingress.iter().flatten() {
        let ports: Vec<_> = rule
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.port.clone())
            .collect();
        assert_eq!(ports.len(), 1, "{name}: one port per rule");
        match &ports[0] {
            IntOrString::String(port) if port == "grpc" => allowed = peer_components(rule),
            IntOrString::String(port) if port == "metrics" => assert!(
                rule.from
                    .iter()
                    .flatten()
                    .all(|peer| peer.namespace_selector.is_some()),
                "{name}: /metrics only from the monitoring namespace"
            ),
            IntOrString::String(port) if port == "health" || port == "smb" => {}
            other => panic!("{name}: ingress on an unexpected port {other:?}"),
        }
    }
    let expected: &[&str] = match workload {
        "ingest" => &["compute"],
        "validator" | "legacy" | "compute" => &["router"],
        "router" => &["bridge"],
        _ => &[],
    };
    assert_eq!(allowed, expected, "{name}: gRPC callers");
}

fn check_stage(stage_file: &Path, rendered: &Rendered, chart_version: &str, claim: &str) {
    let stage: Value = yaml(stage_file);
    let cutover =
        hop_router::cutover::Desired::parse(&config_of(rendered, "hop-cutover", "cutover.toml"))
            .unwrap_or_else(|e| {
                panic!("{stage_file:?}: the router refuses the cut-over ConfigMap: {e}")
            });
    assert_eq!(
        Some(cutover.stage.as_str()),
        stage["cutover"]["stage"].as_str(),
        "{stage_file:?}: stage"
    );
    assert_eq!(
        Some(u64::from(cutover.green_percent)),
        stage["cutover"]["greenPercent"].as_u64(),
        "{stage_file:?}: weight"
    );
    let mut names: Vec<_> = rendered.deployments.keys().cloned().collect();
    names.retain(|n| n != "hop-samba");
    let mut expected: Vec<_> = SERVICES.iter().map(|s| format!("hop-{s}")).collect();
    expected.sort();
    assert_eq!(names, expected, "{stage_file:?}: one workload per service");
    for (name, deployment) in &rendered.deployments {
        check_workload(name, deployment, rendered, chart_version);
    }
    let legacy_replicas = rendered.deployments["hop-legacy"]
        .spec
        .as_ref()
        .and_then(|s| s.replicas);
    let expected_replicas = stage["legacy"]["replicas"]
        .as_i64()
        .map_or(Some(1), |r| i32::try_from(r).ok());
    assert_eq!(
        legacy_replicas, expected_replicas,
        "{stage_file:?}: legacy replicas"
    );
    let mounts = share_mounts(rendered, claim);
    for (reader, read_only) in [
        ("hop-bridge", false),
        ("hop-ingest", true),
        ("hop-legacy", true),
    ] {
        assert_eq!(
            mounts.get(reader),
            Some(&read_only),
            "{reader}: share mount (read-only {read_only})"
        );
    }
    check_service_configs(rendered);
}

fn site_claim() -> String {
    let site: Value = yaml(&repo().join("helm/site.example.yaml"));
    site["share"]["existingClaim"]
        .as_str()
        .expect("share.existingClaim")
        .to_owned()
}

fn chart_version() -> String {
    let chart: Value = yaml(&repo().join("helm/heavy-optimizer/Chart.yaml"));
    chart["appVersion"].as_str().expect("appVersion").to_owned()
}

#[test]
fn every_stage_renders_lints_validates_and_keeps_the_invariants() {
    let Some(python) = or_skip(python()) else {
        return;
    };
    let out = render(&python, &[]);
    let claim = site_claim();
    let stages = stage_files();
    assert!(
        stages.len() >= 5,
        "a stage file per SPEC 5 stage: {stages:?}"
    );
    for stage in &stages {
        let rendered = parse(&out.path().join(format!("{}.yaml", stem(stage))));
        assert!(
            rendered.secrets.is_empty(),
            "the site names existing Secrets: none is created"
        );
        // The site's issuer: a Certificate per service, writing the Secret it mounts, valid for
        // its Service name, for serving and calling.
        assert_eq!(
            rendered.certificates.len(),
            SERVICES.len(),
            "a Certificate per service"
        );
        for service in SERVICES {
            let certificate = &rendered.certificates[&format!("hop-{service}")];
            let spec = &certificate["spec"];
            assert_eq!(spec["secretName"], format!("hop-{service}-tls"));
            assert!(
                spec["dnsNames"]
                    .as_array()
                    .expect("dnsNames")
                    .contains(&Value::from(format!("hop-{service}")))
            );
            let usages = spec["usages"].as_array().expect("usages");
            assert!(
                usages.contains(&Value::from("server auth"))
                    && usages.contains(&Value::from("client auth")),
                "{service}: usages"
            );
            assert_eq!(spec["issuerRef"]["name"], "hop-ca");
        }
        check_stage(stage, &rendered, &chart_version(), &claim);
    }
}

#[test]
fn samba_and_a_chart_made_secret_render_for_every_stage() {
    let Some(python) = or_skip(python()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let values = dir.path().join("samba.yaml");
    let text = "samba: {enabled: true}\nsecrets: {existingSecret: \"\", sambaPassword: s3cret}\n\
                tokens: {existingSecret: \"\", bridge: b1, client: c2, service: s3, admin: t0ken}\n\
                tls: {certManager: {issuerRef: null}}\n";
    std::fs::write(&values, text).expect("write values");
    let out = render(&python, &[&values]);
    for stage in stage_files() {
        let rendered = parse(&out.path().join(format!("{}.yaml", stem(&stage))));
        let secret = rendered
            .secrets
            .get("hop-secrets")
            .expect("the chart's Secret");
        let data = secret.data.as_ref().expect("secret data");
        assert_eq!(
            data.get("admin-token"),
            None,
            "the admin token is in the tokens Secret"
        );
        let tokens = rendered
            .secrets
            .get("hop-tokens")
            .and_then(|s| s.data.as_ref())
            .expect("the chart's tokens Secret");
        for (kind, token) in [
            ("bridge", "b1"),
            ("client", "c2"),
            ("service", "s3"),
            ("admin", "t0ken"),
        ] {
            assert_eq!(
                tokens.get(kind).map(|b| b.0.as_slice()),
                Some(token.as_bytes()),
                "{kind}"
            );
        }
        assert!(
            rendered.certificates.is_empty(),
            "no issuer: the TLS Secrets exist"
        );
        assert_eq!(
            data.get("samba-password").map(|b| b.0.as_slice()),
            Some(&b"s3cret"[..])
        );
        let samba = rendered
            .deployments
            .get("hop-samba")
            .expect("the Samba Deployment");
        check_workload("hop-samba", samba, &rendered, &chart_version());
        let service = rendered
            .services
            .get("hop-samba")
            .and_then(|s| s.spec.as_ref())
            .expect("Samba Service");
        assert!(
            service.ports.iter().flatten().any(|p| p.port == 445),
            "Samba Service on 445"
        );
        let claim = site_claim();
        assert_eq!(
            share_mounts(&rendered, &claim).get("hop-samba"),
            Some(&false),
            "Samba writes the share"
        );
        check_stage(&stage, &rendered, &chart_version(), &claim);
    }
}

/// The `dual` stage rendered over the site file and `values` (YAML); `Err`: render.py's message.
fn render_dual(python: &Path, values: &str) -> Result<Rendered, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values).expect("write values");
    let out = dir.path().join("out");
    let done = Command::new(python)
        .arg(repo().join("helm/render.py"))
        .args(["--stage", "dual", "--out"])
        .arg(&out)
        .arg("--values")
        .arg(repo().join("helm/site.example.yaml"))
        .arg("--values")
        .arg(&file)
        .output()
        .expect("run render.py");
    if !done.status.success() {
        return Err(String::from_utf8_lossy(&done.stderr).into_owned());
    }
    Ok(parse(&out.join("dual.yaml")))
}

/// The chart's `ingest.cache` in one stage: where the cache volume comes from (`None`: an
/// emptyDir), and the claims the chart created.
fn ingest_cache(python: &Path, values: &str) -> Result<(Option<String>, Vec<String>), String> {
    let rendered = render_dual(python, values)?;
    let ingest = &rendered.deployments["hop-ingest"];
    let cache = pod(ingest)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "cache")
        .expect("a cache volume");
    assert_eq!(
        manifests::mount_path(ingest, "cache"),
        service_configs::ingest_cache_dir(&rendered),
        "the cache volume is mounted at cache_dir"
    );
    let claim = cache
        .persistent_volume_claim
        .as_ref()
        .map(|c| c.claim_name.clone());
    assert_eq!(
        claim.is_none(),
        cache.empty_dir.is_some(),
        "a claim or an emptyDir"
    );
    let created = rendered
        .claims
        .iter()
        .filter(|(_, c)| {
            c.spec.as_ref().and_then(|s| s.access_modes.as_ref())
                == Some(&vec!["ReadWriteMany".to_owned()])
        })
        .map(|(name, _)| name.clone())
        .collect();
    Ok((claim, created))
}

#[test]
fn several_ingest_replicas_share_one_cache_claim() {
    let Some(python) = or_skip(python()) else {
        return;
    };
    assert_eq!(ingest_cache(&python, "{}\n").unwrap(), (None, vec![]));
    let refused = ingest_cache(&python, "ingest: {replicas: 2}\n").unwrap_err();
    assert!(refused.contains("ingest.cache.existingClaim"), "{refused}");
    assert_eq!(
        ingest_cache(
            &python,
            "ingest: {replicas: 3, cache: {existingClaim: parquet-rwx}}\n"
        )
        .unwrap(),
        (Some("parquet-rwx".to_owned()), vec![])
    );
    assert_eq!(
        ingest_cache(
            &python,
            "ingest: {replicas: 2, cache: {create: true, storageClass: nfs}}\n"
        )
        .unwrap(),
        (
            Some("hop-ingest-cache".to_owned()),
            vec!["hop-ingest-cache".to_owned()]
        )
    );
}

#[test]
fn router_replicas_share_one_postgres_store() {
    let Some(python) = or_skip(python()) else {
        return;
    };
    let Err(refused) = render_dual(&python, "router: {replicas: 2}\n") else {
        panic!("two routers without router.postgres must be refused");
    };
    assert!(refused.contains("router.postgres"), "{refused}");
    let single = render_dual(&python, "{}\n").unwrap();
    assert!(
        single.claims.contains_key("hop-router-data"),
        "SQLite claim"
    );
    assert_eq!(service_configs::router_store(&single), (None, None));

    let url = "postgresql://hop@pg.db.svc:5432/hop";
    let values = format!(
        "router: {{replicas: 2, postgres: \"{url}\"}}\n\
         secrets: {{existingSecret: \"\", postgresPassword: pg-s3cret}}\n"
    );
    let rendered = render_dual(&python, &values).unwrap();
    let router = &rendered.deployments["hop-router"];
    let spec = router.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let strategy = spec.strategy.as_ref().expect("a strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.as_ref().expect("rollingUpdate");
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::Int(0)),
        "a rolling update never lowers the serving replicas"
    );
    assert!(
        !rendered.claims.contains_key("hop-router-data"),
        "no SQLite claim"
    );
    let data = pod(router)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "data")
        .expect("data volume");
    assert!(data.empty_dir.is_some(), "{data:?}");
    let (postgres, password_file) = service_configs::router_store(&rendered);
    assert_eq!(postgres.as_deref(), Some(url));
    let password_file = password_file.expect("postgres_password_file");
    assert_eq!(
        password_file.parent().and_then(Path::to_str),
        Some(manifests::mount_path(router, "secrets")),
        "the password file is in the mounted Secret"
    );
    let secret = rendered.secrets["hop-secrets"]
        .data
        .as_ref()
        .expect("secret data");
    assert_eq!(
        secret.get("postgres-password").map(|b| b.0.as_slice()),
        Some(&b"pg-s3cret"[..])
    );
}
