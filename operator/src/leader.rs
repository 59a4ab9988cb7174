//! Leader election through a `coordination.k8s.io/v1` Lease, so that two
//! replicas are safe: only the holder of the Lease runs controllers.
//!
//! The decision (take, renew or wait) is the pure function [`decide`]; the
//! [`LeaderElector`] reads and writes the Lease with optimistic concurrency
//! (`resourceVersion`), so two candidates can never both win one round.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};

/// What a candidate should do with the Lease it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No Lease exists: create it, holding it.
    Create,
    /// The Lease is free or expired: take it over.
    TakeOver,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds a valid Lease.
    Wait,
}

/// Decides what `me` does with `lease` at `now`.
pub fn decide(lease: Option<&LeaseSpec>, me: &str, now: Timestamp) -> Decision {
    let Some(spec) = lease else {
        return Decision::Create;
    };
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == me => Decision::Renew,
        None | Some("") => Decision::TakeOver,
        Some(_) => {
            let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()).map(|t| t.0);
            let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
            match renewed.and_then(|r| r.checked_add(duration).ok()) {
                Some(expiry) if expiry > now => Decision::Wait,
                _ => Decision::TakeOver,
            }
        }
    }
}

/// Reads and writes one Lease on behalf of one candidate.
#[derive(Debug, Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl LeaderElector {
    /// A candidate `identity` for the Lease `namespace/name`.
    pub fn new(client: Client, namespace: &str, name: &str, identity: String, duration: Duration) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity,
            duration,
        }
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Takes or renews the Lease if it may; `Ok(true)` when this candidate
    /// holds it afterwards. A lost race (HTTP 409) is `Ok(false)`.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let decision = decide(current.as_ref().and_then(|l| l.spec.as_ref()), &self.identity, now);
        let duration_secs = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let result = match (decision, current) {
            (Decision::Wait, _) => return Ok(false),
            (Decision::Create, _) | (_, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(duration_secs),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (decision, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                if decision == Decision::TakeOver {
                    spec.holder_identity = Some(self.identity.clone());
                    spec.acquire_time = Some(MicroTime(now));
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(duration_secs);
                spec.renew_time = Some(MicroTime(now));
                // `replace` sends the resourceVersion we read: a concurrent writer makes it fail with 409.
                self.api.replace(&self.name, &PostParams::default(), &lease).await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up, so a standby takes over at once instead of waiting
    /// for it to expire. Does nothing when another candidate holds it.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        self.api.replace(&self.name, &PostParams::default(), &lease).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn lease(holder: Option<&str>, renewed: &str, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_owned),
            renew_time: Some(MicroTime(at(renewed))),
            lease_duration_seconds: Some(secs),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn decisions() {
        let now = at("2026-11-26T10:00:00Z");
        let cases = [
            (None, Decision::Create),
            (Some(lease(Some("me"), "2026-11-26T09:59:55Z", 15)), Decision::Renew),
            // our own expired lease is still ours to renew
            (Some(lease(Some("me"), "2026-11-26T09:00:00Z", 15)), Decision::Renew),
            (Some(lease(Some("other"), "2026-11-26T09:59:55Z", 15)), Decision::Wait),
            (
                Some(lease(Some("other"), "2026-11-26T09:59:44Z", 15)),
                Decision::TakeOver,
            ),
            // expiry is exclusive: at exactly renew + duration the lease is free
            (
                Some(lease(Some("other"), "2026-11-26T09:59:45Z", 15)),
                Decision::TakeOver,
            ),
            (Some(lease(None, "2026-11-26T09:59:59Z", 15)), Decision::TakeOver),
            (Some(lease(Some(""), "2026-11-26T09:59:59Z", 15)), Decision::TakeOver),
            (
                Some(LeaseSpec {
                    holder_identity: Some("other".into()),
                    ..LeaseSpec::default()
                }),
                Decision::TakeOver,
            ),
        ];
        for (i, (spec, want)) in cases.into_iter().enumerate() {
            assert_eq!(decide(spec.as_ref(), "me", now), want, "case {i}");
        }
    }
}
