//! Deterministic names: the idempotency keys of everything the operator
//! creates (here because `kubectl ade` names reruns after them too). The same (job, batch) always gives the same EtlRun name, and the
//! same (run, attempt) the same Job name, so a retried or restarted create
//! finds what exists instead of making a second one.
//!
//! Names are DNS labels (at most 63 characters, `[a-z0-9-]`); when the readable
//! form is too long it is cut and a hash of the full form keeps it unique.
//!
//! Pure.

/// Longest DNS label; Job names must fit one because the Job controller
/// copies them into a label value.
pub const MAX_NAME: usize = 63;

/// The EtlRun of `job`'s batch `batch_id`, e.g. `orders-2026-11-25t13`.
pub fn run_name(job: &str, batch_id: &str) -> String {
    bounded(&format!("{job}-{}", slug(batch_id)), &format!("{job}\0{batch_id}"))
}

/// The Kubernetes Job of attempt `attempt` of the EtlRun `run`, e.g. `orders-2026-11-25t13-1`.
pub fn job_name(run: &str, attempt: i32) -> String {
    let suffix = format!("-{attempt}");
    let head = bounded_to(run, &format!("{run}\0{attempt}"), MAX_NAME - suffix.len());
    format!("{head}{suffix}")
}

/// A child of `parent` that `identity` tells apart from its siblings, e.g.
/// `orders-quality-2026-11-25t13-5f0c1a2b`: the parent, the readable part of
/// `readable`, and always 8 hex digits of a hash of `identity`.
pub fn hashed_child(parent: &str, readable: &str, identity: &str) -> String {
    let hash = format!("{:08x}", fnv1a(&format!("{parent}\0{identity}")) as u32);
    let head = format!("{parent}-{}", slug(readable));
    let head = head[..head.len().min(MAX_NAME - hash.len() - 1)].trim_end_matches('-');
    format!("{head}-{hash}")
}

/// The children of the StreamConsumer `consumer` (Deployment, ServiceAccount,
/// Role, RoleBinding), e.g. `app-events-stream`.
pub fn stream_name(consumer: &str) -> String {
    bounded(&format!("{consumer}-stream"), &format!("{consumer}\0stream"))
}

/// 16 hex digits of a stable hash of `text`, e.g. for a pod-template annotation
/// that changes when a configuration does.
pub fn hash(text: &str) -> String {
    format!("{:016x}", fnv1a(text))
}

/// A label value for `text`: at most 63 characters of `[A-Za-z0-9._-]`, starting
/// and ending with an alphanumeric.
pub fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut: String = trimmed.chars().take(MAX_NAME).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned()
}

/// Lower-case DNS-label characters of `text`; runs of anything else become one `-`.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn bounded(name: &str, identity: &str) -> String {
    bounded_to(name, identity, MAX_NAME)
}

/// `name` if it fits in `max`, else its head and 8 hex digits of a hash of `identity`.
fn bounded_to(name: &str, identity: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let hash = format!("{:08x}", fnv1a(identity) as u32);
    let head = name[..max - hash.len() - 1].trim_end_matches('-');
    format!("{head}-{hash}")
}

/// FNV-1a, 64 bit: stable across releases and platforms (unlike `DefaultHasher`).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_and_job_names() {
        assert_eq!(run_name("orders", "2026-11-25T13"), "orders-2026-11-25t13");
        assert_eq!(run_name("orders", "2026-10-25T02.2"), "orders-2026-10-25t02-2");
        assert_eq!(run_name("sessions", "2026-11-25"), "sessions-2026-11-25");
        assert_eq!(job_name("orders-2026-11-25t13", 1), "orders-2026-11-25t13-1");
        assert_eq!(job_name("orders-2026-11-25t13", 12), "orders-2026-11-25t13-12");
    }

    #[test]
    fn long_names_stay_unique_dns_labels() {
        let job = "a-very-long-job-name-that-a-data-team-picked-for-clarity";
        let a = run_name(job, "2026-11-25T13");
        let b = run_name(job, "2026-11-25T14");
        assert_ne!(a, b);
        for name in [&a, &b, &job_name(&a, 3), &job_name(&a, 100)] {
            assert!(name.len() <= MAX_NAME, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
        assert!(job_name(&a, 3).ends_with("-3"));
        // stable: the same input gives the same name on every call and every release
        assert_eq!(run_name(job, "2026-11-25T13"), a);
        assert_eq!(a, "a-very-long-job-name-that-a-data-team-picked-for-clari-81ad2ad2");
    }

    #[test]
    fn hashed_children_differ_by_identity_and_fit() {
        let a = hashed_child("orders-quality", "2026-11-25T13", "2026-11-25T13\0t1");
        let b = hashed_child("orders-quality", "2026-11-25T13", "2026-11-25T13\0t2");
        assert!(a.starts_with("orders-quality-2026-11-25t13-"), "{a}");
        assert_ne!(a, b);
        let long = hashed_child(&"s".repeat(63), "2026-11-25T13", "x");
        assert_eq!(long.len(), MAX_NAME);
        assert!(!long.contains("--"), "{long}");
    }

    #[test]
    fn stream_names() {
        assert_eq!(stream_name("app-events"), "app-events-stream");
        let long = "a".repeat(60);
        let name = stream_name(&long);
        assert!(name.len() <= MAX_NAME, "{name}");
        assert_ne!(name, stream_name(&"a".repeat(61)));
        assert_eq!(hash("x"), hash("x"));
        assert_ne!(hash("x"), hash("y"));
        assert_eq!(hash("x").len(), 16);
    }

    #[test]
    fn label_values() {
        assert_eq!(label_value("2026-11-25T13"), "2026-11-25T13");
        assert_eq!(label_value("a/b c"), "a-b-c");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(label_value(&"y".repeat(80)).len(), 63);
    }
}
