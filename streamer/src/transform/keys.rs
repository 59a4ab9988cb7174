//! Keys kept in S3 (`keyUri`): fetched once at start with the process's AWS
//! credentials (the pods' role, or an EMR cluster's instance profile), the
//! way a key file is read once from a mounted Secret.

use std::collections::BTreeMap;

use object_store::{ObjectStoreExt, path::Path};

use super::{TransformError, without_line_end};
use crate::{config::ObfuscateRule, sink::store::Location};

/// The key of every rule that names an S3 object: URI → bytes (a trailing
/// newline is not part of the key, as in a key file). S3 is configured from
/// the environment, like the sink ([`Location::parse`]).
pub async fn fetch(rules: &[ObfuscateRule], region: &str) -> Result<BTreeMap<String, Vec<u8>>, TransformError> {
    fetch_with(rules, |uri| Location::parse(uri, region).map_err(|e| e.to_string())).await
}

/// [`fetch`] with each key's store and path from `locate` (its URI → a
/// [`Location`] whose prefix is the key).
pub async fn fetch_with(
    rules: &[ObfuscateRule],
    locate: impl Fn(&str) -> Result<Location, String>,
) -> Result<BTreeMap<String, Vec<u8>>, TransformError> {
    let mut out = BTreeMap::new();
    for rule in rules {
        let Some(uri) = &rule.key_uri else { continue };
        if out.contains_key(uri) {
            continue;
        }
        let failed = |message: String| TransformError::KeyUri {
            field: rule.field.clone(),
            uri: uri.clone(),
            message,
        };
        let location = locate(uri).map_err(failed)?;
        let raw = async {
            location
                .store
                .get(&Path::from(location.prefix.as_str()))
                .await?
                .bytes()
                .await
        }
        .await
        .map_err(|e| failed(e.to_string()))?;
        out.insert(uri.clone(), without_line_end(&raw).to_vec());
    }
    Ok(out)
}
