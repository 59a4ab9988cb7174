//! Bad input, fuzzed (issue 13, item 3c): records that are not JSON, far
//! too large, or missing (or mistyping) the fields the obfuscation rules
//! name are dead-lettered with the reason, never write a sensitive value in
//! clear, and do not stop the shard.
//!
//! Two seeded property tests (fixed seeds, `fastrand`; every assertion names
//! its seed):
//!
//! - `fuzzed_batches_through_transform_and_sink`: the narrow seam. Raw record
//!   bytes go through `processor::to_entry` (what the shard loop does to each
//!   record: parse, obfuscate, or dead-letter) and the batch through
//!   `Sink::write` (the flush's object puts) into in-memory stores; records
//!   up to 4 MiB (above Kinesis' 1 MiB record limit: the configuration sets
//!   no size limit of its own).
//! - `the_shard_moves_past_bad_records`: the real shard loop
//!   (`processor::run`) reading a moto Kinesis stream (records up to moto's
//!   1 MiB limit), leases in a `MemoryStore`, output in memory: the
//!   checkpoint reaches the last record and the flushed batches cover every
//!   record in order.
//!
//! Obfuscation rules (from a configuration document, keys read from files):
//! `email` hmac-sha256, `phone` token, `ssn` drop, `user.name` hmac-sha256.
//! Expected outcomes, per kind of record:
//!
//! | kind          | outcome                                                          |
//! |---------------|------------------------------------------------------------------|
//! | valid         | data (also: escaped key names, duplicate keys, `\u` escapes)     |
//! | missing field | data: absent and null fields are left alone (README, Transforms) |
//! | wrong type    | token on object/array, or `user` not an object → dead letter;    |
//! |               | hmac/drop on any type, token on number/boolean → data            |
//! | not JSON      | random bytes → dead letter "not JSON (…)"                        |
//! | truncated     | a valid record cut short → "not JSON (…)"                        |
//! | not object    | array, string, number, boolean, null → "not a JSON object (…)"  |
//! | invalid UTF-8 | bad bytes or lone surrogates in a string → "not JSON (…)"        |
//! | reserved      | a field named `_ade_…` → "… reserved prefix _ade_"               |
//! | large         | 2-4 MiB: a valid object → data; garbage, truncated, 100k-deep   |
//! |               | nesting → "not JSON (…)"; an array → "not a JSON object (…)"    |
//!
//! For every record: no panic; exactly one entry, in order (so the flush's
//! last sequence number, the checkpoint, is the batch's last record); a
//! dead letter carries the expected reason, the payload's length and a keyed
//! digest; every data record is written exactly once and every dead letter
//! exactly once; no sensitive value of the batch (email, phone, ssn, name,
//! also those embedded in garbage) appears in clear in any object's bytes or
//! in any decoded Parquet / JSON string.

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    panic::AssertUnwindSafe,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use ade_moto::Moto;
use ade_streamer::{
    config::{self, Config, SinkFormat},
    held::HeldLease,
    kinesis::{Kinesis, KinesisRecord},
    lease::{Checkpoint, LeaseStore, ShardLease, memory::MemoryStore},
    metrics::Metrics,
    processor::{self, Outcome},
    sink::{Entry, partition::PartitionTemplate, store::Location, store::Sink},
    transform::Obfuscator,
    worker::{EventKind, EventLog, Options, Shared},
};
use fastrand::Rng;
use futures::FutureExt;
use object_store::{ObjectStore, memory::InMemory};
use serde_json::Value;
use support::{all_objects, read_output};

/// Seeds of the seam test (each: `BATCHES` batches).
const SEAM_SEEDS: [u64; 6] = [0x13c0_ffee, 1, 42, 0xdead_beef, 7_777, 0x2026_1126];
const BATCHES: usize = 12;
/// Seeds of the moto test (each: one stream of one shard).
const MOTO_SEEDS: [u64; 2] = [0x5eed_0001, 0x5eed_0002];
const MIB: usize = 1024 * 1024;
/// Variants the generator has (the seam test tries every one).
const VARIANTS: usize = 30;

// ---------------------------------------------------------------- generator

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Valid,
    MissingField,
    WrongType,
    NotJson,
    Truncated,
    NotObject,
    InvalidUtf8,
    Reserved,
    Large,
}

impl Kind {
    const ALL: [Kind; 9] = [
        Kind::Valid,
        Kind::MissingField,
        Kind::WrongType,
        Kind::NotJson,
        Kind::Truncated,
        Kind::NotObject,
        Kind::InvalidUtf8,
        Kind::Reserved,
        Kind::Large,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Valid => "valid",
            Kind::MissingField => "missing-field",
            Kind::WrongType => "wrong-type",
            Kind::NotJson => "not-JSON",
            Kind::Truncated => "truncated",
            Kind::NotObject => "not-object",
            Kind::InvalidUtf8 => "invalid-UTF-8",
            Kind::Reserved => "reserved-name",
            Kind::Large => "large",
        }
    }
}

/// What must become of a record: data, or a dead letter whose reason
/// contains one of these texts.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    Data,
    Dead(&'static [&'static str]),
}

