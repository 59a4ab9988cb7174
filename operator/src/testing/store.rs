//! The fake API server's objects and what each verb does to them.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use super::{
    call::{Call, Key, Route},
    merge::Managers,
    reply::{Reply, bad_request, conflict, failure, failure_on, not_found},
    selector::Selector,
};

/// A fault to answer instead of the next call that matches.
pub(crate) struct Fault {
    pub matcher: Box<dyn Fn(&Call) -> bool + Send>,
    pub code: u16,
    pub reason: String,
}

/// Everything the fake API server holds.
#[derive(Default)]
pub(crate) struct State {
    pub objects: BTreeMap<Key, Value>,
    /// Server-side apply managers of each object.
    pub managers: BTreeMap<Key, Managers>,
    /// The `kind` of each (group/version prefix, resource), learnt from the
    /// objects written, for the `kind` of lists.
    pub kinds: BTreeMap<(String, String), String>,
    /// The last resourceVersion handed out.
    pub revision: u64,
    /// Counter behind uids and generated names.
    pub serial: u64,
    pub calls: Vec<Call>,
    pub faults: VecDeque<Fault>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("objects", &self.objects.len())
            .field("revision", &self.revision)
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

/// What one request asks for, as the service read it.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub route: &'a Route,
    pub params: &'a BTreeMap<String, String>,
    pub content_type: Option<&'a str>,
    pub body: Option<&'a Value>,
}

