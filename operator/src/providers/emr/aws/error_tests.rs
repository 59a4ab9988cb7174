use std::{error::Error, fmt};

use aws_credential_types::provider::error::CredentialsError;

use super::describe;

/// An error with a message and an optional cause, like the SDK's layers.
#[derive(Debug)]
struct Layer(&'static str, Option<Box<dyn Error + Send + Sync>>);

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for Layer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.1.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

fn layer(msg: &'static str, cause: impl Error + Send + Sync + 'static) -> Layer {
    Layer(msg, Some(Box::new(cause)))
}

#[test]
fn an_answer_from_aws_is_its_code_and_message() {
    let e = describe(
        "RunJobFlow",
        Some("AccessDeniedException"),
        Some("User: arn:aws:sts::1:assumed-role/ade is not authorized to perform: elasticmapreduce:RunJobFlow"),
        &Layer("service error", None),
    );
    assert_eq!(e.category, "access-denied");
    assert_eq!(
        e.to_string(),
        "RunJobFlow: AWS answered AccessDeniedException: User: arn:aws:sts::1:assumed-role/ade is not authorized to perform: elasticmapreduce:RunJobFlow"
    );
}

#[test]
fn missing_credentials_say_what_was_tried_and_what_to_configure() {
    // The shape of the SDK's error when the chain ends at instance metadata.
    let imds = Layer(
        "request forbidden: IMDS is disabled or the caller has insufficient permissions.",
        None,
    );
    let creds = CredentialsError::provider_error(layer("failed to load IMDS session token", imds));
    let err = layer("dispatch failure", layer("other", creds));
    let e = describe("ListClusters", None, None, &err);
    assert_eq!(e.category, "credentials");
    let m = e.to_string();
    assert!(
        m.starts_with("ListClusters: no AWS credentials: the default chain"),
        "{m}"
    );
    assert!(
        m.contains("(an error occurred while loading credentials: failed to load IMDS session token: request forbidden: IMDS is disabled or the caller has insufficient permissions)"),
        "{m}"
    );
    assert!(
        m.contains("IRSA") && m.contains("Pod Identity") && m.contains("AWS_ACCESS_KEY_ID"),
        "{m}"
    );
    assert!(
        !m.contains("dispatch failure") && !m.contains('{'),
        "no SDK layers or Debug dumps: {m}"
    );
}

#[test]
fn an_unreachable_endpoint_is_the_causes_in_one_line() {
    let err = layer(
        "dispatch failure",
        layer(
            "io error",
            layer(
                "client error (Connect)",
                Layer("Connection refused (os error 111)", None),
            ),
        ),
    );
    let e = describe("DescribeCluster", None, None, &err);
    assert_eq!(e.category, "aws-unreachable");
    assert_eq!(
        e.to_string(),
        "DescribeCluster: AWS could not be reached: dispatch failure: io error: client error (Connect): Connection refused (os error 111)"
    );
}

#[test]
fn a_cause_repeating_its_parent_is_said_once() {
    let err = layer("timeout: operation timed out", Layer("operation timed out", None));
    assert_eq!(
        describe("ListSteps", None, None, &err).message,
        "AWS could not be reached: timeout: operation timed out"
    );
}
