//! The checks that merge sketches of past batches from history: `distribution`
//! (KLL quantile sketches, KS or PSI) and `distinct` over a window (HyperLogLogs).
//! A check's own recorded sketch (of its `where` rows) is preferred; without
//! `where`, the column's profile sketch of older records serves too. Pure.

use serde_json::{Value, json};

use super::{Context, Observed, Verdict, verdict};
use crate::distribution;
use crate::history::{self, ColumnMetrics, MetricsRecord};
use crate::result::CheckStatus;
use crate::sketch::hll::HyperLogLog;
use crate::sketch::kll::Kll;
use ade_api::v1alpha1::{Check, DistinctCheck, DistributionCheck, DistributionStatistic};

/// The past sketches a distribution check compares with: its own, as recorded
/// by earlier runs, else (without `where`) the column's profile sketch.
fn past_sketch(record: &MetricsRecord, check: &Check) -> Option<Kll> {
    let own = record.sketches.get(&check.name).and_then(|s| s.kll.as_ref());
    let state = own.or_else(|| past_column(record, check).and_then(|c| c.kll.as_ref()))?;
    Kll::from_state(state)
}

/// The past distinct-value sketch a distinct check merges: its own, else (without `where`) the column's.
fn past_hll(record: &MetricsRecord, check: &Check) -> Option<HyperLogLog> {
    let own = record.sketches.get(&check.name).and_then(|s| s.hll.as_ref());
    let state = own.or_else(|| past_column(record, check).map(|c| &c.hll))?;
    HyperLogLog::from_state(state)
}

/// The check's column as a past batch profiled it over all its rows (none for a `where` check).
fn past_column<'r>(record: &'r MetricsRecord, check: &Check) -> Option<&'r ColumnMetrics> {
    if check.where_.is_some() {
        return None;
    }
    record.columns.get(check.column.as_deref()?)
}

pub(super) fn distinct(check: &Check, d: &DistinctCheck, observed: Observed<'_>, ctx: Context<'_>) -> Verdict {
    let expected = json!({"min": d.min, "max": d.max, "window": d.window});
    let Some(column) = observed.column else {
        return verdict(false, Value::Null, expected, "no data".into());
    };
    let within = |n: u64| d.min.is_none_or(|m| n as i64 >= m) && d.max.is_none_or(|m| n as i64 <= m);
    let want = d.window.max(1) as usize - 1;
    if want == 0 {
        let n = column.distinct();
        return verdict(
            within(n),
            json!({"distinct": n}),
            expected,
            format!("{n} distinct values"),
        );
    }
    let past: Vec<(&str, HyperLogLog)> = history::comparable(ctx.records, ctx.current, d.seasonality)
        .into_iter()
        .filter_map(|r| past_hll(r, check).map(|h| (r.batch_id.as_str(), h)))
        .take(want)
        .collect();
    if past.len() < want {
        return Verdict {
            status: CheckStatus::InsufficientHistory,
            observed: json!({"distinctThisBatch": column.distinct()}),
            expected,
            message: format!(
                "{} comparable past batches with a sketch, {want} needed for a window of {}",
                past.len(),
                d.window
            ),
        };
    }
    let mut merged = column.hll.clone();
    for (_, h) in &past {
        merged.merge(h);
    }
    let n = merged.estimate().round() as u64;
    let batches: Vec<&str> = past.iter().map(|p| p.0).collect();
    verdict(
        within(n),
        json!({"distinct": n, "distinctThisBatch": column.distinct(), "relativeError": HyperLogLog::standard_error(), "pastBatches": batches}),
        expected,
        format!(
            "about {n} distinct values over this batch and {} before it",
            batches.len()
        ),
    )
}

pub(super) fn distribution(check: &Check, d: &DistributionCheck, observed: Observed<'_>, ctx: Context<'_>) -> Verdict {
    let statistic = match d.statistic {
        DistributionStatistic::Ks => "ks",
        DistributionStatistic::Psi => "psi",
    };
    let past: Vec<(&str, Kll)> = history::comparable(ctx.records, ctx.current, d.seasonality)
        .into_iter()
        .filter_map(|r| past_sketch(r, check).map(|k| (r.batch_id.as_str(), k)))
        .take(d.history.max(0) as usize)
        .collect();
    let expected =
        json!({"statistic": statistic, "threshold": d.threshold, "history": d.history, "minHistory": d.min_history});
    let need = d.min_history.max(1) as usize;
    if past.len() < need {
        return Verdict {
            status: CheckStatus::InsufficientHistory,
            observed: Value::Null,
            expected,
            message: format!("{} comparable past batches with a sketch, {need} needed", past.len()),
        };
    }
    let mut reference = Kll::default();
    for (_, k) in &past {
        reference.merge(k);
    }
    let Some(current) = observed.column.map(|c| &c.kll) else {
        return verdict(false, Value::Null, expected, "no data".into());
    };
    let value = match d.statistic {
        DistributionStatistic::Ks => distribution::ks(current, &reference),
        DistributionStatistic::Psi => distribution::psi(current, &reference),
    };
    let batches: Vec<&str> = past.iter().map(|p| p.0).collect();
    let median = |k: &Kll| k.quantile(0.5);
    match value {
        None => verdict(
            false,
            Value::Null,
            expected,
            "the column has no finite values in this batch".into(),
        ),
        Some(v) => verdict(
            v <= d.threshold,
            json!({statistic: v, "median": median(current), "historyMedian": median(&reference), "batches": batches}),
            expected,
            format!(
                "{statistic} {v:.4} against the merged sketches of {} past batch(es) (threshold {})",
                batches.len(),
                d.threshold
            ),
        ),
    }
}
