//! The `ade-stream` process itself: a metrics address it cannot bind (another
//! pod's on the same host, say) stops it at once with a message naming the
//! address, before it reads its configuration or takes a shard; a free one
//! (port 0) lets it go on to the configuration.

use std::net::TcpListener;
use std::process::Command;

fn ade_stream(metrics_addr: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ade-stream"))
        .env_remove("ADE_STREAM_CONFIG")
        .env("ADE_STREAM_METRICS_ADDR", metrics_addr)
        .output()
        .expect("run ade-stream");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_taken_metrics_port_stops_the_process_before_anything_else() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, stderr) = ade_stream(&addr);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("binding the metrics address {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("configuration"), "stopped before reading it: {stderr}");

    // A free port: it gets past the bind, to the (missing) configuration.
    let (code, stderr) = ade_stream("127.0.0.1:0");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("loading the configuration"), "{stderr}");
}

#[test]
fn a_records_per_call_kinesis_would_refuse_is_rejected_by_name() {
    for bad in ["0", "10001"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ade-stream"))
            .env("ADE_STREAM_RECORDS_PER_CALL", bad)
            .output()
            .expect("run ade-stream");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--records-per-call"), "{stderr}");
    }
}
