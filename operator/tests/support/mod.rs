//! Test helpers: the moto AWS emulator, started through tools/moto (a
//! ThreadedMotoServer with state-control endpoints) on 127.0.0.1 and stopped
//! when dropped.
// Test helpers panic on failure, like the tests that call them.
#![allow(dead_code, clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A moto server on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Moto {
    /// Installs moto if needed (tools/moto/ensure.sh) and starts it on a free port.
    pub fn start() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let ensure = root.join("tools/moto/ensure.sh");
        let out = Command::new("bash")
            .arg(&ensure)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", ensure.display()));
        assert!(
            out.status.success(),
            "moto could not be installed by {} (needs python3 with venv and PyPI access); see the output above",
            ensure.display()
        );
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        let port = free_port();
        let mut child = Command::new(bin.join("python"))
            .arg(root.join("tools/moto/server.py"))
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto server.py");
        let stdout = child.stdout.take().expect("moto stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !line.starts_with("ready") {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("moto server did not start");
            }
        }
        Self { child, port }
    }

    /// Its endpoint, for the AWS SDK.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Moves step `step` of `cluster` to `state` (moto never advances steps).
    pub fn set_step_state(&self, cluster: &str, step: &str, state: &str) {
        let body = format!(r#"{{"clusterId":"{cluster}","stepId":"{step}","state":"{state}"}}"#);
        self.control("/ade-control/emr/step-state", &body);
    }

    /// Moves `cluster` to `state` with an optional state change `message`.
    pub fn set_cluster_state(&self, cluster: &str, state: &str, message: &str) {
        let body = format!(r#"{{"clusterId":"{cluster}","state":"{state}","message":"{message}"}}"#);
        self.control("/ade-control/emr/cluster-state", &body);
    }

    fn control(&self, path: &str, body: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{path}: {answer}"
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
