//! Merging the layers into one table, value by value, so that the first value a field rejects
//! is reported with its key and layer.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::{CommonArgs, ConfigSource, Layer, LoadedConfig, ServiceConfig};
use crate::RuntimeError;

/// One value from one layer. Text (env, flags) is tried as a TOML value first, then as a string.
enum Raw {
    Toml(Value),
    Text(String),
}

struct Entry {
    path: Vec<String>,
    raw: Raw,
    layer: Layer,
}

pub(super) fn load<T: DeserializeOwned + Default>(
    service: &str,
    defaults: ServiceConfig,
    args: &CommonArgs,
    source: &dyn ConfigSource,
) -> Result<LoadedConfig<T>, RuntimeError> {
    let file = args
        .config
        .clone()
        .or_else(|| source.env("HOP_CONFIG").map(PathBuf::from));
    let mut entries = Vec::new();
    if let Some(path) = &file {
        entries.extend(file_entries(service, path, source)?);
    }
    entries.extend(env_entries(service, source));
    entries.extend(args.entries().into_iter().map(|(key, value, layer)| Entry {
        path: key.split('.').map(str::to_owned).collect(),
        raw: Raw::Text(value),
        layer,
    }));

    let mut common = Table::try_from(&defaults).map_err(|e| invalid("*", Layer::Default, e))?;
    let mut own = Table::new();
    for entry in entries {
        let key = entry.path.join(".");
        if entry.path.iter().any(String::is_empty) {
            return Err(invalid(&key, entry.layer, "empty key"));
        }
        let is_common = ServiceConfig::KEYS.contains(&entry.path[0].as_str());
        let table = if is_common { &mut common } else { &mut own };
        let candidates = match entry.raw {
            Raw::Toml(value) => vec![value],
            Raw::Text(text) => typed(&text)
                .into_iter()
                .chain([Value::String(text)])
                .collect(),
        };
        let mut first_error = None;
        for candidate in candidates {
            let before = table.clone();
            if let Err(e) = insert(table, &entry.path, candidate) {
                return Err(invalid(&key, entry.layer, e));
            }
            let check = if is_common {
                decode::<ServiceConfig>(table).map(drop)
            } else {
                decode::<T>(table).map(drop)
            };
            match check {
                Ok(()) => {
                    first_error = None;
                    break;
                }
                Err(e) => {
                    *table = before;
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(message) = first_error {
            return Err(invalid(&key, entry.layer, message));
        }
    }
    let own = if own.is_empty() {
        T::default()
    } else {
        decode(&own).map_err(|e| invalid("*", Layer::Default, e))?
    };
    Ok(LoadedConfig {
        common: decode(&common).map_err(|e| invalid("*", Layer::Default, e))?,
        own,
        file,
    })
}

fn invalid(key: &str, layer: Layer, message: impl ToString) -> RuntimeError {
    RuntimeError::ConfigInvalid {
        key: key.to_owned(),
        layer,
        message: message.to_string().trim().to_owned(),
    }
}

fn decode<T: DeserializeOwned>(table: &Table) -> Result<T, String> {
    Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_owned())
}

/// `text` read as a TOML value (`4`, `true`, `1.5`, `["a"]`), if it is one.
fn typed(text: &str) -> Option<Value> {
    let mut table: Table = toml::from_str(&format!("v = {text}")).ok()?;
    if table.len() != 1 {
        return None;
    }
    table.remove("v")
}

fn insert(table: &mut Table, path: &[String], value: Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("non-empty key path");
    let mut current = table;
    for part in parents {
        let slot = current
            .entry(part.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = match slot {
            Value::Table(inner) => inner,
            _ => return Err(format!("`{part}` is a value, not a table")),
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}

fn file_entries(
    service: &str,
    path: &Path,
    source: &dyn ConfigSource,
) -> Result<Vec<Entry>, RuntimeError> {
    let file_error = |message: String| RuntimeError::ConfigFile {
        path: path.to_path_buf(),
        message,
    };
    let text = source
        .read_file(path)
        .map_err(|e| file_error(e.to_string()))?;
    let mut doc: Table = toml::from_str(&text).map_err(|e| file_error(e.to_string()))?;
    if let Some((key, _)) = doc.iter().find(|(_, v)| !v.is_table()) {
        return Err(file_error(format!(
            "top-level key `{key}`: put settings under [common] or [{service}]"
        )));
    }
    let mut out = Vec::new();
    for section in ["common", service] {
        if let Some(Value::Table(table)) = doc.remove(section) {
            flatten(&mut Vec::new(), table, &mut |key_path, value| {
                out.push(Entry {
                    path: key_path,
                    raw: Raw::Toml(value),
                    layer: Layer::File(path.to_path_buf()),
                });
            });
        }
    }
    Ok(out)
}

/// Calls `emit` with the dotted path of every non-table value.
fn flatten(prefix: &mut Vec<String>, table: Table, emit: &mut dyn FnMut(Vec<String>, Value)) {
    for (key, value) in table {
        prefix.push(key);
        match value {
            Value::Table(inner) => flatten(prefix, inner, emit),
            other => emit(prefix.clone(), other),
        }
        prefix.pop();
    }
}

/// `HOP_<SERVICE>_<KEY>` variables, sorted by name; `__` in the key nests.
fn env_entries(service: &str, source: &dyn ConfigSource) -> Vec<Entry> {
    let prefix = format!("HOP_{}_", service.to_ascii_uppercase().replace('-', "_"));
    let mut vars: Vec<_> = source
        .env_vars()
        .into_iter()
        .filter(|(name, _)| name.starts_with(&prefix) && name.len() > prefix.len())
        .collect();
    vars.sort();
    vars.into_iter()
        .map(|(name, value)| Entry {
            path: name[prefix.len()..]
                .to_ascii_lowercase()
                .split("__")
                .map(str::to_owned)
                .collect(),
            raw: Raw::Text(value),
            layer: Layer::Env(name),
        })
        .collect()
}
