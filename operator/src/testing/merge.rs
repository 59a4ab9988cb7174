//! Merge patches and a small model of server-side apply.
//!
//! Server-side apply is a merge of the applied configuration into the object,
//! with two rules of the real one that reconcilers notice:
//!
//! - a field that a manager applied before and leaves out now is removed,
//!   unless another apply manager still applies it (an optional status field
//!   such as `nextAttemptAt` disappears when the controller stops sending it);
//! - `conditions` lists (`x-kubernetes-list-type: map`, keyed by `type`) are
//!   merged item by item, so two managers can each own some conditions.
//!
//! Every other list is atomic: the applied list replaces the object's.
//! Ownership by non-apply writes (create, update, merge patch) is not tracked,
//! and there are no apply conflicts: every apply behaves as if forced.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// One step of a field path: an object key, or the item of a `conditions`
/// list with that `type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Key(String),
    Item(String),
}

/// Who applied what to one object: (field manager, to the status subresource?)
/// to the configuration it last applied.
pub(crate) type Managers = BTreeMap<(String, bool), Value>;

/// JSON merge patch (RFC 7386); with `keyed`, `conditions` lists are merged by
/// `type` as a strategic merge patch does.
pub(crate) fn merge(target: &mut Value, patch: &Value, keyed: bool) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else { return };
    for (k, v) in patch {
        if v.is_null() {
            target.remove(k);
            continue;
        }
        if keyed
            && let Some(new_items) = keyed_items(k, v)
            && let Some(old) = target.get_mut(k)
            && keyed_items(k, old).is_some()
            && let Value::Array(old) = old
        {
            for (type_, item) in new_items {
                match old.iter_mut().find(|i| i["type"] == type_) {
                    Some(existing) => merge(existing, item, keyed),
                    None => old.push(item.clone()),
                }
            }
            continue;
        }
        merge(target.entry(k.clone()).or_insert(Value::Null), v, keyed);
    }
}

/// Applies `config` to `object` as `owner`, recording it in `managers`.
pub(crate) fn apply(object: &mut Value, config: &Value, owner: (String, bool), managers: &mut Managers) {
    let mut before = BTreeSet::new();
    if let Some(previous) = managers.get(&owner) {
        paths(previous, &mut Vec::new(), &mut before);
    }
    let mut now = BTreeSet::new();
    paths(config, &mut Vec::new(), &mut now);
    let mut others = BTreeSet::new();
    for (_, applied) in managers.iter().filter(|(k, _)| **k != owner) {
        paths(applied, &mut Vec::new(), &mut others);
    }
    for path in before.difference(&now) {
        if !others.contains(path) {
            remove(object, path);
        }
    }
    merge(object, config, true);
    managers.insert(owner, config.clone());
}

/// The items of a `conditions` list by their `type`, when `v` is one.
fn keyed_items<'a>(key: &str, v: &'a Value) -> Option<Vec<(&'a str, &'a Value)>> {
    if key != "conditions" {
        return None;
    }
    v.as_array()?
        .iter()
        .map(|item| Some((item.get("type")?.as_str()?, item)))
        .collect()
}

/// Every field path in `v` (objects and `conditions` items; other lists and
/// scalars are leaves).
fn paths(v: &Value, prefix: &mut Vec<Seg>, out: &mut BTreeSet<Vec<Seg>>) {
    let Value::Object(map) = v else { return };
    for (k, child) in map {
        prefix.push(Seg::Key(k.clone()));
        out.insert(prefix.clone());
        if let Some(items) = keyed_items(k, child) {
            for (type_, item) in items {
                prefix.push(Seg::Item(type_.to_owned()));
                out.insert(prefix.clone());
                paths(item, prefix, out);
                prefix.pop();
            }
        } else {
            paths(child, prefix, out);
        }
        prefix.pop();
    }
}

/// Removes the field at `path`, if it is there.
fn remove(object: &mut Value, path: &[Seg]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = object;
    for seg in parents {
        let next = match seg {
            Seg::Key(k) => current.get_mut(k),
            Seg::Item(t) => current
                .as_array_mut()
                .and_then(|items| items.iter_mut().find(|i| i["type"] == t.as_str())),
        };
        let Some(next) = next else { return };
        current = next;
    }
    match last {
        Seg::Key(k) => {
            if let Some(map) = current.as_object_mut() {
                map.remove(k);
            }
        }
        Seg::Item(t) => {
            if let Some(items) = current.as_array_mut() {
                items.retain(|i| i["type"] != t.as_str());
            }
        }
    }
}
