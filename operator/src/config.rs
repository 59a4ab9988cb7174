//! The operator's configuration: command-line flags, each with an environment
//! variable, parsed once in `main` and handed to whoever needs it.

use std::{net::SocketAddr, time::Duration};

use clap::{Parser, ValueEnum};

/// ADE operator: a cloud data platform as Kubernetes objects.
#[derive(Debug, Clone, Parser)]
#[command(name = "ade-operator", version, about)]
pub struct Config {
    /// Address of the HTTP server that serves /metrics, /healthz and /readyz.
    #[arg(long, env = "ADE_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Log format: `human` for a terminal, `json` for log collectors.
    #[arg(long, env = "ADE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Log filter in `tracing` syntax, e.g. `info` or `info,ade_operator=debug`.
    #[arg(long, env = "ADE_LOG", default_value = "info")]
    pub log_filter: String,

    /// Elect a leader through a coordination.k8s.io Lease, so that several
    /// replicas are safe: only the leader reconciles. Turn off only for a single
    /// local process.
    #[arg(long, env = "ADE_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,

    /// Name of the leader-election Lease.
    #[arg(long, env = "ADE_LEASE_NAME", default_value = "ade-operator")]
    pub lease_name: String,

    /// Namespace of the leader-election Lease: the operator's own namespace.
    #[arg(long, env = "POD_NAMESPACE", default_value = "ade-system")]
    pub lease_namespace: String,

    /// How long a leader's Lease is valid without renewal.
    #[arg(long, env = "ADE_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,

    /// How long the leader keeps acting after it last sent a renewal that
    /// succeeded: shorter than `--lease-duration`, so it has stopped writing
    /// before another replica may take the Lease over. Every renewal must
    /// finish within it.
    #[arg(long, env = "ADE_LEASE_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    pub lease_renew_deadline: Duration,

    /// How often the leader renews its Lease (and a standby retries).
    #[arg(long, env = "ADE_LEASE_RENEW_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub lease_renew_interval: Duration,

    /// This replica's identity in the Lease. Default: the pod name, else the host
    /// name and process id.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// How often the operator checks that its CRDs are installed (for /readyz).
    #[arg(long, env = "ADE_CRD_CHECK_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub crd_check_interval: Duration,

    /// AWS endpoint override for every AWS API (an emulator such as moto, or
    /// another cloud's S3-compatible endpoint). Unset: the real AWS endpoints.
    #[arg(long, env = "ADE_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,

    /// Default AWS region, where a resource does not name one.
    #[arg(long, env = "AWS_REGION")]
    pub aws_region: Option<String>,

    /// Image of `sparkSubmit` tasks on kubernetes pools that name no image.
    #[arg(long, env = "ADE_SPARK_IMAGE", default_value = "docker.io/apache/spark:3.5.3")]
    pub spark_image: String,

    /// Image of the ValidationSuite Jobs: one that has `ade-validate` on its
    /// PATH. The chart sets it to the operator's own image, which does.
    #[arg(long, env = "ADE_VALIDATOR_IMAGE", default_value = DEFAULT_IMAGE)]
    pub validator_image: String,

    /// Image of StreamConsumer pods (`ade-stream`) that name no image. Default:
    /// the operator's own image, which carries `ade-stream`.
    #[arg(long, env = "ADE_STREAM_IMAGE", default_value = DEFAULT_IMAGE)]
    pub stream_image: String,

    /// How long a finished run's (or validation's) Job and its Pod logs are
    /// kept, counted from its end, once the outcome is recorded in status:
    /// the operator sets this as the Job's `ttlSecondsAfterFinished` then.
    #[arg(long, env = "ADE_JOB_TTL", default_value = "1h", value_parser = parse_duration)]
    pub job_ttl: Duration,

    /// How many reconciles each controller runs at once; the objects past
    /// that wait in its queue, as kube-controller-manager's controllers
    /// bound theirs (`--concurrent-job-syncs`). 0, the default: no bound,
    /// every object whose turn it is reconciles at once. A bound keeps the
    /// memory and requests of a burst of thousands of runs in check, and
    /// costs latency while the API server is saturated: at 50, a 1,000-run
    /// burst on two cores started its median run sooner (0.7 s against 1.7)
    /// and its slowest far later (p99 20 s against 3 s), with 9 % less memory
    /// (docs/performance.md).
    #[arg(long, env = "ADE_CONCURRENT_RECONCILES", default_value_t = 0)]
    pub concurrent_reconciles: u16,

    /// How long an attempt on an emr pool may wait for a cluster with a free
    /// slot (and for its step to start) before it fails as `TimedOut`:
    /// counted apart from the job's `timeout`, which starts with the step.
    #[arg(long, env = "ADE_CLUSTER_WAIT_LIMIT", default_value = "2h", value_parser = parse_duration)]
    pub cluster_wait_limit: Duration,

    /// Price of one requested vCPU for one hour, in US dollars: the cost
    /// estimate of runs on kubernetes pools.
    #[arg(long, env = "ADE_PRICE_CPU_HOUR", default_value_t = 0.04)]
    pub price_cpu_hour: f64,

    /// Price of one requested GiB of memory for one hour, in US dollars.
    #[arg(long, env = "ADE_PRICE_MEMORY_GIB_HOUR", default_value_t = 0.005)]
    pub price_memory_gib_hour: f64,

    /// On-demand EC2 prices in US dollars per instance-hour, as
    /// `type=price,type=price`: the cost of on-demand capacity of emr pools.
    /// The default is a few common types at us-east-1 list prices; set the
    /// types and region your pools use.
    #[arg(long, env = "ADE_EC2_ON_DEMAND_PRICES", default_value = DEFAULT_ON_DEMAND, value_parser = parse_prices)]
    pub ec2_on_demand_prices: PriceTable,

