//! Replace and patch (server-side apply included): what a write may change
//! and the metadata the server keeps.

use serde_json::{Value, json};

use super::{
    call::Route,
    merge::{self, Managers},
    reply::{Reply, STALE, bad_request, conflict, failure, failure_on, not_found},
    store::{Request, State, str_at},
};

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Everything but `.status`.
    Main,
    /// Only `.status`.
    Status,
    /// Everything (Events, which have no status subresource).
    Whole,
}

impl State {
    fn scope(route: &Route) -> Result<Scope, Reply> {
        match (route.subresource.as_deref(), route.plural == "events") {
            (None, true) => Ok(Scope::Whole),
            (None, false) => Ok(Scope::Main),
            (Some("status"), false) => Ok(Scope::Status),
            (Some(sub), _) => Err(failure(
                405,
                "MethodNotAllowed",
                &format!(
                    "the fake API server does not serve the subresource {sub:?} of {}",
                    route.plural
                ),
                None,
            )),
        }
    }

    pub(crate) fn replace(&mut self, req: &Request, name: &str) -> Reply {
        let route = req.route;
        let scope = match Self::scope(route) {
            Ok(s) => s,
            Err(reply) => return reply,
        };
        let Some(body) = req.body.filter(|b| b.is_object()) else {
            return bad_request("the body of a replace must be a JSON object");
        };
        if let Some(body_name) = str_at(body, "/metadata/name")
            && body_name != name
        {
            return bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            ));
        }
        let Some(existing) = self.objects.get(&route.key(name)).cloned() else {
            return not_found(route, name);
        };
        self.write(req, name, &existing, body.clone(), scope, None)
    }

    pub(crate) fn patch(&mut self, req: &Request, name: &str) -> Reply {
        let route = req.route;
        let scope = match Self::scope(route) {
            Ok(s) => s,
            Err(reply) => return reply,
        };
        let Some(body) = req.body else {
            return bad_request("a patch needs a JSON body");
        };
        let content_type = req.content_type.unwrap_or_default();
        let content_type = content_type.split(';').next().unwrap_or_default().trim();
        let existing = self.objects.get(&route.key(name)).cloned();
        if content_type == "application/apply-patch+yaml" {
            return self.apply(req, name, existing, body, scope);
        }
        let Some(existing) = existing else {
            return not_found(route, name);
        };
        let mut candidate = existing.clone();
        match content_type {
            "application/merge-patch+json" => merge::merge(&mut candidate, body, false),
            "application/strategic-merge-patch+json" => merge::merge(&mut candidate, body, true),
            "application/json-patch+json" => {
                let patch: json_patch::Patch = match serde_json::from_value(body.clone()) {
                    Ok(p) => p,
                    Err(e) => return bad_request(&format!("invalid JSON patch: {e}")),
                };
                if let Err(e) = json_patch::patch(&mut candidate, &patch) {
                    let message = format!("{} \"{name}\" is invalid: {e}", route.qualified_resource());
                    return failure_on(route, name, 422, "Invalid", &message);
                }
            }
            other => {
                let message = format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
                );
                return failure(415, "UnsupportedMediaType", &message, None);
            }
        }
        self.write(req, name, &existing, candidate, scope, None)
    }

    /// Server-side apply: creates the object when it is missing (not through
    /// the status subresource), else merges the configuration in.
    fn apply(&mut self, req: &Request, name: &str, existing: Option<Value>, body: &Value, scope: Scope) -> Reply {
        let route = req.route;
        let Some(manager) = req.params.get("fieldManager").filter(|m| !m.is_empty()) else {
            return bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            );
        };
        if !body.is_object() {
            return bad_request("the body of an apply must be an object");
        }
        if let Some(body_name) = str_at(body, "/metadata/name")
            && body_name != name
        {
            return bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            ));
        }
        let mut config = body.clone();
        match scope {
            Scope::Main => _ = config.as_object_mut().map(|m| m.remove("status")),
            // Without a status, the manager gives up the fields it applied.
            Scope::Status => config = body.get("status").map_or_else(|| json!({}), |s| json!({"status": s})),
            Scope::Whole => {}
        }
        let owner = (manager.clone(), scope == Scope::Status);
        let mut managers = self.managers.get(&route.key(name)).cloned().unwrap_or_default();
        match existing {
            Some(existing) => {
                let mut candidate = existing.clone();
                merge::apply(&mut candidate, &config, owner, &mut managers);
                self.write(req, name, &existing, candidate, scope, Some(managers))
            }
            None if scope == Scope::Status => not_found(route, name),
            None => {
                let mut candidate = json!({});
                merge::apply(&mut candidate, &config, owner, &mut managers);
                self.store_new(req, name, candidate, managers)
            }
        }
    }

    /// Stores `candidate` (the object after a replace or patch) in place of
    /// `existing`, changing only what `scope` allows.
    fn write(
        &mut self,
        req: &Request,
        name: &str,
        existing: &Value,
        candidate: Value,
        scope: Scope,
        managers: Option<Managers>,
    ) -> Reply {
        let route = req.route;
        let current_rv = str_at(existing, "/metadata/resourceVersion").unwrap_or_default();
        if let Some(rv) = str_at(&candidate, "/metadata/resourceVersion")
            && !rv.is_empty()
            && rv != current_rv
        {
            return conflict(route, name, STALE);
        }
        let mut result = match scope {
            Scope::Whole => candidate,
            Scope::Main => with_field(candidate, "status", existing.get("status")),
            Scope::Status => with_field(existing.clone(), "status", candidate.get("status")),
        };
        for field in ["apiVersion", "kind"] {
            if result.get(field).is_none()
                && let Some(v) = existing.get(field)
            {
                result[field] = v.clone();
            }
        }
        if !result["metadata"].is_object() {
            result["metadata"] = json!({});
        }
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            let value = existing["metadata"].get(field).cloned();
            result["metadata"] = with_field(result["metadata"].take(), field, value.as_ref());
        }
        if result.get("spec") != existing.get("spec") {
            let generation = existing["metadata"]["generation"].as_i64().unwrap_or(0);
            result["metadata"]["generation"] = (generation + 1).into();
        }
        let key = route.key(name);
        if req.dry_run() {
            return Reply::ok(200, result);
        }
        if let Some(managers) = managers {
            self.managers.insert(key.clone(), managers);
        }
        if result == *existing {
            // The API server does not write an unchanged object: same resourceVersion.
            return Reply::ok(200, result);
        }
        result["metadata"]["resourceVersion"] = self.next_revision().into();
        let finalized = result["metadata"].get("deletionTimestamp").is_some()
            && result["metadata"]["finalizers"].as_array().is_none_or(Vec::is_empty);
        if finalized {
            self.remove(&key);
        } else {
            self.objects.insert(key, result.clone());
        }
        Reply::ok(200, result)
    }
}

/// `obj` with `field` set to `value`, or without it when `value` is None.
fn with_field(mut obj: Value, field: &str, value: Option<&Value>) -> Value {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => _ = map.insert(field.to_owned(), v.clone()),
            None => _ = map.remove(field),
        }
    }
    obj
}
