//! The sink: a shard's buffered records become objects named after (shard,
//! first sequence number, last sequence number) under their partition, so
//! writing the same batch again rewrites the same objects. [`plan_objects`]
//! and [`FlushPolicy`] are pure; [`store`] does the writing.

pub mod catalog;
pub mod encode;
pub mod partition;
pub mod store;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{FlushConfig, SinkFormat};
use partition::PartitionTemplate;

/// Prefix of the columns the consumer adds; records may not use it.
pub const RESERVED_PREFIX: &str = "_ade_";

/// A record to write as data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataRecord {
    /// Kinesis sequence number.
    pub sequence: String,
    /// Approximate arrival time, ms since the epoch.
    pub arrival_ms: i64,
    /// The obfuscated JSON object.
    pub fields: Map<String, Value>,
}

/// A record that could not be written as data. It never holds the payload:
/// only its length and a digest (keyed when a key exists), so fields meant to
/// be obfuscated cannot leak through dead letters. The original can be read
/// again from the stream by shard and sequence number within retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Kinesis sequence number.
    pub sequence: String,
    /// Approximate arrival time, ms since the epoch.
    pub arrival_ms: i64,
    /// Why (never quotes the content).
    pub reason: String,
    /// Hex digest of the payload.
    pub payload_digest: String,
    /// True when the digest is an HMAC under an obfuscation key.
    pub digest_keyed: bool,
    /// Payload length in bytes.
    pub payload_length: usize,
}

/// One buffered record.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Written to the data prefix.
    Data(DataRecord),
    /// Written to the dead-letter prefix.
    Dead(DeadLetter),
}

impl Entry {
    /// Sequence number.
    pub fn sequence(&self) -> &str {
        match self {
            Self::Data(d) => &d.sequence,
            Self::Dead(d) => &d.sequence,
        }
    }

    fn arrival_ms(&self) -> i64 {
        match self {
            Self::Data(d) => d.arrival_ms,
            Self::Dead(d) => d.arrival_ms,
        }
    }
}

/// When a buffer is flushed: whichever threshold is reached first.
#[derive(Debug, Clone, Copy)]
pub struct FlushPolicy {
    /// Records.
    pub max_records: u64,
    /// Payload bytes.
    pub max_bytes: u64,
    /// Age of the oldest buffered record.
    pub max_interval: Duration,
}

impl From<FlushConfig> for FlushPolicy {
    fn from(c: FlushConfig) -> Self {
        Self {
            max_records: c.max_records,
            max_bytes: c.max_bytes,
            max_interval: Duration::from_secs(c.max_interval_seconds),
        }
    }
}

impl FlushPolicy {
    /// True when a buffer of `records` records, `bytes` bytes, whose first
    /// record was buffered `age` ago, must be flushed.
    pub fn due(&self, records: u64, bytes: u64, age: Duration) -> bool {
        records > 0 && (records >= self.max_records || bytes >= self.max_bytes || age >= self.max_interval)
    }
}

/// Which bucket prefix an object goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// Data, in the configured format.
    Data,
    /// Dead letters, always JSON lines.
    DeadLetter,
}

/// An object to write: its key relative to the data or dead-letter prefix
/// and the indices of its entries in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedObject {
    /// Prefix.
    pub kind: ObjectKind,
    /// `<partition>/<shard>-<first seq>-<last seq>.<ext>`.
    pub key: String,
    /// The partition path, e.g. `dt=2026-11-26/hour=08` (empty without one).
    pub partition: String,
    /// Arrival time of its first entry (ms since the epoch): what its
    /// partition was rendered from.
    pub arrival_ms: i64,
    /// Entries, in batch order.
    pub entries: Vec<usize>,
}

