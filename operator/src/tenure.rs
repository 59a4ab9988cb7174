//! Leadership tenure: until when this replica may write. The leader renews
//! its Lease every retry period; each renewal sent at `t` extends the tenure
//! to `t + renew deadline`, which is shorter than the Lease's duration, so a
//! replica stops writing before any other may take the Lease over. Every
//! write of the operator's client passes [`WriteGuard`], which refuses it
//! once the tenure has ended — also in a process that was frozen (SIGSTOP,
//! a long GC-like stall) past its deadline and resumes with work queued.

use std::{
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Instant,
};

use futures::{FutureExt, future::BoxFuture};
use http::{Method, Request};
use tower::{BoxError, Layer, Service};

/// Until when this replica may write.
#[derive(Debug, Clone)]
pub struct Tenure {
    until: Arc<Mutex<Until>>,
}

#[derive(Debug, Clone, Copy)]
enum Until {
    /// Leader election is off: always.
    Always,
    /// Until this instant (in the past: not the leader).
    Instant(Instant),
}

impl Tenure {
    /// A tenure that never ends (leader election off).
    pub fn always() -> Self {
        Self {
            until: Arc::new(Mutex::new(Until::Always)),
        }
    }

    /// No tenure yet (a standby).
    pub fn none() -> Self {
        Self {
            until: Arc::new(Mutex::new(Until::Instant(Instant::now()))),
        }
    }

    fn get(&self) -> Until {
        *self.until.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tenure lasts until `until` (a renewal succeeded).
    pub fn extend_to(&self, until: Instant) {
        *self.until.lock().unwrap_or_else(|e| e.into_inner()) = Until::Instant(until);
    }

    /// The tenure ends now.
    pub fn end(&self) {
        self.extend_to(Instant::now());
    }

    /// When it ends; `None` when it never does.
    pub fn deadline(&self) -> Option<Instant> {
        match self.get() {
            Until::Always => None,
            Until::Instant(at) => Some(at),
        }
    }

    /// Whether this replica may write now.
    pub fn valid(&self) -> bool {
        self.deadline().is_none_or(|at| Instant::now() < at)
    }
}

/// Whether `req` changes something other than a leader-election Lease (the
/// elector's own writes are how a tenure starts and is extended).
fn is_guarded_write<B>(req: &Request<B>) -> bool {
    let reads = [Method::GET, Method::HEAD, Method::OPTIONS];
    !reads.contains(req.method()) && !req.uri().path().starts_with("/apis/coordination.k8s.io/")
}

/// A tower layer refusing writes once the [`Tenure`] has ended.
#[derive(Debug, Clone)]
pub struct WriteGuard {
    tenure: Tenure,
}

impl WriteGuard {
    /// A guard of `tenure`.
    pub fn new(tenure: Tenure) -> Self {
        Self { tenure }
    }
}

impl<S> Layer<S> for WriteGuard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            tenure: self.tenure.clone(),
        }
    }
}

/// The service [`WriteGuard`] wraps.
#[derive(Debug, Clone)]
pub struct Guarded<S> {
    inner: S,
    tenure: Tenure,
}

/// The error a refused write fails with.
#[derive(Debug, thiserror::Error)]
#[error("refused a {method} of {path}: this replica's leadership ended; another replica may lead now")]
pub struct NotLeader {
    method: Method,
    path: String,
}

impl<S, B> Service<Request<B>> for Guarded<S>
where
    S: Service<Request<B>>,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if is_guarded_write(&req) && !self.tenure.valid() {
            let refused = NotLeader {
                method: req.method().clone(),
                path: req.uri().path().to_owned(),
            };
            tracing::warn!(error = %refused, "write refused");
            return futures::future::ready(Err(refused.into())).boxed();
        }
        self.inner.call(req).map(|r| r.map_err(Into::into)).boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tower::ServiceExt;

    use super::*;

    fn request(method: Method, path: &str) -> Request<()> {
        Request::builder().method(method).uri(path).body(()).expect("request")
    }

    /// Issue 12, item 7 (the guard; the end-to-end test freezes a leader).
    #[tokio::test]
    async fn never_two_leaders_a_replica_past_its_tenure_writes_nothing() {
        let tenure = Tenure::none();
        let service = tower::service_fn(|_: Request<()>| async { Ok::<_, BoxError>("sent") });
        let guarded = WriteGuard::new(tenure.clone()).layer(service);
        let run = |method, path: &'static str| {
            let guarded = guarded.clone();
            async move { guarded.oneshot(request(method, path)).await }
        };
        let runs = "/apis/ade.dev/v1alpha1/namespaces/ns/etlruns/r/status";
        let lease = "/apis/coordination.k8s.io/v1/namespaces/ade-system/leases/ade-operator";
        // A standby reads, and writes its Lease, but nothing else.
        assert!(run(Method::GET, runs).await.is_ok());
        assert!(run(Method::PUT, lease).await.is_ok());
        let refused = run(Method::PATCH, runs).await.expect_err("not the leader");
        assert!(refused.to_string().contains("leadership ended"), "{refused}");
        // A renewal extends the tenure: writes pass until it ends.
        tenure.extend_to(Instant::now() + Duration::from_secs(60));
        assert!(run(Method::PATCH, runs).await.is_ok());
        assert!(
            run(Method::POST, "/apis/events.k8s.io/v1/namespaces/ns/events")
                .await
                .is_ok()
        );
        // Past the renew deadline (as after a freeze): refused at once.
        tenure.extend_to(Instant::now() - Duration::from_millis(1));
        assert!(
            run(Method::DELETE, "/apis/batch/v1/namespaces/ns/jobs/j")
                .await
                .is_err()
        );
        assert!(
            run(Method::POST, "/apis/events.k8s.io/v1/namespaces/ns/events")
                .await
                .is_err()
        );
        // Leader election off: always.
        assert!(Tenure::always().valid());
    }
}
