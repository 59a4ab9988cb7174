//! Names of the Kubernetes Lease objects (pure).
//!
//! Shard lease: `<consumer>-<shardId>`; worker lease:
//! `<consumer>-w-<first 8 hex digits of sha256(worker id)>`. Names are
//! lowercased and any character outside `[a-z0-9-]` becomes `-` (Kinesis
//! shard ids contain an uppercase `I`). A name longer than 63 characters is cut
//! to 54 and suffixed with `-` and the first 8 hex digits of the SHA-256 of
//! the full (sanitised) name, so distinct long names stay distinct.

use sha2::{Digest, Sha256};

/// Longest name produced (a DNS label, also valid as a label value).
pub const MAX_NAME: usize = 63;

/// First 8 hex digits of the SHA-256 of `text`.
pub fn hash8(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..4])
}

fn sanitise(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.ends_with('-') {
        out.pop();
    }
    while out.starts_with('-') {
        out.remove(0);
    }
    out
}

/// Bounds `name` to [`MAX_NAME`] characters (see the module docs).
pub fn bounded(name: &str) -> String {
    let name = sanitise(name);
    if name.len() <= MAX_NAME {
        return name;
    }
    let suffix = hash8(&name);
    let head = name[..MAX_NAME - 9].trim_end_matches('-');
    format!("{head}-{suffix}")
}

/// Name of the Lease of `shard_id`.
pub fn shard_lease(consumer: &str, shard_id: &str) -> String {
    bounded(&format!("{consumer}-{shard_id}"))
}

/// Name of the heartbeat Lease of `worker_id`.
pub fn worker_lease(consumer: &str, worker_id: &str) -> String {
    bounded(&format!("{consumer}-w-{}", hash8(worker_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let long = "a-very-long-consumer-name-that-goes-on-and-on-and-on";
        let cases = [
            (
                shard_lease("orders", "shardId-000000000003"),
                "orders-shardid-000000000003",
            ),
            (shard_lease("Orders_X", "shardId-1"), "orders-x-shardid-1"),
            (worker_lease("orders", "pod-a"), "orders-w-"),
        ];
        for (got, want) in &cases[..2] {
            assert_eq!(got, want);
        }
        assert!(cases[2].0.starts_with(cases[2].1) && cases[2].0.len() == "orders-w-".len() + 8);
        assert_ne!(worker_lease("orders", "pod-a"), worker_lease("orders", "pod-b"));

        let a = shard_lease(long, "shardId-000000000001");
        let b = shard_lease(long, "shardId-000000000002");
        assert!(a.len() <= MAX_NAME && b.len() <= MAX_NAME, "{a} {b}");
        assert_ne!(a, b);
        assert!(a.starts_with("a-very-long-consumer-name"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert!(!a.ends_with('-'));
        assert_eq!(hash8("x").len(), 8);
    }
}
