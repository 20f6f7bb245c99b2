//! The rendered manifests parsed into k8s-openapi types, and lookups into them.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, PersistentVolumeClaim, PodSpec, Secret, Service,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The rendered objects by name; any kind the chart is not expected to produce fails.
#[derive(Default)]
pub(crate) struct Rendered {
    pub(crate) deployments: BTreeMap<String, Deployment>,
    pub(crate) services: BTreeMap<String, Service>,
    pub(crate) config_maps: BTreeMap<String, ConfigMap>,
    pub(crate) secrets: BTreeMap<String, Secret>,
    pub(crate) pdbs: BTreeMap<String, PodDisruptionBudget>,
    pub(crate) claims: BTreeMap<String, PersistentVolumeClaim>,
    pub(crate) network_policies: BTreeMap<String, NetworkPolicy>,
    /// cert-manager Certificates (no k8s-openapi type): their JSON.
    pub(crate) certificates: BTreeMap<String, Value>,
}

pub(crate) fn insert<T: DeserializeOwned>(
    map: &mut BTreeMap<String, T>,
    name: String,
    value: Value,
) {
    let object = serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(map.insert(name.clone(), object).is_none(), "{name} twice");
}

pub(crate) fn parse(manifest: &Path) -> Rendered {
    let text = std::fs::read_to_string(manifest).expect("manifest");
    let mut out = Rendered::default();
    for document in serde_norway::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(document).expect("YAML document");
        if value.is_null() {
            continue;
        }
        let name = value["metadata"]["name"]
            .as_str()
            .expect("a name")
            .to_owned();
        match value["kind"].as_str().expect("a kind") {
            "Deployment" => insert(&mut out.deployments, name, value),
            "Service" => insert(&mut out.services, name, value),
            "ConfigMap" => insert(&mut out.config_maps, name, value),
            "Secret" => insert(&mut out.secrets, name, value),
            "PodDisruptionBudget" => insert(&mut out.pdbs, name, value),
            "PersistentVolumeClaim" => insert(&mut out.claims, name, value),
            "NetworkPolicy" => insert(&mut out.network_policies, name, value),
            "Certificate" => insert(&mut out.certificates, name, value),
            other => panic!("{manifest:?}: unexpected kind {other} ({name})"),
        }
    }
    out
}

pub(crate) fn pod(deployment: &Deployment) -> &PodSpec {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("a pod spec")
}

pub(crate) fn pod_labels(deployment: &Deployment) -> &BTreeMap<String, String> {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
        .expect("pod labels")
}

pub(crate) fn selects(
    selector: Option<&BTreeMap<String, String>>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

pub(crate) fn port(container: &Container, name: &str) -> i32 {
    container
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{}: no port {name}", container.name))
        .container_port
}

pub(crate) fn config_of(rendered: &Rendered, name: &str, key: &str) -> String {
    rendered
        .config_maps
        .get(name)
        .and_then(|c| c.data.as_ref())
        .and_then(|d| d.get(key))
        .unwrap_or_else(|| panic!("ConfigMap {name} has no {key}"))
        .clone()
}

pub(crate) fn mount_path<'a>(deployment: &'a Deployment, volume: &str) -> &'a str {
    pod(deployment).containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume)
        .map(|m| m.mount_path.as_str())
        .unwrap_or_else(|| panic!("no mount of volume {volume}"))
}

/// The pods that mount the share's claim, by component, with read-only flags.
pub(crate) fn share_mounts(rendered: &Rendered, claim: &str) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for (name, deployment) in &rendered.deployments {
        for volume in pod(deployment).volumes.iter().flatten() {
            if let Some(pvc) = volume
                .persistent_volume_claim
                .as_ref()
                .filter(|p| p.claim_name == claim)
            {
                out.insert(name.clone(), pvc.read_only == Some(true));
            }
        }
    }
    out
}
