//! Job file bytes -> a JSON object, as leniently as legacy Windows writers need.
//!
//! - **Text**: UTF-8 with or without a byte-order mark; UTF-16 with a byte-order mark (what
//!   PowerShell 5's `>` writes); invalid UTF-8 (an OEM code page from `cmd`'s `echo`) is read with
//!   U+FFFD for the bad bytes, so the job still runs. CRLF and blank lines are plain JSON
//!   whitespace.
//! - **Raw backslashes**: a batch file that echoes `"input_file": "Z:\input\x.csv"` writes invalid
//!   JSON (`\i` is no escape). When the strict parse fails, the text is parsed once more reading
//!   every backslash inside a string literally (except before a quote); if that succeeds, it is
//!   the file's meaning.
//! - **Completeness**: only a JSON *object* counts as a complete file. A writer that is still
//!   writing has produced a prefix of its object, and no proper prefix of an object is valid JSON;
//!   a writer that goes on appending after the closing brace would make the file invalid JSON
//!   anyway. Everything else (empty, truncated, a bare number, zero-filled) may still be in
//!   progress, so it is only refused after it has stayed unchanged for the `settle` time.

use serde_json::{Map, Value};

/// What a job file's bytes hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A JSON object: the file is complete. The keys keep the file's order.
    Object(Map<String, Value>),
    /// Not (or not yet) a JSON object; says why, as the end of a sentence ("it is empty").
    NotAnObject(String),
}

/// Reads `bytes` as a job file (see the module docs).
pub fn decode(bytes: &[u8]) -> Decoded {
    let text = text_of(bytes);
    if text.trim().is_empty() {
        return Decoded::NotAnObject("it is empty".into());
    }
    let strict = serde_json::from_str::<Value>(&text);
    let value = match strict {
        Ok(value) => value,
        Err(strict_error) => match serde_json::from_str::<Value>(&literal_backslashes(&text)) {
            Ok(value) => value,
            Err(_) => {
                return Decoded::NotAnObject(format!(
                    "it is not valid JSON (line {}, column {}: {})",
                    strict_error.line(),
                    strict_error.column(),
                    error_reason(&strict_error)
                ));
            }
        },
    };
    match value {
        Value::Object(map) => Decoded::Object(map),
        other => Decoded::NotAnObject(format!(
            "it holds {}, not one JSON object {{...}}",
            kind(&other)
        )),
    }
}

/// The bytes as text: BOMs removed, UTF-16 decoded, invalid UTF-8 replaced by U+FFFD.
pub fn text_of(bytes: &[u8]) -> String {
    let utf16 = |rest: &[u8], read: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|pair| read([pair[0], *pair.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// `text` with every backslash inside a string literal doubled, except an escaped quote.
fn literal_backslashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => {
                if chars.peek() == Some(&'"') {
                    out.push('\\');
                    out.extend(chars.next());
                    continue;
                }
                out.push('\\');
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// serde_json's message without its own " at line L column C" suffix.
fn error_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// "a number", "a list", ... for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(bytes: &[u8]) -> Map<String, Value> {
        match decode(bytes) {
            Decoded::Object(map) => map,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn bom_crlf_and_utf16_are_read() {
        let map = object(b"\xEF\xBB\xBF{\r\n\"job_id\": \"a\",\r\n\"n\": 1\r\n}\r\n");
        assert_eq!(map["job_id"], "a");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "{\"job_id\": \"b\"}"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(object(&utf16)["job_id"], "b");
        // A cp850 "é" from cmd's echo: not UTF-8, still read.
        assert_eq!(object(b"{\"user\": \"Jos\x82\"}")["user"], "Jos\u{FFFD}");
    }

    #[test]
    fn keys_keep_the_file_order() {
        let map = object(br#"{"z": 1, "a": 2, "m": {"y": 1, "b": 2}}"#);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
        let inner = map["m"].as_object().unwrap();
        assert_eq!(inner.keys().collect::<Vec<_>>(), ["y", "b"]);
    }

    #[test]
    fn raw_windows_backslashes_are_read_literally() {
        let map = object(br#"{"input_file": "Z:\input\new.csv", "q": "say \"hi\""}"#);
        assert_eq!(map["input_file"], r"Z:\input\new.csv");
        assert_eq!(map["q"], "say \"hi\"");
        let map = object(br#"{"input_file": "\\server\optimizer_share\input\x.csv"}"#);
        assert_eq!(map["input_file"], r"\\server\optimizer_share\input\x.csv");
        // Proper JSON escapes are read as JSON.
        let map = object(br#"{"input_file": "\\\\server\\share\\input\\x.csv"}"#);
        assert_eq!(map["input_file"], r"\\server\share\input\x.csv");
    }

    #[test]
    fn incomplete_files_are_not_objects() {
        for (bytes, why) in [
            (&b""[..], "it is empty"),
            (b"  \r\n", "it is empty"),
            (b"{\"job_id\": \"a\",\r\n", "not valid JSON (line 2"),
            (b"{\"a\": 1}\0\0\0", "not valid JSON"),
            (b"{\"a\": 1}\r\nx", "not valid JSON"),
            (b"35", "it holds a number"),
            (b"[1]", "it holds a list"),
        ] {
            match decode(bytes) {
                Decoded::NotAnObject(reason) => assert!(reason.contains(why), "{reason}"),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }
}
