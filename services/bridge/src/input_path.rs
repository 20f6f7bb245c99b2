//! A job file's `input_file` -> the CSV under the share's `input/`, or a refusal.
//!
//! Accepted spellings (SPEC 3): a bare name (`x.csv`), a mapped drive (`Z:\input\x.csv`, any drive
//! letter, `input` in any case, `/` or `\`) and a UNC path under a configured prefix
//! (`\\server\optimizer_share\input\x.csv`, compared case-insensitively). The name must be one
//! path component. Whatever the spelling, the file must exist and its canonical path (symlinks
//! resolved) must lie under the canonical `<share>/input`, so nothing outside the share is read.

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::BridgeError;
use crate::share::Share;

/// The CSV a job names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputCsv {
    /// The file name as written (`x.csv`): the run folder's "input file".
    pub name: String,
    /// The path below the canonical `<share>/input` (`/`-separated), for the engines' `csv_path`.
    pub relative: String,
    /// The canonical local path.
    pub local: PathBuf,
}

/// Resolves `input_file` against `share` (see the module docs); `unc_prefixes` are the UNC roots
/// that mean this share.
pub fn resolve(
    input_file: &str,
    share: &Share,
    unc_prefixes: &[String],
) -> Result<InputCsv, BridgeError> {
    let written = restore_escapes(input_file);
    let unc_root = unc_prefixes
        .first()
        .map_or(crate::config::DEFAULT_UNC_PREFIX, String::as_str);
    let name = bare_name(&written, unc_prefixes, unc_root)?;
    let path = share.input.join(&name);
    let not_found = || {
        BridgeError::Refused(format!(
            "input_file \"{written}\" was not found in the share's input folder: copy the CSV to \
             {unc_root}\\input and submit the job again."
        ))
    };
    let canonical = match path.canonicalize() {
        Ok(canonical) => canonical,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(BridgeError::share("read", &path, e)),
    };
    let Ok(relative) = canonical.strip_prefix(&share.input) else {
        return Err(BridgeError::Refused(format!(
            "input_file \"{written}\" is a link that leads outside the share's input folder: copy \
             the CSV itself to {unc_root}\\input and submit the job again."
        )));
    };
    let relative: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match fs::metadata(&canonical) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(BridgeError::Refused(format!(
                "input_file \"{written}\" is a folder, not a CSV file: name a CSV file in \
                 {unc_root}\\input."
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(BridgeError::share("read", &canonical, e)),
    }
    Ok(InputCsv {
        name,
        relative: relative.join("/"),
        local: canonical,
    })
}

/// The one file name below `input\` that `written` means, or a refusal naming the value.
fn bare_name(
    written: &str,
    unc_prefixes: &[String],
    unc_root: &str,
) -> Result<String, BridgeError> {
    let refuse = |why: &str| {
        BridgeError::Refused(format!(
            "input_file \"{written}\" {why}: write the CSV's name (for example \
             Python_Multi_Consolidated_20250726_161921.csv), Z:\\input\\<name> or \
             {unc_root}\\input\\<name>, and copy the CSV to {unc_root}\\input first."
        ))
    };
    let path = written.trim().replace('/', "\\");
    let lower = path.to_ascii_lowercase();
    let candidate = if lower.starts_with(r"\\") {
        let prefix = unc_prefixes.iter().find_map(|p| {
            let p = p.trim_end_matches('\\').to_ascii_lowercase();
            let below = format!("{p}\\input\\");
            lower.starts_with(&below).then_some(below.len())
        });
        match prefix {
            Some(len) => &path[len..],
            None => {
                let host_share: Vec<&str> = path[2..].splitn(3, '\\').take(2).collect();
                let other = host_share.join("\\");
                return Err(refuse(&format!(
                    "is on another share (\\\\{other}), not in {unc_root}\\input"
                )));
            }
        }
    } else if is_drive_path(&path) {
        match lower.get(2..).and_then(|p| p.strip_prefix(r"\input\")) {
            Some(_) => &path[r"Z:\input\".len()..],
            None => return Err(refuse("is not in the input folder of the share's drive")),
        }
    } else if path.starts_with('\\') {
        return Err(refuse(
            "is an absolute path outside the share's input folder",
        ));
    } else {
        &path
    };
    let parts: Vec<&str> = candidate.split('\\').collect();
    if parts.contains(&"..") {
        return Err(refuse("leaves the share's input folder"));
    }
    match parts.as_slice() {
        [name] if !name.is_empty() && *name != "." && !name.chars().any(char::is_control) => {
            if name.contains(':') {
                Err(refuse("is not a plain file name"))
            } else {
                Ok((*name).to_owned())
            }
        }
        [""] | [] => Err(refuse("names no file")),
        _ => Err(refuse(
            "is in a sub-folder; only files directly in the input folder are used",
        )),
    }
}

/// `X:\...` (or `X:/...` after normalisation).
fn is_drive_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'\\'
}

/// A Windows path that a writer put in JSON without doubling its backslashes but that was still
/// valid JSON (`"Z:\new\table.csv"` reads `\n` and `\t` as control characters): the escapes are
/// turned back into the backslash and letter that were meant. No file name holds these characters.
fn restore_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{8}' => out.push_str(r"\b"),
            '\u{c}' => out.push_str(r"\f"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share() -> (tempfile::TempDir, Share) {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::open(dir.path()).unwrap();
        fs::write(share.input.join("x.csv"), "Date,Day,A\n").unwrap();
        (dir, share)
    }

    fn prefixes() -> Vec<String> {
        vec![r"\\server\optimizer_share".into(), r"\\srv2\Opt".into()]
    }

    fn refused(input: &str, share: &Share) -> String {
        match resolve(input, share, &prefixes()) {
            Err(BridgeError::Refused(m)) => m,
            other => panic!("{input}: {other:?}"),
        }
    }

    #[test]
    fn accepted_spellings() {
        let (_dir, share) = share();
        for input in [
            "x.csv",
            r"Z:\input\x.csv",
            r"l:\INPUT\x.csv",
            "Z:/input/x.csv",
            r"\\server\optimizer_share\input\x.csv",
            r"\\SERVER\Optimizer_Share\Input\x.csv",
            r"\\srv2\opt\input\x.csv",
            "//server/optimizer_share/input/x.csv",
            "Z:\\input\\x.csv",
        ] {
            let csv =
                resolve(input, &share, &prefixes()).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(csv.name, "x.csv");
            assert_eq!(csv.relative, "x.csv");
            assert_eq!(csv.local, share.input.join("x.csv"));
        }
        // `\n` and `\t` read by JSON as control characters still mean the backslash paths.
        fs::write(share.input.join("new.csv"), "").unwrap();
        assert_eq!(
            resolve("Z:\\input\new.csv", &share, &prefixes())
                .unwrap()
                .name,
            "new.csv"
        );
    }

    #[test]
    fn refusals_name_the_value() {
        let (dir, share) = share();
        let cases = [
            ("../secret.csv", "leaves the share's input folder"),
            (r"..\secret.csv", "leaves the share's input folder"),
            ("/etc/passwd", "absolute path outside"),
            (
                r"\\evil\share\input\x.csv",
                r"is on another share (\\evil\share)",
            ),
            (r"Z:\other\x.csv", "not in the input folder"),
            (r"Z:\input\sub\x.csv", "sub-folder"),
            ("sub/x.csv", "sub-folder"),
            ("", "names no file"),
            ("C:x.csv", "not a plain file name"),
            ("missing.csv", "was not found in the share's input folder"),
        ];
        for (input, why) in cases {
            let message = refused(input, &share);
            assert!(message.contains(why), "{input}: {message}");
            assert!(message.contains(&format!("\"{input}\"")), "{message}");
        }
        // A symlink in input/ that escapes it.
        fs::write(dir.path().join("outside.csv"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.csv"), share.input.join("link.csv"))
            .unwrap();
        assert!(refused("link.csv", &share).contains("leads outside the share's input folder"));
        // A folder is not a CSV.
        fs::create_dir(share.input.join("dir.csv")).unwrap();
        assert!(refused("dir.csv", &share).contains("is a folder"));
    }
}
