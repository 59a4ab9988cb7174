//! Test helpers: a tiny HTTP server that records requests, the ade-validate
//! binary, and dataset writers.
// Test helpers panic on failure, like the tests that call them (see clippy.toml).
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// One request the [`HttpRecorder`] received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.0.eq_ignore_ascii_case(name))
            .map(|h| h.1.as_str())
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers every request with a fixed
/// JSON body and records it. Its thread ends with the test process.
pub struct HttpRecorder {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl HttpRecorder {
    pub fn start(response: &'static str) -> Self {
        Self::start_failing(response, 0)
    }

    /// Like [`HttpRecorder::start`], but the first `failures` requests get
    /// `503 Service Unavailable` (they are recorded too).
    pub fn start_failing(response: &'static str, failures: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            let mut answered = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                let mut parts = first.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or("").to_owned(),
                    parts.next().unwrap_or("").to_owned(),
                );
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_owned(), v.trim().to_owned()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|h| h.0.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| h.1.parse().ok())
                    .unwrap_or(0usize);
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                seen.lock().unwrap().push(Request {
                    method,
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into(),
                });
                answered += 1;
                let status = if answered <= failures {
                    "503 Service Unavailable"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    response.len(),
                    response
                );
            }
        });
        Self { url, requests }
    }

    pub fn taken(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// Runs ade-validate; returns (exit code, stdout, stderr).
pub fn ade_validate(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ade-validate"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run ade-validate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `--window-start`, `--window-end` and their values for the UTC day `day` (YYYY-MM-DD).
pub fn day_window(day: &str) -> [String; 4] {
    let start = format!("{day}T00:00:00Z");
    let end = jiff::Timestamp::from_second(start.parse::<jiff::Timestamp>().unwrap().as_second() + 86_400)
        .unwrap()
        .to_string();
    ["--window-start".into(), start, "--window-end".into(), end]
}

/// Every file under a directory, relative paths, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Writes a small "orders" dataset in Parquet: 1000 rows; ids unique, status in a
/// known set except row 7, amount ≥ 0 except row 3, sku matching ^[A-Z]{3}-\d+$
/// except row 5, total = subtotal + tax except row 11, email null on rows % 50 == 0.
pub fn orders_batch(rows: usize) -> arrow::array::RecordBatch {
    use arrow::array::*;
    use arrow::datatypes::*;
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, true),
        Field::new("sku", DataType::Utf8, false),
        Field::new("subtotal", DataType::Int64, false),
        Field::new("tax", DataType::Int64, false),
        Field::new("total", DataType::Int64, false),
        Field::new("email", DataType::Utf8, true),
        Field::new("country", DataType::Utf8, false),
        Field::new("created_at", ts, false),
    ]));
    let base = 1_795_392_000_000_000i64; // 2026-11-22T00:00:00Z
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..rows as i64)),
        Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
            if i == 7 {
                "lost"
            } else {
                ["new", "paid", "shipped"][i % 3]
            }
        }))),
        Arc::new(Float64Array::from_iter(
            (0..rows).map(|i| Some(if i == 3 { -1.0 } else { i as f64 / 10.0 })),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| if i == 5 { "bad".to_owned() } else { format!("ABC-{i}") }),
        )),
        Arc::new(Int64Array::from_iter_values((0..rows as i64).map(|i| i * 10))),
        Arc::new(Int64Array::from_iter_values(0..rows as i64)),
        Arc::new(Int64Array::from_iter_values(
            (0..rows as i64).map(|i| if i == 11 { 0 } else { i * 11 }),
        )),
        Arc::new(StringArray::from_iter(
            (0..rows).map(|i| (i % 50 != 0).then(|| format!("u{i}@x.com"))),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| if i % 2 == 0 { "DE" } else { "FR" }),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values((0..rows as i64).map(|i| base + i * 60_000_000))
                .with_timezone("UTC"),
        ),
    ];
    arrow::array::RecordBatch::try_new(schema, cols).unwrap()
}

pub fn write_parquet(path: &Path, batch: &arrow::array::RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

pub fn write_csv(path: &Path, batch: &arrow::array::RecordBatch) {
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(std::fs::File::create(path).unwrap());
    w.write(batch).unwrap();
}

pub fn write_json(path: &Path, batch: &arrow::array::RecordBatch) {
    let mut w = arrow::json::LineDelimitedWriter::new(std::fs::File::create(path).unwrap());
    w.write(batch).unwrap();
    w.finish().unwrap();
}