/// Splits a batch into objects: per partition, data and dead letters apart.
/// Names depend only on the batch, so a replay of the same batch produces
/// the same objects.
pub fn plan_objects(
    shard: &str,
    batch: &[Entry],
    template: &PartitionTemplate,
    format: SinkFormat,
) -> Vec<PlannedObject> {
    let mut groups: Vec<(ObjectKind, String, Vec<usize>)> = Vec::new();
    for (i, entry) in batch.iter().enumerate() {
        let kind = match entry {
            Entry::Data(_) => ObjectKind::Data,
            Entry::Dead(_) => ObjectKind::DeadLetter,
        };
        let partition = template.render(entry.arrival_ms(), shard);
        match groups.iter_mut().find(|g| g.0 == kind && g.1 == partition) {
            Some(g) => g.2.push(i),
            None => groups.push((kind, partition, vec![i])),
        }
    }
    groups
        .into_iter()
        .filter_map(|(kind, partition, entries)| {
            let first = batch[*entries.first()?].sequence();
            let last = batch[*entries.last()?].sequence();
            let arrival_ms = batch[*entries.first()?].arrival_ms();
            let ext = match (kind, format) {
                (ObjectKind::Data, SinkFormat::Parquet) => "parquet",
                _ => "jsonl",
            };
            let name = format!("{shard}-{first}-{last}.{ext}");
            let key = if partition.is_empty() {
                name
            } else {
                format!("{partition}/{name}")
            };
            Some(PlannedObject {
                kind,
                key,
                partition,
                arrival_ms,
                entries,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(seq: &str, at: &str) -> Entry {
        Entry::Data(DataRecord {
            sequence: seq.into(),
            arrival_ms: at.parse::<jiff::Timestamp>().expect("ts").as_millisecond(),
            fields: Map::new(),
        })
    }

    fn dead(seq: &str, at: &str) -> Entry {
        Entry::Dead(DeadLetter {
            sequence: seq.into(),
            arrival_ms: at.parse::<jiff::Timestamp>().expect("ts").as_millisecond(),
            reason: "not JSON".into(),
            payload_digest: "00".into(),
            digest_keyed: false,
            payload_length: 1,
        })
    }

    #[test]
    fn objects_per_partition_and_kind() {
        let t = PartitionTemplate::parse("dt={{date}}/hour={{hour}}").expect("template");
        let batch = [
            data("101", "2026-11-26T08:59:59Z"),
            dead("102", "2026-11-26T08:59:59Z"),
            data("103", "2026-11-26T09:00:00Z"),
            data("104", "2026-11-26T08:59:59.5Z"),
            data("105", "2026-11-26T09:00:01Z"),
        ];
        let objects = plan_objects("shardId-1", &batch, &t, SinkFormat::Parquet);
        let got: Vec<(ObjectKind, &str, &[usize])> = objects
            .iter()
            .map(|o| (o.kind, o.key.as_str(), o.entries.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    ObjectKind::Data,
                    "dt=2026-11-26/hour=08/shardId-1-101-104.parquet",
                    &[0, 3][..]
                ),
                (
                    ObjectKind::DeadLetter,
                    "dt=2026-11-26/hour=08/shardId-1-102-102.jsonl",
                    &[1][..]
                ),
                (
                    ObjectKind::Data,
                    "dt=2026-11-26/hour=09/shardId-1-103-105.parquet",
                    &[2, 4][..]
                ),
            ]
        );
        // The same batch always gives the same names.
        assert_eq!(plan_objects("shardId-1", &batch, &t, SinkFormat::Parquet), objects);
        let flat = plan_objects(
            "s",
            &batch[..1],
            &PartitionTemplate::parse("").expect("t"),
            SinkFormat::Json,
        );
        assert_eq!(flat[0].key, "s-101-101.jsonl");
    }

    #[test]
    fn flush_thresholds() {
        let p = FlushPolicy {
            max_records: 10,
            max_bytes: 100,
            max_interval: Duration::from_secs(5),
        };
        let s = Duration::from_secs;
        let cases = [
            (0, 0, s(60), false),
            (1, 1, s(1), false),
            (10, 1, s(1), true),
            (1, 100, s(1), true),
            (1, 1, s(5), true),
        ];
        for (records, bytes, age, want) in cases {
            assert_eq!(p.due(records, bytes, age), want, "{records} {bytes} {age:?}");
        }
    }
}
