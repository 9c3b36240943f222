//! The conformance suite as data: every case, its bytes, and its expected result.
//!
//! `valid` builds the golden files with the crate's [`amberfile::Writer`] from a source
//! description and derives each expected rendering from that description (not by reading the
//! file back), so the reader is tested against what was written. `invalid` derives every hostile
//! file from a valid one by one documented corruption. This crate turns both into the files of
//! `conformance/`: the case files, `manifest.json` and `README.md`. The `gen-conformance`
//! example writes them or checks them (`-- --check`); `tests/conformance.rs` checks them byte
//! for byte and runs every case through the library.

pub mod expected;
pub mod invalid;
pub mod layout;
pub mod valid;

use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

/// What a reader must do with a case file.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Render it; the rendering must equal this one.
    Accept(Json),
    /// Reject it with this error class.
    Reject(&'static str),
    /// The spec allows either: this rendering, or this error class.
    Either(Json, &'static str),
}

/// A run of zero bytes left out of a stored case file, to be inserted before the case is run.
/// Only the case that needs a metadata section larger than 256 MiB uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeroRun {
    /// Offset in the full file where the zeros start.
    pub offset: u64,
    /// How many zero bytes.
    pub zeros: u64,
}

/// One case of the suite.
#[derive(Debug, Clone)]
pub struct Case {
    /// File name without folder, e.g. `y_dtype_float32.amber`.
    pub name: String,
    pub description: String,
    /// Spec section the case tests, e.g. `"7.1"`.
    pub section: &'static str,
    /// The rule of spec section 9 the case breaks, for rejected cases.
    pub rule: Option<&'static str>,
    pub expect: Expect,
    /// For derived files: the case it was made from, and the change made to it.
    pub derived_from: Option<String>,
    pub corruption: Option<String>,
    pub bytes: Vec<u8>,
    pub zero_run: Option<ZeroRun>,
}

impl Case {
    /// `valid/` for accepted cases, `invalid/` for rejected ones, `either/` for cases the spec
    /// leaves open.
    pub fn folder(&self) -> &'static str {
        match self.expect {
            Expect::Accept(_) => "valid",
            Expect::Reject(_) => "invalid",
            Expect::Either(..) => "either",
        }
    }

    pub fn path(&self) -> String {
        format!("{}/{}", self.folder(), self.name)
    }

    /// The full file a reader is given: the stored bytes with the zero run put back.
    pub fn full_bytes(&self) -> Vec<u8> {
        materialize(&self.bytes, self.zero_run)
    }
}

/// Inserts a left-out zero run into stored bytes.
pub fn materialize(stored: &[u8], zero_run: Option<ZeroRun>) -> Vec<u8> {
    let Some(run) = zero_run else {
        return stored.to_vec();
    };
    let at = run.offset as usize;
    let mut full = Vec::with_capacity(stored.len() + run.zeros as usize);
    full.extend_from_slice(&stored[..at]);
    full.resize(at + run.zeros as usize, 0);
    full.extend_from_slice(&stored[at..]);
    full
}

/// One output file of the generator, relative to `conformance/`.
pub struct OutputFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Every case, valid ones first.
pub fn all_cases() -> Vec<Case> {
    let valid = valid::cases();
    let invalid = invalid::cases(&valid);
    valid.into_iter().chain(invalid).collect()
}

