//! A real Prometheus (built from `github.com/prometheus/prometheus` by
//! `e2e/cluster build`, on `PATH`) scraping local processes, queried with
//! PromQL over its HTTP API; and `promtool`. Stopped by its PID when dropped.

use std::{
    io::Write,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::{http_get, operator::free_port, wait_for};

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A running Prometheus.
#[derive(Debug)]
pub struct Prometheus {
    child: Option<Child>,
    /// Port of its HTTP API on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus scraping each `(job, port)` every second (its
    /// `/metrics` on 127.0.0.1), evaluating the rules in `rule_files` every
    /// second, and waits until it is ready.
    pub fn start(targets: &[(&str, u16)], rule_files: &[PathBuf]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("ade-e2e-prometheus-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("Prometheus folder");
        let scrape: String = targets
            .iter()
            .map(|(job, p)| format!("  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{p}']\n"))
            .collect();
        let rules: String = rule_files.iter().map(|f| format!("  - {}\n", f.display())).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{rules}scrape_configs:\n{scrape}"
        );
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("writing prometheus.yml");
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("Prometheus log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run prometheus (is it on PATH? `eval \"$(e2e/cluster env)\"`): {e}"));
        let mut prometheus = Self {
            child: Some(child),
            port,
            dir,
        };
        wait_for("Prometheus to be ready", Duration::from_secs(30), || {
            if let Some(status) = prometheus.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("prometheus exited with {status}:\n{}", prometheus.log());
            }
            http_get(port, "/-/ready").filter(|(code, _)| *code == 200)
        });
        prometheus
    }

    /// The `data.result` of an instant query of `expr` (a vector's samples);
    /// `None` when the API answers with an error.
    pub fn query(&self, expr: &str) -> Option<Vec<serde_json::Value>> {
        let (_, body) = http_get(self.port, &format!("/api/v1/query?query={}", encode(expr)))?;
        let answer: serde_json::Value = serde_json::from_str(&body).ok()?;
        (answer["status"] == "success").then(|| answer["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// The API's answer at `path` (e.g. `/api/v1/rules`), as JSON.
    pub fn api(&self, path: &str) -> Option<serde_json::Value> {
        let (_, body) = http_get(self.port, path)?;
        serde_json::from_str(&body).ok()
    }

    /// What Prometheus logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            for _ in 0..40 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `promtool check metrics` on `exposition` (Prometheus text format): its
/// exit status and what it printed.
pub fn promtool_check_metrics(exposition: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool (is it on PATH? `eval \"$(e2e/cluster env)\"`): {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(exposition.as_bytes()).expect("writing to promtool");
    }
    let out = child.wait_with_output().expect("waiting for promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
