//! Tables for the cost maths, with prices recorded from us-east-1: on-demand
//! and EMR prices from the public price lists, spot prices as
//! `DescribeSpotPriceHistory` returned them for one availability zone.

use super::*;

/// `HH:MM` on 2026-03-02, UTC.
fn t(hhmm: &str) -> Timestamp {
    format!("2026-03-02T{hhmm}:00Z").parse().expect("timestamp")
}

fn prices() -> PriceBook {
    let table = |rows: &[(&str, f64)]| rows.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    let spot = |instance_type: &str, at: &str, usd_per_hour: f64| SpotPrice {
        instance_type: instance_type.into(),
        at: t(at),
        usd_per_hour,
    };
    PriceBook {
        on_demand: table(&[("m6i.xlarge", 0.192), ("r6i.2xlarge", 0.504), ("r5.2xlarge", 0.504)]),
        emr_uplift: table(&[("m6i.xlarge", 0.048), ("r6i.2xlarge", 0.126), ("r5.2xlarge", 0.126)]),
        // out of order on purpose; the 13:10 point is after every usage below
        spot: vec![
            spot("r6i.2xlarge", "11:55", 0.19),
            spot("r6i.2xlarge", "09:47", 0.16),
            spot("r6i.2xlarge", "13:10", 0.205),
            spot("r6i.2xlarge", "10:40", 0.172),
            spot("r5.2xlarge", "09:00", 0.15),
        ],
    }
}

fn usage(instance_type: &str, market: Market, count: u32, from: &str, to: &str) -> FleetUsage {
    FleetUsage {
        instance_type: instance_type.into(),
        market,
        count,
        from: t(from),
        to: t(to),
    }
}

use Market::{OnDemand, Spot};

/// (case, usage, EC2 USD, EMR USD, total USD, instance-hours)
type CostCase = (&'static str, Vec<FleetUsage>, f64, f64, f64, f64);

/// (case, cluster USD, runs, expected shares (run, USD), unattributed USD)
type ShareCase = (&'static str, f64, Vec<RunTime>, Vec<(&'static str, f64)>, f64);