/// Every file the generator owns under `conformance/`, case files, manifest and README.
pub fn output_files() -> Vec<OutputFile> {
    let cases = all_cases();
    let mut files: Vec<OutputFile> = cases
        .iter()
        .map(|case| OutputFile {
            path: case.path(),
            bytes: case.bytes.clone(),
        })
        .collect();
    files.push(OutputFile {
        path: "manifest.json".into(),
        bytes: manifest(&cases).into_bytes(),
    });
    files.push(OutputFile {
        path: "README.md".into(),
        bytes: readme(&cases).into_bytes(),
    });
    files
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `manifest.json`: the header keys, then one case per line (compact, so the file stays small
/// and a change to one case is a one-line diff), in suite order.
pub fn manifest(cases: &[Case]) -> String {
    let header = [
        ("format", json!("amber-conformance-manifest")),
        ("manifest_version", json!(1)),
        ("spec", json!("Amber 1.0 (spec/amber.md)")),
        (
            "protocol",
            json!("CMD render FILE: exit 0 and the canonical JSON rendering (spec section 15) on stdout, or exit 1 and the error class on the first line of stdout"),
        ),
    ];
    let mut text = String::from("{\n");
    for (key, value) in header {
        text.push_str(&format!("  {}: {},\n", json!(key), value));
    }
    text.push_str("  \"cases\": [\n");
    let lines: Vec<String> = cases
        .iter()
        .map(|c| format!("    {}", manifest_entry(c)))
        .collect();
    text.push_str(&lines.join(",\n"));
    text.push_str("\n  ]\n}\n");
    text
}

fn manifest_entry(case: &Case) -> Json {
    let mut entry = serde_json::Map::new();
    entry.insert("file".into(), json!(case.path()));
    entry.insert("description".into(), json!(case.description));
    entry.insert("section".into(), json!(case.section));
    if let Some(rule) = case.rule {
        entry.insert("rule".into(), json!(rule));
    }
    match &case.expect {
        Expect::Accept(rendering) => {
            entry.insert("expect".into(), json!("accept"));
            entry.insert("rendering".into(), rendering.clone());
        }
        Expect::Reject(class) => {
            entry.insert("expect".into(), json!("reject"));
            entry.insert("error".into(), json!(class));
        }
        Expect::Either(rendering, class) => {
            entry.insert("expect".into(), json!("either"));
            entry.insert("rendering".into(), rendering.clone());
            entry.insert("error".into(), json!(class));
        }
    }
    if let Some(base) = &case.derived_from {
        entry.insert("derived_from".into(), json!(base));
    }
    if let Some(corruption) = &case.corruption {
        entry.insert("corruption".into(), json!(corruption));
    }
    if let Some(run) = case.zero_run {
        entry.insert(
            "zero_run".into(),
            json!({"offset": run.offset, "zeros": run.zeros}),
        );
    }
    entry.insert("sha256".into(), json!(sha256_hex(&case.bytes)));
    Json::Object(entry)
}

/// `README.md`: how to run the suite, then a table of every case.
pub fn readme(cases: &[Case]) -> String {
    let count = |folder: &str| cases.iter().filter(|c| c.folder() == folder).count();
    let mut text = README_HEAD
        .replace("{valid}", &count("valid").to_string())
        .replace("{invalid}", &count("invalid").to_string())
        .replace("{either}", &count("either").to_string());
    text.push_str("| File | Section | Rule | Expected | What it exercises |\n|---|---|---|---|---|\n");
    for case in cases {
        let expected = match &case.expect {
            Expect::Accept(_) => "rendering".to_string(),
            Expect::Reject(class) => (*class).to_string(),
            Expect::Either(_, class) => format!("rendering or {class}"),
        };
        let mut what = case.description.clone();
        match (&case.derived_from, &case.corruption) {
            (Some(base), Some(change)) => what.push_str(&format!(" *(from `{base}`: {change})*")),
            (None, Some(how)) => what.push_str(&format!(" *({how})*")),
            _ => {}
        }
        text.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            case.path(),
            case.section,
            case.rule.unwrap_or(""),
            expected,
            what.replace('|', "\\|")
        ));
    }
    text
}

const README_HEAD: &str = r#"# Amber conformance suite

Golden files and hostile files for the Amber 1.0 format (`spec/amber.md`), with the result a
reader must produce for each. You need no Rust to use it: a file format, a JSON manifest and a
Python 3 runner (standard library only).

This file, `manifest.json` and every `.amber` file here are written by the generator
(`cargo run --example gen-conformance`); edit the generator, not these files.

- `valid/` (files: {valid}): a reader MUST render each one exactly as the manifest says.
- `invalid/` (files: {invalid}): each breaks one MUST rule of the spec; a reader MUST reject it
  with the stated error class (spec section 9.1). Rules are applied in the order R1 to R60 of
  section 9, and a reader reports the first one broken, so the class is exact.
- `either/` (files: {either}): the spec lets a reader accept or reject these; both the rendering
  and the error class are given, and either passes.

## Running the suite against an implementation

Provide a command that follows the protocol of spec section 16:

    CMD render FILE

- success: print the canonical JSON rendering of FILE (spec section 15) on standard output and
  exit 0;
