//! The chaos run's pieces (e2e/tests/chaos.rs): its workload and what each
//! run must end as, the faults, and what it reads back:
//! [`Replicas`] keeps two operators competing for the Lease, SIGKILLs the
//! holder at seeded moments and replaces it, restarts the kube-apiserver
//! once, and replaces a replica that stepped down on its own; [`emr_state`]
//! reads the emulator's state (and `crate::objects` the API server's), never
//! the operator's logs.

use std::time::{Duration, Instant};

use ade_moto::faults::Draws;
use serde_json::Value;

use crate::{Moto, Operator, S3, kubectl, kubectl_with_stdin, lease_holder, repo_root};

/// Two operator replicas under fire.
#[derive(Debug)]
pub struct Replicas {
    replicas: Vec<Operator>,
    args: Vec<String>,
    started: u32,
    every: u64,
    next_kill: Instant,
    restart_at: Option<Instant>,
    /// Lease holders SIGKILLed.
    pub kills: u32,
    /// Replicas that exited on their own (a leader whose renewals failed
    /// while the apiserver was down steps down by design).
    pub exits: u32,
    /// kube-apiserver restarts.
    pub apiserver_restarts: u32,
}

impl Replicas {
    /// Starts two replicas with `args` (plus emulator credentials); the holder
    /// is killed every [`every`, 2 × `every`) seconds and the apiserver is
    /// restarted once, 5 to 15 s from now, as `draws` decide.
    pub fn start(args: &[String], every: u64, draws: &mut Draws) -> Self {
        let mut replicas = Self {
            replicas: Vec::new(),
            args: args.to_vec(),
            started: 0,
            every,
            next_kill: Instant::now() + Duration::from_secs(draws.between(every, 2 * every)),
            restart_at: Some(Instant::now() + Duration::from_secs(draws.between(5, 15))),
            kills: 0,
            exits: 0,
            apiserver_restarts: 0,
        };
        let (a, b) = (replicas.launch(), replicas.launch());
        replicas.replicas = vec![a, b];
        replicas
    }

    fn launch(&mut self) -> Operator {
        self.started += 1;
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        Operator::start_with(
            &format!("chaos-{}", self.started),
            &args,
            &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
        )
    }

    /// Does what is due: restarts the apiserver, replaces replicas that
    /// exited, kills the Lease holder.
    pub fn tick(&mut self, draws: &mut Draws) {
        if self.restart_at.is_some_and(|at| Instant::now() >= at) {
            let out = std::process::Command::new(repo_root().join("e2e/cluster"))
                .arg("restart-apiserver")
                .output()
                .expect("running e2e/cluster restart-apiserver");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            self.apiserver_restarts += 1;
            self.restart_at = None;
        }
        for i in 0..self.replicas.len() {
            if self.replicas[i].exited().is_some() {
                self.exits += 1;
                self.replicas[i] = self.launch();
            }
        }
        if Instant::now() >= self.next_kill {
            let holder = lease_holder();
            let leader = self
                .replicas
                .iter()
                .position(|r| Some(&r.identity) == holder.as_ref())
                .unwrap_or(0);
            self.replicas[leader].kill();
            self.kills += 1;
            self.replicas[leader] = self.launch();
            self.next_kill = Instant::now() + Duration::from_secs(draws.between(self.every, 2 * self.every));
        }
    }