#[test]
fn cluster_cost_is_instance_hours_times_price_plus_the_emr_uplift() {
    let cases: Vec<CostCase> = vec![
        (
            // 0.192 × 2.5 h; 0.048 × 2.5 h
            "primary: 1 on-demand m6i.xlarge for 2.5 h",
            vec![usage("m6i.xlarge", OnDemand, 1, "10:00", "12:30")],
            0.48,
            0.12,
            0.60,
            2.5,
        ),
        (
            // per instance 0.16 × 40 min + 0.172 × 75 min + 0.19 × 35 min
            //   = 0.106667 + 0.215 + 0.110833 = 0.4325; × 4 = 1.73; EMR 0.126 × 10 h
            "core: 4 spot r6i.2xlarge across three prices",
            vec![usage("r6i.2xlarge", Spot, 4, "10:00", "12:30")],
            1.73,
            1.26,
            2.99,
            10.0,
        ),
        (
            "the whole cluster: primary + core",
            vec![
                usage("m6i.xlarge", OnDemand, 1, "10:00", "12:30"),
                usage("r6i.2xlarge", Spot, 4, "10:00", "12:30"),
            ],
            2.21,
            1.38,
            3.59,
            12.5,
        ),
        (
            // 0.16 × 0.5 h × 2; 0.126 × 0.5 h × 2
            "inside one price period",
            vec![usage("r6i.2xlarge", Spot, 2, "10:00", "10:30")],
            0.16,
            0.126,
            0.286,
            1.0,
        ),
        (
            // 0.172 × 1.25 h: a point exactly at the start applies, one exactly at the end does not
            "from one price change to the next",
            vec![usage("r6i.2xlarge", Spot, 1, "10:40", "11:55")],
            0.215,
            0.1575,
            0.3725,
            1.25,
        ),
        (
            // 0.504 × 10 h: what the breaker's fallback costs, against 1.73 on spot
            "core on on-demand instead",
            vec![usage("r6i.2xlarge", OnDemand, 4, "10:00", "12:30")],
            5.04,
            1.26,
            6.30,
            10.0,
        ),
        (
            // 3 × 0.4325 + (0.16 × 40 min + 0.172 × 20 min = 0.164) + 0.504 × 85 min (0.714)
            //   = 2.1755; EMR 0.126 × (7.5 + 1 + 85/60) h = 1.2495
            "a spot instance interrupted at 11:00, replaced on-demand at 11:05",
            vec![
                usage("r6i.2xlarge", Spot, 3, "10:00", "12:30"),
                usage("r6i.2xlarge", Spot, 1, "10:00", "11:00"),
                usage("r6i.2xlarge", OnDemand, 1, "11:05", "12:30"),
            ],
            2.1755,
            1.2495,
            3.425,
            7.5 + 1.0 + 85.0 / 60.0,
        ),
        (
            // 0.15 × 2 h × 2 + 0.126 × 4 h
            "a flat spot price",
            vec![usage("r5.2xlarge", Spot, 2, "10:00", "12:00")],
            0.60,
            0.504,
            1.104,
            4.0,
        ),
        (
            "no instances, no time, reversed time: nothing (and no price needed)",
            vec![
                usage("r6i.2xlarge", Spot, 0, "10:00", "12:00"),
                usage("r6i.2xlarge", Spot, 3, "10:00", "10:00"),
                usage("x9.huge", OnDemand, 3, "12:00", "10:00"),
            ],
            0.0,
            0.0,
            0.0,
            0.0,
        ),
    ];
    for (name, usage, ec2, emr, total, instance_hours) in cases {
        let got = cluster_cost(&usage, &prices()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let near = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(
            near(got.ec2, ec2) && near(got.emr, emr) && near(got.instance_hours, instance_hours),
            "{name}: got {got:?}"
        );
        assert!(near(got.total(), total), "{name}: total {}", got.total());
        assert_eq!(usd(got.total()), usd(total), "{name}");
    }
}

#[test]
fn cost_is_described_for_status() {
    let cost = cluster_cost(
        &[
            usage("m6i.xlarge", OnDemand, 1, "10:00", "12:30"),
            usage("r6i.2xlarge", Spot, 4, "10:00", "12:30"),
        ],
        &prices(),
    )
    .expect("priced");
    assert_eq!(
        cost.describe(),
        "3.5900 USD (EC2 2.2100 + EMR 1.3800, 12.5 instance-hours)"
    );
}

#[test]
fn ec2_cost_has_no_emr_uplift_and_needs_none() {
    let mut book = prices();
    book.emr_uplift.clear();
    let used = [
        usage("m6i.xlarge", OnDemand, 1, "10:00", "12:30"),
        usage("r5.2xlarge", Spot, 1, "10:00", "11:00"),
    ];
    let cost = ec2_cost(&used, &book).expect("priced");
    // 0.192 × 2.5 h + 0.15 × 1 h
    assert!((cost.ec2 - 0.63).abs() < 1e-9, "{cost:?}");
    assert_eq!(cost.emr, 0.0);
    assert!((cost.instance_hours - 3.5).abs() < 1e-9, "{cost:?}");
    // EMR pricing of the same usage needs the uplift.
    assert!(cluster_cost(&used, &book).is_err());
    let err = ec2_cost(&[usage("c7g.xlarge", OnDemand, 1, "10:00", "11:00")], &book).expect_err("no price");
    assert_eq!(
        err.to_string(),
        "cannot estimate the cost: no on-demand price for c7g.xlarge"
    );
}

#[test]
fn missing_prices_are_named_all_at_once() {
    let err = cluster_cost(
        &[
            usage("m6i.xlarge", OnDemand, 1, "10:00", "12:30"),
            usage("r6i.4xlarge", Spot, 2, "10:00", "12:30"),
            usage("c7g.xlarge", OnDemand, 1, "10:00", "12:30"),
            // the r5.2xlarge history starts at 09:00: 08:30 is not covered
            usage("r5.2xlarge", Spot, 2, "08:30", "12:30"),
            usage("r6i.4xlarge", Spot, 1, "11:00", "12:30"),
        ],
        &prices(),
    )
    .expect_err("prices are missing");
    assert_eq!(
        err.to_string(),
        "cannot estimate the cost: no on-demand price for c7g.xlarge; \
         no spot price history for r5.2xlarge, r6i.4xlarge; no EMR uplift for c7g.xlarge, r6i.4xlarge"
    );
    assert_eq!(
        err.instance_types().into_iter().collect::<Vec<_>>(),
        ["c7g.xlarge", "r5.2xlarge", "r6i.4xlarge"]
    );
}

#[test]
fn of_two_spot_prices_at_the_same_instant_the_later_recorded_wins() {
    let mut book = prices();
    book.spot = vec![
        SpotPrice {
            instance_type: "r5.2xlarge".into(),
            at: t("10:00"),
            usd_per_hour: 0.30,
        },
        SpotPrice {
            instance_type: "r5.2xlarge".into(),
            at: t("10:00"),
            usd_per_hour: 0.10,
        },
    ];
    let got = cluster_cost(&[usage("r5.2xlarge", Spot, 1, "10:00", "11:00")], &book).expect("priced");
    assert!((got.ec2 - 0.10).abs() < 1e-12, "{got:?}");
}

fn ran(run: &str, from: &str, to: &str) -> RunTime {
    RunTime {
        run: run.into(),
        from: t(from),
        to: t(to),
    }
}

#[test]
fn a_clusters_cost_is_shared_by_run_seconds_idle_time_included() {
    let cases: Vec<ShareCase> = vec![
        (
            // 2.5 h cluster, 2 h of runs: the 0.5 h idle is spread 2:1:1 too
            "one hour and two half hours",
            3.59,
            vec![
                ran("orders-20260302", "10:10", "11:10"),
                ran("clicks-20260302", "11:10", "11:40"),
                ran("users-20260302", "11:40", "12:10"),
            ],
            vec![
                ("clicks-20260302", 0.8975),
                ("orders-20260302", 1.795),
                ("users-20260302", 0.8975),
            ],
            0.0,
        ),
        (
            "concurrent runs count their own seconds; a retried run sums its attempts",
            3.0,
            vec![
                ran("a", "10:00", "11:00"),
                ran("b", "10:00", "10:20"),
                ran("b", "10:30", "10:40"),
                ran("c", "10:30", "11:00"),
            ],
            vec![("a", 1.5), ("b", 0.75), ("c", 0.75)],
            0.0,
        ),
        (
            "a warm cluster nobody used: all unattributed",
            0.60,
            vec![],
            vec![],
            0.60,
        ),
        (
            "runs of no length (or reversed clocks) used nothing",
            0.60,
            vec![ran("a", "10:00", "10:00"), ran("b", "11:00", "10:00")],
            vec![],
            0.60,
        ),
    ];
    for (name, cost, runs, want, unattributed) in cases {
        let got = apportion(cost, &runs);
        let shares: Vec<(&str, String)> = got.runs.iter().map(|r| (r.run.as_str(), usd(r.usd))).collect();
        let want: Vec<(&str, String)> = want.iter().map(|(r, v)| (*r, usd(*v))).collect();
        assert_eq!(shares, want, "{name}");
        assert!((got.unattributed - unattributed).abs() < 1e-12, "{name}");
        let sum: f64 = got.runs.iter().map(|r| r.usd).sum::<f64>() + got.unattributed;
        assert!((sum - cost).abs() < 1e-9, "{name}: shares add up to the cluster's cost");
    }
    let got = apportion(3.0, &[ran("b", "10:00", "10:20"), ran("b", "10:30", "10:40")]);
    assert_eq!(got.runs[0].seconds, 1800.0);
}
