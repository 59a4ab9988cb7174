//! Prometheus metrics of a consumer (prefix `ade_stream_`). Labels are
//! bounded: shard ids of one stream, never record content.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// Per-shard labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabels {
    /// Shard id.
    pub shard: String,
}

/// All metrics, registered once.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Records read (data and dead letters).
    pub records: Counter,
    /// Payload bytes read.
    pub bytes: Counter,
    /// Records per second, per shard, over the last renewal interval.
    pub records_per_second: Family<ShardLabels, Gauge<f64, AtomicU64>>,
    /// Payload bytes per second over all shards, over the last renewal interval.
    pub bytes_per_second: Gauge<f64, AtomicU64>,
    /// MillisBehindLatest from the last GetRecords, per shard.
    pub millis_behind_latest: Family<ShardLabels, Gauge>,
    /// Time from the start of a flush to its checkpoint.
    pub flush_duration: Histogram,
    /// Objects written.
    pub objects_written: Counter,
    /// Shard leases held by this worker.
    pub leases_held: Gauge,
    /// Records sent to the dead-letter prefix.
    pub dead_letters: Counter,
    /// Throttled Kinesis calls.
    pub throttled: Counter,
    /// Leases taken, stolen or lost.
    pub lease_changes: Family<ChangeLabels, Counter>,
}

/// Labels of lease changes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabels {
    /// `taken`, `stolen`, `lost`, `released` or `finished`.
    pub change: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ade_stream");
        let m = Self {
            records: Counter::default(),
            bytes: Counter::default(),
            records_per_second: Family::default(),
            bytes_per_second: Gauge::default(),
            millis_behind_latest: Family::default(),
            flush_duration: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            objects_written: Counter::default(),
            leases_held: Gauge::default(),
            dead_letters: Counter::default(),
            throttled: Counter::default(),
            lease_changes: Family::default(),
            registry: Registry::default(),
        };
        registry.register("records", "Records read", m.records.clone());
        registry.register("bytes", "Payload bytes read", m.bytes.clone());
        registry.register(
            "records_per_second",
            "Records per second per shard",
            m.records_per_second.clone(),
        );
        registry.register(
            "bytes_per_second",
            "Payload bytes per second",
            m.bytes_per_second.clone(),
        );
        registry.register(
            "millis_behind_latest",
            "MillisBehindLatest of the last GetRecords per shard",
            m.millis_behind_latest.clone(),
        );
        registry.register(
            "flush_duration_seconds",
            "Time from the start of a flush to its checkpoint",
            m.flush_duration.clone(),
        );
        registry.register("objects_written", "Objects written", m.objects_written.clone());
        registry.register("leases_held", "Shard leases held by this worker", m.leases_held.clone());
        registry.register(
            "dead_letters",
            "Records sent to the dead-letter prefix",
            m.dead_letters.clone(),
        );
        registry.register("throttled", "Throttled Kinesis calls", m.throttled.clone());
        registry.register(
            "lease_changes",
            "Leases taken, stolen, lost or released",
            m.lease_changes.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// The OpenMetrics text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Counts one lease change.
    pub fn lease_change(&self, change: &'static str) {
        self.lease_changes.get_or_create(&ChangeLabels { change }).inc();
    }
}

/// Every series name `ade-stream` exports (`ade_stream_records_total`…):
/// what the chart's alert rules and dashboard may query.
pub fn series() -> std::collections::BTreeSet<String> {
    ade_api::exposition::sample_names(&example().encode().unwrap_or_default())
}

/// Metrics with one series in every family.
fn example() -> Metrics {
    let m = Metrics::default();
    let shard = ShardLabels { shard: String::new() };
    m.records_per_second.get_or_create(&shard).set(0.0);
    m.millis_behind_latest.get_or_create(&shard).set(0);
    m.lease_change("taken");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_family() {
        let m = Metrics::default();
        m.records.inc();
        m.millis_behind_latest
            .get_or_create(&ShardLabels {
                shard: "shardId-1".into(),
            })
            .set(5);
        m.flush_duration.observe(0.1);
        m.lease_change("taken");
        let text = m.encode().expect("encode");
        for name in [
            "ade_stream_records_total 1",
            "ade_stream_millis_behind_latest{shard=\"shardId-1\"} 5",
            "ade_stream_flush_duration_seconds_count 1",
            "ade_stream_leases_held",
            "ade_stream_dead_letters_total",
            "ade_stream_lease_changes_total{change=\"taken\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }

    #[test]
    fn the_example_has_a_series_in_every_family() {
        let text = example().encode().expect("encodes");
        assert_eq!(
            ade_api::exposition::families_without_samples(&text),
            Vec::<String>::new()
        );
        assert!(series().contains("ade_stream_records_total"));
    }
}