    /// The last `lines` of each replica's log, for a failure message.
    pub fn log_tails(&self, lines: usize) -> String {
        self.replicas
            .iter()
            .flat_map(|r| {
                let log = r.log();
                let mut tail: Vec<String> = log.lines().rev().take(lines).map(str::to_owned).collect();
                tail.reverse();
                tail
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The gated job's and its dependent's batches.
pub const GATED: [&str; 3] = ["2026-11-03T00", "2026-11-03T01", "2026-11-03T02"];
/// The batch run again by hand.
pub const RERUN_BATCH: &str = "2026-11-01T00";

/// The eks pool of the chaos run.
pub const EKS_POOL: &str = "nodes";
/// Runs of its backfill (`x`).
pub const EKS_RUNS: u64 = 4;

/// Applies the run's objects: a kubernetes pool with a backfill (`k`), a
/// failing task retried once (`f`), a gated job (`g`) with its suite and a
/// job that depends on it (`d`), a slow job with a run to cancel; an emr
/// pool with a backfill (`e`) and a run to cancel; an eks pool (its nodes
/// from `ami` in `subnet`, joining EKS cluster `data`) with a backfill (`x`).
pub fn workload(ns: &str, k_runs: u64, e_runs: u64, (ami, subnet): (&str, &str)) {
    let k_to = jiff::Timestamp::from_second(1_793_491_200 + i64::try_from(k_runs).unwrap_or(0) * 3600)
        .expect("the backfill's end");
    let container = |annotations: &str| {
        format!("task: {{container: {{image: busybox, podMetadata: {{annotations: {{{annotations}}}}}}}}}")
    };
    let ok = container("e2e.ade.dev/duration: 2s");
    let backfill = |from: &str, to: &str| {
        format!(
            "backfill: {{from: '{from}', to: '{to}', parallelism: 3}}\n  historyLimit: {{succeeded: 1000, failed: 1000}}"
        )
    };
    let kb = backfill("2026-11-01T00:00:00Z", &k_to.to_string());
    let fb = backfill("2026-11-04T00:00:00Z", "2026-11-04T02:00:00Z");
    let gb = backfill("2026-11-03T00:00:00Z", "2026-11-03T03:00:00Z");
    let eb = backfill("2026-11-02T00:00:00Z", &format!("2026-11-02T{e_runs:02}:00:00Z"));
    let xb = backfill("2026-11-06T00:00:00Z", &format!("2026-11-06T{EKS_RUNS:02}:00:00Z"));
    let failing = container("e2e.ade.dev/outcome: fail, e2e.ade.dev/duration: 1s");
    let slow = container("e2e.ade.dev/duration: 1h");
    let yaml = format!(
        "apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {{name: batch}}
spec: {{provider: kubernetes, capacity: {{maxConcurrentRuns: 8}}}}
---
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {{name: spark}}
spec:
  provider: emr
  region: us-east-1
  capacity: {{maxClusters: 2, maxRunsPerCluster: 2, idleTimeout: 20s}}
  emr:
    releaseLabel: emr-7.5.0
    applications: [Spark]
    serviceRole: EMR_DefaultRole
    instanceProfile: EMR_EC2_DefaultRole
    primary: {{instanceTypes: [m5.xlarge], onDemand: 1}}
    core: {{instanceTypes: [r5.xlarge], spot: 2}}
---
apiVersion: ade.dev/v1alpha1
kind: ValidationSuite
metadata: {{name: g-quality}}
spec:
  dataset: {{uri: 's3://lake/g/batch={{{{batch.id}}}}/', format: csv}}
  trigger: {{after: {{etlJobRef: {{name: g}}}}}}
  checks: [{{name: has-rows, rowCount: {{min: 1}}}}, {{name: id-unique, column: id, unique: {{}}}}]
  publish: {{s3: {{uri: 's3://quality/results/'}}}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: k}}
spec:
  poolRef: {{name: batch}}
  window: {{size: 1h}}
  {kb}
  {ok}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: f}}
spec:
  poolRef: {{name: batch}}
  window: {{size: 1h}}
  retries: {{limit: 1, backoff: {{initial: 1s, max: 2s}}}}
  {fb}
  {failing}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: g}}
spec:
  poolRef: {{name: batch}}
  window: {{size: 1h}}
  gates: {{after: [{{validationSuiteRef: {{name: g-quality}}}}]}}
  {gb}
  {ok}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: d}}
spec:
  poolRef: {{name: batch}}
  window: {{size: 1h}}
  dependsOn: [{{etlJobRef: {{name: g}}}}]
  {gb}
  {ok}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: slow}}
