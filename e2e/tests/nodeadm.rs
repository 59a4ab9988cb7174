//! How the e2e node stand-in reads an EKS node's user data: as nodeadm
//! reads it (e2e/src/nodeadm.rs). A test target of its own: `hack/e2e.sh`
//! runs the e2e crate's `tests/` and `make unit` leaves the crate out, so a
//! unit test inside its library ran nowhere.

use ade_e2e::nodeadm::registration_of;
use base64::{Engine as _, engine::general_purpose::STANDARD};

/// What the operator renders for a pool's node (its own test,
/// operator/src/providers/eks/userdata_tests.rs, compares it with this file).
const MIME: &str = include_str!("../../operator/src/providers/eks/testdata/pool-node.mime");
const UID: &str = "6f1c2a9e-0b7d-4c1e-9a51-3f0e2d4c5b6a";

#[test]
fn user_data_is_read_as_nodeadm_reads_it() {
    let got = registration_of(&STANDARD.encode(MIME)).expect("a NodeConfig");
    assert_eq!(got.cluster, "data");
    let labels: Vec<(&str, &str)> = got.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        labels,
        [
            ("ade.dev/pool", "spark-spot"),
            ("ade.dev/pool-namespace", "analytics"),
            ("ade.dev/pool-uid", UID),
            ("team", "data")
        ]
    );
    let taints: Vec<(&str, &str, &str)> = got
        .taints
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str(), t.effect.as_str()))
        .collect();
    assert_eq!(taints, [("ade.dev/pool-uid", UID, "NoSchedule")]);
    // A taint without a value, as a pool's own taints may be.
    let valueless = MIME.replace(":NoSchedule\"", ":NoSchedule,dedicated:NoExecute\"");
    let got_valueless = registration_of(&STANDARD.encode(valueless)).expect("a NodeConfig");
    let last = got_valueless
        .taints
        .last()
        .map(|t| (t.key.as_str(), t.value.as_str(), t.effect.as_str()));
    assert_eq!(last, Some(("dedicated", "", "NoExecute")));
    // A bare NodeConfig (no MIME) is read too; other parts and text are not.
    let bare = MIME
        .split_once("application/node.eks.aws\n\n")
        .map(|(_, b)| b.replace("--//--\n", ""));
    assert_eq!(registration_of(&STANDARD.encode(bare.unwrap_or_default())), Ok(got));
    let shell = MIME.replace("application/node.eks.aws", "text/x-shellscript");
    assert!(registration_of(&STANDARD.encode(shell)).is_err());
    assert!(registration_of("not base64!").is_err());
}