- invalid file: print the error class alone on the first line of standard output and exit 1
  (later lines and standard error are free-form).

The command opens FILE with the default limits of spec section 11.2, applies rules R1 to R56,
then reads every array in table order, applying R57 to R60 (R57 to raw arrays too, and every
extent's CRC is checked), and renders.

Then run, from anywhere:

    conformance/run -- CMD [ARGS...]

For the reference implementation:

    cargo build --release -p amber-cli --bin amber
    conformance/run -- target/release/amber

The runner checks each case file's SHA-256 against the manifest (a damaged checkout is reported,
not blamed on the reader), runs `CMD render FILE`, and compares: renderings structurally
(key order and whitespace are irrelevant, integers are compared exactly, spec section 15.5),
errors by class. It prints one line per mismatch and ends with the line `N passed, M failed`;
it exits 0 only if every case passed. `--filter TEXT` runs only the cases whose file name
contains TEXT; `--verbose` prints every case.

## The manifest

`manifest.json` holds `{"format": "amber-conformance-manifest", "manifest_version": 1, "cases":
[...]}`. Each case has:

| Key | Meaning |
|---|---|
| `file` | path relative to this folder |
| `description` | what the case exercises, in one line |
| `section` | the spec section it tests |
| `rule` | for rejected cases, the rule of section 9 it breaks (R1 to R60) |
| `expect` | `accept`, `reject` or `either` |
| `rendering` | for `accept` and `either`: the canonical rendering (section 15) |
| `error` | for `reject` and `either`: the error class (section 9.1) |
| `derived_from`, `corruption` | for derived files: the valid case it was made from and the change made to it. CRCs that are not the point of the case were recomputed after the change, so the stated rule is the first one the file breaks. |
| `zero_run` | `{"offset": o, "zeros": n}`: the stored file leaves out `n` zero bytes at offset `o`; insert them before running the case (one case needs a metadata section over 256 MiB and is stored without its zeros) |
| `sha256` | SHA-256 of the stored file |

## Limits the suite exercises, and how

The suite runs readers with the default limits. Limits on counts (`max_strings`, `max_dtypes`,
`max_arrays`, `max_nodes`) are tested with small files: rule R15 checks the declared count before
R17, R20, R36 or R49 compare it with the bytes that remain, so a header that declares one entry
more than the limit is enough. `max_metadata_bytes` (R12) comes after the bounds check R10, so its
file must really hold a metadata section of 256 MiB + 1 bytes; it is stored without the zero
bytes of its one long string (`zero_run`). `max_decoded_bytes` (R57) is tested with a compressed
array that declares 4 GiB + 1 bytes in five blocks of real zstd frames (four run-length frames of
1 GiB each and a final one-byte block), about 128 KiB on disk.

## Cases

"#;

/// Writes every file under `root`, and removes case files of the suite's folders that no case
/// produces; returns how many it removed.
pub fn write_tree(root: &Path, files: &[OutputFile]) -> std::io::Result<usize> {
    for file in files {
        let path = root.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &file.bytes)?;
    }
    let mut removed = 0;
    for stale in stale_case_files(root, files) {
        std::fs::remove_file(stale)?;
        removed += 1;
    }
    Ok(removed)
}

/// Case files in the suite's folders that no case produces.
pub fn stale_case_files(root: &Path, files: &[OutputFile]) -> Vec<PathBuf> {
    let expected: std::collections::HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut stale = Vec::new();
    for folder in ["valid", "invalid", "either"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let relative = format!("{folder}/{}", entry.file_name().to_string_lossy());
            if !expected.contains(relative.as_str()) {
                stale.push(entry.path());
            }
        }
    }
    stale
}

/// Differences between the tree under `root` and the generator's files: missing, different or
/// stale files, one line each.
pub fn check_tree(root: &Path, files: &[OutputFile]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read(root.join(&file.path)) {
            Ok(bytes) if bytes == file.bytes => {}
            Ok(bytes) => problems.push(format!(
                "{}: differs from the generator ({} bytes on disk, {} generated)",
                file.path,
                bytes.len(),
                file.bytes.len()
            )),
            Err(e) => problems.push(format!("{}: {e}", file.path)),
        }
    }
    for stale in stale_case_files(root, files) {
        problems.push(format!("{}: no case produces this file", stale.display()));
    }
    problems
}
