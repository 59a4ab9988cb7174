//! How many `ade-stream` replicas a consumer runs: scaled on the lag the
//! replicas report, not on shard count.
//!
//! - Bounds: at most `maxReplicas` and never more than the open shards (a
//!   replica without a shard holds nothing); at least `minReplicas`, except
//!   that open shards win when there are fewer of them than `minReplicas`
//!   (and the floor is always one replica, so a consumer never stops).
//! - Up: when the largest per-shard lag is above `targetLag`, at once and in
//!   proportion (`ceil(replicas × lag / targetLag)`, at least one more), then
//!   not again for [`SCALE_UP_COOLDOWN`], so new replicas get to take their
//!   leases and catch up before the lag is judged again.
//! - Down: by one replica, only after the lag stayed below `targetLag / 2`
//!   for [`SCALE_DOWN_WINDOW`]; the window then starts again. Lag between half
//!   the target and the target holds the count and resets the window: no flapping.
//!
//! The two instants this needs (`low lag since`, `last scaled`) live as
//! annotations on the Deployment, so a restarted operator keeps them.
//!
//! Pure.

use jiff::{SignedDuration, Timestamp};

use super::leases::human_lag;

/// Shortest time between two scale-ups.
pub const SCALE_UP_COOLDOWN: SignedDuration = SignedDuration::from_secs(60);
/// How long the lag must stay below half the target before one replica goes.
pub const SCALE_DOWN_WINDOW: SignedDuration = SignedDuration::from_secs(300);

/// What the decision looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    /// Replicas the Deployment asks for now; `None` before it exists.
    pub current: Option<i32>,
    /// `scaling.minReplicas`.
    pub min: i32,
    /// `scaling.maxReplicas`.
    pub max: i32,
    /// `scaling.targetLag` in milliseconds.
    pub target_lag_ms: i64,
    /// Open shards, when known.
    pub open_shards: Option<i32>,
    /// Largest per-shard lag, when reported.
    pub max_lag_ms: Option<i64>,
    /// Since when the lag has been below half the target.
    pub low_since: Option<Timestamp>,
    /// When the replicas last changed.
    pub last_scaled: Option<Timestamp>,
    /// Now.
    pub now: Timestamp,
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Replicas to ask for.
    pub replicas: i32,
    /// Since when the lag has been low (to record).
    pub low_since: Option<Timestamp>,
    /// When the replicas last changed (to record).
    pub last_scaled: Option<Timestamp>,
    /// Why the replicas change, when they do (not on creation).
    pub why: Option<String>,
}

fn at_least(since: Option<Timestamp>, now: Timestamp, span: SignedDuration) -> bool {
    since.is_none_or(|t| now.duration_since(t) >= span)
}

/// Decides the replicas.
pub fn decide(i: &Inputs) -> Decision {
    let ceiling = i.max.min(i.open_shards.unwrap_or(i.max)).max(1);
    let floor = i.min.min(ceiling).max(1);
    let target = i.target_lag_ms.max(1);
    let Some(current) = i.current else {
        return Decision {
            replicas: floor,
            low_since: None,
            last_scaled: None,
            why: None,
        };
    };
    let base = current.clamp(floor, ceiling);
    let mut out = Decision {
        replicas: base,
        low_since: None,
        last_scaled: i.last_scaled,
        why: (base != current).then(|| match i.open_shards {
            Some(1) if base == ceiling => "the stream has 1 open shard".to_owned(),
            Some(open) if base == ceiling && open < i.max => {
                format!("the stream has {open} open shards")
            }
            _ => format!("scaling allows {floor} to {ceiling} replicas"),
        }),
    };
    match i.max_lag_ms {
        Some(lag) if lag > target && base < ceiling && at_least(i.last_scaled, i.now, SCALE_UP_COOLDOWN) => {
            // ceil(base × lag / target); every factor is positive.
            let proportional = (i128::from(base) * i128::from(lag) + i128::from(target) - 1) / i128::from(target);
            let want = i32::try_from(proportional)
                .unwrap_or(i32::MAX)
                .max(base + 1)
                .min(ceiling);
            out.replicas = want;
            out.why = Some(format!(
                "lag {} is above the target {}",
                human_lag(lag),
                human_lag(target)
            ));
        }
        Some(lag) if lag.saturating_mul(2) < target => {
            let since = i.low_since.unwrap_or(i.now);
            out.low_since = Some(since);
            if base > floor && at_least(Some(since), i.now, SCALE_DOWN_WINDOW) {
                out.replicas = base - 1;
                out.low_since = Some(i.now);
                out.why = Some(format!(
                    "lag stayed below half the target {} for {}",
                    human_lag(target),
                    human_lag(i.now.duration_since(since).as_millis().try_into().unwrap_or(i64::MAX)),
                ));
            }
        }
        _ => {}
    }
    if out.replicas != current {
        out.last_scaled = Some(i.now);
    }
    out
}

#[cfg(test)]
#[path = "scaling_tests.rs"]
mod tests;
