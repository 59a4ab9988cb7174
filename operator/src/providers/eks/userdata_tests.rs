//! Tables for the nodes' user data: the whole document for a pool, its
//! hash, base64, and every label, taint and cluster field the kubelet or
//! nodeadm would reject.

use super::*;

const UID: &str = "6f1c2a9e-0b7d-4c1e-9a51-3f0e2d4c5b6a";

fn cluster() -> JoinCluster {
    JoinCluster {
        name: "data".into(),
        api_server_endpoint: "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com".into(),
        // base64 of "-----BEGIN CERTIFICATE-----"
        certificate_authority: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".into(),
        service_cidr: "10.100.0.0/16".into(),
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn pool_node() -> Registration {
    Registration::for_pool("analytics", "spark-spot", UID, &labels(&[("team", "data")]))
}

/// The document, as Python's `email` and `yaml` modules read it too. The
/// e2e node stand-in's reader is tested on this file (e2e/tests/nodeadm.rs).
const WANT: &str = include_str!("testdata/pool-node.mime");

#[test]
fn a_pool_node_joins_with_its_labels_and_taint() {
    let got = render(&cluster(), &pool_node()).expect("renders");
    assert_eq!(got.mime, WANT);
    assert_eq!(got.base64, base64(WANT.as_bytes()));
    assert!(
        got.base64
            .starts_with("TUlNRS1WZXJzaW9uOiAxLjAKQ29udGVudC1UeXBlOiBtdWx0aXBhcnQvbWl4")
    );
    // FNV-1a of the document: the same on every release and platform.
    assert_eq!(got.hash, "b135df4d14a9810d");
}

#[test]
fn the_pools_identity_wins_over_its_labels() {
    let node = Registration::for_pool(
        "analytics",
        "Spark_Spot!",
        UID,
        &labels(&[(LABEL_POOL_UID, "someone-else"), ("team", "data")]),
    );
    assert_eq!(node.labels[LABEL_POOL_UID], UID);
    assert_eq!(node.labels[LABEL_POOL], "Spark_Spot", "a label value");
    assert_eq!(node.labels[LABEL_POOL_NAMESPACE], "analytics");
    assert_eq!(node.labels["team"], "data");
    assert_eq!(node.taints, [pool_taint(UID)]);
    assert_eq!(pool_taint(UID).effect.as_str(), "NoSchedule");
}

#[test]
fn the_hash_follows_the_content() {
    let a = render(&cluster(), &pool_node()).expect("renders");
    assert_eq!(
        render(&cluster(), &pool_node()).expect("renders").hash,
        a.hash,
        "stable"
    );
    let mut relabelled = pool_node();
    relabelled.labels.insert("team".into(), "ml".into());
    let mut moved = cluster();
    moved.api_server_endpoint = "https://XYZ.gr7.us-east-1.eks.amazonaws.com".into();
    let others = [
        render(&cluster(), &relabelled).expect("renders").hash,
        render(&moved, &pool_node()).expect("renders").hash,
    ];
    assert!(others.iter().all(|h| *h != a.hash && h.len() == 16), "{others:?}");
    assert_eq!(content_hash(["a", "b"]), "e5d29919042666b2");
    assert_ne!(content_hash(["a", "b"]), content_hash(["ab"]));
    assert_eq!(
        content_hash(Vec::<&str>::new()),
        "cbf29ce484222325",
        "FNV-1a's offset basis"
    );
}

#[test]
fn flags_only_for_what_there_is() {
    assert_eq!(kubelet_flags(&Registration::default()), Ok(vec![]));
    let config = node_config(&cluster(), &Registration::default()).expect("renders");
    assert!(config.ends_with("    cidr: \"10.100.0.0/16\"\n"), "{config}");
    let node = Registration {
        labels: BTreeMap::new(),
        taints: vec![
            Taint {
                key: "dedicated".into(),
                value: String::new(),
                effect: TaintEffect::NoExecute,
            },
            Taint {
                key: "example.com/gpu".into(),
                value: "true".into(),
                effect: TaintEffect::PreferNoSchedule,
            },
        ],
    };
    assert_eq!(
        kubelet_flags(&node),
        Ok(vec![
            "--register-with-taints=dedicated:NoExecute,example.com/gpu=true:PreferNoSchedule".to_owned()
        ])
    );
}

#[test]
fn labels_the_kubelet_would_refuse() {
    let long = "x".repeat(64);
    let table: [(&str, &str, Option<&str>); 14] = [
        ("team", "data", None),
        ("example.com/team", "data", None),
        ("node.kubernetes.io/lifecycle", "spot", None),
        ("kubelet.kubernetes.io/x", "y", None),
        ("topology.kubernetes.io/zone", "us-east-1a", None),
        ("empty-value", "", None),
        ("kubernetes.io/role", "worker", Some("restricted")),
        ("node-role.kubernetes.io/worker", "", Some("restricted")),
        ("example.k8s.io/x", "y", Some("restricted")),
        ("bad key", "v", Some("invalid")),
        ("a/b/c", "v", Some("invalid")),
        ("Example.com/team", "v", Some("invalid")),
        ("team", "-data", Some("invalid")),
        ("team", long.as_str(), Some("invalid")),
    ];
    for (key, value, want) in table {
        let node = Registration {
            labels: labels(&[(key, value)]),
            taints: vec![],
        };
        let got = match kubelet_flags(&node) {
            Ok(_) => None,
            Err(UserDataError::RestrictedLabel { .. }) => Some("restricted"),
            Err(UserDataError::InvalidLabel { .. }) => Some("invalid"),
            Err(other) => panic!("{key}={value}: {other}"),
        };
        assert_eq!(got, want, "{key}={value}");
    }
    let err = kubelet_flags(&Registration {
        labels: labels(&[("node-role.kubernetes.io/worker", "")]),
        taints: vec![],
    })
    .expect_err("restricted");
    assert!(err.to_string().contains("it would not start"), "{err}");
}

#[test]
fn taints_the_kubelet_would_refuse() {
    let taint = |key: &str, value: &str| Registration {
        labels: BTreeMap::new(),
        taints: vec![Taint {
            key: key.into(),
            value: value.into(),
            effect: TaintEffect::NoSchedule,
        }],
    };
    for (key, value) in [("", "v"), ("bad key", "v"), ("ok", "no spaces"), ("ok", "trailing-")] {
        assert!(
            matches!(
                kubelet_flags(&taint(key, value)),
                Err(UserDataError::InvalidTaint { .. })
            ),
            "{key:?}={value:?}"
        );
    }
}

#[test]
fn cluster_fields_nodeadm_could_not_use() {
    type Edit = fn(&mut JoinCluster);
    let table: [(&str, Edit); 9] = [
        ("name", |c| c.name = String::new()),
        ("name", |c| c.name = "-data".into()),
        ("name", |c| c.name = "data.prod".into()),
        ("apiServerEndpoint", |c| {
            c.api_server_endpoint = "http://x.eks.amazonaws.com".into()
        }),
        ("apiServerEndpoint", |c| c.api_server_endpoint = "https://".into()),
        ("certificateAuthority", |c| {
            c.certificate_authority = "not base64!".into()
        }),
        ("cidr", |c| c.service_cidr = "10.100.0.0".into()),
        ("cidr", |c| c.service_cidr = "10.100.0.0/33".into()),
        ("cidr", |c| c.service_cidr = "10.100.0/16".into()),
    ];
    for (field, edit) in table {
        let mut c = cluster();
        edit(&mut c);
        match render(&c, &pool_node()) {
            Err(UserDataError::InvalidCluster { field: f, .. }) => assert_eq!(f, field, "{c:?}"),
            other => panic!("{c:?}: {other:?}"),
        }
    }
    let mut v6 = cluster();
    v6.service_cidr = "fd00:10:100::/108".into();
    assert!(render(&v6, &pool_node()).is_ok(), "an IPv6 service CIDR");
}

#[test]
fn base64_as_rfc_4648_writes_it() {
    let table: [(&[u8], &str); 9] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
        (&[0xff, 0xfe], "//4="),
        (&[0, 0, 0], "AAAA"),
    ];
    for (bytes, want) in table {
        assert_eq!(base64(bytes), want, "{bytes:?}");
    }
}

#[test]
fn scalars_cannot_break_the_document() {
    assert_eq!(quoted("plain"), "\"plain\"");
    assert_eq!(quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
}
