//! Issue 13, item 3b: bad input, fuzzed. Valid Parquet, CSV and JSON-lines files
//! are truncated, bit-flipped, overwritten, swapped for another format or paired
//! with a suite that does not fit their schema, then validated. Whatever the
//! damage, no panic escapes a run; it either still accepts the file (a flip
//! inside a value that still decodes) with exit code 0 or 1, or rejects it with
//! exit code 2 and a message naming the file, having published nothing. A panic
//! inside a library that the run catches and reports as bad input is counted
//! and listed ("contained"), not failed.
//!
//! Deterministic: case `seed` always builds the same file and suite, and every
//! failure names its seed, format and kind. The cases run in process through the
//! library (fast); a handful are replayed through the `ade-validate` binary.

// Test code panics on failure (see clippy.toml).
#![allow(clippy::unwrap_used)]

mod support;

use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use ade_api::v1alpha1::{DatasetFormat, ValidationSuiteSpec};
use ade_validator::engine::EngineOptions;
use ade_validator::run::{self, RunConfig};
use ade_validator::store::StoreConfig;
use arrow::array::RecordBatch;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};
use support::{ade_validate, files_under, orders_batch, write_csv, write_json};

/// Cases the in-process test tries (seeds `0..CASES`, then [`REGRESSIONS`]):
/// 60 of each kind, 20 of each kind and format. `ADE_FUZZ_CASES=n` tries seeds
/// `0..n` instead; `ADE_FUZZ_SEED=s` replays seed `s` alone and prints how it ended.
const CASES: u64 = 420;

/// Seeds beyond `0..CASES` that once found a bug, always tried: 1515, 1854 and
/// 2004 embed a corrupt Arrow schema in the Parquet footer (arrow-ipc panicked
/// decoding it), 2271 a column chunk of negative length (the reader asserted).
const REGRESSIONS: [u64; 4] = [1515, 1854, 2004, 2271];

/// The seeds to try, and how to name them.
fn seeds() -> (Vec<u64>, String) {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    match (var("ADE_FUZZ_SEED"), var("ADE_FUZZ_CASES")) {
        (Some(seed), _) => (vec![seed], format!("seed {seed}")),
        (None, Some(cases)) => ((0..cases).collect(), format!("seeds 0..{cases}")),
        (None, None) => (
            (0..CASES).chain(REGRESSIONS).collect(),
            format!("seeds 0..{CASES} and {REGRESSIONS:?}"),
        ),
    }
}

/// A run taking longer than this on a file of a few hundred rows hangs.
const HANG: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Parquet,
    Csv,
    Json,
}

const FORMATS: [Format; 3] = [Format::Parquet, Format::Csv, Format::Json];

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
            Self::Json => "jsonl",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }

    fn dataset_format(self) -> DatasetFormat {
        match self {
            Self::Parquet => DatasetFormat::Parquet,
            Self::Csv => DatasetFormat::Csv,
            Self::Json => DatasetFormat::Json,
        }
    }
}

/// How a valid file is damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Cut at a random offset (possibly to nothing).
    Truncate,
    /// Random bits flipped anywhere.
    FlipBits,
    /// Random bytes overwritten with random or structural values.
    SetBytes,
    /// Bits flipped in the Parquet footer (metadata, its length, the trailing
    /// magic); the last bytes of a text file.
    Footer,
    /// Bits flipped in a Parquet magic number (leading or trailing); the header of a text file.
    Magic,
    /// A valid file of another format under this format's name.
    Swap,
    /// A valid file, but a check on a column it lacks or of the wrong type.
    Schema,
}

const KINDS: [Kind; 7] = [
    Kind::Truncate,
    Kind::FlipBits,
    Kind::SetBytes,
    Kind::Footer,
    Kind::Magic,
    Kind::Swap,
    Kind::Schema,
];

/// One fuzz case: a damaged file and the suite to run on it.
struct Case {
    seed: u64,
    format: Format,
    kind: Kind,
    /// What was done, for messages.
    detail: String,
    /// The damaged data file.
    path: PathBuf,
    spec: Value,
    /// The damage always makes the input invalid: the run must reject it.
    must_fail: bool,
    results: PathBuf,
    history: PathBuf,
    output: PathBuf,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} ({} {:?}: {})",
            self.seed,
            self.format.name(),
            self.kind,
            self.detail
        )
    }
}

/// Format and kind of a seed: every combination in turn.
fn shape(seed: u64) -> (Format, Kind) {
    let seed = seed as usize;
    (
        FORMATS[seed % FORMATS.len()],
        KINDS[(seed / FORMATS.len()) % KINDS.len()],
    )
}

