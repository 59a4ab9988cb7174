//! What the fake API server records of each request, and how it reads a
//! request's path and query.

use std::{collections::BTreeMap, fmt};

/// The verb of a recorded request, as the API server's audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// POST.
    Create,
    /// PUT.
    Replace,
    /// PATCH (any content type, server-side apply included).
    Patch,
    /// DELETE.
    Delete,
    /// GET of a collection with `watch=true`.
    Watch,
}

impl Verb {
    /// Whether requests of this verb change anything.
    pub(crate) fn writes(self) -> bool {
        !matches!(self, Self::Get | Self::List | Self::Watch)
    }

    fn http_name(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::List => "LIST",
            Self::Create => "POST",
            Self::Replace => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Watch => "WATCH",
        }
    }
}

/// One request the fake API server received, whether it succeeded or not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    /// What the request did.
    pub verb: Verb,
    /// The request path without the query, e.g.
    /// `/apis/ade.dev/v1alpha1/namespaces/ns/etlruns/r1/status`.
    pub path: String,
    /// The namespace in the path, if any.
    pub namespace: Option<String>,
    /// The resource, e.g. `etlruns`.
    pub kind_plural: String,
    /// The object's name: from the path, or for a create from the body's
    /// `metadata.name` (so matchers can pick one create among several).
    pub name: Option<String>,
    /// `status`, `scale`, ... when the request was for a subresource.
    pub subresource: Option<String>,
    /// The Content-Type of a PATCH, e.g. `application/apply-patch+yaml`.
    pub patch_type: Option<String>,
    /// The request body, when it was JSON.
    pub body: Option<serde_json::Value>,
    /// The `fieldManager` query parameter.
    pub field_manager: Option<String>,
    /// Every query parameter (`force`, `labelSelector`, `dryRun`, ...).
    pub params: BTreeMap<String, String>,
}

impl Call {
    /// Whether the request was for an Event (core or `events.k8s.io`).
    pub(crate) fn is_event(&self) -> bool {
        self.kind_plural == "events"
    }
}

/// `PATCH etlruns/r1/status`, `POST jobs`, `LIST etlruns`: the verb and the
/// resource path after the namespace. A create shows no name, as its URL has none.
impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb.http_name(), self.kind_plural)?;
        if self.verb != Verb::Create
            && let Some(name) = &self.name
        {
            write!(f, "/{name}")?;
        }
        if let Some(sub) = &self.subresource {
            write!(f, "/{sub}")?;
        }
        Ok(())
    }
}

/// Where an object lives: its API group and version path, namespace, resource and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    /// `/api/v1` or `/apis/<group>/<version>`.
    pub prefix: String,
    /// None for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The resource, e.g. `jobs`.
    pub plural: String,
    /// The object's name.
    pub name: String,
}

/// A request path taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// `/api/v1` or `/apis/<group>/<version>`.
    pub prefix: String,
    /// The namespace in the path (none for cluster-scoped kinds and for
    /// collections across all namespaces).
    pub namespace: Option<String>,
    /// The resource.
    pub plural: String,
    /// The object's name, for requests on one object.
    pub name: Option<String>,
    /// The subresource, e.g. `status`.
    pub subresource: Option<String>,
}

impl Route {
    /// Reads `/api/v1/...` and `/apis/<group>/<version>/...` paths, namespaced
    /// or not; None for anything else (discovery, `/version`).
    pub(crate) fn parse(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (prefix, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => (format!("/api/{version}"), rest),
            ["apis", group, version, rest @ ..] => (format!("/apis/{group}/{version}"), rest),
            _ => return None,
        };
        // `/api/v1/namespaces/x/status` is the Namespace x's status, not a
        // collection named `status` in namespace x.
        let (namespace, rest) = match rest {
            ["namespaces", ns, plural, rest @ ..] if !matches!(*plural, "status" | "finalize") => {
                (Some((*ns).to_owned()), [&[*plural][..], rest].concat())
            }
            _ => (None, rest.to_vec()),
        };
        let (plural, name, subresource) = match rest.as_slice() {
            [plural] => (*plural, None, None),
            [plural, name] => (*plural, Some(*name), None),
            [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
            _ => return None,
        };
        if plural.is_empty() || name.is_some_and(str::is_empty) {
            return None;
        }
        Some(Self {
            prefix,
            namespace,
            plural: plural.to_owned(),
            name: name.map(str::to_owned),
            subresource: subresource.map(str::to_owned),
        })
    }

    /// The key of the object `name` in this route's collection.
    pub(crate) fn key(&self, name: &str) -> Key {
        Key {
            prefix: self.prefix.clone(),
            namespace: self.namespace.clone(),
            plural: self.plural.clone(),
            name: name.to_owned(),
        }
    }

    /// `jobs.batch` or `configmaps`: how the API server names the resource in messages.
    pub(crate) fn qualified_resource(&self) -> String {
        match self.prefix.strip_prefix("/apis/").and_then(|gv| gv.split('/').next()) {
            Some(group) => format!("{}.{group}", self.plural),
            None => self.plural.clone(),
        }
    }

    /// The API group, empty for the core group.
    pub(crate) fn group(&self) -> &str {
        self.prefix
            .strip_prefix("/apis/")
            .and_then(|gv| gv.split('/').next())
            .unwrap_or_default()
    }

    /// The `apiVersion` of objects in this route, e.g. `batch/v1` or `v1`.
    pub(crate) fn api_version(&self) -> &str {
        self.prefix
            .strip_prefix("/apis/")
            .or_else(|| self.prefix.strip_prefix("/api/"))
            .unwrap_or_default()
    }
}

/// The query parameters of `query`, percent-decoded.
pub(crate) fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).map(|hex| u8::from_str_radix(hex, 16)) {
                    Ok(Ok(b)) => {
                        out.push(b);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
