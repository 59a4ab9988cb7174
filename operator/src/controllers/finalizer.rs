//! Adding and removing one finalizer of an object, guarded by the finalizers
//! the reconcile read: a JSON patch whose `test` fails (422) when another
//! writer changed them meanwhile, so the reconcile runs again on fresh data.
//! (A resourceVersion guard would fail after the reconcile's own status write.)

use k8s_openapi::NamespaceResourceScope;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::Context;

/// Whether `obj` carries `finalizer`.
pub fn has<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// Adds (`present`) or removes `finalizer` on `obj`; nothing to do when it
/// already is as asked.
pub async fn set<K>(ctx: &Context, obj: &K, finalizer: &str, present: bool) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
{
    if has(obj, finalizer) == present {
        return Ok(());
    }
    let mut finalizers: Vec<String> = obj.finalizers().to_vec();
    finalizers.retain(|f| f != finalizer);
    if present {
        finalizers.push(finalizer.to_owned());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let patch = match &obj.meta().finalizers {
        Some(current) => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
        ]),
        None => json!([{"op": "add", "path": "/metadata/finalizers", "value": finalizers}]),
    };
    let patch: json_patch::Patch = serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Json::<()>(patch))
        .await?;
    Ok(())
}