/// A valid file of `format` holding `batch`; Parquet with random compression,
/// row-group and page sizes, so the damage meets every decoder.
fn valid_bytes(format: Format, batch: &RecordBatch, rng: &mut fastrand::Rng, dir: &Path) -> (Vec<u8>, String) {
    let path = dir.join(format!("valid.{}", format.ext()));
    let detail = match format {
        Format::Parquet => {
            let compression = [
                Compression::UNCOMPRESSED,
                Compression::SNAPPY,
                Compression::ZSTD(ZstdLevel::default()),
            ][rng.usize(..3)];
            let row_group = rng.usize(20..=batch.num_rows().max(20));
            let page_rows = rng.usize(5..=200);
            let dictionary = rng.bool();
            let props = WriterProperties::builder()
                .set_compression(compression)
                .set_max_row_group_row_count(Some(row_group))
                .set_data_page_row_count_limit(page_rows)
                .set_write_batch_size(page_rows)
                .set_dictionary_enabled(dictionary)
                .build();
            let file = std::fs::File::create(&path).unwrap();
            let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
            w.write(batch).unwrap();
            w.close().unwrap();
            format!("{compression:?}, row groups of {row_group}, pages of {page_rows}, dictionary {dictionary}")
        }
        Format::Csv => {
            write_csv(&path, batch);
            String::new()
        }
        Format::Json => {
            write_json(&path, batch);
            String::new()
        }
    };
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    (bytes, detail)
}

/// A suite that reads the whole file: every column profiled, and (half the time)
/// checks on most of them. `extra` is appended to the checks.
fn suite(path: &Path, format: Format, with_checks: bool, extra: Option<Value>) -> Value {
    let mut checks = vec![json!({"name": "has-rows", "rowCount": {"min": 1}})];
    if with_checks {
        checks.extend([
            json!({"name": "email-present", "column": "email", "notNull": {"minRatio": 0.5}}),
            json!({"name": "id-unique", "column": "order_id", "unique": {}}),
            json!({"name": "status-known", "column": "status", "inSet": {"values": ["new", "paid", "shipped"]}}),
            json!({"name": "amount-positive", "column": "amount", "range": {"min": 0}}),
            json!({"name": "sku-format", "column": "sku", "regex": {"pattern": "^[A-Z]{3}-\\d+$"}, "mostly": 0.9}),
            json!({"name": "totals", "sql": {"predicate": "total = subtotal + tax"}}),
            json!({"name": "de-amounts", "column": "amount", "where": "country = 'DE'", "range": {"min": 0}}),
        ]);
    }
    checks.extend(extra);
    json!({
        "dataset": {"uri": path.to_str().unwrap(), "format": format.name()},
        "trigger": {"schedule": "0 6 * * *"},
        "profile": {"quantiles": [0.5, 0.9]},
        "checks": checks,
    })
}

/// Checks that cannot fit the orders schema, whatever the format.
fn mismatched_check(rng: &mut fastrand::Rng) -> (Value, &'static str) {
    let checks = [
        (
            json!({"name": "bad", "column": "amout", "notNull": {}}),
            "unknown column",
        ),
        (
            json!({"name": "bad", "column": "status", "range": {"min": 0}}),
            "range on a string column",
        ),
        (
            json!({"name": "bad", "column": "country", "range": {"min": 0, "max": 10}}),
            "range on a string column",
        ),
        (
            json!({"name": "bad", "column": "order_id", "regex": {"pattern": "^\\d+$"}}),
            "regex on an integer column",
        ),
        (
            json!({"name": "bad", "column": "amount", "freshness": {"maxAge": "1h"}}),
            "freshness on a float column",
        ),
        (
            json!({"name": "bad", "column": "nope", "unique": {}}),
            "unique on an unknown column",
        ),
        (
            json!({"name": "bad", "sql": {"predicate": "totl > 0"}}),
            "SQL on an unknown column",
        ),
        (
            json!({"name": "bad", "column": "amount", "where": "countr = 'DE'", "range": {"min": 0}}),
            "where on an unknown column",
        ),
        (
            json!({"name": "bad", "column": "sku", "where": "amount", "range": {"min": 0}}),
            "non-boolean where",
        ),
    ];
    checks[rng.usize(..checks.len())].clone()
}