    /// EMR's own fee in US dollars per instance-hour, as `type=price,...`,
    /// charged on spot and on-demand instances alike.
    #[arg(long, env = "ADE_EMR_UPLIFT_PRICES", default_value = DEFAULT_EMR_UPLIFT, value_parser = parse_prices)]
    pub emr_uplift_prices: PriceTable,
}

/// us-east-1 on-demand list prices (Linux) of a few common EMR instance types.
pub const DEFAULT_ON_DEMAND: &str = "m5.xlarge=0.192,m5.2xlarge=0.384,m6i.xlarge=0.192,m6i.2xlarge=0.384,\
r5.xlarge=0.252,r5.2xlarge=0.504,r6i.xlarge=0.252,r6i.2xlarge=0.504,c5.xlarge=0.17,c5.2xlarge=0.34";
/// us-east-1 EMR uplift of the same types.
pub const DEFAULT_EMR_UPLIFT: &str = "m5.xlarge=0.048,m5.2xlarge=0.096,m6i.xlarge=0.048,m6i.2xlarge=0.096,\
r5.xlarge=0.063,r5.2xlarge=0.126,r6i.xlarge=0.063,r6i.2xlarge=0.126,c5.xlarge=0.043,c5.2xlarge=0.085";

/// US dollars per instance-hour by EC2 instance type.
pub type PriceTable = std::collections::BTreeMap<String, f64>;

/// Parses `type=price,type=price` (the flags' syntax, and the cost simulator's).
pub fn parse_prices(s: &str) -> Result<PriceTable, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (kind, price) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: expected instance-type=usd-per-hour, e.g. m5.xlarge=0.192"))?;
            let price: f64 = price
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| p.is_finite() && *p >= 0.0)
                .ok_or_else(|| format!("{pair:?}: the price must be a non-negative number of US dollars"))?;
            Ok((kind.trim().to_owned(), price))
        })
        .collect()
}

/// The operator's own image of this version: it carries `ade-validate` and
/// `ade-stream` too.
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/ade-dev/ade-operator:", env!("CARGO_PKG_VERSION"));

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// Why the leader-election timings cannot work, if they cannot: the renew
    /// deadline must be shorter than the Lease, and the retry period shorter
    /// than the renew deadline.
    pub fn lease_timing_problem(&self) -> Option<String> {
        let (lease, deadline, retry) = (
            self.lease_duration,
            self.lease_renew_deadline,
            self.lease_renew_interval,
        );
        if deadline >= lease {
            return Some(format!(
                "--lease-renew-deadline ({deadline:?}) must be shorter than --lease-duration ({lease:?}), or a replica could act after another took over"
            ));
        }
        if retry >= deadline {
            return Some(format!(
                "--lease-renew-interval ({retry:?}) must be shorter than --lease-renew-deadline ({deadline:?}), or one failed renewal ends the leadership"
            ));
        }
        None
    }

    /// This replica's identity for leader election and Events.
    pub fn identity(&self) -> String {
        self.identity.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "ade-operator".to_owned());
            format!("{host}-{}", std::process::id())
        })
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::api::v1alpha1::Duration(s.to_owned())
        .to_std()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides_parse() {
        let config = Config::try_parse_from(["ade-operator"]).expect("defaults parse");
        assert!(config.leader_elect);
        assert_eq!(config.lease_duration, Duration::from_secs(15));
        assert_eq!(
            (config.lease_renew_deadline, config.lease_renew_interval),
            (Duration::from_secs(10), Duration::from_secs(2)),
            "client-go's leader-election timings"
        );
        assert_eq!(config.lease_timing_problem(), None);
        let bad = Config::try_parse_from(["ade-operator", "--lease-renew-deadline=15s"]).expect("parses");
        assert!(
            bad.lease_timing_problem()
                .is_some_and(|p| p.contains("shorter than --lease-duration")),
            "{:?}",
            bad.lease_timing_problem()
        );
        assert_eq!(config.stream_image, "ghcr.io/ade-dev/ade-operator:0.1.0");
        assert_eq!(config.concurrent_reconciles, 0, "unbounded, kube-runtime's default");
        let config = Config::try_parse_from([
            "ade-operator",
            "--leader-elect=false",
            "--aws-endpoint-url=http://127.0.0.1:5000",
            "--lease-duration=1m30s",
            "--log-format=json",
            "--concurrent-reconciles=50",
        ])
        .expect("flags parse");
        assert!(!config.leader_elect);
        assert_eq!(config.concurrent_reconciles, 50);
        assert_eq!(config.aws_endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(config.lease_duration, Duration::from_secs(90));
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(Config::try_parse_from(["ade-operator", "--lease-duration=soon"]).is_err());
        let config = Config::try_parse_from(["ade-operator", "--ec2-on-demand-prices=x1.large=1.5, y2.small=0.25"])
            .expect("prices parse");
        assert_eq!(config.ec2_on_demand_prices.get("y2.small"), Some(&0.25));
        assert_eq!(config.ec2_on_demand_prices.len(), 2);
        assert_eq!(config.emr_uplift_prices.get("m5.xlarge"), Some(&0.048));
        for bad in ["m5.xlarge", "m5.xlarge=cheap", "m5.xlarge=-1"] {
            assert!(
                Config::try_parse_from(["ade-operator", &format!("--emr-uplift-prices={bad}")]).is_err(),
                "{bad}"
            );
        }
    }
}
