//! An in-memory Kubernetes API server behind a real [`kube::Client`], for
//! reconciler tests: seed objects, run the code under test, then assert the
//! calls it made and the objects it left.
//!
//! ```ignore
//! let (api, client) = FakeApi::new();
//! api.insert(&run);
//! reconcile(Arc::new(run), ctx_over(client)).await?;
//! assert_eq!(api.writes(), ["PATCH etlruns/r1/status", "POST jobs"]);
//! ```
//!
//! What it serves: GET, LIST (label and field selectors), POST, PUT, PATCH
//! (server-side apply, merge, strategic merge as merge, JSON patch), DELETE
//! (finalizers, preconditions) of any resource under `/api/v1` and
//! `/apis/<group>/<version>`, namespaced or not, and their `status`
//! subresource. Watches answer an empty stream. See [`super::merge`] for how
//! far server-side apply is modelled. There is no schema, validation,
//! admission, defaulting, pagination or garbage collection (but see
//! [`FakeApi::collect_garbage`]).

use std::{
    convert::Infallible,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use kube::{Resource, client::Body};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::{
    call::{Call, Route, Verb, parse_query},
    reply::{Reply, failure},
    store::{Fault, Request, State},
};

/// The fake API server. Clones share one state.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeApi {
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    /// An empty API server, and a client of it whose default namespace is
    /// `default`. Call it inside a Tokio runtime (the client spawns a task).
    pub(crate) fn new() -> (Self, kube::Client) {
        let api = Self::default();
        let server = api.clone();
        let service = tower::service_fn(move |request: http::Request<Body>| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.serve(request).await) }
        });
        (api, kube::Client::new(service, "default"))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn serve(&self, request: http::Request<Body>) -> http::Response<Body> {
        let (parts, body) = request.into_parts();
        let bytes = match body.collect_bytes().await {
            Ok(b) => b,
            Err(e) => return respond(failure(400, "BadRequest", &format!("reading the body: {e}"), None)),
        };
        let body: Option<Value> = if bytes.is_empty() {
            None
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => Some(v),
                Err(e) => return respond(failure(400, "BadRequest", &format!("the body is not JSON: {e}"), None)),
            }
        };
        let Some(route) = Route::parse(parts.uri.path()) else {
            let message = format!("the fake API server does not serve {}", parts.uri.path());
            return respond(failure(404, "NotFound", &message, None));
        };
        let params = parse_query(parts.uri.query());
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let verb = match (&parts.method, &route.name) {
            (&http::Method::GET, Some(_)) => Verb::Get,
            (&http::Method::GET, None) if params.get("watch").is_some_and(|w| w == "true" || w == "1") => Verb::Watch,
            (&http::Method::GET, None) => Verb::List,
            (&http::Method::POST, _) => Verb::Create,
            (&http::Method::PUT, _) => Verb::Replace,
            (&http::Method::PATCH, _) => Verb::Patch,
            (&http::Method::DELETE, _) => Verb::Delete,
            (method, _) => {
                let message = format!("the fake API server does not serve {method}");
                return respond(failure(405, "MethodNotAllowed", &message, None));
            }
        };
        let name = match verb {
            Verb::Create => body
                .as_ref()
                .and_then(|b| b.pointer("/metadata/name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => route.name.clone(),
        };
        let call = Call {
            verb,
            path: parts.uri.path().to_owned(),
            namespace: route.namespace.clone(),
            kind_plural: route.plural.clone(),
            name,
            subresource: route.subresource.clone(),
            patch_type: (verb == Verb::Patch).then(|| content_type.unwrap_or_default().to_owned()),
            body: body.clone(),
            field_manager: params.get("fieldManager").cloned(),
            params: params.clone(),
        };
        let request = Request {
            route: &route,
            params: &params,
            content_type,
            body: body.as_ref(),
        };
        let mut state = self.state();
        let fault = state.faults.iter().position(|f| (f.matcher)(&call));
        state.calls.push(call);
        if let Some(fault) = fault.and_then(|i| state.faults.remove(i)) {
            let message = format!("injected by the test: {}", fault.reason);
            return respond(failure(fault.code, &fault.reason, &message, None));
        }
        let reply = match (verb, route.name.as_deref()) {
            (Verb::Watch, _) => Reply { code: 200, body: None },
            (Verb::List, _) => state.list(&request),
            (Verb::Get, Some(name)) => state.get(&route, name),
            (Verb::Create, None) => state.create(&request),
            (Verb::Replace, Some(name)) => state.replace(&request, name),
            (Verb::Patch, Some(name)) => state.patch(&request, name),
            (Verb::Delete, Some(name)) => state.delete(&request, name),
            _ => failure(
                405,
                "MethodNotAllowed",
                "the fake API server does not serve this request",
                None,
            ),
        };
        drop(state);
        respond(reply)
    }

    /// Every request so far, oldest first.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Every request so far, forgetting them: the next `calls` starts afresh.
    pub(crate) fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.state().calls)
    }

    /// The writes so far (no GET, LIST or WATCH, no Events), e.g.
    /// `["PATCH etlruns/r1/status", "POST jobs"]`; failed ones included.
    pub(crate) fn writes(&self) -> Vec<String> {
        self.writes_where(|c| !c.is_event())
    }

    /// The writes so far, Events included.
    pub(crate) fn writes_with_events(&self) -> Vec<String> {
        self.writes_where(|_| true)
    }

    fn writes_where(&self, keep: impl Fn(&Call) -> bool) -> Vec<String> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.verb.writes() && keep(c))
            .map(ToString::to_string)
            .collect()
    }

    /// Answers the next call that `matcher` accepts with a `status` failure
    /// of `reason` (e.g. 409 `Conflict`, 500 `InternalError`) and does not
    /// perform it. Faults are tried in the order they were added; each
    /// answers one call. `matcher` runs under the server's lock: it must not
    /// call the `FakeApi`.
    pub(crate) fn fail_next(&self, matcher: impl Fn(&Call) -> bool + Send + 'static, status: u16, reason: &str) {
        self.state().faults.push_back(Fault {
            matcher: Box::new(matcher),
            code: status,
            reason: reason.to_owned(),
        });
    }

    /// Stores `obj` as it is (status included, not recorded as a call),
    /// replacing any object of that name. Fills in what the server would
    /// have set when missing: uid, resourceVersion, creationTimestamp,
    /// generation; a namespaced object without a namespace goes to
    /// `default`. Returns the stored object.
    pub(crate) fn insert<K>(&self, obj: &K) -> K
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        let mut value = serde_json::to_value(obj).expect("the object serializes");
        let namespace = namespaced::<K>().then(|| obj.meta().namespace.clone().unwrap_or_else(|| "default".into()));
        let route = route_of::<K>(namespace.as_deref());
        let name = obj.meta().name.clone().expect("an inserted object has a name");
        if value.get("apiVersion").is_none() {
            value["apiVersion"] = K::api_version(&()).into();
            value["kind"] = K::kind(&()).into();
        }
        let mut state = self.state();
        let meta = &mut value["metadata"];
        match namespace {
            Some(ns) => meta["namespace"] = ns.into(),
            None => _ = meta.as_object_mut().map(|m| m.remove("namespace")),
        }
        if meta.get("uid").is_none() {
            meta["uid"] = state.next_uid().into();
        }
        match meta["resourceVersion"].as_str().map(str::parse::<u64>) {
            Some(Ok(rv)) => state.revision = state.revision.max(rv),
            Some(Err(_)) => {}
            None => meta["resourceVersion"] = state.next_revision().into(),
        }
        if meta.get("creationTimestamp").is_none() {
            meta["creationTimestamp"] = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into();
        }
        if meta.get("generation").is_none() {
            meta["generation"] = 1.into();
        }
        state.learn_kind(&route.prefix, &route.plural, &value);
        let key = route.key(&name);
        state.managers.remove(&key);
        state.objects.insert(key, value.clone());
        serde_json::from_value(value).expect("the stored object deserializes")
    }

    /// The object `name` (in `namespace`, None for cluster-scoped kinds) as stored now.
    pub(crate) fn get<K>(&self, namespace: Option<&str>, name: &str) -> Option<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let key = route_of::<K>(namespace).key(name);
        let value = self.state().objects.get(&key).cloned()?;
        Some(serde_json::from_value(value).expect("the stored object deserializes"))
    }

    /// The objects of kind `K` in `namespace` (every namespace when None), by namespace and name.
    pub(crate) fn list<K>(&self, namespace: Option<&str>) -> Vec<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let route = route_of::<K>(namespace);
        let values: Vec<Value> = self.state().matching(&route).cloned().collect();
        values
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("the stored object deserializes"))
            .collect()
    }

    /// Removes the object at once, finalizers or not, as if someone else
    /// deleted it (not recorded as a call). Whether it was there.
    pub(crate) fn remove<K>(&self, namespace: Option<&str>, name: &str) -> bool
    where
        K: Resource<DynamicType = ()>,
    {
        let key = route_of::<K>(namespace).key(name);
        self.state().remove(&key).is_some()
    }

    /// Deletes, as the garbage collector would, every object with owner
    /// references none of which exists any more (an object with finalizers
    /// gets its deletionTimestamp), until no more are found; how many.
    pub(crate) fn collect_garbage(&self) -> usize {
        let mut state = self.state();
        let mut deleted = 0;
        loop {
            let uids: std::collections::BTreeSet<String> = state
                .objects
                .values()
                .filter_map(|o| o["metadata"]["uid"].as_str().map(str::to_owned))
                .collect();
            let orphans: Vec<_> = state
                .objects
                .iter()
                .filter(|(_, o)| o["metadata"].get("deletionTimestamp").is_none())
                .filter(|(_, o)| {
                    o["metadata"]["ownerReferences"].as_array().is_some_and(|refs| {
                        !refs.is_empty() && refs.iter().all(|r| r["uid"].as_str().is_none_or(|u| !uids.contains(u)))
                    })
                })
                .map(|(k, _)| k.clone())
                .collect();
            if orphans.is_empty() {
                return deleted;
            }
            for key in orphans {
                state.delete_object(&key);
                deleted += 1;
            }
        }
    }
}

/// Whether `K` is a namespaced kind.
fn namespaced<K: Resource>() -> bool {
    std::any::type_name::<K::Scope>().ends_with("NamespaceResourceScope")
}

/// The route of `K`'s collection in `namespace`.
fn route_of<K: Resource<DynamicType = ()>>(namespace: Option<&str>) -> Route {
    let path = K::url_path(&(), namespace);
    Route::parse(&path).unwrap_or_else(|| panic!("{path} is not a resource path"))
}

fn respond(reply: Reply) -> http::Response<Body> {
    let body = reply
        .body
        .map(|b| serde_json::to_vec(&b).expect("a JSON value serializes"))
        .unwrap_or_default();
    http::Response::builder()
        .status(reply.code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("a valid response")
}

#[path = "api_server_tests.rs"]
mod fake_api_tests;

#[path = "api_server_lifecycle_tests.rs"]
mod fake_api_lifecycle_tests;
