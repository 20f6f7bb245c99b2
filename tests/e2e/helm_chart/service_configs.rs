//! Every service's rendered config file read the way its pod reads it and checked with the
//! service's own configuration types.

use std::path::Path;

use hop_runtime::config::{CommonArgs, LoadedConfig, MapSource, load};
use serde::de::DeserializeOwned;

use super::manifests::{Rendered, config_of, mount_path, pod, port};

/// `service`'s configuration as its pod sees it (the container's environment, `HOP_CONFIG`
/// naming the file in the mounted ConfigMap), loaded by the service's own configuration types.
fn load_config<T: DeserializeOwned + Default>(
    rendered: &Rendered,
    service: &str,
) -> LoadedConfig<T> {
    let deployment = &rendered.deployments[&format!("hop-{service}")];
    let env: Vec<(String, String)> = pod(deployment).containers[0]
        .env
        .iter()
        .flatten()
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect();
    let path = env
        .iter()
        .find(|(name, _)| name == "HOP_CONFIG")
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| panic!("{service}: no HOP_CONFIG"));
    assert_eq!(
        Path::new(&path).parent(),
        Some(Path::new(mount_path(deployment, "config"))),
        "{service}: HOP_CONFIG is in the config volume"
    );
    let config_map = pod(deployment)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "config")
        .and_then(|v| v.config_map.as_ref())
        .map(|c| c.name.clone())
        .unwrap_or_else(|| panic!("{service}: the config volume is no ConfigMap"));
    let file_name = Path::new(&path)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name");
    let mut source = MapSource::new().with_file(&path, config_of(rendered, &config_map, file_name));
    source.env.extend(env);
    load::<T>(service, &CommonArgs::default(), &source)
        .unwrap_or_else(|e| panic!("{service}'s config file: {e}"))
}

/// A `http://NAME:PORT` URI must name a rendered Service with that port, selecting `component`.
fn check_uri(rendered: &Rendered, uri: Option<&str>, component: &str) {
    let uri = uri.unwrap_or_else(|| panic!("no URI for {component}"));
    let (host, port) = uri
        .strip_prefix("https://")
        .and_then(|a| a.split_once(':'))
        .expect("https://NAME:PORT (mutual TLS)");
    let service = rendered
        .services
        .get(host)
        .unwrap_or_else(|| panic!("{uri}: no Service {host}"));
    let spec = service.spec.as_ref().expect("spec");
    assert!(
        spec.ports
            .iter()
            .flatten()
            .any(|p| p.port.to_string() == port),
        "{uri}: Service port"
    );
    assert_eq!(
        spec.selector
            .as_ref()
            .and_then(|s| s.get("app.kubernetes.io/component"))
            .map(String::as_str),
        Some(component),
        "{uri}"
    );
}

/// Every service's file parses with its own types, listens where its pod's ports and
/// Prometheus annotations say, and addresses the others by their Service names.
pub(crate) fn check_service_configs(rendered: &Rendered) {
    let deployment = |s: &str| &rendered.deployments[&format!("hop-{s}")];
    let commons = [
        (
            "ingest",
            load_config::<hop_ingest::config::IngestConfig>(rendered, "ingest").common,
        ),
        ("compute", {
            let loaded = load_config::<hop_compute::config::ComputeConfig>(rendered, "compute");
            check_uri(rendered, loaded.own.ingest.as_deref(), "ingest");
            loaded.common
        }),
        ("validator", {
            let loaded =
                load_config::<hop_validator::config::ValidatorConfig>(rendered, "validator");
            loaded.own.default_tolerance().expect("validator tolerance");
            loaded.common
        }),
        ("legacy", {
            let loaded = load_config::<hop_legacy::config::LegacyConfig>(rendered, "legacy");
            loaded.own.engine().expect("legacy engine settings");
            loaded.common
        }),
        ("router", {
            let loaded = load_config::<hop_router::config::RouterConfig>(rendered, "router");
            let own = &loaded.own;
            own.validate().expect("router settings");
            // The engines through their headless Services: balanced over the replicas.
            for (uri, engine) in [(&own.blue, "legacy"), (&own.green, "compute")] {
                check_uri(rendered, uri.as_deref(), engine);
                let headless = format!("hop-{engine}-headless");
                assert!(
                    uri.as_deref()
                        .is_some_and(|u| u.starts_with(&format!("https://{headless}:"))),
                    "router -> {engine}: {uri:?}"
                );
                let cluster_ip = rendered.services[&headless]
                    .spec
                    .as_ref()
                    .and_then(|s| s.cluster_ip.as_deref());
                assert_eq!(cluster_ip, Some("None"), "{headless} is headless");
            }
            check_uri(rendered, own.validator.as_deref(), "validator");
            let file = own.cutover.file.as_ref().expect("cutover.file");
            assert_eq!(
                file.parent(),
                Some(Path::new(mount_path(deployment("router"), "cutover"))),
                "the cut-over file is in the mounted ConfigMap"
            );
            let subpath = pod(deployment("router")).containers[0]
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.sub_path.is_some());
            assert!(
                !subpath,
                "router: a subPath mount never sees ConfigMap updates"
            );
            assert_eq!(
                own.cutover.admin_token_file, None,
                "the admin token is the tokens folder's admin file"
            );
            loaded.common
        }),
        ("bridge", {
            let loaded = load_config::<hop_bridge::config::BridgeConfig>(rendered, "bridge");
            let (share, router) = loaded.own.required().expect("bridge settings");
            check_uri(rendered, Some(&router), "router");
            assert_eq!(share, Path::new(mount_path(deployment("bridge"), "share")));
            loaded.common
        }),
    ];
    for (service, common) in commons {
        let deployment = deployment(service);
        let container = &pod(deployment).containers[0];
        assert_eq!(
            i32::from(common.listen.port()),
            port(container, "grpc"),
            "{service}: listen"
        );
        assert_eq!(
            i32::from(common.metrics_listen.port()),
            port(container, "metrics"),
            "{service}"
        );
        assert!(
            common.listen.ip().is_unspecified(),
            "{service} must listen on all addresses"
        );
        let annotations = deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .expect("annotations");
        assert_eq!(
            annotations.get("prometheus.io/scrape").map(String::as_str),
            Some("true"),
            "{service}"
        );
        assert_eq!(
            annotations.get("prometheus.io/port"),
            Some(&common.metrics_listen.port().to_string()),
            "{service}"
        );
        assert_eq!(
            common.data_dir,
            Path::new(mount_path(deployment, "data")),
            "{service}: data_dir"
        );
        check_security(service, &common, deployment);
    }
}

