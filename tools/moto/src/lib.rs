//! The moto AWS emulator for ADE's tests: `tools/moto/server.py` (a
//! `ThreadedMotoServer` with state-control endpoints, see the README beside
//! it) from the pinned virtualenv `tools/moto/ensure.sh` installs, on
//! 127.0.0.1, killed when the [`Moto`] is dropped.
//!
//! The server binds port 0 itself and reports the port it got, so two tests
//! starting emulators at once never race for a port.
// Test support panics on failure, like the tests that call it.
#![allow(clippy::unwrap_used)]

pub mod faults;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// How long moto may take to answer its health check after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A moto server on 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    bin: PathBuf,
    port: u16,
}

impl Moto {
    /// Installs moto if needed (`tools/moto/ensure.sh`), starts it on a port
    /// of its own choosing, and waits until it answers.
    pub fn start() -> Self {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let ensure = here.join("ensure.sh");
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
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let mut child = Command::new(bin.join("python"))
            .arg(here.join("server.py"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", here.join("server.py").display()));
        let stdout = child.stdout.take().expect("moto's stdout is piped");
        // server.py prints `ready <port>` once it answers. A thread reads it (and
        // then drains the pipe, so the server never writes into a closed one);
        // the wait has a deadline even if the server hangs without a word.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(port) = line.strip_prefix("ready ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
                line.clear();
            }
        });
        let port = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Some(port)) => port,
            outcome => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!("moto did not become ready within {READY_TIMEOUT:?} ({outcome:?}, server {status})");
            }
        };
        Self { child, bin, port }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, the endpoint for AWS clients.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for AWS clients in other processes (static test credentials).
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

    /// The Python of moto's virtualenv (it has boto3), for a test's own setup.
    pub fn python(&self) -> PathBuf {
        self.bin.join("python")
    }

    /// Moves step `step` of `cluster` to `state` (moto never advances steps).
    pub fn set_step_state(&self, cluster: &str, step: &str, state: &str) {
        let body = format!(r#"{{"clusterId":"{cluster}","stepId":"{step}","state":"{state}"}}"#);
        self.request("POST", "/ade-control/emr/step-state", &body);
    }

    /// Moves `cluster` to `state` with a state change `message` (may be empty).
    pub fn set_cluster_state(&self, cluster: &str, state: &str, message: &str) {
        let body = format!(r#"{{"clusterId":"{cluster}","state":"{state}","message":"{message}"}}"#);
        self.request("POST", "/ade-control/emr/cluster-state", &body);
    }

    /// Makes instant `CreateFleet`s fail the overrides of `instance_types` in
    /// `market` (`"spot"`, `"on-demand"` or `"any"`), as EC2 does when a pool
    /// has no capacity: nothing launches from them, the other overrides launch
    /// as moto does, and the answer's `Errors` has an
    /// `InsufficientInstanceCapacity` item for each failed override (EC2's
    /// message, naming the type and the subnet's zone). Replaces the previous
    /// setting; an empty `instance_types` clears it.
    pub fn fail_fleet(&self, instance_types: &[&str], market: &str) {
        self.fail_fleet_with(instance_types, market, "InsufficientInstanceCapacity", "");
    }

    /// [`fail_fleet`](Self::fail_fleet) with the errors' `code` and `message`
    /// (an empty message: EC2's, naming the type and zone).
    pub fn fail_fleet_with(&self, instance_types: &[&str], market: &str, code: &str, message: &str) {
        let types: Vec<String> = instance_types.iter().map(|t| json_string(t)).collect();
        let body = format!(
            r#"{{"instanceTypes":[{}],"market":{},"errorCode":{},"errorMessage":{}}}"#,
            types.join(","),
            json_string(market),
            json_string(code),
            json_string(message)
        );
        self.request("POST", "/ade-control/ec2/fleet-failures", &body);
    }

    /// Lets instant `CreateFleet`s launch every override again.
    pub fn clear_fleet_failures(&self) {
        self.request("POST", "/ade-control/ec2/fleet-failures", r#"{"instanceTypes":[]}"#);
    }

    /// EC2 reclaims spot instance `instance`: it is terminated with the state
    /// reason `Server.SpotInstanceTermination` and a `Service initiated (…)`
    /// transition reason, as `DescribeInstances` shows a reclaimed spot instance.
    pub fn interrupt_spot_instance(&self, instance: &str) {
        self.request(
            "POST",
            "/ade-control/ec2/spot-interruption",
            &format!(r#"{{"instanceId":{}}}"#, json_string(instance)),
        );
    }

    /// `DescribeSpotPriceHistory` answers `prices` (USD per instance-hour)
    /// for their instance types instead of moto's 0.00001; replaces the
    /// previous setting.
    pub fn set_spot_prices(&self, prices: &[(&str, f64)]) {
        let items: Vec<String> = prices.iter().map(|(t, p)| format!("{}:{p}", json_string(t))).collect();
        self.request(
            "POST",
            "/ade-control/ec2/spot-prices",
            &format!(r#"{{"prices":{{{}}}}}"#, items.join(",")),
        );
    }

    /// Creates an S3 bucket (moto accepts an unsigned PUT).
    pub fn create_bucket(&self, bucket: &str) {
        self.request("PUT", &format!("/{bucket}"), "");
    }

    /// Creates the standard SQS queue `name` unless it exists, and returns its
    /// URL as `GetQueueUrl` answers it: `http://127.0.0.1:<port>/123456789012/<name>`.
    pub fn create_queue(&self, name: &str) -> String {
        let answer = self.request(
            "POST",
            "/ade-control/sqs/queue",
            &format!(r#"{{"name":{}}}"#, json_string(name)),
        );
        match json_field(&answer, "queueUrl") {
            Some(url) => url,
            None => panic!("moto answered no queueUrl: {answer}"),
        }
    }

    /// Plays EventBridge delivering an EC2 event about `instance` to an SQS
    /// target (moto does not): one message on `queue` (made by
    /// [`create_queue`](Self::create_queue)) whose body is the event as
    /// EventBridge writes it, e.g. `{"version":"0","id":"<uuid>","detail-type":"EC2
    /// Spot Instance Interruption Warning","source":"aws.ec2","account":"123456789012",
    /// "time":"…Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/<id>"],
    /// "detail":{"instance-id":"<id>","instance-action":"terminate"}}`. The
    /// instance is neither looked up nor changed.
    pub fn send_interruption_event(&self, queue: &str, instance: &str, kind: InterruptionEvent) {
        let (kind, state) = match kind {
            InterruptionEvent::SpotWarning => ("spot-interruption-warning", String::new()),
            InterruptionEvent::Rebalance => ("rebalance-recommendation", String::new()),
            InterruptionEvent::StateChange(state) => ("state-change", format!(r#","state":{}"#, json_string(state))),
        };
        let body = format!(
            r#"{{"queue":{},"instanceId":{},"kind":"{kind}"{state}}}"#,
            json_string(queue),
            json_string(instance)
        );
        self.request("POST", "/ade-control/ec2/interruption-event", &body);
    }

    /// One plain HTTP/1.1 request; panics unless moto answers 200. Returns the answer's body.
    fn request(&self, method: &str, path: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .expect("write to moto");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read moto's answer");
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{method} {path}: {answer}"
        );
        match answer.split_once("\r\n\r\n") {
            Some((_, content)) => content.to_owned(),
            None => String::new(),
        }
    }
}

/// An EC2 event that EventBridge delivers ([`Moto::send_interruption_event`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptionEvent {
    /// `EC2 Spot Instance Interruption Warning` (`"instance-action":"terminate"`):
    /// EC2 reclaims the spot instance in two minutes.
    SpotWarning,
    /// `EC2 Instance Rebalance Recommendation`: the spot instance is at an
    /// elevated risk of interruption.
    Rebalance,
    /// `EC2 Instance State-change Notification` with this state: `"pending"`,
    /// `"running"`, `"stopping"`, `"stopped"`, `"shutting-down"` or `"terminated"`.
    StateChange(&'static str),
}

/// `s` as a JSON string (quoted, escaped), for control request bodies.
fn json_string(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => write!(out, "\\u{:04x}", u32::from(c)).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The string value of field `key` of `json`, a flat JSON object (a control
/// answer), unescaped; `None` if it has none.
fn json_field(json: &str, key: &str) -> Option<String> {
    let key = json_string(key);
    let after_key = &json[json.find(&key)? + key.len()..];
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = value.chars();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                escaped => out.push(escaped), // \" \\ \/
            },
            c => out.push(c),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_quoted_and_escaped() {
        assert_eq!(json_string("m5.large"), r#""m5.large""#);
        assert_eq!(json_string("say \"no\"\\\n"), r#""say \"no\"\\\u000a""#);
    }

    #[test]
    fn json_fields_are_found_and_unescaped() {
        let answer = r#"{"queueUrl": "http://127.0.0.1:1/123456789012/q"}"#;
        assert_eq!(
            json_field(answer, "queueUrl").unwrap(),
            "http://127.0.0.1:1/123456789012/q"
        );
        let answer = r#"{"a": 1, "b":"x\"y\\z\u00e9\/"}"#;
        assert_eq!(json_field(answer, "b").unwrap(), "x\"y\\zé/");
        assert_eq!(json_field(answer, "c"), None);
    }

    #[test]
    fn interruption_events_arrive_on_the_queue_as_eventbridge_delivers_them() {
        let moto = Moto::start();
        let url = moto.create_queue("events");
        assert_eq!(url, format!("{}/123456789012/events", moto.endpoint()));
        assert_eq!(
            moto.create_queue("events"),
            url,
            "a second create_queue changes nothing"
        );
        let id = "i-0123456789abcdef0";
        moto.send_interruption_event("events", id, InterruptionEvent::SpotWarning);
        moto.send_interruption_event("events", id, InterruptionEvent::Rebalance);
        moto.send_interruption_event("events", id, InterruptionEvent::StateChange("shutting-down"));
        // What an SQS client gets: boto3 from moto's virtualenv prints the URL, then each body.
        let script = r#"
import sys, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
url = sqs.get_queue_url(QueueName="events")["QueueUrl"]
print(url)
for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
    print(message["Body"])
"#;
        let endpoint = moto.endpoint();
        let out = Command::new(moto.python())
            .args(["-c", script, endpoint.as_str()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = String::from_utf8(out.stdout).unwrap();
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some(url.as_str()),
            "GetQueueUrl answers create_queue's URL"
        );
        let bodies: Vec<&str> = lines.collect();
        assert_eq!(bodies.len(), 3, "{out}");
        let resource = format!(r#""resources":["arn:aws:ec2:us-east-1:123456789012:instance/{id}"]"#);
        for (detail_type, detail) in [
            (
                "EC2 Spot Instance Interruption Warning",
                format!(r#""detail":{{"instance-id":"{id}","instance-action":"terminate"}}}}"#),
            ),
            (
                "EC2 Instance Rebalance Recommendation",
                format!(r#""detail":{{"instance-id":"{id}"}}}}"#),
            ),
            (
                "EC2 Instance State-change Notification",
                format!(r#""detail":{{"instance-id":"{id}","state":"shutting-down"}}}}"#),
            ),
        ] {
            let body = bodies
                .iter()
                .find(|b| b.contains(&format!(r#""detail-type":"{detail_type}""#)))
                .unwrap_or_else(|| panic!("no {detail_type} in {out}"));
            assert!(body.starts_with(r#"{"version":"0","id":""#), "{body}");
            assert!(
                body.contains(r#""source":"aws.ec2","account":"123456789012","time":""#),
                "{body}"
            );
            assert!(body.contains(&resource) && body.ends_with(&detail), "{body}");
        }
    }

    #[test]
    fn two_servers_start_at_once_on_ports_of_their_own_and_stop_on_drop() {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(Moto::start);
            let b = s.spawn(Moto::start);
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_ne!(a.port(), b.port());
        a.create_bucket("one");
        b.create_bucket("one");
        let port = a.port();
        drop(a);
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "moto still answers on {port} after drop"
        );
    }
}
