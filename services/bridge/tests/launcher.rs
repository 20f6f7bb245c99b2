//! The Windows launcher `windows/run_optimizer.bat`: CRLF, no secret, the legacy polling order,
//! and the job file its `echo` lines write — rebuilt here by substituting the variables — is
//! accepted by the bridge's parser and completed by the real bridge.

mod common;

use std::collections::HashMap;

use common::TestShare;
use common::fake_router::FakeRouter;
use hop_bridge::decode::{Decoded, decode};

const LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/windows/run_optimizer.bat");

fn launcher() -> String {
    let bytes = std::fs::read(LAUNCHER).unwrap();
    String::from_utf8(bytes).expect("the launcher is plain text")
}

/// The batch file's lines (without their CRLF).
fn lines(text: &str) -> Vec<&str> {
    text.split("\r\n").collect()
}

/// `%NAME%` replaced from `vars`; panics on a variable the test does not know.
fn substitute(line: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('%')
            .unwrap_or_else(|| panic!("unbalanced % in {line}"));
        let name = &after[..end];
        let value = vars
            .get(name)
            .unwrap_or_else(|| panic!("the test does not know %{name}% in {line}"));
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The bytes the launcher's `echo` lines write to `%JOB_TMP%` (each echo ends with CRLF).
fn job_file_bytes(text: &str, vars: &HashMap<&str, &str>) -> Vec<u8> {
    let mut out = String::new();
    for line in lines(text) {
        let line = line.trim_start();
        let Some(rest) = line
            .strip_prefix(">>\"%JOB_TMP%\" echo ")
            .or_else(|| line.strip_prefix(">\"%JOB_TMP%\" echo "))
        else {
            continue;
        };
        out.push_str(&substitute(rest, vars));
        out.push_str("\r\n");
    }
    assert!(
        !out.is_empty(),
        "the launcher writes the job file with echo lines"
    );
    out.into_bytes()
}

/// The value the launcher gives `name` with `set "NAME=value"`, variables substituted.
fn set_value(text: &str, name: &str, vars: &HashMap<&str, &str>) -> String {
    let prefix = format!("set \"{name}=");
    let line = lines(text)
        .into_iter()
        .map(str::trim_start)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}"));
    substitute(line[prefix.len()..].trim_end_matches('"'), vars)
}

#[test]
fn crlf_no_secret_and_the_legacy_polling() {
    let text = launcher();
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "every line ends with CRLF"
    );
    for line in lines(&text) {
        let lower = line.to_ascii_lowercase();
        for forbidden in ["pass", "/user", "savecred", "/u:", "cmdkey"] {
            assert!(!lower.contains(forbidden), "{forbidden:?} in: {line}");
        }
        if !lower.trim_start().starts_with("rem") && lower.contains("net use") {
            // Only the share and a flag: Windows uses the analyst's own logon.
            let args = &lower[lower.find("net use").unwrap() + "net use".len()..];
            assert_eq!(
                args.split_whitespace().collect::<Vec<_>>(),
                ["\"%share%\"", "/persistent:no"],
                "{line}"
            );
        }
    }
    assert!(text.contains("set \"SHARE=\\\\server\\optimizer_share\""));
    assert!(text.contains("set \"POLL_SECONDS=3\""));
    assert!(text.contains("set \"TIMEOUT_MINUTES=15\""));
    let wait = &text[text.find(":wait").unwrap()..];
    let at = |needle: &str| wait.find(needle).unwrap_or_else(|| panic!("{needle}"));
    assert!(at("jobs\\completed\\%JOB_ID%.json") < at("jobs\\failed\\%JOB_ID%.json"));
    assert!(at("jobs\\failed\\%JOB_ID%.json") < at("jobs\\processing\\%JOB_ID%.json"));
    // Written under a name the bridge ignores, then renamed.
    assert!(text.contains("set \"JOB_TMP=jobs\\queue\\%JOB_ID%.tmp\""));
    assert!(text.contains("ren \"%JOB_TMP%\" \"%JOB_ID%.json\""));
}

#[test]
fn the_launchers_job_file_is_accepted_and_completed() {
    let text = launcher();
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("RANDOM", "12345"),
        ("STAMP", "20250730_154500"),
        ("CSV_NAME", "data.csv"),
        ("SIZE", "10"),
        ("DATE", "Wed 07/30/2025"),
        ("TIME", " 9:05:00.12"),
        ("COMPUTERNAME", "DESKTOP-1"),
        ("USERNAME", "analyst"),
        ("DRIVE", "Z:"),
    ]);
    let job_id = set_value(&text, "JOB_ID", &vars);
    assert_eq!(job_id, "job_1234512345_20250730_154500");
    vars.insert("JOB_ID", &job_id);
    let bytes = job_file_bytes(&text, &vars);
    let name = format!("{job_id}.json");

    let Decoded::Object(fields) = decode(&bytes) else {
        panic!("not a JSON object:\n{}", String::from_utf8_lossy(&bytes))
    };
    let job = hop_bridge::job_file::parse(&name, &fields).unwrap();
    assert_eq!(job.job_id, job_id);
    assert_eq!(job.input_file, "data.csv");
    assert_eq!(job.options, hop_core::JobOptions::with_size(10));
    assert_eq!(job.labels["timestamp"], "Wed 07/30/2025  9:05:00.12");
    assert_eq!(job.labels["client_info.drive_letter"], "Z:");

    // The real bridge completes it (the launcher's job runs every algorithm at its default budget).
    let share = TestShare::new();
    let router = FakeRouter::start();
    let _bridge = share.bridge(&router.uri(), &[]);
    share.queue(&format!("{job_id}.tmp"), &bytes);
    std::fs::rename(
        share.path("jobs/queue").join(format!("{job_id}.tmp")),
        share.path("jobs/queue").join(&name),
    )
    .unwrap();
    let done = share.wait_for("completed", &name);
    let output_dir = done["output_dir"].as_str().unwrap();
    assert!(share.root().join(output_dir.replace('\\', "/")).is_dir());
}
