//! A fault proxy for AWS on 127.0.0.1: it stands between a client (the
//! operator's AWS SDK clients) and the emulator and, driven by a seed,
//! answers a share of the calls the way a struggling AWS does: throttled
//! (`ThrottlingException` for JSON protocols such as EMR and DynamoDB,
//! `RequestLimitExceeded` for EC2's query protocol), a server error (500 /
//! 503), slowly, or not at all (the connection is reset). It can also fail
//! one named call once, before or after the emulator saw it (`RunJobFlow`
//! created the cluster, and the answer is lost), or hold back the answer to
//! one request (by method and path: S3's REST calls) until the test releases
//! it, so a client can be caught between a write the emulator carried out and
//! the answer it waits for. Everything it injects is counted by kind and
//! operation, for the figures of a fault test.
//!
//! Only std: one thread per connection, one request per connection (the
//! answer says `Connection: close`), bodies with `Content-Length` (what the
//! AWS SDK sends for these protocols).

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

/// When a named call fails once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// The connection is reset before the emulator sees the call.
    Before,
    /// The emulator carries the call out; its answer is lost (reset).
    After,
}

/// What to inject, as shares of the calls (0.0–1.0), drawn in this order.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Seed of the draws: the same seed and the same calls give the same faults.
    pub seed: u64,
    /// Throttled.
    pub throttle: f64,
    /// A server error (500 or 503).
    pub error: f64,
    /// Answered after [`Faults::slow_for`].
    pub slow: f64,
    /// How long a slow answer waits.
    pub slow_for: Duration,
    /// Reset before the emulator sees the call.
    pub reset: f64,
    /// One call of each of these operations fails once, at its point.
    pub fail_once: Vec<(String, FailPoint)>,
}

impl Faults {
    /// No faults: a plain proxy.
    pub fn none(seed: u64) -> Self {
        Self {
            seed,
            throttle: 0.0,
            error: 0.0,
            slow: 0.0,
            slow_for: Duration::from_secs(2),
            reset: 0.0,
            fail_once: Vec::new(),
        }
    }
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls by operation (e.g. `RunJobFlow`).
    pub calls: BTreeMap<String, u64>,
    /// Faults injected by kind (`throttle`, `error`, `slow`, `reset`, `fail-once`, `hold`).
    pub injected: BTreeMap<&'static str, u64>,
    /// Faults injected by operation.
    pub injected_by_operation: BTreeMap<String, u64>,
}

impl Stats {
    /// Every fault injected.
    pub fn total_injected(&self) -> u64 {
        self.injected.values().sum()
    }
}

/// The hold of [`FaultProxy::hold`]: the armed rule, the answers held now,
/// and a generation that [`FaultProxy::release`] moves on.
#[derive(Debug, Default)]
struct Hold {
    rule: Option<(String, String)>,
    held: Vec<String>,
    generation: u64,
}

struct Shared {
    upstream: u16,
    hold: Mutex<Hold>,
    released: Condvar,
    faults: Faults,
    rng: Mutex<Draws>,
    /// The `fail_once` operations that have failed.
    failed_once: Mutex<BTreeSet<String>>,
    stats: Mutex<Stats>,
    stop: AtomicBool,
}

/// A running fault proxy; stopped when dropped.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// A proxy on a port of its own in front of `upstream` (a port on 127.0.0.1).
    pub fn start(upstream: u16, faults: Faults) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fault proxy");
        let port = listener.local_addr().expect("its address").port();
        let shared = Arc::new(Shared {
            upstream,
            // Offset so the proxy's draws differ from a test's own with the same seed.
            rng: Mutex::new(Draws::new(faults.seed ^ 0x9e37_79b9_7f4a_7c15)),
            faults,
            hold: Mutex::default(),
            released: Condvar::new(),
            failed_once: Mutex::default(),
            stats: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = accepting.clone();
                thread::spawn(move || handle(&shared, stream));
            }
        });
        Self { port, shared }
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give the client.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it saw and did so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats.lock().unwrap().clone()
    }

    /// Arms a hold: the next request whose method is `method` and whose path
    /// contains `path_contains` is carried out by the emulator, and its answer
    /// is kept back until [`FaultProxy::release`]. One request only: later
    /// ones pass.
    pub fn hold(&self, method: &str, path_contains: &str) {
        self.shared.hold.lock().unwrap().rule = Some((method.to_owned(), path_contains.to_owned()));
    }

    /// The request lines (`PUT /bucket/key HTTP/1.1`) whose answers are held now.
    pub fn held(&self) -> Vec<String> {
        self.shared.hold.lock().unwrap().held.clone()
    }

    /// Sends the held answers (to clients that may be gone) and disarms the hold.
    pub fn release(&self) {
        let mut hold = self.shared.hold.lock().unwrap();
        hold.rule = None;
        hold.generation += 1;
        self.shared.released.notify_all();
    }
}

