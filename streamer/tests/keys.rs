//! Keys kept in S3 (`keyUri`, the only way on runtime emr): fetched once
//! through object_store from moto, they hash exactly as the same key from a
//! file does; a key that cannot be read names the field, the URI and what S3
//! said.

mod support;

use ade_moto::Moto;
use ade_streamer::{
    config::{ObfuscateRule, ObfuscationMethod},
    transform::{Obfuscator, keys},
};

fn rule(field: &str, uri: &str) -> ObfuscateRule {
    ObfuscateRule {
        field: field.into(),
        method: ObfuscationMethod::HmacSha256,
        key_file: None,
        key_uri: Some(uri.into()),
    }
}

#[tokio::test]
async fn a_key_in_s3_hashes_like_the_same_key_from_a_file() {
    let moto = Moto::start();
    moto.create_bucket("keys");
    let store = support::bucket(&moto, "keys");
    object_store::ObjectStoreExt::put(&*store, &"pii/hmac".into(), b"e2e-hmac-key\n".to_vec().into())
        .await
        .expect("put the key");
    let locate = |uri: &str| {
        let (bucket, key) = uri
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .ok_or("an s3 URI")?;
        Ok(support::location(&moto, bucket, key))
    };
    let rules = [rule("email", "s3://keys/pii/hmac"), rule("name", "s3://keys/pii/hmac")];
    let fetched = keys::fetch_with(&rules, locate).await.expect("the key");
    assert_eq!(fetched.len(), 1, "one URI, fetched once");
    let from_s3 = Obfuscator::load_with(&rules, &fetched).expect("rules");
    let from_file = Obfuscator::from_keys(&[
        (
            "email".into(),
            ObfuscationMethod::HmacSha256,
            Some(b"e2e-hmac-key".to_vec()),
        ),
        (
            "name".into(),
            ObfuscationMethod::HmacSha256,
            Some(b"e2e-hmac-key".to_vec()),
        ),
    ])
    .expect("rules");
    let payload = br#"{"email": "a@example.com", "name": "Ann"}"#;
    let a = from_s3.process(payload).expect("obfuscated");
    let b = from_file.process(payload).expect("obfuscated");
    assert_eq!(a, b);
    assert_ne!(a["email"], "a@example.com");

    let missing = keys::fetch_with(&[rule("email", "s3://keys/pii/nope")], locate)
        .await
        .expect_err("no such key")
        .to_string();
    assert!(
        missing.starts_with("cannot read the key of field email from s3://keys/pii/nope: "),
        "{missing}"
    );
}
