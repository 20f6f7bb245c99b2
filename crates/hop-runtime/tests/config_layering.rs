//! Configuration layering: defaults < file < env < flags, with an injected source.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hop_runtime::config::{self, CommonArgs, Layer, LogFormat, MapSource, NoOwnConfig};
use hop_runtime::{RuntimeError, ServiceConfig};
use serde::Deserialize;

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct IngestOwn {
    workers: u32,
    cache_dir: String,
    flight: Flight,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Flight {
    listen: Option<SocketAddr>,
}

const FILE: &str = r#"
[common]
log_filter = "debug"
shutdown_grace = "3s"
max_connection_age = "2m"
data_dir = "/var/hop"

[ingest]
listen = "127.0.0.1:7000"
metrics_listen = "127.0.0.1:7001"
workers = 2
cache_dir = "from-file"
flight.listen = "127.0.0.1:7002"

[router]
listen = "not even an address"
"#;

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn source() -> MapSource {
    MapSource::new().with_file("/etc/hop.toml", FILE)
}

fn args_with_config() -> CommonArgs {
    CommonArgs {
        config: Some(PathBuf::from("/etc/hop.toml")),
        ..CommonArgs::default()
    }
}

#[test]
fn defaults_only() {
    let loaded =
        config::load::<NoOwnConfig>("ingest", &CommonArgs::default(), &MapSource::new()).unwrap();
    assert_eq!(loaded.common, ServiceConfig::default());
    assert_eq!(loaded.common.listen, addr("127.0.0.1:0"));
    assert_eq!(loaded.file, None);
}

#[test]
fn file_overrides_defaults_and_service_section_overrides_common() {
    let loaded = config::load::<IngestOwn>("ingest", &args_with_config(), &source()).unwrap();
    assert_eq!(loaded.common.listen, addr("127.0.0.1:7000"));
    assert_eq!(loaded.common.log_filter, "debug");
    assert_eq!(loaded.common.shutdown_grace, Duration::from_secs(3));
    assert_eq!(loaded.common.max_connection_age, Duration::from_secs(120));
    assert_eq!(loaded.common.data_dir, PathBuf::from("/var/hop"));
    assert_eq!(loaded.common.log_format, LogFormat::Text); // default kept
    assert_eq!(loaded.own.workers, 2);
    assert_eq!(loaded.own.flight.listen, Some(addr("127.0.0.1:7002")));
    assert_eq!(loaded.file, Some(PathBuf::from("/etc/hop.toml")));
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let source = MapSource::new()
        .with_file("/etc/hop.toml", FILE)
        .with_env("HOP_CONFIG", "/etc/hop.toml") // file found through the env
        .with_env("HOP_INGEST_LISTEN", "127.0.0.1:8000")
        .with_env("HOP_INGEST_METRICS_LISTEN", "127.0.0.1:8001")
        .with_env("HOP_INGEST_WORKERS", "4")
        .with_env("HOP_INGEST_CACHE_DIR", "1234") // looks like a number, is a string field
        .with_env("HOP_INGEST_LOG_FORMAT", "json")
        .with_env("HOP_INGEST_FLIGHT__LISTEN", "127.0.0.1:8002")
        .with_env("HOP_ROUTER_WORKERS", "not for ingest");
    let args = CommonArgs {
        listen: Some("127.0.0.1:9000".into()),
        set: vec!["workers=8".into()],
        ..CommonArgs::default()
    };
    let loaded = config::load::<IngestOwn>("ingest", &args, &source).unwrap();
    assert_eq!(loaded.common.listen, addr("127.0.0.1:9000")); // flag > env > file
    assert_eq!(loaded.common.metrics_listen, addr("127.0.0.1:8001")); // env > file
    assert_eq!(loaded.common.log_filter, "debug"); // file > default
    assert_eq!(loaded.common.log_format, LogFormat::Json);
    assert_eq!(loaded.own.workers, 8); // --set > env
    assert_eq!(loaded.own.cache_dir, "1234");
    assert_eq!(loaded.own.flight.listen, Some(addr("127.0.0.1:8002")));
}

#[test]
fn service_defaults_sit_under_every_layer() {
    let defaults = ServiceConfig {
        listen: addr("127.0.0.1:50051"),
        ..ServiceConfig::default()
    };
    let source = MapSource::new().with_env("HOP_ROUTER_SHUTDOWN_GRACE", "250ms");
    let loaded = config::load_with_defaults::<NoOwnConfig>(
        "router",
        defaults,
        &CommonArgs::default(),
        &source,
    )
    .unwrap();
    assert_eq!(loaded.common.listen, addr("127.0.0.1:50051"));
    assert_eq!(loaded.common.shutdown_grace, Duration::from_millis(250));
}

fn expect_invalid(result: Result<impl std::fmt::Debug, RuntimeError>) -> (String, Layer, String) {
    let err = result.unwrap_err();
    assert_eq!(err.code(), "CONFIG_INVALID", "{err}");
    let text = err.to_string();
    match err {
        RuntimeError::ConfigInvalid { key, layer, .. } => (key, layer, text),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bad_env_value_names_key_and_variable() {
    let source = source().with_env("HOP_INGEST_LISTEN", "localhost:eighty");
    let (key, layer, text) = expect_invalid(config::load::<IngestOwn>(
        "ingest",
        &args_with_config(),
        &source,
    ));
    assert_eq!(key, "listen");
    assert_eq!(layer, Layer::Env("HOP_INGEST_LISTEN".into()));
    assert!(
        text.contains("`listen`") && text.contains("environment variable HOP_INGEST_LISTEN"),
        "{text}"
    );
}

#[test]
fn bad_file_value_names_the_file() {
    let file = "[ingest]\nworkers = -3\n";
    let source = MapSource::new().with_file("/etc/hop.toml", file);
    let (key, layer, text) = expect_invalid(config::load::<IngestOwn>(
        "ingest",
        &args_with_config(),
        &source,
    ));
    assert_eq!(key, "workers");
    assert_eq!(layer, Layer::File("/etc/hop.toml".into()));
    assert!(text.contains("config file /etc/hop.toml"), "{text}");
}

#[test]
fn bad_flag_and_unknown_key_are_reported() {
    let args = CommonArgs {
        shutdown_grace: Some("soon".into()),
        ..CommonArgs::default()
    };
    let (key, layer, _) = expect_invalid(config::load::<NoOwnConfig>(
        "ingest",
        &args,
        &MapSource::new(),
    ));
    assert_eq!(
        (key.as_str(), layer),
        ("shutdown_grace", Layer::Flag("--shutdown-grace".into()))
    );

    let source = MapSource::new().with_env("HOP_INGEST_LISTNE", "127.0.0.1:1");
    let (key, _, text) = expect_invalid(config::load::<NoOwnConfig>(
        "ingest",
        &CommonArgs::default(),
        &source,
    ));
    assert_eq!(key, "listne");
    assert!(text.contains("unknown field"), "{text}");
}

#[test]
fn unreadable_or_malformed_file() {
    let err =
        config::load::<NoOwnConfig>("ingest", &args_with_config(), &MapSource::new()).unwrap_err();
    assert_eq!(err.code(), "CONFIG_FILE_UNUSABLE");
    let source = MapSource::new().with_file("/etc/hop.toml", "listen = \"127.0.0.1:1\"\n");
    let err = config::load::<NoOwnConfig>("ingest", &args_with_config(), &source).unwrap_err();
    assert!(err.to_string().contains("[common] or [ingest]"), "{err}");
}

#[test]
fn real_file_through_os_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hop.toml");
    std::fs::write(&path, "[validator]\nlog_filter = \"warn\"\n").unwrap();
    let args = CommonArgs {
        config: Some(path),
        ..CommonArgs::default()
    };
    let loaded = config::load::<NoOwnConfig>("validator", &args, &config::OsSource).unwrap();
    assert_eq!(loaded.common.log_filter, "warn");
}
