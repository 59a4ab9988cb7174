//! Benchmark of the consumer's CPU path on one thread: decoded Kinesis
//! records → JSON parse → obfuscation (2 HMAC fields, 1 drop, 1 token) →
//! Parquet bytes in memory, in batches the size of a flush. Prints records/s
//! and MB/s of payload per core against Kinesis' 2 MB/s per-shard read limit
//! and the 5 MB/s per core target.
//!
//! Run: `streamer/bench/run.sh [records] [batch]`
//! (see streamer/bench/run.sh).

use std::time::Instant;

use ade_streamer::{
    config::ObfuscationMethod,
    kinesis::KinesisRecord,
    processor::to_entry,
    sink::{DataRecord, Entry, encode},
    transform::Obfuscator,
};

const SHARD_LIMIT_MB_S: f64 = 2.0;
const TARGET_MB_S: f64 = 5.0;

fn record(i: u64) -> KinesisRecord {
    let events = ["page_view", "add_to_cart", "checkout", "login", "search"];
    let countries = ["DE", "FR", "US", "BR", "JP", "IN"];
    let payload = format!(
        concat!(
            r#"{{"event_id":"evt-{i:012}","event":"{event}","ts":"2026-11-26T08:{m:02}:{s:02}.{ms:03}Z","#,
            r#""user_id":{uid},"email":"user{uid}@example.com","full_name":"Given{uid} Family{uid}","#,
            r#""phone":"+1 415-555-{ph:04}","ssn":"{a:03}-{b:02}-{c:04}","country":"{country}","#,
            r#""amount":{amount:.2},"items":{items},"url":"https://shop.example.com/p/{item}?ref=campaign-{camp}","#,
            r#""device":{{"os":"ios","version":"17.{v}","app":"4.2.{v}"}},"session":"{session:016x}"}}"#
        ),
        i = i,
        event = events[(i % 5) as usize],
        m = (i / 60) % 60,
        s = i % 60,
        ms = i % 1000,
        uid = 100_000 + i % 50_000,
        ph = i % 10_000,
        a = 100 + i % 800,
        b = 10 + i % 89,
        c = 1000 + i % 8999,
        country = countries[(i % 6) as usize],
        amount = (i % 10_000) as f64 / 7.0,
        items = i % 9,
        item = i % 3_000,
        camp = i % 40,
        v = i % 10,
        session = i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    KinesisRecord {
        sequence: format!("{:056}", 49_000_000_000u64 + i),
        data: payload.into_bytes(),
        arrival_ms: 1_795_600_000_000 + i as i64,
    }
}

/// CPU time of this (single-threaded) process in seconds, from
/// /proc/self/schedstat; `None` where that file does not exist.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(400_000);
    let batch: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50_000);
    let obfuscator = Obfuscator::from_keys(&[
        (
            "email".into(),
            ObfuscationMethod::HmacSha256,
            Some(b"bench-key-email".to_vec()),
        ),
        (
            "full_name".into(),
            ObfuscationMethod::HmacSha256,
            Some(b"bench-key-name".to_vec()),
        ),
        ("ssn".into(), ObfuscationMethod::Drop, None),
        (
            "phone".into(),
            ObfuscationMethod::Token,
            Some(b"bench-key-phone".to_vec()),
        ),
    ])?;
    // Inputs are built before the clock starts: the benchmark starts from decoded records.
    let inputs: Vec<KinesisRecord> = (0..total).map(record).collect();
    let payload_bytes: usize = inputs.iter().map(|r| r.data.len()).sum();

    let mut parquet_bytes = 0usize;
    let mut dead = 0usize;
    let mut transform_secs = 0.0;
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    for chunk in inputs.chunks(usize::try_from(batch)?) {
        let t = Instant::now();
        let entries: Vec<Entry> = chunk.iter().map(|r| to_entry(&obfuscator, r)).collect();
        transform_secs += t.elapsed().as_secs_f64();
        let data: Vec<&DataRecord> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Data(d) => Some(d),
                Entry::Dead(_) => None,
            })
            .collect();
        dead += entries.len() - data.len();
        parquet_bytes += encode::parquet("shardId-000000000000", &data)?.len();
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_started).map(|(end, start)| end - start);
    anyhow::ensure!(dead == 0, "{dead} records went to the dead-letter path");

    let mb = payload_bytes as f64 / 1e6;
    let mb_s = mb / secs;
    println!(
        "ade-stream pipeline benchmark (one thread): decode -> obfuscate (2 hmac, 1 drop, 1 token) -> Parquet (zstd 1)"
    );
    println!(
        "records: {total}  batch: {batch}  payload: {mb:.1} MB ({:.0} B/record)  parquet out: {:.1} MB",
        payload_bytes as f64 / total as f64,
        parquet_bytes as f64 / 1e6
    );
    println!(
        "time: {secs:.2} s (parse+obfuscate {transform_secs:.2} s, Parquet {:.2} s)",
        secs - transform_secs
    );
    println!(
        "throughput (wall clock): {:.0} records/s, {mb_s:.1} MB/s",
        total as f64 / secs
    );
    // On a shared machine the thread may not get a whole core: per CPU-second is the per-core figure.
    let mb_s = match cpu {
        Some(cpu) => {
            println!(
                "throughput per core (per CPU-second, {cpu:.2} s on CPU): {:.0} records/s, {:.1} MB/s",
                total as f64 / cpu,
                mb / cpu
            );
            mb / cpu
        }
        None => mb_s,
    };
    println!(
        "vs Kinesis read limit {SHARD_LIMIT_MB_S} MB/s per shard: one core keeps up with {:.1} shards",
        mb_s / SHARD_LIMIT_MB_S
    );
    println!(
        "vs target {TARGET_MB_S} MB/s per core: {}",
        if mb_s >= TARGET_MB_S { "met" } else { "NOT met" }
    );
    Ok(())
}