/// Every service serves mutual TLS from its mounted Secret, reads the tokens of the callers it
/// accepts from the mounted tokens Secret, sends its own token, and answers probes on the
/// plaintext health port only.
fn check_security(
    service: &str,
    common: &hop_runtime::ServiceConfig,
    deployment: &k8s_openapi::api::apps::v1::Deployment,
) {
    let tls_dir = Path::new(mount_path(deployment, "tls"));
    for (key, file) in [
        ("tls_cert", &common.tls_cert),
        ("tls_key", &common.tls_key),
        ("tls_ca", &common.tls_ca),
    ] {
        let file = file
            .as_ref()
            .unwrap_or_else(|| panic!("{service}: {key} unset"));
        assert_eq!(file.parent(), Some(tls_dir), "{service}: {key}");
    }
    assert!(!common.insecure_plaintext, "{service}: insecure_plaintext");
    let tokens_dir = common
        .tokens_dir
        .as_deref()
        .unwrap_or_else(|| panic!("{service}: tokens_dir unset"));
    assert_eq!(tokens_dir, Path::new(mount_path(deployment, "tokens")));
    let volumes = &pod(deployment).volumes;
    let volume = |name: &str| {
        volumes
            .iter()
            .flatten()
            .find(|v| v.name == name)
            .and_then(|v| v.secret.as_ref())
            .unwrap_or_else(|| panic!("{service}: no Secret volume {name}"))
    };
    let tls = volume("tls");
    assert_eq!(
        tls.secret_name.as_deref(),
        Some(format!("hop-{service}-tls").as_str()),
        "{service}: TLS Secret"
    );
    let files: Vec<&str> = volume("tokens")
        .items
        .iter()
        .flatten()
        .map(|item| item.path.as_str())
        .collect();
    let expected: &[&str] = match service {
        "ingest" => &["service", "client"],
        "validator" => &["service", "admin"],
        "legacy" | "compute" => &["service"],
        "router" => &["bridge", "client", "admin", "service"],
        _ => &["bridge"],
    };
    assert_eq!(files, expected, "{service}: token files mounted");
    let sends = match service {
        "router" | "compute" => Some("service"),
        "bridge" => Some("bridge"),
        _ => None,
    };
    assert_eq!(
        common.token_file.as_deref(),
        sends.map(|kind| tokens_dir.join(kind)).as_deref(),
        "{service}: token_file"
    );
    let health = common
        .health_listen
        .unwrap_or_else(|| panic!("{service}: health_listen unset"));
    let container = &pod(deployment).containers[0];
    assert_eq!(i32::from(health.port()), port(container, "health"));
}

/// Ingest's cache folder, as its pod's config file sets it.
pub(crate) fn ingest_cache_dir(rendered: &Rendered) -> String {
    let loaded = load_config::<hop_ingest::config::IngestConfig>(rendered, "ingest");
    loaded
        .own
        .cache_dir(&loaded.common.data_dir)
        .display()
        .to_string()
}

/// The router's job store settings as its pod reads them: `postgres` and the password file.
pub(crate) fn router_store(rendered: &Rendered) -> (Option<String>, Option<std::path::PathBuf>) {
    let own = load_config::<hop_router::config::RouterConfig>(rendered, "router").own;
    (own.postgres, own.postgres_password_file)
}
