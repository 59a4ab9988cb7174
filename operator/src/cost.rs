//! Cost estimates of runs: requested resources × price × time.
//!
//! The kubernetes provider has no bill of its own, so a run is priced by what
//! it reserves: its CPU and memory requests, at per-hour prices from the
//! operator's configuration. Amounts are rounded to a hundredth of a cent and
//! written as decimal strings.
//!
//! Pure.

use k8s_openapi::{api::core::v1::ResourceRequirements, apimachinery::pkg::api::resource::Quantity};

/// Prices of reserved capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// US dollars per vCPU-hour.
    pub cpu_hour: f64,
    /// US dollars per GiB-hour of memory.
    pub memory_gib_hour: f64,
}

/// CPU cores and GiB of memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reserved {
    /// CPU cores.
    pub cpu: f64,
    /// Memory in GiB.
    pub memory_gib: f64,
}

/// What `resources` requests (limits stand in for missing requests, as Kubernetes does).
pub fn reserved(resources: Option<&ResourceRequirements>) -> Reserved {
    let Some(r) = resources else {
        return Reserved::default();
    };
    let pick = |name: &str| {
        r.requests
            .as_ref()
            .and_then(|m| m.get(name))
            .or_else(|| r.limits.as_ref().and_then(|m| m.get(name)))
    };
    Reserved {
        cpu: pick("cpu").and_then(cpu_cores).unwrap_or(0.0),
        memory_gib: pick("memory").and_then(memory_gib).unwrap_or(0.0),
    }
}

/// Cost in US dollars of holding `reserved` for `seconds`.
pub fn cost(reserved: Reserved, prices: Prices, seconds: f64) -> f64 {
    let hours = seconds.max(0.0) / 3600.0;
    (reserved.cpu * prices.cpu_hour + reserved.memory_gib * prices.memory_gib_hour) * hours
}

/// An amount as the decimal string status fields use, e.g. `"0.0123"`.
pub fn usd(amount: f64) -> String {
    // Not `max(0.0)`: an empty float sum is -0.0, which would print as "-0.0000".
    let amount = if amount > 0.0 { amount } else { 0.0 };
    format!("{:.4}", (amount * 10_000.0).round() / 10_000.0)
}

/// CPU cores of a quantity such as `500m`, `2` or `1.5`.
pub fn cpu_cores(q: &Quantity) -> Option<f64> {
    let s = q.0.trim();
    match s.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
        None => s.parse().ok(),
    }
}

/// GiB of a memory quantity such as `512Mi`, `2Gi`, `1G` or `1000000`.
pub fn memory_gib(q: &Quantity) -> Option<f64> {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let s = q.0.trim();
    let units: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", GIB),
        ("Ti", GIB * 1024.0),
        ("Pi", GIB * 1024.0 * 1024.0),
        ("Ei", GIB * 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in units {
        if let Some(number) = s.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor / GIB);
        }
    }
    s.parse::<f64>().ok().map(|bytes| bytes / GIB)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_owned())
    }

    #[test]
    fn quantities() {
        let cpu = [("500m", 0.5), ("2", 2.0), ("1.5", 1.5), ("100m", 0.1)];
        for (s, want) in cpu {
            assert_eq!(cpu_cores(&q(s)), Some(want), "{s}");
        }
        let mem = [("1Gi", 1.0), ("512Mi", 0.5), ("2048Mi", 2.0), ("1073741824", 1.0)];
        for (s, want) in mem {
            assert_eq!(memory_gib(&q(s)), Some(want), "{s}");
        }
        assert!((memory_gib(&q("1G")).unwrap_or_default() - 0.931_322_574_6).abs() < 1e-9);
        assert_eq!(cpu_cores(&q("lots")), None);
    }

    #[test]
    fn cost_of_requests_over_time() {
        let resources = ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), q("500m")),
                ("memory".to_owned(), q("1Gi")),
            ])),
            limits: Some(BTreeMap::from([("memory".to_owned(), q("2Gi"))])),
            ..ResourceRequirements::default()
        };
        let prices = Prices {
            cpu_hour: 0.04,
            memory_gib_hour: 0.005,
        };
        let r = reserved(Some(&resources));
        assert_eq!(
            r,
            Reserved {
                cpu: 0.5,
                memory_gib: 1.0
            }
        );
        // half an hour of 0.5 cpu and 1 GiB: (0.02 + 0.005) / 2
        assert_eq!(usd(cost(r, prices, 1800.0)), "0.0125");
        assert_eq!(usd(cost(reserved(None), prices, 3600.0)), "0.0000");
        assert_eq!(usd(std::iter::empty::<f64>().sum()), "0.0000", "an empty sum is -0.0");
        assert_eq!(usd(-1.0), "0.0000");
        // limits stand in for requests
        let limits_only = ResourceRequirements {
            limits: Some(BTreeMap::from([("cpu".to_owned(), q("2"))])),
            ..ResourceRequirements::default()
        };
        assert_eq!(reserved(Some(&limits_only)).cpu, 2.0);
    }
}
