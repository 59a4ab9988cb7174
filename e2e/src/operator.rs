//! The operator under test, run as a local process with the chart's
//! ServiceAccount token, and read through its HTTP endpoints.

use std::{
    fs::File,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::OnceLock,
    time::Duration,
};

use crate::{RELEASE, SYSTEM_NAMESPACE, wait_for};

/// The operator binary: `ADE_OPERATOR_BIN`, else the debug build.
pub fn binary() -> PathBuf {
    crate::workspace_binary("ADE_OPERATOR_BIN", "ade-operator")
}

/// A kubeconfig that authenticates as the chart's ServiceAccount, with a token
/// from the TokenRequest API: the operator gets exactly the chart's RBAC (and
/// a test sees what the operator's requests see). Written once per process.
pub fn service_account_kubeconfig() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("ade-e2e-sa-kubeconfig-{}.json", std::process::id()));
        crate::token_kubeconfig(RELEASE, SYSTEM_NAMESPACE, &path);
        path
    })
}

/// A port on 127.0.0.1 nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The e2e tests' settings, each group left out when a test's own arguments
/// set a flag it names: short Lease timings, for tests that hand leadership
/// over, and a CRD check every second.
const TEST_DEFAULTS: [(&[&str], &[&str]); 2] = [
    (
        &["--lease-duration", "--lease-renew"],
        &[
            "--lease-duration=6s",
            "--lease-renew-deadline=4s",
            "--lease-renew-interval=1s",
        ],
    ),
    (&["--crd-check-interval"], &["--crd-check-interval=1s"]),
];

/// A running operator process. Stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Operator {
    child: Option<Child>,
    /// Its leader-election identity.
    pub identity: String,
    /// Port of its HTTP server on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl Operator {
    /// Starts the operator as `identity` and waits for `/healthz`.
    pub fn start(identity: &str) -> Self {
        Self::start_with(identity, &[], &[])
    }

    /// Like [`Operator::start`], with extra command-line `args` and environment
    /// variables `env` (e.g. an AWS endpoint override and credentials for moto).
    /// The e2e defaults in [`TEST_DEFAULTS`] apply unless `args` sets them.
    pub fn start_with(identity: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("ade-e2e-{identity}-{}.log", std::process::id()));
        let out = File::create(&log).expect("creating the operator log");
        let err = out.try_clone().expect("cloning the log handle");
        let defaults = TEST_DEFAULTS
            .iter()
            .filter(|(flags, _)| !args.iter().any(|a| flags.iter().any(|f| a.starts_with(f))))
            .flat_map(|(_, set)| set.iter().copied());
        let child = Command::new(binary())
            .args([
                &format!("--http-addr=127.0.0.1:{port}"),
                &format!("--identity={identity}"),
                &format!("--lease-namespace={SYSTEM_NAMESPACE}"),
                &format!("--lease-name={RELEASE}"),
                "--log-format=human",
            ])
            .args(defaults)
            .args(args)
            .env("ADE_LOG", "info,ade_operator=debug")
            .envs(env.iter().copied())
            .env("KUBECONFIG", service_account_kubeconfig())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} (build it with `cargo build --bin ade-operator`): {e}",
                    binary().display()
                )
            });
        let mut operator = Self {
            child: Some(child),
            identity: identity.to_owned(),
            port,
            log,
        };
        wait_for(
            &format!("operator {identity} to serve /healthz"),
            Duration::from_secs(20),
            || {
                if let Some(status) = operator.exited() {
                    panic!("operator {identity} exited with {status}:\n{}", operator.log());
                }
                operator.get("/healthz").filter(|(code, _)| *code == 200)
            },
        );
        operator
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the process ended, once it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the process.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            assert!(
                crate::process::send_signal(child.id(), signal, false),
                "kill -{signal} failed"
            );
        }
    }

    /// GET `path` from the operator's HTTP server: status code and body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        crate::http_get(self.port, path)
    }

    /// The value of the metric line starting with `series` (name and labels), if present.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        body.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// What the operator logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process at once (SIGKILL), as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the process to exit; SIGKILL after 20 s.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        for _ in 0..80 {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The holder of the operator's leader Lease, if any.
pub fn lease_holder() -> Option<String> {
    let out = crate::kubectl(&[
        "get",
        "lease",
        RELEASE,
        "-n",
        SYSTEM_NAMESPACE,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    (out.success && !out.stdout.trim().is_empty()).then(|| out.stdout.trim().to_owned())
}