/// Flips `count` distinct random bits of `bytes[range]` (a bit flipped twice
/// would be no damage); returns the offsets of the bytes changed.
fn flip_bits(bytes: &mut [u8], range: std::ops::Range<usize>, count: usize, rng: &mut fastrand::Rng) -> Vec<usize> {
    let count = count.min(range.len() * 8);
    let mut bits = std::collections::BTreeSet::new();
    while bits.len() < count {
        bits.insert((rng.usize(range.clone()), rng.u8(..8)));
    }
    for (i, bit) in &bits {
        bytes[*i] ^= 1 << bit;
    }
    let mut at: Vec<usize> = bits.into_iter().map(|(i, _)| i).collect();
    at.dedup();
    at
}

/// Builds case `seed` in `dir` (empty): the damaged file and the suite.
fn build(seed: u64, dir: &Path) -> Case {
    let (format, kind) = shape(seed);
    let mut rng = fastrand::Rng::with_seed(seed);
    let rows = rng.usize(50..=400);
    let batch = orders_batch(rows);
    let (mut bytes, written) = valid_bytes(format, &batch, &mut rng, dir);
    let mut detail = format!("{rows} rows");
    if !written.is_empty() {
        detail.push_str(&format!(", {written}"));
    }
    let len = bytes.len();
    let mut must_fail = false;
    let mut extra = None;
    match kind {
        Kind::Truncate => {
            let keep = rng.usize(..len);
            bytes.truncate(keep);
            detail.push_str(&format!("; truncated to {keep} of {len} bytes"));
            // The trailing magic is gone (the first byte of it at least).
            must_fail = format == Format::Parquet;
        }
        Kind::FlipBits => {
            let at = flip_bits(&mut bytes, 0..len, rng.usize(1..=16), &mut rng);
            detail.push_str(&format!("; bits flipped at {at:?} of {len}"));
        }
        Kind::SetBytes => {
            let mut at = Vec::new();
            for _ in 0..rng.usize(1..=8) {
                let i = rng.usize(..len);
                bytes[i] = if rng.bool() {
                    rng.u8(..)
                } else {
                    [0, 0xff, b'\n', b',', b'"', b'{', b'}', b'\\', 0x80][rng.usize(..9)]
                };
                at.push((i, bytes[i]));
            }
            detail.push_str(&format!("; bytes set (offset, value) {at:?} of {len}"));
        }
        Kind::Footer => {
            let range = if format == Format::Parquet {
                let tail: [u8; 4] = bytes[len - 8..len - 4].try_into().unwrap();
                let footer = u32::from_le_bytes(tail) as usize;
                match rng.usize(..3) {
                    0 => len - 8 - footer..len - 8, // the metadata
                    1 => len - 8..len - 4,          // its length
                    _ => len - 4..len,              // the trailing magic
                }
            } else {
                len.saturating_sub(64)..len
            };
            let at = flip_bits(&mut bytes, range.clone(), rng.usize(1..=4), &mut rng);
            detail.push_str(&format!("; bits flipped at {at:?} in {range:?} of {len}"));
            must_fail = format == Format::Parquet && range.start >= len - 4;
        }
        Kind::Magic => {
            let range = match format {
                Format::Parquet if rng.bool() => len - 4..len,
                _ => 0..4.min(len),
            };
            let at = flip_bits(&mut bytes, range.clone(), rng.usize(1..=3), &mut rng);
            detail.push_str(&format!("; bits flipped at {at:?} in {range:?} of {len}"));
            must_fail = format == Format::Parquet && range.start > 0;
        }
        Kind::Swap => {
            let others: Vec<Format> = FORMATS.into_iter().filter(|f| *f != format).collect();
            let other = others[rng.usize(..others.len())];
            bytes = valid_bytes(other, &batch, &mut rng, dir).0;
            detail.push_str(&format!("; a {} file", other.name()));
            // Nothing but a Parquet file ends with its magic.
            must_fail = format == Format::Parquet;
        }
        Kind::Schema => {
            let (check, what) = mismatched_check(&mut rng);
            detail.push_str(&format!("; {what}: {check}"));
            extra = Some(check);
            must_fail = true;
        }
    }
    let path = dir.join("data").join(format!("orders.{}", format.ext()));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let with_checks = kind == Kind::Schema || rng.bool();
    let spec = suite(&path, format, with_checks, extra);
    Case {
        seed,
        format,
        kind,
        detail,
        path,
        spec,
        must_fail,
        results: dir.join("results"),
        history: dir.join("history"),
        output: dir.join("result.json"),
    }
}