spec: {{poolRef: {{name: batch}}, {slow}}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlRun
metadata: {{name: slow-cancel}}
spec:
  jobRef: {{name: slow}}
  batchId: '2026-11-05'
  window: {{start: '2026-11-05T00:00:00Z', end: '2026-11-06T00:00:00Z'}}
  reason: manual
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: e}}
spec:
  poolRef: {{name: spark}}
  window: {{size: 1h}}
  {eb}
  task:
    sparkSubmit: {{mainApplicationFile: 's3://code/e.py'}}
---
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {{name: {EKS_POOL}}}
spec:
  provider: eks
  region: us-east-1
  capacity: {{maxClusters: 2, maxRunsPerCluster: 2, idleTimeout: 20s}}
  eks: {{clusterName: data, instanceTypes: [m5.xlarge], subnetIds: [{subnet}], amiId: {ami}}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: x}}
spec:
  poolRef: {{name: {EKS_POOL}}}
  window: {{size: 1h}}
  {xb}
  task:
    container:
      image: busybox
      resources: {{requests: {{cpu: '1', memory: 2Gi}}}}
      podMetadata: {{annotations: {{e2e.ade.dev/duration: 2s}}}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlRun
metadata: {{name: e-cancel}}
spec:
  jobRef: {{name: e}}
  batchId: '2026-11-02T10'
  window: {{start: '2026-11-02T10:00:00Z', end: '2026-11-02T11:00:00Z'}}
  reason: manual
"
    );
    let out = kubectl_with_stdin(&["apply", "-n", ns, "-f", "-"], &yaml);
    assert!(out.success, "kubectl apply failed:\n{}\n{yaml}", out.stderr);
}

/// What a run must end as: phase and number of attempts.
pub fn expected(run: &Value) -> (&'static str, usize) {
    match (run["spec"]["jobRef"]["name"].as_str(), run["spec"]["cancel"].as_bool()) {
        (_, Some(true)) => ("Cancelled", 1),
        (Some("f"), _) => ("Failed", 2),
        _ => ("Succeeded", 1),
    }
}

pub fn finished(run: &Value) -> bool {
    matches!(
        run["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed" | "Cancelled")
    )
}

pub fn cancel(ns: &str, run: &str) -> bool {
    kubectl(&[
        "patch",
        "etlrun",
        run,
        "-n",
        ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"cancel":true}}"#,
    ])
    .success
}

/// An EMR step as moto has it.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its cluster.
    pub cluster: String,
    /// Its name (`ade:<namespace>/<run>#<attempt> …`).
    pub name: String,
    /// Its state.
    pub state: String,
}

/// moto's EMR state: (cluster id, state) of the clusters named with
/// `prefix`, and every step on them.
pub fn emr_state(moto: &Moto, prefix: &str) -> (Vec<(String, String)>, Vec<Step>) {
    let out = moto.boto3(&format!(
        "emr = boto3.client('emr', region_name='us-east-1')\n\
         cs = [c for c in emr.list_clusters()['Clusters'] if c['Name'].startswith({prefix:?})]\n\
         steps = [[c['Id'], s['Name'], s['Status']['State']] for c in cs for s in emr.list_steps(ClusterId=c['Id'])['Steps']]\n\
         print(json.dumps({{'clusters': [[c['Id'], c['Status']['State']] for c in cs], 'steps': steps}}))\n"
    ));
    let v: Value = serde_json::from_str(out.trim()).expect("moto's answer");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let clusters = v["clusters"]
        .as_array()
        .map(|a| a.iter().map(|c| (text(&c[0]), text(&c[1]))).collect())
        .unwrap_or_default();
    let steps = v["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| Step {
                    cluster: text(&s[0]),
                    name: text(&s[1]),
                    state: text(&s[2]),
                })
                .collect()
        })
        .unwrap_or_default();
    (clusters, steps)
}