const NOT_JSON: &[&str] = &["not JSON ("];
const NOT_OBJECT: &[&str] = &["not a JSON object (a JSON "];
const RESERVED: &[&str] = &["reserved prefix _ade_"];
const TOKEN_TYPE: &[&str] = &["field phone is a JSON "];
const PATH_TYPE: &[&str] = &["field user is a JSON "];

/// One generated record.
#[derive(Debug, Clone)]
struct Case {
    kind: Kind,
    /// Which variant of its kind (for messages).
    variant: &'static str,
    data: Vec<u8>,
    want: Want,
    /// `id` of a record that must become data.
    id: i64,
    /// Values that must never appear in clear anywhere in the output.
    secrets: Vec<String>,
}

/// The personal data of one record.
#[derive(Debug, Clone)]
struct Pii {
    email: String,
    phone: String,
    ssn: String,
    name: String,
}

impl Pii {
    fn all(&self) -> Vec<String> {
        vec![
            self.email.clone(),
            self.phone.clone(),
            self.ssn.clone(),
            self.name.clone(),
        ]
    }
}

fn word(rng: &mut Rng, len: usize) -> String {
    (0..len).map(|_| rng.lowercase()).collect()
}

fn capitalised(rng: &mut Rng, len: usize) -> String {
    let w = word(rng, len);
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Distinctive values: emails carry the record's tag, names are two
/// capitalised words (no output value has upper-case letters but the
/// phone tokens, which keep the phone's shape), SSNs have the `ddd-dd-dddd`
/// shape nothing else has.
fn pii(rng: &mut Rng, tag: &str) -> Pii {
    let (l1, l2, l3) = (rng.usize(4..8), rng.usize(4..8), rng.usize(3..6));
    Pii {
        email: format!("{}.{}@{}-{tag}.example", word(rng, l1), word(rng, l2), word(rng, l3)),
        phone: format!(
            "+1 {:03}-{:03}-{:04}",
            rng.u16(200..1000),
            rng.u16(200..1000),
            rng.u16(0..10000)
        ),
        ssn: format!(
            "{:03}-{:02}-{:04}",
            rng.u16(100..900),
            rng.u8(10..100),
            rng.u16(1000..10000)
        ),
        name: format!("{} {}", capitalised(rng, l1), capitalised(rng, l2 + 1)),
    }
}

fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// Non-sensitive text: lower-case words, punctuation, non-ASCII, escapes.
fn filler(rng: &mut Rng, len: usize) -> String {
    const EXTRA: [&str; 8] = [" ", ", ", "é", "ß", "日本", "\t", "\"", "\\"];
    let mut out = String::with_capacity(len + 8);
    while out.len() < len {
        if rng.u8(0..8) == 0 {
            out.push_str(EXTRA[rng.usize(0..EXTRA.len())]);
        } else {
            let n = rng.usize(2..9);
            out.push_str(&word(rng, n));
            out.push(' ');
        }
    }
    out
}

/// A random non-sensitive JSON value.
fn extra_value(rng: &mut Rng, depth: u32) -> String {
    match rng.u8(0..8) {
        0 => "null".into(),
        1 => rng.bool().to_string(),
        2 => rng.i64(..).to_string(),
        3 => format!("{}.{}", rng.i32(-1000..1000), rng.u16(..)),
        4 => rng.u64(..).to_string(),
        5 if depth < 3 => {
            let n = rng.usize(0..4);
            let items: Vec<String> = (0..n).map(|_| extra_value(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
        6 if depth < 3 => {
            let n = rng.usize(0..4);
            let items: Vec<String> = (0..n)
                .map(|i| {
                    format!(
                        "{}:{}",
                        js(&format!("k{i}{}", word(rng, 3))),
                        extra_value(rng, depth + 1)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        _ => {
            let n = rng.usize(0..40);
            js(&filler(rng, n))
        }
    }
}

/// The fields of a valid record, as (key JSON text, value JSON text).
fn fields(rng: &mut Rng, id: i64, p: &Pii) -> Vec<(String, String)> {
    let mut f = vec![
        (js("id"), id.to_string()),
        (js("email"), js(&p.email)),
        (js("phone"), js(&p.phone)),
        (js("ssn"), js(&p.ssn)),
        (
            js("user"),
            format!(r#"{{"name":{},"plan":{}}}"#, js(&p.name), js(&word(rng, 4))),
        ),
        (js("amount"), format!("{}.{}", rng.u32(0..10_000), rng.u8(0..100))),
    ];
    if rng.bool() {
        let n = rng.usize(0..60);
        f.push((js("note"), js(&filler(rng, n))));
    }
    for i in 0..rng.usize(0..4) {
        f.push((js(&format!("x{i}_{}", word(rng, 4))), extra_value(rng, 0)));
    }
    f
}

fn field_mut<'a>(f: &'a mut [(String, String)], key: &str) -> &'a mut String {
    let k = js(key);
    &mut f.iter_mut().find(|(name, _)| *name == k).expect("field present").1
}

fn remove(f: &mut Vec<(String, String)>, key: &str) {
    let k = js(key);
    f.retain(|(name, _)| *name != k);
}

/// `{…}` with the fields shuffled and random whitespace.
fn render(rng: &mut Rng, mut f: Vec<(String, String)>) -> String {
    rng.shuffle(&mut f);
    let ws = |rng: &mut Rng| [" ", "", "", "\n", "\t", "  "][rng.usize(0..6)];
    let mut out = String::from("{");
    for (i, (k, v)) in f.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (a, b, c) = (ws(rng), ws(rng), ws(rng));
        write!(out, "{a}{k}{b}:{c}{v}").expect("write to a String");
    }
    out.push('}');
    out
}

/// A valid record's text.
fn valid_text(rng: &mut Rng, id: i64, p: &Pii) -> String {
    let f = fields(rng, id, p);
    render(rng, f)
}

/// A byte that cannot start a JSON text.
fn non_json_start(rng: &mut Rng) -> u8 {
    const BYTES: &[u8] = b"#%&'()*<>?@ABCDEFGHIJKLMNOPQRSUVWXYZ^_`|~\x00\x01\x7f\x80\xfe\xff";
    BYTES[rng.usize(0..BYTES.len())]
}

/// Random bytes of `len` with the secrets embedded here and there.
fn garbage(rng: &mut Rng, len: usize, secrets: &[String]) -> Vec<u8> {
    let mut out = vec![0u8; len.max(1)];
    rng.fill(&mut out);
    for s in secrets {
        if out.len() > s.len() + 2 {
            let at = rng.usize(1..out.len() - s.len());
            out[at..at + s.len()].copy_from_slice(s.as_bytes());
        }
    }
    out[0] = non_json_start(rng);
    out
}

/// Generates record `index` of a run. `large` is the size range of large
/// records; `force_large` makes this record large.
fn generate(rng: &mut Rng, tag: &str, index: usize, large: &std::ops::Range<usize>, force_large: bool) -> Case {
    let id = i64::try_from(index).expect("small");
    let p = pii(rng, &format!("{tag}r{index}"));
    let secrets = p.all();
    let kind = if force_large {
        Kind::Large
    } else {
        // Weights: half good-ish, half bad.
        match rng.u8(0..100) {
            0..30 => Kind::Valid,
            30..42 => Kind::MissingField,
            42..58 => Kind::WrongType,
            58..68 => Kind::NotJson,
            68..78 => Kind::Truncated,
            78..86 => Kind::NotObject,
            86..94 => Kind::InvalidUtf8,
            _ => Kind::Reserved,
        }
    };
    let case = |variant: &'static str, data: Vec<u8>, want: Want, secrets: Vec<String>| Case {
        kind,
        variant,
        data,
        want,
        id,
        secrets,
    };
    match kind {
        Kind::Valid => {
            let mut f = fields(rng, id, &p);
            let mut secrets = secrets;
            let variant = match rng.u8(0..6) {
                0 => {
                    // An escaped key still names the rule's field.
                    remove(&mut f, "email");
                    f.push((r#""em\u0061il""#.into(), js(&p.email)));
                    "escaped key"
                }
                1 => {
                    // Duplicate key (prepended below): the parser keeps the
                    // last; the first must not survive either.
                    let other = pii(rng, &format!("{tag}r{index}dup"));
                    secrets.push(other.email);
                    "duplicate key"
                }
                2 => {
                    // `\u` escapes inside the sensitive value.
                    *field_mut(&mut f, "email") = js(&p.email).replace('@', "\\u0040").replace('.', "\\u002e");
                    "escaped value"
                }
                _ => "plain",
            };
            let mut text = render(rng, f);
            if variant == "duplicate key" {
                text = format!("{{\"email\":{},{}", js(&secrets[4]), &text[1..]);
            }
            case(variant, text.into_bytes(), Want::Data, secrets)
        }
        Kind::MissingField => {
            let mut f = fields(rng, id, &p);
            let mut touched = 0;
            while touched == 0 {
                for key in ["email", "phone", "ssn"] {
                    if rng.bool() {
                        touched += 1;
                        if rng.bool() {
                            *field_mut(&mut f, key) = "null".into();
                        } else {
                            remove(&mut f, key);
                        }
                    }
                }
                if rng.bool() {
                    touched += 1;
                    match rng.u8(0..4) {
                        0 => remove(&mut f, "user"),
                        1 => *field_mut(&mut f, "user") = "null".into(),
                        2 => *field_mut(&mut f, "user") = r#"{"plan":"pro"}"#.into(),
                        _ => *field_mut(&mut f, "user") = r#"{"plan":"pro","name":null}"#.into(),
                    }
                }
            }
            case("absent or null", render(rng, f).into_bytes(), Want::Data, secrets)
        }
        Kind::WrongType => {
            let mut f = fields(rng, id, &p);
            let (variant, want) = match rng.u8(0..9) {
                0 => {
                    *field_mut(&mut f, "phone") = format!(r#"{{"number":{}}}"#, js(&p.phone));
                    ("token field is an object", Want::Dead(TOKEN_TYPE))
                }
                1 => {
                    *field_mut(&mut f, "phone") = format!("[{}]", js(&p.phone));
                    ("token field is an array", Want::Dead(TOKEN_TYPE))
                }
                2 => {
                    *field_mut(&mut f, "user") = js(&p.name);
                    ("dotted rule's parent is a string", Want::Dead(PATH_TYPE))
                }
                3 => {
                    *field_mut(&mut f, "user") = format!(r#"[{{"name":{}}}]"#, js(&p.name));
                    ("dotted rule's parent is an array", Want::Dead(PATH_TYPE))
                }
                4 => {
                    *field_mut(&mut f, "email") = match rng.u8(0..3) {
                        0 => format!(r#"{{"address":{},"verified":true}}"#, js(&p.email)),
                        1 => format!("[{},{}]", js(&p.email), js(&p.email)),
                        _ => format!("{}", rng.u64(..)),
                    };
                    ("hmac field is an object, array or number", Want::Data)
                }
                5 => {
                    *field_mut(&mut f, "ssn") = format!(r#"{{"value":{}}}"#, js(&p.ssn));
                    ("drop field is an object", Want::Data)
                }
                6 => {
                    let digits = rng.u64(10_000_000_000..99_999_999_999);
                    *field_mut(&mut f, "phone") = digits.to_string();
                    ("token field is a number", Want::Data)
                }
                7 => {
                    // A top-level key that spells the dotted rule, next to the nested field.
                    f.push((js("user.name"), js(&p.name)));
                    ("dotted key shadows the nested field", Want::Data)
                }
                _ => {
                    *field_mut(&mut f, "user") = format!(r#"{{"name":{{"first":{}}}}}"#, js(&p.name));
                    ("nested hmac field is an object", Want::Data)
                }
            };
            case(variant, render(rng, f).into_bytes(), want, secrets)
        }
        Kind::NotJson => {
            let data = if rng.bool() {
                let n = rng.usize(0..300);
                garbage(rng, n, &secrets)
            } else {
                // Looks like a log line or a form post.
                format!(
                    "user={}&email={}&ssn={}&phone={} id={id}",
                    p.name, p.email, p.ssn, p.phone
                )
                .into_bytes()
            };
            case("random or text", data, Want::Dead(NOT_JSON), secrets)
        }
        Kind::Truncated => {
            let text = valid_text(rng, id, &p);
            let cut = rng.usize(0..text.len());
            // Cut on a byte, not a character: the rest may be invalid UTF-8 too.
            case(
                "cut short",
                text.as_bytes()[..cut].to_vec(),
                Want::Dead(NOT_JSON),
                secrets,
            )
        }
        Kind::NotObject => {
            let (variant, text) = match rng.u8(0..6) {
                0 => {
                    let a = valid_text(rng, id, &p);
                    ("array of records", format!("[{a},{a}]"))
                }
                1 => ("string", js(&p.email)),
                2 => ("number", rng.i64(..).to_string()),
                3 => ("boolean", rng.bool().to_string()),
                4 => ("null", " null ".to_owned()),
                _ => (
                    "array of values",
                    format!("[{},{},{}]", js(&p.ssn), js(&p.phone), js(&p.name)),
                ),
            };
            case(variant, text.into_bytes(), Want::Dead(NOT_OBJECT), secrets)
        }
        Kind::InvalidUtf8 => {
            const BAD: [&[u8]; 5] = [b"\xff", b"\xc3\x28", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80"];
            const MARKER: &[u8] = b"\\u0001BAD\\u0001";
            let mut f = fields(rng, id, &p);
            let lone = rng.u8(0..3) == 0;
            *field_mut(&mut f, "email") = if lone {
                js(&p.email).replace('@', "\\ud83d@")
            } else {
                // A placeholder (serialised as MARKER) that becomes raw bytes below.
                js(&format!("{}\u{1}BAD\u{1}", p.email))
            };
            let mut data = render(rng, f).into_bytes();
            if let Some(at) = data.windows(MARKER.len()).position(|w| w == MARKER) {
                let bad = BAD[rng.usize(0..BAD.len())];
                data.splice(at..at + MARKER.len(), bad.iter().copied());
            }
            let variant = if lone {
                "lone surrogate escape"
            } else {
                "bad bytes in a string"
            };
            case(variant, data, Want::Dead(NOT_JSON), secrets)
        }
        Kind::Reserved => {
            let mut f = fields(rng, id, &p);
            let name = ["_ade_shard_id", "_ade_sequence_number", "_ade_arrival_time", "_ade_x"][rng.usize(0..4)];
            f.push((js(name), js(&word(rng, 6))));
            case(
                "reserved field name",
                render(rng, f).into_bytes(),
                Want::Dead(RESERVED),
                secrets,
            )
        }
        Kind::Large => {
            let size = rng.usize(large.clone());
            match rng.u8(0..5) {
                0 => {
                    let mut f = fields(rng, id, &p);
                    f.push((js("blob"), js(&filler(rng, size))));
                    case("large object", render(rng, f).into_bytes(), Want::Data, secrets)
                }
                1 => case(
                    "large garbage",
                    garbage(rng, size, &secrets),
                    Want::Dead(NOT_JSON),
                    secrets,
                ),
                2 => {
                    let mut f = fields(rng, id, &p);
                    f.push((js("blob"), js(&filler(rng, size))));
                    let text = render(rng, f);
                    let cut = rng.usize(text.len() / 2..text.len());
                    case(
                        "large truncated",
                        text.as_bytes()[..cut].to_vec(),
                        Want::Dead(NOT_JSON),
                        secrets,
                    )
                }
                3 => {
                    let open = if rng.bool() { "[" } else { r#"{"a":"# };
                    let mut text = open.repeat(size / open.len());
                    text.push_str(&js(&p.email));
                    case("deeply nested", text.into_bytes(), Want::Dead(NOT_JSON), secrets)
                }
                _ => {
                    let one = valid_text(rng, id, &p);
                    let n = (size / (one.len() + 1)).max(2);
                    let text = format!("[{}]", vec![one; n].join(","));
                    case("large array", text.into_bytes(), Want::Dead(NOT_OBJECT), secrets)
                }
            }
        }
    }
}

// ------------------------------------------------------------------ set-up

const CONFIG: &str = r#"{"namespace":"ns","consumer":"fuzz","consumerUid":"",
  "stream":{"name":"STREAM","region":"us-east-1","startingPosition":"TRIM_HORIZON"},
  "obfuscate":[{"field":"email","method":"hmac-sha256","keyFile":"KEYS/email"},
               {"field":"phone","method":"token","keyFile":"KEYS/phone"},
               {"field":"ssn","method":"drop"},
               {"field":"user.name","method":"hmac-sha256","keyFile":"KEYS/name"}],
  "sink":{"uri":"memory://lake/raw/","format":"FORMAT","partitionBy":"dt={{date}}/hour={{hour}}",
          "flush":{"maxRecords":16,"maxBytes":8000000,"maxIntervalSeconds":1}},
  "checkpoint":{"intervalSeconds":1,"store":"dynamodb","dynamodbTable":"unused"},
  "leaseDurationSeconds":30}"#;

/// The configuration document and the obfuscator it loads (keys in files).
fn configured(stream: &str, format: SinkFormat, keys: &std::path::Path) -> (Config, Obfuscator) {
    std::fs::create_dir_all(keys).expect("key directory");
    for (name, key) in [("email", "email-key\n"), ("phone", "phone-key"), ("name", "name-key\n")] {
        std::fs::write(keys.join(name), key).expect("key file");
    }
    let format = match format {
        SinkFormat::Parquet => "parquet",
        SinkFormat::Json => "json",
    };
    let doc = CONFIG
        .replace("STREAM", stream)
        .replace("FORMAT", format)
        .replace("KEYS", &keys.display().to_string());
    let config = config::from_json(&doc).expect("valid configuration");
    let obfuscator = Obfuscator::load(&config.obfuscate).expect("rules load");
    (config, obfuscator)
}

fn key_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ade-record-fuzz-{}-{name}", std::process::id()))
}

struct Stores {
    data: Arc<dyn ObjectStore>,
    dead: Arc<dyn ObjectStore>,
}

fn sink(config: &Config) -> (Sink, Stores) {
    let data: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let dead: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let sink = Sink::with_locations(
        Location {
            store: data.clone(),
            prefix: "raw".into(),
        },
        Location {
            store: dead.clone(),
            prefix: "raw_dead_letter".into(),
        },
        PartitionTemplate::parse(&config.sink.partition_by).expect("template"),
        config.sink.format,
    );
    (sink, Stores { data, dead })
}

// ------------------------------------------------------------------ checks

#[derive(Debug, Default)]
struct Figures {
    tried: BTreeMap<Kind, usize>,
    variants: BTreeSet<(Kind, &'static str)>,
    bytes: usize,
    dead_lettered: usize,
    written: usize,
    panics: usize,
    leaks: usize,
    batches: usize,
    checkpoints_moved: usize,
}

impl Figures {
    fn line(&self, what: &str) -> String {
        let kinds: Vec<String> = Kind::ALL
            .iter()
            .map(|k| format!("{} {}", k.name(), self.tried.get(k).copied().unwrap_or(0)))
            .collect();
        format!(
            "record_fuzz figures ({what}): records tried {} ({}; {} variants; {:.1} MiB) in {} batches; dead-lettered {}, written {}, panics {}, clear-text leaks {}; position moved past {}/{} batches",
            self.tried.values().sum::<usize>(),
            kinds.join(", "),
            self.variants.len(),
            self.bytes as f64 / MIB as f64,
            self.batches,
            self.dead_lettered,
            self.written,
            self.panics,
            self.leaks,
            self.checkpoints_moved,
            self.batches,
        )
    }
}

/// Checks everything a sink wrote for `cases` (by sequence number); pushes
/// one message per failure, each naming `seed`.
async fn check_output(
    seed: u64,
    cases: &BTreeMap<String, Case>,
    stores: &Stores,
    figures: &mut Figures,
    failures: &mut Vec<String>,
) {
    let data = all_objects(&stores.data).await;
    let dead = all_objects(&stores.dead).await;
    let (found, strings) = read_output(&data);

    // Every data record exactly once, with its id; nothing else in the data.
    let mut data_seen: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &found {
        *data_seen.entry(f.sequence.as_str()).or_default() += 1;
        match cases.get(&f.sequence) {
            Some(c) if c.want == Want::Data => {
                if f.id != Some(c.id) {
                    failures.push(format!(
                        "seed {seed}: record {} ({} / {}) written with id {:?}, want {}",
                        f.sequence,
                        c.kind.name(),
                        c.variant,
                        f.id,
                        c.id
                    ));
                }
            }
            Some(c) => failures.push(format!(
                "seed {seed}: bad record {} ({} / {}) written as data, want a dead letter ({:?})",
                f.sequence,
                c.kind.name(),
                c.variant,
                c.want
            )),
            None => failures.push(format!("seed {seed}: unknown record {} in the data", f.sequence)),
        }
    }

    // Every dead letter exactly once, with a reason that says why.
    let mut dead_seen: BTreeMap<String, usize> = BTreeMap::new();
    for (key, bytes) in &dead {
        let Ok(text) = std::str::from_utf8(bytes) else {
            failures.push(format!("seed {seed}: dead-letter object {key} is not UTF-8"));
            continue;
        };
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                failures.push(format!("seed {seed}: dead-letter line in {key} is not JSON"));
                continue;
            };
            let seq = v["sequenceNumber"].as_str().unwrap_or_default().to_owned();
            *dead_seen.entry(seq.clone()).or_default() += 1;
            let reason = v["reason"].as_str().unwrap_or_default();
            let Some(c) = cases.get(&seq) else {
                failures.push(format!("seed {seed}: unknown record {seq} dead-lettered"));
                continue;
            };
            match &c.want {
                Want::Dead(texts) if texts.iter().any(|t| reason.contains(t)) => {}
                want => failures.push(format!(
                    "seed {seed}: record {seq} ({} / {}) dead-lettered with reason {reason:?}, want {want:?}",
                    c.kind.name(),
                    c.variant
                )),
            }
            if v["payloadLength"].as_u64() != Some(c.data.len() as u64)
                || v["digestKeyed"] != Value::Bool(true)
                || v["payloadDigest"].as_str().is_none_or(|d| d.len() != 64)
            {
                failures.push(format!(
                    "seed {seed}: dead letter {seq} lacks its length or keyed digest: {line}"
                ));
            }
        }
    }
    for (seq, c) in cases {
        let (in_data, in_dead) = (
            data_seen.get(seq.as_str()).copied().unwrap_or(0),
            dead_seen.get(seq).copied().unwrap_or(0),
        );
        let ok = match c.want {
            Want::Data => (in_data, in_dead) == (1, 0),
            Want::Dead(_) => (in_data, in_dead) == (0, 1),
        };
        if !ok {
            failures.push(format!(
                "seed {seed}: record {seq} ({} / {}) found {in_data}x as data and {in_dead}x as a dead letter, want {:?} once",
                c.kind.name(),
                c.variant,
                c.want
            ));
        }
    }
    figures.written += found.len();
    figures.dead_lettered += dead_seen.values().sum::<usize>();

    // No sensitive value in clear: raw bytes of every object (ASCII needles
    // survive a lossy UTF-8 view) and every decoded string.
    let raw: Vec<(&String, String)> = data
        .iter()
        .chain(&dead)
        .map(|(k, b)| (k, String::from_utf8_lossy(b).into_owned()))
        .collect();
    for c in cases.values() {
        for secret in &c.secrets {
            let mut places: Vec<&str> = raw
                .iter()
                .filter(|(_, text)| text.contains(secret.as_str()))
                .map(|(k, _)| k.as_str())
                .collect();
            if strings.iter().any(|s| s.contains(secret.as_str())) {
                places.push("a decoded string column");
            }
            if !places.is_empty() {
                figures.leaks += places.len();
                failures.push(format!(
                    "seed {seed}: clear value {secret:?} of a {} / {} record found in {places:?}",
                    c.kind.name(),
                    c.variant
                ));
            }
        }
    }
}

fn report(seed_list: &[u64], figures: &Figures, failures: &[String], what: &str) {
    println!("{}", figures.line(what));
    let untried: Vec<&str> = Kind::ALL
        .iter()
        .filter(|k| !figures.tried.contains_key(k))
        .map(|k| k.name())
        .collect();
    assert!(
        untried.is_empty(),
        "seeds {seed_list:?}: no record of kind {untried:?} was tried"
    );
    assert_eq!(
        figures.panics, 0,
        "seeds {seed_list:?}: panics (see the failures): {failures:#?}"
    );
    assert_eq!(figures.leaks, 0, "seeds {seed_list:?}: clear-text leaks: {failures:#?}");
    assert!(
        failures.is_empty(),
        "seeds {seed_list:?}: {} failures, first ones: {:#?}",
        failures.len(),
        &failures[..failures.len().min(40)]
    );
}

// ------------------------------------------------------------ seam test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_batches_through_transform_and_sink() {
    let started = Instant::now();
    let keys = key_dir("seam");
    let mut figures = Figures::default();
    let mut failures = Vec::new();
    for seed in SEAM_SEEDS {
        let mut rng = Rng::with_seed(seed);
        let format = if seed % 2 == 0 {
            SinkFormat::Parquet
        } else {
            SinkFormat::Json
        };
        let (config, obfuscator) = configured("fuzz", format, &keys);
        let base_arrival: i64 = 1_795_600_000_000 + rng.i64(0..3_600_000);
        let mut index = 0usize;
        for batch in 0..BATCHES {
            // A large record in every third batch; 2-4 MiB, above Kinesis' 1 MiB.
            let len = rng.usize(1..48);
            let large_at = (batch % 3 == 1).then(|| rng.usize(0..len));
            let mut cases = BTreeMap::new();
            let mut records = Vec::new();
            for i in 0..len {
                let case = generate(
                    &mut rng,
                    &format!("s{seed:x}"),
                    index,
                    &(2 * MIB..4 * MIB),
                    large_at == Some(i),
                );
                index += 1;
                let sequence = format!("4959{seed:020}{index:032}");
                let arrival_ms = match rng.u8(0..40) {
                    0 => 0,
                    1 => -rng.i64(1..1_000_000_000_000),
                    2 => i64::MAX - rng.i64(0..1000),
                    _ => base_arrival + rng.i64(0..7_200_000),
                };
                *figures.tried.entry(case.kind).or_default() += 1;
                figures.variants.insert((case.kind, case.variant));
                figures.bytes += case.data.len();
                records.push(KinesisRecord {
                    sequence: sequence.clone(),
                    data: case.data.clone(),
                    arrival_ms,
                });
                cases.insert(sequence, case);
            }
            figures.batches += 1;

            // What the shard loop does to each record.
            let mut entries = Vec::with_capacity(records.len());
            for r in &records {
                match std::panic::catch_unwind(AssertUnwindSafe(|| processor::to_entry(&obfuscator, r))) {
                    Ok(e) => entries.push(e),
                    Err(_) => {
                        figures.panics += 1;
                        let c = &cases[&r.sequence];
                        failures.push(format!(
                            "seed {seed}: to_entry panicked on record {} ({} / {})",
                            r.sequence,
                            c.kind.name(),
                            c.variant
                        ));
                    }
                }
            }
            for e in &entries {
                let c = &cases[e.sequence()];
                let ok = match (e, &c.want) {
                    (Entry::Data(_), Want::Data) => true,
                    (Entry::Dead(d), Want::Dead(texts)) => texts.iter().any(|t| d.reason.contains(t)),
                    _ => false,
                };
                if !ok {
                    let got = match e {
                        Entry::Data(_) => "data".to_owned(),
                        Entry::Dead(d) => format!("dead letter {:?}", d.reason),
                    };
                    failures.push(format!(
                        "seed {seed}: record {} ({} / {}) became {got}, want {:?}",
                        e.sequence(),
                        c.kind.name(),
                        c.variant,
                        c.want
                    ));
                }
            }
            // One entry per record, in order: the flush's last sequence
            // number (the checkpoint) is the batch's last record.
            let got: Vec<&str> = entries.iter().map(Entry::sequence).collect();
            let want: Vec<&str> = records.iter().map(|r| r.sequence.as_str()).collect();
            if got != want {
                failures.push(format!(
                    "seed {seed}: batch {batch}: {} entries for {} records, or out of order",
                    got.len(),
                    want.len()
                ));
                continue;
            }

            // The flush's writes.
            let (sink, stores) = sink(&config);
            match AssertUnwindSafe(sink.write("shardId-000000000000", &entries))
                .catch_unwind()
                .await
            {
                Ok(Ok(w)) => {
                    let dead = cases.values().filter(|c| c.want != Want::Data).count();
                    if (w.records, w.dead_letters) != (cases.len() - dead, dead) {
                        failures.push(format!(
                            "seed {seed}: batch {batch} wrote {} records and {} dead letters, want {} and {dead}",
                            w.records,
                            w.dead_letters,
                            cases.len() - dead
                        ));
                    }
                    figures.checkpoints_moved += 1;
                }
                // A failed write is retried forever by the shard loop: the shard is stuck.
                Ok(Err(e)) => {
                    failures.push(format!(
                        "seed {seed}: batch {batch} cannot be written (shard stuck): {e}"
                    ));
                    continue;
                }
                Err(_) => {
                    figures.panics += 1;
                    failures.push(format!("seed {seed}: writing batch {batch} panicked"));
                    continue;
                }
            }
            check_output(seed, &cases, &stores, &mut figures, &mut failures).await;
        }
    }
    let _ = std::fs::remove_dir_all(&keys);
    report(&SEAM_SEEDS, &figures, &failures, "to_entry + Sink::write");
    assert_eq!(
        figures.variants.len(),
        VARIANTS,
        "seeds {SEAM_SEEDS:?}: variants tried: {:?}",
        figures.variants
    );
    println!("record_fuzz seam runtime: {:.1} s", started.elapsed().as_secs_f64());
}

// ------------------------------------------------------------ moto test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shard_moves_past_bad_records() {
    let started = Instant::now();
    let moto = Moto::start();
    let aws = support::sdk(&moto).await;
    let k = aws_sdk_kinesis::Client::new(&aws);
    let keys = key_dir("moto");
    let mut figures = Figures::default();
    let mut failures = Vec::new();
    for seed in MOTO_SEEDS {
        let stream = format!("fuzz-{seed:x}");
        let mut rng = Rng::with_seed(seed);
        let format = if seed % 2 == 0 {
            SinkFormat::Parquet
        } else {
            SinkFormat::Json
        };
        let (config, obfuscator) = configured(&stream, format, &keys);
        k.create_stream()
            .stream_name(&stream)
            .shard_count(1)
            .send()
            .await
            .expect("CreateStream");

        // Put a seeded mix; large records up to moto's (and Kinesis') 1 MiB.
        let mut cases = BTreeMap::new();
        let mut order = Vec::new();
        let mut shard = String::new();
        let count = 120;
        for index in 0..count {
            let case = generate(
                &mut rng,
                &format!("m{seed:x}"),
                index,
                &(MIB / 2..MIB * 8 / 10),
                index % 40 == 17,
            );
            let out = k
                .put_record()
                .stream_name(&stream)
                .partition_key(format!("pk-{}", rng.u32(..)))
                .data(aws_sdk_kinesis::primitives::Blob::new(case.data.clone()))
                .send()
                .await
                .expect("PutRecord");
            shard = out.shard_id().to_owned();
            *figures.tried.entry(case.kind).or_default() += 1;
            figures.variants.insert((case.kind, case.variant));
            figures.bytes += case.data.len();
            order.push(out.sequence_number().to_owned());
            cases.insert(out.sequence_number().to_owned(), case);
        }
        let last = order.last().cloned().expect("records put");

        // One processor on the shard, as a worker runs it once it holds the lease.
        let store = Arc::new(MemoryStore::default());
        let created = store
            .create_shard(&ShardLease::new(&shard, vec![], 30))
            .await
            .expect("create lease")
            .expect("new lease");
        let mut mine = created;
        mine.owner = Some("fuzz-worker".into());
        mine.renew_time = Some(jiff::Timestamp::now());
        let mine = store.update_shard(&mine).await.expect("take lease");
        let held = HeldLease::new(mine, "fuzz-worker");
        let (sink, stores) = sink(&config);
        let events = Arc::new(EventLog::default());
        let mut options = Options::new("fuzz-worker");
        options.idle_poll = Duration::from_millis(100);
        options.busy_poll = Duration::from_millis(50);
        options.records_per_call = 25;
        let shared = Arc::new(Shared::new(
            config,
            options,
            store.clone(),
            Kinesis::new(&aws, &stream),
            sink,
            obfuscator,
            Arc::new(Metrics::default()),
            events.clone(),
        ));
        let task = tokio::spawn(processor::run(shared, held.clone()));

        // The checkpoint must reach the last record put.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut checkpoint = None;
        while Instant::now() < deadline && !task.is_finished() {
            checkpoint = store.get_shard(&shard).await.expect("lease").and_then(|l| l.checkpoint);
            if checkpoint == Some(Checkpoint::Sequence(last.clone())) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        held.stop.cancel();
        match task.await {
            Ok(Outcome::Released) => {}
            Ok(other) => failures.push(format!("seed {seed}: the processor ended {other:?}, want Released")),
            Err(e) => {
                figures.panics += usize::from(e.is_panic());
                failures.push(format!("seed {seed}: the processor task failed: {e}"));
            }
        }
        if checkpoint != Some(Checkpoint::Sequence(last.clone())) {
            failures.push(format!(
                "seed {seed}: the checkpoint is {checkpoint:?}, want the last record {last} (the shard is stuck)"
            ));
        }
        // The flushed batches cover every record, in order, each once.
        let mut covered = Vec::new();
        for e in events.events() {
            if let EventKind::Written { first, last } = e.kind {
                figures.batches += 1;
                let (Some(a), Some(b)) = (
                    order.iter().position(|s| *s == first),
                    order.iter().position(|s| *s == last),
                ) else {
                    failures.push(format!("seed {seed}: a batch {first}..{last} of unknown records"));
                    continue;
                };
                if a != covered.len() || b < a {
                    failures.push(format!(
                        "seed {seed}: batch {a}..={b} does not continue the previous one (records 0..{})",
                        covered.len()
                    ));
                }
                covered.extend(a..=b);
                figures.checkpoints_moved += 1;
            }
        }
        if covered != (0..order.len()).collect::<Vec<_>>() {
            failures.push(format!(
                "seed {seed}: the batches cover records {:?}.., want 0..{}",
                covered.first(),
                order.len()
            ));
        }
        let lease = store.get_shard(&shard).await.expect("lease").expect("exists");
        if lease.pending.is_some() || lease.owner.is_some() {
            failures.push(format!("seed {seed}: after the hand-off the lease is {lease:?}"));
        }
        check_output(seed, &cases, &stores, &mut figures, &mut failures).await;
        let unique: BTreeSet<&String> = order.iter().collect();
        assert_eq!(unique.len(), order.len(), "seed {seed}: moto reused a sequence number");
    }
    let _ = std::fs::remove_dir_all(&keys);
    report(&MOTO_SEEDS, &figures, &failures, "processor::run on moto");
    println!("record_fuzz moto runtime: {:.1} s", started.elapsed().as_secs_f64());
}