/// Panics on the threads of the in-process fuzz (its own and its runtimes'),
/// with their messages: a panic that tokio or the validator turns into an error
/// still counts. Other tests' threads (the binary test's assertions) do not.
static PANICS: AtomicUsize = AtomicUsize::new(0);
static PANIC_MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

thread_local! {
    /// Whether a panic on this thread is counted.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Counts panics on this thread and on the runtimes it starts from now on
/// (installs the hook once). The test reports a counted panic itself, with its
/// case; the default report (and backtrace) only when replaying one seed.
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        let replaying = std::env::var_os("ADE_FUZZ_SEED").is_some();
        std::panic::set_hook(Box::new(move |info| {
            if !COUNTED.with(Cell::get) {
                return previous(info);
            }
            PANICS.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut messages) = PANIC_MESSAGES.lock() {
                messages.push(info.to_string().replace('\n', " "));
            }
            if replaying {
                previous(info);
            }
        }));
    });
    COUNTED.with(|c| c.set(true));
}

/// The last `n` panic messages counted.
fn last_panics(n: usize) -> String {
    let messages = PANIC_MESSAGES.lock().map(|m| m.clone()).unwrap_or_default();
    messages[messages.len().saturating_sub(n)..].join(" | ")
}

/// How a case ended.
#[derive(Debug)]
enum Ended {
    /// Exit code 0 or 1: the file was still valid.
    Accepted(i32),
    /// Exit code and message.
    Rejected(i32, String),
    /// The run panicked (on the calling thread).
    Panicked(String),
    Hung,
}

/// Runs the case through the library, as `ade-validate` would.
fn run_in_process(case: &Case) -> Ended {
    let spec: ValidationSuiteSpec = serde_json::from_value(case.spec.clone()).unwrap();
    let cfg = RunConfig {
        suite: "fuzz".into(),
        batch_id: "b1".into(),
        window_start: None,
        window_end: None,
        spec,
        dataset: Some(case.path.to_str().unwrap().to_owned()),
        format: Some(case.format.dataset_format()),
        history: Some(case.history.to_str().unwrap().to_owned()),
        results: Some(case.results.to_str().unwrap().to_owned()),
        output: Some(case.output.clone()),
        store: StoreConfig::default(),
        sns_endpoint: None,
        slack_webhook: None,
        opensearch_credentials: None,
        engine: EngineOptions {
            threads: 2,
            unique_cap: 1_000_000,
        },
        no_publish: false,
    };
    let counted = COUNTED.with(Cell::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(move || COUNTED.with(|c| c.set(counted)))
        .enable_all()
        .build()
        .unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async { tokio::time::timeout(HANG, run::run(&cfg)).await })
    }));
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Err(panic) => Ended::Panicked(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default(),
        ),
        Ok(Err(_elapsed)) => Ended::Hung,
        Ok(Ok(Ok(doc))) => Ended::Accepted(run::exit_code(doc.outcome)),
        Ok(Ok(Err(e))) => Ended::Rejected(e.exit_code(), e.to_string()),
    }
}

/// Checks a rejected case: exit code 2, the file named, nothing written.
fn check_rejected(case: &Case, code: i32, message: &str, failures: &mut Vec<String>) {
    let file = case.path.to_str().unwrap();
    if code != 2 {
        failures.push(format!("{case}: exit code {code}, not 2, for bad input: {message}"));
    }
    if !message.contains(file) {
        failures.push(format!("{case}: the message does not name {file}: {message}"));
    }
    let written: Vec<String> = files_under(&case.results)
        .into_iter()
        .chain(files_under(&case.history))
        .chain(case.output.exists().then(|| case.output.display().to_string()))
        .collect();
    if !written.is_empty() {
        failures.push(format!("{case}: rejected but wrote {written:?}"));
    }
}

#[derive(Default)]
struct Tally {
    tried: Vec<(Kind, usize)>,
    rejected: usize,
    accepted: usize,
    /// Panics that escaped the run.
    panics: usize,
    /// Runs rejected with exit code 2 after a panic inside them was caught.
    contained: Vec<String>,
    hangs: usize,
}

impl Tally {
    fn tried(&mut self, kind: Kind) {
        match self.tried.iter_mut().find(|t| t.0 == kind) {
            Some(t) => t.1 += 1,
            None => self.tried.push((kind, 1)),
        }
    }
}

