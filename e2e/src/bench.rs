//! What `bench-operator` measures with (src/bin/bench-operator.rs): when each
//! object was first seen in a state, as one watcher's clock saw it; the
//! operator process's CPU and memory from `/proc`; the API server's request
//! counters; percentiles.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// First sightings: (what, key) → when. Shared by the watchers.
#[derive(Debug, Clone, Default)]
pub struct Timeline(Arc<Mutex<BTreeMap<(&'static str, String), Instant>>>);

impl Timeline {
    /// Records `what` happened to `key` now, unless it was seen before.
    pub fn saw(&self, what: &'static str, key: &str) {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.entry((what, key.to_owned())).or_insert_with(Instant::now);
    }

    /// When `what` first happened to each key.
    pub fn of(&self, what: &'static str) -> BTreeMap<String, Instant> {
        let seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.iter()
            .filter(|((w, _), _)| *w == what)
            .map(|((_, k), at)| (k.clone(), *at))
            .collect()
    }

    /// How many keys `what` happened to.
    pub fn count(&self, what: &'static str) -> usize {
        let seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.keys().filter(|(w, _)| *w == what).count()
    }
}

/// For each key in both, `to - from`.
pub fn gaps(from: &BTreeMap<String, Instant>, to: &BTreeMap<String, Instant>) -> Vec<Duration> {
    from.iter()
        .filter_map(|(k, start)| to.get(k).map(|end| end.saturating_duration_since(*start)))
        .collect()
}

/// The `p`-th percentile (0–100) of `values`, nearest rank; zero when empty.
pub fn percentile(values: &[Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// The span from the earliest to the latest of `times`.
pub fn span(times: &BTreeMap<String, Instant>) -> Duration {
    let first = times.values().min();
    let last = times.values().max();
    match (first, last) {
        (Some(a), Some(b)) => b.saturating_duration_since(*a),
        _ => Duration::ZERO,
    }
}

/// A process's CPU time and memory, from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User + system CPU, seconds.
    pub cpu_seconds: f64,
    /// Resident memory now, MiB.
    pub rss_mib: f64,
    /// Peak resident memory so far, MiB.
    pub peak_rss_mib: f64,
}

/// The usage of process `pid`, or zeros when it cannot be read.
pub fn usage(pid: u32) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start at state (3rd).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state; 100 ticks a second.
    let cpu_seconds = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Usage {
        cpu_seconds,
        rss_mib: kib("VmRSS:") / 1024.0,
        peak_rss_mib: kib("VmHWM:") / 1024.0,
    }
}

/// CPU-seconds so far of every process whose command is one of `names`
/// (the control plane's: `kube-apiserver`, `etcd`, ...), summed by command.
pub fn cpu_by_command(names: &[&str]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let comm = comm.trim();
        if let Some(name) = names.iter().find(|n| comm.starts_with(**n)) {
            *out.entry((*name).to_owned()).or_default() += usage(pid).cpu_seconds;
        }
    }
    out
}

/// `apiserver_request_total` summed by (verb, resource[/subresource]) for
/// `groups` (`""` is the core group; none: every group), from the API
/// server's `/metrics`.
pub fn requests(groups: &[&str]) -> BTreeMap<(String, String), u64> {
    let text = crate::kubectl_ok(&["get", "--raw", "/metrics"]);
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let labels: BTreeMap<&str, &str> = labels
            .split("\",")
            .filter_map(|pair| pair.split_once("=\""))
            .map(|(k, v)| (k, v.trim_end_matches('"')))
            .collect();
        let group = labels.get("group").copied().unwrap_or_default();
        let (Some(verb), Some(resource), Ok(n)) = (labels.get("verb"), labels.get("resource"), value.parse::<f64>())
        else {
            continue;
        };
        if !groups.is_empty() && !groups.contains(&group) {
            continue;
        }
        let resource = match labels.get("subresource").copied().unwrap_or_default() {
            "" => (*resource).to_owned(),
            sub => format!("{resource}/{sub}"),
        };
        // Counters are integers, printed as floats.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = n as u64;
        *out.entry(((*verb).to_owned(), resource)).or_default() += n;
    }
    out
}

/// `after - before`, per key, without the zeros.
pub fn grew(
    before: &BTreeMap<(String, String), u64>,
    after: &BTreeMap<(String, String), u64>,
) -> BTreeMap<(String, String), u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v.saturating_sub(before.get(k).copied().unwrap_or(0))))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// `d` in milliseconds, for the tables.
pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Creation times as the API server stamped them (`metadata.creationTimestamp`,
/// whole seconds), by key: free of any watcher's lag, and coarse.
pub type Stamps = BTreeMap<String, jiff::Timestamp>;

/// For each key in both, `to - from` (zero when `to` is stamped earlier).
pub fn stamped_gaps(from: &Stamps, to: &Stamps) -> Vec<Duration> {
    from.iter()
        .filter_map(|(k, start)| {
            let end = to.get(k)?;
            let gap = end.duration_since(*start);
            Some(Duration::try_from(gap).unwrap_or(Duration::ZERO))
        })
        .collect()
}

/// How long after its creation stamp the watcher saw each key: `seen`
/// (the watcher's clock) read on the wall clock through `origin`, an
/// instant taken before the watchers started and the wall-clock time at
/// that instant.
pub fn seen_late(
    stamps: &Stamps,
    seen: &BTreeMap<String, Instant>,
    origin: (Instant, jiff::Timestamp),
) -> Vec<Duration> {
    let wall = |at: Instant| -> jiff::Timestamp {
        let since = jiff::SignedDuration::try_from(at.saturating_duration_since(origin.0)).unwrap_or_default();
        origin.1.checked_add(since).unwrap_or(origin.1)
    };
    let seen_at: Stamps = seen.iter().map(|(k, at)| (k.clone(), wall(*at))).collect();
    stamped_gaps(stamps, &seen_at)
}