impl Request<'_> {
    pub(crate) fn dry_run(&self) -> bool {
        self.params.get("dryRun").is_some_and(|v| v == "All")
            || self
                .body
                .and_then(|b| b["dryRun"].as_array())
                .is_some_and(|v| v.iter().any(|x| x == "All"))
    }
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl State {
    pub(crate) fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    pub(crate) fn next_uid(&mut self) -> String {
        self.serial += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.serial)
    }

    /// Remembers the kind of `obj` for lists of its resource.
    pub(crate) fn learn_kind(&mut self, prefix: &str, plural: &str, obj: &Value) {
        if let Some(kind) = obj["kind"].as_str() {
            self.kinds
                .insert((prefix.to_owned(), plural.to_owned()), kind.to_owned());
        }
    }

    pub(crate) fn get(&self, route: &Route, name: &str) -> Reply {
        match self.objects.get(&route.key(name)) {
            Some(obj) => Reply::ok(200, obj.clone()),
            None => not_found(route, name),
        }
    }

    /// The objects of `route`'s resource in its namespace (every namespace
    /// when the route has none), in (namespace, name) order.
    pub(crate) fn matching<'s>(&'s self, route: &'s Route) -> impl Iterator<Item = &'s Value> + 's {
        self.objects
            .iter()
            .filter(move |(k, _)| {
                k.prefix == route.prefix
                    && k.plural == route.plural
                    && (route.namespace.is_none() || k.namespace == route.namespace)
            })
            .map(|(_, v)| v)
    }

    pub(crate) fn list(&self, req: &Request) -> Reply {
        let selector = match Selector::parse(
            req.params.get("labelSelector").map(String::as_str),
            req.params.get("fieldSelector").map(String::as_str),
        ) {
            Ok(s) => s,
            Err(message) => return bad_request(&message),
        };
        let route = req.route;
        let items: Vec<Value> = self.matching(route).filter(|o| selector.matches(o)).cloned().collect();
        let kind = self
            .kinds
            .get(&(route.prefix.clone(), route.plural.clone()))
            .map_or_else(|| "List".to_owned(), |k| format!("{k}List"));
        Reply::ok(
            200,
            json!({
                "apiVersion": route.api_version(),
                "kind": kind,
                "metadata": {"resourceVersion": self.revision.to_string()},
                "items": items,
            }),
        )
    }

    pub(crate) fn create(&mut self, req: &Request) -> Reply {
        let Some(body) = req.body.filter(|b| b.is_object()) else {
            return bad_request("the body of a create must be a JSON object");
        };
        let route = req.route;
        let body_ns = str_at(body, "/metadata/namespace").filter(|ns| !ns.is_empty());
        if let (Some(ns), Some(url_ns)) = (body_ns, &route.namespace)
            && ns != url_ns
        {
            return bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            );
        }
        let name = match (str_at(body, "/metadata/name"), str_at(body, "/metadata/generateName")) {
            (Some(name), _) if !name.is_empty() => name.to_owned(),
            (_, Some(prefix)) if !prefix.is_empty() => self.generated_name(route, prefix),
            _ => {
                return failure(
                    422,
                    "Invalid",
                    "metadata.name: Required value: name or generateName is required",
                    None,
                );
            }
        };
        if self.objects.contains_key(&route.key(&name)) {
            let message = format!("{} \"{name}\" already exists", route.qualified_resource());
            return failure_on(route, &name, 409, "AlreadyExists", &message);
        }
        let mut obj = body.clone();
        if route.plural != "events"
            && let Some(map) = obj.as_object_mut()
        {
            map.remove("status");
        }
        self.store_new(req, &name, obj, Managers::new())
    }

    /// Stores `obj` as the new object `name`, with the metadata the server sets.
    pub(crate) fn store_new(&mut self, req: &Request, name: &str, mut obj: Value, managers: Managers) -> Reply {
        let route = req.route;
        if obj.get("apiVersion").is_none() {
            obj["apiVersion"] = route.api_version().into();
        }
        if obj.get("kind").is_none()
            && let Some(kind) = self.kinds.get(&(route.prefix.clone(), route.plural.clone()))
        {
            obj["kind"] = kind.clone().into();
        }
        let meta = &mut obj["metadata"];
        if !meta.is_object() {
            *meta = json!({});
        }
        meta["name"] = name.into();
        match &route.namespace {
            Some(ns) => meta["namespace"] = ns.clone().into(),
            None => _ = meta.as_object_mut().map(|m| m.remove("namespace")),
        }
        if let Some(m) = meta.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("resourceVersion");
        }
        if req.dry_run() {
            return Reply::ok(201, obj);
        }
        let uid = self.next_uid();
        let revision = self.next_revision();
        let meta = &mut obj["metadata"];
        meta["uid"] = uid.into();
        meta["resourceVersion"] = revision.into();
        meta["creationTimestamp"] = now().into();
        meta["generation"] = 1.into();
        self.learn_kind(&route.prefix, &route.plural, &obj);
        let key = route.key(name);
        self.managers.insert(key.clone(), managers);
        self.objects.insert(key, obj.clone());
        Reply::ok(201, obj)
    }

    /// `prefix` and five characters, as the API server generates names.
    fn generated_name(&mut self, route: &Route, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        loop {
            self.serial += 1;
            let mut n = self.serial;
            let suffix: String = (0..5)
                .map(|_| {
                    let c = ALPHABET[(n % 27) as usize] as char;
                    n /= 27;
                    c
                })
                .collect();
            let name = format!("{prefix}{suffix}");
            if !self.objects.contains_key(&route.key(&name)) {
                return name;
            }
        }
    }

    /// Removes the object at `key` and what is known of it.
    pub(crate) fn remove(&mut self, key: &Key) -> Option<Value> {
        self.managers.remove(key);
        self.objects.remove(key)
    }

    pub(crate) fn delete(&mut self, req: &Request, name: &str) -> Reply {
        let route = req.route;
        if route.subresource.is_some() {
            return failure(405, "MethodNotAllowed", "subresources cannot be deleted", None);
        }
        let key = route.key(name);
        let Some(existing) = self.objects.get(&key).cloned() else {
            return not_found(route, name);
        };
        let preconditions = req.body.map(|b| &b["preconditions"]);
        for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
            let wanted = preconditions.and_then(|p| p[field].as_str());
            let actual = existing["metadata"][field].as_str().unwrap_or_default();
            if let Some(wanted) = wanted
                && wanted != actual
            {
                let why =
                    format!("Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}");
                return conflict(route, name, &why);
            }
        }
        if req.dry_run() {
            return Reply::ok(200, existing);
        }
        self.delete_object(&key).unwrap_or_else(|| {
            Reply::ok(
                200,
                json!({
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": name,
                        "group": route.group(),
                        "kind": route.plural,
                        "uid": existing["metadata"]["uid"],
                    },
                }),
            )
        })
    }

    /// Deletes the object at `key`: marks it when it has finalizers (the
    /// object is the answer), removes it otherwise (None: a Status answers).
    pub(crate) fn delete_object(&mut self, key: &Key) -> Option<Reply> {
        let obj = self.objects.get(key)?.clone();
        let has_finalizers = obj["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        if !has_finalizers {
            self.remove(key);
            return None;
        }
        if obj["metadata"].get("deletionTimestamp").is_some() {
            return Some(Reply::ok(200, obj));
        }
        let mut marked = obj;
        marked["metadata"]["deletionTimestamp"] = now().into();
        marked["metadata"]["deletionGracePeriodSeconds"] = 0.into();
        marked["metadata"]["resourceVersion"] = self.next_revision().into();
        self.objects.insert(key.clone(), marked.clone());
        Some(Reply::ok(200, marked))
    }
}
