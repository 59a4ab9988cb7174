//! The answers of the fake API server, failures as the real one words them.

use serde_json::{Value, json};

use super::call::Route;

/// An answer: the HTTP status and the JSON body (none for an empty one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub code: u16,
    pub body: Option<Value>,
}

impl Reply {
    pub(crate) fn ok(code: u16, body: Value) -> Self {
        Self { code, body: Some(body) }
    }
}

/// A `metav1.Status` failure, as the API server sends it.
pub(crate) fn failure(code: u16, reason: &str, message: &str, details: Option<Value>) -> Reply {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    Reply::ok(code, body)
}

/// A failure that names the object it is about.
pub(crate) fn failure_on(route: &Route, name: &str, code: u16, reason: &str, message: &str) -> Reply {
    let details = json!({"name": name, "group": route.group(), "kind": route.plural});
    failure(code, reason, message, Some(details))
}

pub(crate) fn not_found(route: &Route, name: &str) -> Reply {
    let message = format!("{} \"{name}\" not found", route.qualified_resource());
    failure_on(route, name, 404, "NotFound", &message)
}

pub(crate) fn conflict(route: &Route, name: &str, why: &str) -> Reply {
    let message = format!(
        "Operation cannot be fulfilled on {} \"{name}\": {why}",
        route.qualified_resource()
    );
    failure_on(route, name, 409, "Conflict", &message)
}

pub(crate) fn bad_request(message: &str) -> Reply {
    failure(400, "BadRequest", message, None)
}

/// Why a write with a stale resourceVersion fails.
pub(crate) const STALE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";
