//! Spot price history, fetched per region and reused while it is fresh
//! (ten minutes) and covers what is asked (the instance types and the start):
//! the emr and eks providers price spot capacity from it, every pool
//! reconcile and every run's estimate, without a `DescribeSpotPriceHistory`
//! each time.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    sync::Mutex,
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};

use super::emr::{
    Market,
    pricing::{FleetUsage, SpotPrice},
};

/// Spot prices are asked for again after this long.
const TTL: Duration = Duration::from_secs(600);

/// The history of one region, as last fetched.
#[derive(Debug, Clone)]
struct Fetched {
    at: Timestamp,
    since: Timestamp,
    types: BTreeSet<String>,
    prices: Vec<SpotPrice>,
}

/// The cache, one history per region.
#[derive(Debug, Default)]
pub struct SpotPriceCache {
    by_region: Mutex<BTreeMap<String, Fetched>>,
}

impl SpotPriceCache {
    /// The history of `types` in `region` from `since`: the cached one when
    /// it is fresh at `now` and covers them, else what `fetch` (given the
    /// types) returns, which is cached.
    pub async fn get<E, F, Fut>(
        &self,
        region: &str,
        types: &BTreeSet<String>,
        since: Timestamp,
        now: Timestamp,
        fetch: F,
    ) -> Result<Vec<SpotPrice>, E>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<Vec<SpotPrice>, E>>,
    {
        let fresh = |c: &Fetched| {
            now.duration_since(c.at) < SignedDuration::try_from(TTL).unwrap_or_default()
                && c.since <= since
                && types.is_subset(&c.types)
        };
        if let Some(cached) = self.lock().get(region).filter(|c| fresh(c)) {
            return Ok(cached.prices.clone());
        }
        let prices = fetch(types.iter().cloned().collect()).await?;
        self.lock().insert(
            region.to_owned(),
            Fetched {
                at: now,
                since,
                types: types.clone(),
                prices: prices.clone(),
            },
        );
        Ok(prices)
    }

    /// The history the spot part of `usage` needs: its spot instance types
    /// from the earliest start of any usage. No history (and no call) when
    /// nothing is spot. `fetch` gets the types and the start.
    pub async fn for_usage<'u, E, F, Fut>(
        &self,
        region: &str,
        usage: impl IntoIterator<Item = &'u FleetUsage>,
        now: Timestamp,
        fetch: F,
    ) -> Result<Vec<SpotPrice>, E>
    where
        F: FnOnce(Vec<String>, Timestamp) -> Fut,
        Fut: Future<Output = Result<Vec<SpotPrice>, E>>,
    {
        let mut types = BTreeSet::new();
        let mut since: Option<Timestamp> = None;
        for u in usage {
            since = Some(since.map_or(u.from, |s| s.min(u.from)));
            if u.market == Market::Spot {
                types.insert(u.instance_type.clone());
            }
        }
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let since = since.unwrap_or(now);
        self.get(region, &types, since, now, |types| fetch(types, since)).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Fetched>> {
        self.by_region.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[tokio::test]
    async fn fetched_once_while_fresh_and_covering() {
        let cache = SpotPriceCache::default();
        let calls = AtomicUsize::new(0);
        let fetch = |types: Vec<String>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let prices = types
                .into_iter()
                .map(|t| SpotPrice {
                    instance_type: t,
                    at: at("2026-12-01T00:00:00Z"),
                    usd_per_hour: 0.1,
                })
                .collect::<Vec<_>>();
            async move { Ok::<_, String>(prices) }
        };
        let m5 = BTreeSet::from(["m5.xlarge".to_owned()]);
        let both = BTreeSet::from(["m5.xlarge".to_owned(), "r5.xlarge".to_owned()]);
        let (since, now) = (at("2026-12-01T08:00:00Z"), at("2026-12-01T09:00:00Z"));
        let cases = [
            // (types, since, now, fetches so far)
            (&m5, since, now, 1),
            // Fresh and covering: cached.
            (&m5, since, at("2026-12-01T09:05:00Z"), 1),
            // A later start is covered too.
            (&m5, at("2026-12-01T08:30:00Z"), now, 1),
            // A type not fetched: fetched again, with both.
            (&both, since, now, 2),
            // An earlier start is not covered.
            (&both, at("2026-12-01T07:00:00Z"), now, 3),
            // Ten minutes later: stale.
            (&both, at("2026-12-01T07:00:00Z"), at("2026-12-01T09:10:00Z"), 4),
        ];
        for (types, since, now, want) in cases {
            let prices = cache.get("us-east-1", types, since, now, fetch).await.expect("prices");
            assert_eq!(prices.len(), types.len());
            assert_eq!(calls.load(Ordering::SeqCst), want, "{types:?} from {since} at {now}");
        }
        // Another region has its own history.
        cache.get("eu-west-1", &m5, since, now, fetch).await.expect("prices");
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn usage_asks_for_its_spot_types_from_its_earliest_start() {
        let cache = SpotPriceCache::default();
        let used = |instance_type: &str, market, from: &str| FleetUsage {
            instance_type: instance_type.into(),
            market,
            count: 1,
            from: at(from),
            to: at("2026-12-01T10:00:00Z"),
        };
        let now = at("2026-12-01T10:00:00Z");
        let asked = std::sync::Mutex::new(Vec::new());
        let fetch = |types: Vec<String>, since: Timestamp| {
            asked.lock().expect("lock").push((types, since));
            async { Ok::<_, String>(Vec::new()) }
        };
        let on_demand = [used("m5.xlarge", Market::OnDemand, "2026-12-01T08:00:00Z")];
        cache
            .for_usage("us-east-1", &on_demand, now, fetch)
            .await
            .expect("prices");
        assert!(asked.lock().expect("lock").is_empty(), "nothing spot: no call");
        let mixed = [
            used("r5.xlarge", Market::Spot, "2026-12-01T09:00:00Z"),
            used("m5.xlarge", Market::OnDemand, "2026-12-01T07:00:00Z"),
            used("c5.xlarge", Market::Spot, "2026-12-01T08:00:00Z"),
        ];
        cache.for_usage("us-east-1", &mixed, now, fetch).await.expect("prices");
        assert_eq!(
            *asked.lock().expect("lock"),
            [(
                vec!["c5.xlarge".to_owned(), "r5.xlarge".to_owned()],
                at("2026-12-01T07:00:00Z")
            )]
        );
    }
}
