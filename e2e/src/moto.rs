//! The AWS emulator of the e2e suite: moto server (tools/moto: the pinned
//! moto, installed once into a cached virtualenv) on 127.0.0.1, stopped when
//! dropped. Tests reach it through the real AWS clients: the operator's and
//! `ade-validate`'s Rust SDKs, and boto3 from moto's own virtualenv for the
//! test's own setup and assertions.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::repo_root;

/// A moto server on 127.0.0.1.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    bin: PathBuf,
    /// Its port.
    pub port: u16,
}

impl Moto {
    /// Installs moto if needed (tools/moto/ensure.sh) and starts it on a free port.
    pub fn start() -> Self {
        let root = repo_root();
        let out = Command::new("bash")
            .arg(root.join("tools/moto/ensure.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running tools/moto/ensure.sh");
        assert!(
            out.status.success(),
            "moto could not be installed by tools/moto/ensure.sh (needs python3 with venv and PyPI access)"
        );
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1");
        let mut child = Command::new(bin.join("python"))
            .arg(root.join("tools/moto/server.py"))
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tools/moto/server.py");
        let mut reader = BufReader::new(child.stdout.take().expect("moto's stdout"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut line = String::new();
        while !line.starts_with("ready") {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || Instant::now() > deadline {
                let _ = child.kill();
                panic!("moto server did not start on port {port}");
            }
        }
        Self { child, bin, port }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for AWS clients pointed at this server (static test credentials).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
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
        .expect("talking to moto");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("talking to moto");
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{path}: {answer}"
        );
    }

    /// Runs a Python `script` with boto3 against this server (`s3` is a ready
    /// client); returns its stdout, panicking with its stderr on failure.
    pub fn python(&self, script: &str) -> String {
        let prelude = "import boto3, json, sys\ns3 = boto3.client('s3')\n";
        let out = Command::new(self.bin.join("python"))
            .args(["-c", &format!("{prelude}{script}")])
            .envs(self.env())
            .output()
            .expect("running python from moto's virtualenv");
        assert!(
            out.status.success(),
            "python against moto failed:\n{}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates `bucket` and puts `objects` (key, body) in it.
    pub fn put(&self, bucket: &str, objects: &[(&str, &str)]) {
        let objects = serde_json::to_string(objects).expect("objects as JSON");
        self.python(&format!(
            "try:\n    s3.create_bucket(Bucket={bucket:?})\nexcept s3.exceptions.BucketAlreadyOwnedByYou:\n    pass\n\
             for key, body in json.loads({objects:?}):\n    s3.put_object(Bucket={bucket:?}, Key=key, Body=body.encode())\n"
        ));
    }

    /// The keys under `prefix` in `bucket`.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self.python(&format!(
            "r = s3.list_objects_v2(Bucket={bucket:?}, Prefix={prefix:?})\nprint(json.dumps([o['Key'] for o in r.get('Contents', [])]))\n"
        ));
        serde_json::from_str(out.trim()).expect("a JSON list of keys")
    }

    /// The body of `key` in `bucket`.
    pub fn get(&self, bucket: &str, key: &str) -> String {
        self.python(&format!(
            "sys.stdout.write(s3.get_object(Bucket={bucket:?}, Key={key:?})['Body'].read().decode())\n"
        ))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
