//! AWS SDK errors as one sentence a person can act on: the AWS error code and
//! message when AWS answered; "no AWS credentials" with the chain that was
//! tried and what to configure when the credential chain found none; else
//! the causes joined, never the SDK's `Debug` dump (connector, headers, body
//! bytes).

use std::error::Error;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_emr::error::ProvideErrorMetadata;

use super::super::api::ApiError;

/// What to configure when no credentials were found.
const CREDENTIALS_HELP: &str = "give the operator's ServiceAccount an IAM role (IRSA: the chart's \
     serviceAccount.annotations with eks.amazonaws.com/role-arn, or an EKS Pod Identity association), \
     or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment";

/// The error of SDK call `action`, e.g. `SdkError<ListClustersError>`.
pub(crate) fn api_error<E: ProvideErrorMetadata + Error + 'static>(action: &'static str) -> impl FnOnce(E) -> ApiError {
    move |e| describe(action, e.code(), e.message(), &e)
}

/// [`api_error`] on its parts: the code and message AWS answered, if any, and
/// the error with its chain of sources.
pub(super) fn describe(
    action: &'static str,
    code: Option<&str>,
    message: Option<&str>,
    error: &(dyn Error + 'static),
) -> ApiError {
    if let Some(code) = code {
        let category = match code {
            "ThrottlingException" | "Throttling" | "RequestLimitExceeded" => "throttled",
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => "access-denied",
            "InvalidRequestException" | "ValidationException" | "InvalidParameterValue" => "invalid-request",
            _ => "aws-api",
        };
        let said = message.filter(|m| !m.is_empty()).unwrap_or("no message");
        return ApiError {
            action,
            message: format!("AWS answered {code}: {said}"),
            category,
        };
    }
    let chain = chain(error);
    if let Some(at) = chain
        .iter()
        .position(|e| e.downcast_ref::<CredentialsError>().is_some())
    {
        let why = sentence(&chain[at..]);
        return ApiError {
            action,
            message: format!(
                "no AWS credentials: the default chain (environment, shared config and credentials files, \
                 web identity (IRSA), EKS Pod Identity, ECS and EC2 instance metadata) found none ({why}); {CREDENTIALS_HELP}"
            ),
            category: "credentials",
        };
    }
    ApiError {
        action,
        message: format!("AWS could not be reached: {}", sentence(&chain)),
        category: "aws-unreachable",
    }
}

/// `error` and its sources, outermost first.
fn chain<'a>(error: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn Error + 'static)| (*e).source()).collect()
}

/// The errors' messages joined with ": ", skipping one already said by the
/// one before it, without a trailing period.
fn sentence(errors: &[&(dyn Error + 'static)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in errors {
        let text = e.to_string();
        let text = text.trim().trim_end_matches('.');
        if text.is_empty() || parts.last().is_some_and(|p| p.contains(text)) {
            continue;
        }
        parts.push(text.to_owned());
    }
    parts.join(": ")
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