/// Takes the armed hold if `request` matches it.
fn take_hold(shared: &Shared, request: &Request) -> Option<u64> {
    let line = request.head.first()?;
    let (method, rest) = line.split_once(' ')?;
    let path = rest.split(' ').next().unwrap_or_default();
    let mut hold = shared.hold.lock().unwrap();
    let (m, fragment) = hold.rule.as_ref()?;
    if m != method || !path.contains(fragment.as_str()) {
        return None;
    }
    hold.rule = None;
    hold.held.push(line.clone());
    Some(hold.generation)
}

/// Blocks until [`FaultProxy::release`] (or the proxy stops) after `generation`.
fn wait_for_release(shared: &Shared, line: &str, generation: u64) {
    let mut hold = shared.hold.lock().unwrap();
    while hold.generation == generation && !shared.stop.load(Ordering::SeqCst) {
        hold = shared
            .released
            .wait_timeout(hold, Duration::from_millis(200))
            .unwrap()
            .0;
    }
    if let Some(i) = hold.held.iter().position(|h| h == line) {
        hold.held.remove(i);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Seeded draws (SplitMix64), for the proxy and for fault tests' own schedules.
#[derive(Debug, Clone)]
pub struct Draws(u64);

impl Draws {
    /// Draws from `seed`: the same seed gives the same draws.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A draw in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A draw in [lo, hi).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

fn draw(state: &Mutex<Draws>) -> f64 {
    state.lock().unwrap().unit()
}

/// One request: its head lines and body.
struct Request {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    /// The AWS operation: `X-Amz-Target`'s (JSON protocols) or the `Action`
    /// parameter (query protocols), else the method and path.
    fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_owned();
        }
        let body = String::from_utf8_lossy(&self.body);
        if let Some(action) = body.split('&').find_map(|p| p.strip_prefix("Action=")) {
            return action.to_owned();
        }
        self.head.first().cloned().unwrap_or_default()
    }

    fn json_protocol(&self) -> bool {
        self.header("x-amz-target").is_some()
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let mut request = Request { head, body: Vec::new() };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

fn count(shared: &Shared, operation: &str, fault: Option<&'static str>) {
    let mut stats = shared.stats.lock().unwrap();
    *stats.calls.entry(operation.to_owned()).or_default() += 1;
    if let Some(kind) = fault {
        *stats.injected.entry(kind).or_default() += 1;
        *stats.injected_by_operation.entry(operation.to_owned()).or_default() += 1;
    }
}

fn handle(shared: &Shared, client: TcpStream) {
    let Ok(read_half) = client.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    let operation = request.operation();
    let f = &shared.faults;
    let named = f
        .fail_once
        .iter()
        .find(|(op, _)| *op == operation)
        .filter(|(op, _)| shared.failed_once.lock().unwrap().insert(op.clone()))
        .map(|(_, point)| *point);
    let mut client = client;
    match named {
        Some(FailPoint::Before) => {
            count(shared, &operation, Some("fail-once"));
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        Some(FailPoint::After) => {
            count(shared, &operation, Some("fail-once"));
            let _ = forward(shared.upstream, &request);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        None => {}
    }
    if let Some(generation) = take_hold(shared, &request) {
        count(shared, &operation, Some("hold"));
        let answer = forward(shared.upstream, &request);
        wait_for_release(shared, &request.head[0], generation);
        match answer {
            Ok(answer) => {
                let _ = client.write_all(&answer);
            }
            Err(_) => {
                let _ = client.shutdown(Shutdown::Both);
            }
        }
        return;
    }
    let roll = draw(&shared.rng);
    let mut edge = f.throttle;
    if roll < edge {
        count(shared, &operation, Some("throttle"));
        let _ = client.write_all(&throttled(&request));
        return;
    }
    edge += f.error;
    if roll < edge {
        count(shared, &operation, Some("error"));
        let _ = client.write_all(&server_error(&request, draw(&shared.rng) < 0.5));
        return;
    }
    edge += f.reset;
    if roll < edge {
        count(shared, &operation, Some("reset"));
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    edge += f.slow;
    let slow = roll < edge;
    count(shared, &operation, slow.then_some("slow"));
    if slow {
        thread::sleep(f.slow_for);
    }
    match forward(shared.upstream, &request) {
        Ok(answer) => {
            let _ = client.write_all(&answer);
        }
        Err(_) => {
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

/// Sends `request` to the emulator (asking it to close) and reads the whole answer.
fn forward(upstream: u16, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut out = Vec::new();
    for (i, line) in request.head.iter().enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&request.body);
    stream.write_all(&out)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(close_after(answer))
}

/// The answer with `Connection: close`, so the client opens a new connection
/// (and this proxy sees every call).
fn close_after(answer: Vec<u8>) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer;
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut out = String::new();
    for line in head.split("\r\n") {
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[end + 4..]);
    bytes
}

fn response(status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    out.into_bytes()
}

fn throttled(request: &Request) -> Vec<u8> {
    if request.json_protocol() {
        response(
            "400 Bad Request",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-ErrorType", "ThrottlingException"),
            ],
            r#"{"__type":"ThrottlingException","message":"Rate exceeded (injected by the fault proxy)"}"#,
        )
    } else {
        response(
            "503 Service Unavailable",
            &[("Content-Type", "text/xml")],
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded. \
             (injected by the fault proxy)</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>",
        )
    }
}

fn server_error(request: &Request, unavailable: bool) -> Vec<u8> {
    let status = if unavailable {
        "503 Service Unavailable"
    } else {
        "500 Internal Server Error"
    };
    if request.json_protocol() {
        response(
            status,
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-ErrorType", "InternalFailure"),
            ],
            r#"{"__type":"InternalFailure","message":"injected by the fault proxy"}"#,
        )
    } else {
        response(
            status,
            &[("Content-Type", "text/xml")],
            "<Response><Errors><Error><Code>InternalError</Code><Message>injected by the fault proxy</Message>\
             </Error></Errors><RequestID>fault-proxy</RequestID></Response>",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot upstream that answers `200 ok` and counts requests.
    fn upstream() -> (u16, Arc<Mutex<u32>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(0));
        let counted = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if read_request(&mut reader).is_some() {
                    *counted.lock().unwrap() += 1;
                    let _ = (&stream).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                }
            }
        });
        (port, seen)
    }

    fn call(proxy: &FaultProxy, target: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        let body = "{}";
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: ElasticMapReduce.{target}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).ok()?;
        (!answer.is_empty()).then_some(answer)
    }

    #[test]
    fn shares_are_injected_by_seed_and_a_named_call_fails_once_after_upstream_saw_it() {
        let (port, seen) = upstream();
        let proxy = FaultProxy::start(
            port,
            Faults {
                throttle: 0.3,
                error: 0.1,
                fail_once: vec![("RunJobFlow".into(), FailPoint::After)],
                ..Faults::none(7)
            },
        );
        assert_eq!(call(&proxy, "RunJobFlow"), None, "the answer is lost");
        assert_eq!(*seen.lock().unwrap(), 1, "but the emulator carried the call out");
        let answers: Vec<String> = (0..200).filter_map(|_| call(&proxy, "ListClusters")).collect();
        let throttled = answers.iter().filter(|a| a.contains("ThrottlingException")).count();
        let failed = answers.iter().filter(|a| a.contains("InternalFailure")).count();
        assert!((40..=80).contains(&throttled), "{throttled} of 200 throttled");
        assert!((8..=35).contains(&failed), "{failed} of 200 failed");
        let stats = proxy.stats();
        assert_eq!(stats.calls["ListClusters"], 200);
        assert_eq!(stats.injected["fail-once"], 1);
        assert_eq!(stats.injected["throttle"], throttled as u64);
    }

    fn put(proxy: &FaultProxy, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        s.write_all(format!("PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab").as_bytes())
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).ok()?;
        (!answer.is_empty()).then_some(answer)
    }

    #[test]
    fn a_held_answer_comes_after_the_emulator_saw_the_call_and_only_on_release() {
        let (port, seen) = upstream();
        let proxy = Arc::new(FaultProxy::start(port, Faults::none(1)));
        proxy.hold("PUT", "shardId-000000000001");
        // Another shard's write passes.
        assert!(put(&proxy, "/lake/raw/shardId-000000000000-1-2.parquet").is_some());
        let caller = proxy.clone();
        let waiting = thread::spawn(move || put(&caller, "/lake/raw/shardId-000000000001-1-2.parquet"));
        let started = std::time::Instant::now();
        while proxy.held().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(10), "never held");
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(*seen.lock().unwrap(), 2, "the emulator carried the held write out");
        thread::sleep(Duration::from_millis(300));
        assert!(!waiting.is_finished(), "answered before the release");
        // One request only: the next write to that shard passes.
        assert!(put(&proxy, "/lake/raw/shardId-000000000001-3-4.parquet").is_some());
        proxy.release();
        let answer = waiting.join().unwrap().expect("the held answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(proxy.held().is_empty());
        assert_eq!(proxy.stats().injected["hold"], 1);
    }
}