#[test]
fn corrupt_and_mismatched_files_exit_2_naming_the_file_and_never_panic() {
    count_panics();
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let (seeds, named) = seeds();
    for &seed in &seeds {
        let dir = tempfile::tempdir().unwrap();
        let case = build(seed, dir.path());
        tally.tried(case.kind);
        let before = PANICS.load(Ordering::SeqCst);
        let ended = run_in_process(&case);
        let panicked = PANICS.load(Ordering::SeqCst) - before;
        if seeds.len() == 1 {
            println!("fuzz: replayed {case}: {ended:?}");
        }
        match ended {
            Ended::Accepted(code) => {
                tally.accepted += 1;
                if case.must_fail {
                    failures.push(format!("{case}: accepted (exit {code}) though the input is invalid"));
                }
                if panicked > 0 {
                    failures.push(format!("{case}: accepted after a panic: {}", last_panics(panicked)));
                }
            }
            Ended::Rejected(code, message) => {
                tally.rejected += 1;
                check_rejected(&case, code, &message, &mut failures);
                if panicked > 0 {
                    tally.contained.push(format!("{case}: {}", last_panics(panicked)));
                }
            }
            Ended::Panicked(message) => {
                tally.panics += 1;
                failures.push(format!("{case}: panicked: {message}"));
            }
            Ended::Hung => {
                tally.hangs += 1;
                failures.push(format!("{case}: no answer after {HANG:?}"));
            }
        }
    }
    let kinds: Vec<String> = tally.tried.iter().map(|(k, n)| format!("{k:?} {n}")).collect();
    println!(
        "fuzz: {} cases ({named}) in {:.1}s ({}); errors (exit 2) {}, accepted (file still valid) {}, \
         panics {}, contained panics (caught, exit 2) {}, hangs {}",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        kinds.join(", "),
        tally.rejected,
        tally.accepted,
        tally.panics,
        tally.contained.len(),
        tally.hangs,
    );
    for contained in &tally.contained {
        println!("fuzz: contained panic: {contained}");
    }
    assert!(
        failures.is_empty(),
        "{} failures in {named}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A few rejected cases through the real binary: exit code 2, the file named on
/// stderr, nothing on stdout, nothing published. One of each of six shapes (the
/// first seed of it the library rejects), then regression seed 1515, whose
/// corrupt embedded Arrow schema made arrow-ipc panic on the main thread.
#[test]
fn the_binary_exits_2_and_names_the_file() {
    let wanted = [
        (Format::Parquet, Kind::Truncate),
        (Format::Csv, Kind::FlipBits),
        (Format::Json, Kind::SetBytes),
        (Format::Parquet, Kind::Footer),
        (Format::Json, Kind::Swap),
        (Format::Csv, Kind::Schema),
    ];
    let mut seeds: Vec<u64> = wanted
        .iter()
        .map(|&(format, kind)| {
            (0..CASES)
                .filter(|s| shape(*s) == (format, kind))
                .find(|s| {
                    let dir = tempfile::tempdir().unwrap();
                    matches!(run_in_process(&build(*s, dir.path())), Ended::Rejected(..))
                })
                .unwrap_or_else(|| panic!("no {format:?} {kind:?} case is rejected"))
        })
        .collect();
    seeds.push(REGRESSIONS[0]);
    for &seed in &seeds {
        let dir = tempfile::tempdir().unwrap();
        let case = build(seed, dir.path());
        let spec = dir.path().join("spec.json");
        std::fs::write(&spec, case.spec.to_string()).unwrap();
        let file = case.path.to_str().unwrap();
        let (code, stdout, stderr) = ade_validate(
            &[
                "--suite-spec",
                spec.to_str().unwrap(),
                "--suite-name",
                "fuzz",
                "--batch-id",
                "b1",
                "--dataset",
                file,
                "--format",
                case.format.name(),
                "--results",
                case.results.to_str().unwrap(),
                "--history",
                case.history.to_str().unwrap(),
                "--output",
                case.output.to_str().unwrap(),
                "--threads",
                "2",
            ],
            &[],
        );
        assert_eq!(code, 2, "{case}: {stderr}");
        let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
        assert!(error.contains(file), "{case}: the error does not name {file}: {stderr}");
        if seed == REGRESSIONS[0] {
            // The panic hook still reports arrow-ipc's panic; the run turns it into bad input.
            assert!(error.contains("corrupt metadata"), "{case}: {stderr}");
        } else {
            assert!(!stderr.contains("panicked"), "{case}: {stderr}");
        }
        assert!(stdout.trim().is_empty(), "{case}: printed a result: {stdout}");
        let mut failures = Vec::new();
        check_rejected(&case, code, &stderr, &mut failures);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
    println!("fuzz through the binary: seeds {seeds:?}, each exit 2 naming the file");
}
