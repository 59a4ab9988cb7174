//! A cache's objects by namespace and group (an EtlRun's job), kept beside
//! the reflector's store from the same watch events, sharing its `Arc`s. A
//! reconcile that needs one job's runs reads those, not every run of the
//! namespace: its cost no longer grows with the namespace's history.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use kube::Resource;

/// The group of an object: for an EtlRun, its job's name.
pub type GroupOf<K> = fn(&K) -> &str;

type Key = (String, String);

/// Objects by (namespace, group), each group ordered by name.
pub struct Groups<K> {
    group_of: GroupOf<K>,
    by_group: HashMap<Key, BTreeMap<String, Arc<K>>>,
    /// The group each object is in, by (namespace, name).
    group_by_name: HashMap<Key, String>,
}

impl<K> std::fmt::Debug for Groups<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups")
            .field("groups", &self.by_group.len())
            .field("objects", &self.group_by_name.len())
            .finish()
    }
}

fn name_of<K: Resource>(obj: &K) -> Key {
    let meta = obj.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl<K: Resource> Groups<K> {
    /// No objects, grouped by `group_of`.
    pub fn new(group_of: GroupOf<K>) -> Self {
        Self {
            group_of,
            by_group: HashMap::new(),
            group_by_name: HashMap::new(),
        }
    }

    /// The group `obj` belongs to.
    pub fn group_of(&self, obj: &K) -> String {
        (self.group_of)(obj).to_owned()
    }

    /// `obj` was added or changed.
    pub fn insert(&mut self, obj: Arc<K>) {
        let key = name_of(obj.as_ref());
        let group = self.group_of(&obj);
        if self.group_by_name.get(&key).is_some_and(|g| *g != group) {
            self.remove_key(&key);
        }
        self.group_by_name.insert(key.clone(), group.clone());
        self.by_group.entry((key.0, group)).or_default().insert(key.1, obj);
    }

    /// `obj` was deleted.
    pub fn remove(&mut self, obj: &K) {
        self.remove_key(&name_of(obj));
    }

    fn remove_key(&mut self, key: &Key) {
        let Some(group) = self.group_by_name.remove(key) else {
            return;
        };
        let at = (key.0.clone(), group);
        if let Some(members) = self.by_group.get_mut(&at) {
            members.remove(&key.1);
            if members.is_empty() {
                self.by_group.remove(&at);
            }
        }
    }

    /// Holds exactly `objects` (the store after a relist).
    pub fn replace(&mut self, objects: impl IntoIterator<Item = Arc<K>>) {
        self.by_group.clear();
        self.group_by_name.clear();
        for obj in objects {
            self.insert(obj);
        }
    }

    /// The objects of `group` in `namespace`, by name.
    pub fn get(&self, namespace: &str, group: &str) -> Vec<Arc<K>> {
        self.by_group
            .get(&(namespace.to_owned(), group.to_owned()))
            .map(|members| members.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::EtlRun;

    fn run(name: &str, job: &str) -> Arc<EtlRun> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
                "metadata": {"name": name, "namespace": "ns"},
                "spec": {"jobRef": {"name": job}, "batchId": "b"},
            }))
            .expect("run"),
        )
    }

    fn names(runs: &[Arc<EtlRun>]) -> Vec<String> {
        runs.iter()
            .map(|r| r.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn objects_are_found_by_group_and_leave_it_when_deleted_or_moved() {
        let mut groups = Groups::<EtlRun>::new(|r| &r.spec.job_ref.name);
        groups.insert(run("b", "orders"));
        groups.insert(run("a", "orders"));
        groups.insert(run("c", "users"));
        assert_eq!(names(&groups.get("ns", "orders")), ["a", "b"]);
        assert!(groups.get("other", "orders").is_empty());
        groups.remove(&run("a", "orders"));
        assert_eq!(names(&groups.get("ns", "orders")), ["b"]);
        groups.insert(run("b", "users"));
        assert!(groups.get("ns", "orders").is_empty());
        assert_eq!(names(&groups.get("ns", "users")), ["b", "c"]);
        groups.replace([run("d", "orders")]);
        assert!(groups.get("ns", "users").is_empty());
        assert_eq!(names(&groups.get("ns", "orders")), ["d"]);
    }
}
