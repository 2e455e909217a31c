//! Failed S3 requests: [`S3Error`] names the operation, bucket and key, says in one readable line
//! what the service or the connection said (with a hint for the usual causes), and keeps the SDK's
//! error as its source. Descriptions never contain credentials.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The underlying error of a failed request, kept as an [`std::error::Error::source`].
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An S3 request that failed (after the SDK's retries).
#[derive(Debug, thiserror::Error)]
#[error("S3 {op} s3://{bucket}/{key}: {description}")]
pub struct S3Error {
    /// The operation (`list`, `get`, `put`, `upload-part`, `delete`, …).
    pub op: &'static str,
    /// Bucket name.
    pub bucket: String,
    /// Key or prefix.
    pub key: String,
    /// What the service or the connection said, in one line, with a hint for the usual causes.
    pub description: String,
    /// The SDK's (or the body stream's) error, when there is one.
    #[source]
    pub source: Option<Cause>,
}

impl S3Error {
    /// A failure described by sparkify itself (a malformed answer, an internal task that failed).
    pub fn new(op: &'static str, bucket: &str, key: &str, description: impl Into<String>) -> Self {
        Self {
            op,
            bucket: bucket.to_string(),
            key: key.to_string(),
            description: description.into(),
            source: None,
        }
    }

    /// A request the SDK reports as failed: described by [`describe_sdk_error`], kept as the source.
    pub fn sdk<E>(op: &'static str, bucket: &str, key: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        Self {
            description: describe_sdk_error(&err),
            source: Some(Box::new(err)),
            ..Self::new(op, bucket, key, "")
        }
    }

    /// The same error with `cause` as its source.
    pub fn caused_by(mut self, cause: impl Into<Cause>) -> Self {
        self.source = Some(cause.into());
        self
    }
}

/// One readable line for a failed S3 request: the service's error code and message plus a hint for
/// the usual causes, or what went wrong with the connection. Holds no credentials.
pub(crate) fn describe_sdk_error<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let raw = ctx.raw();
            let status = raw.status().as_u16();
            let region = raw.headers().get("x-amz-bucket-region").map(str::to_string);
            describe_service_error(ctx.err().code(), ctx.err().message(), status, region)
        }
        SdkError::TimeoutError(_) => {
            "timed out: the S3 endpoint did not answer in time (after retries)".to_string()
        }
        SdkError::DispatchFailure(failure) => {
            let what = if failure.is_timeout() {
                "timed out connecting to the S3 endpoint"
            } else if failure.is_io() {
                "cannot reach the S3 endpoint"
            } else {
                "request could not be sent"
            };
            format!("{what} (after retries): {}", error_chain(err))
        }
        SdkError::ResponseError(_) => format!(
            "unreadable response from the S3 endpoint: {}",
            error_chain(err)
        ),
        _ => error_chain(err),
    }
}

/// An error and its sources, `: `-separated, each once (the Display of wrapper errors often repeats
/// their source's).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// The message of an error answer of S3.
fn describe_service_error(
    code: Option<&str>,
    message: Option<&str>,
    status: u16,
    bucket_region: Option<String>,
) -> String {
    let hint = match (code, status) {
        (Some("NoSuchBucket"), _) => "the bucket does not exist".to_string(),
        (Some("NoSuchKey"), _) | (None, 404) => "the object does not exist".to_string(),
        (Some("AccessDenied" | "AllAccessDisabled"), _) | (None, 403) => {
            "access denied: the credentials in use may not read or write this bucket or key"
                .to_string()
        }
        (Some("InvalidAccessKeyId" | "NotSignedUp"), _) => {
            "the access key id is not known to the endpoint: check the AWS credentials".to_string()
        }
        (Some("SignatureDoesNotMatch"), _) => {
            "the request signature does not match: check the secret access key".to_string()
        }
        (Some("ExpiredToken" | "TokenRefreshRequired" | "InvalidToken"), _) => {
            "the session credentials have expired or are invalid".to_string()
        }
        (
            Some(
                "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraint",
            ),
            _,
        )
        | (None, 301) => match &bucket_region {
            Some(r) => format!(
                "the bucket is in region {r}: set that region (REGION in [S3], or AWS_REGION)"
            ),
            None => {
                "the bucket is in another region: set the right one (REGION in [S3], or AWS_REGION)"
                    .to_string()
            }
        },
        (Some("SlowDown"), _) | (None, 503) => {
            "S3 is throttling requests and retries were exhausted".to_string()
        }
        (_, 500..=599) => "the S3 endpoint failed and retries were exhausted".to_string(),
        _ => String::new(),
    };
    let mut out = match code {
        Some(code) => format!("{code} (HTTP {status})"),
        None => format!("HTTP {status}"),
    };
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        out.push_str(": ");
        out.push_str(m);
    }
    if !hint.is_empty() {
        out.push_str(" - ");
        out.push_str(&hint);
    }
    out
}

/// Whether a GET failed because the key does not exist.
pub(crate) fn is_no_such_key<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(ctx) => {
            ctx.err().code() == Some("NoSuchKey")
                || (ctx.err().code().is_none() && ctx.raw().status().as_u16() == 404)
        }
        _ => false,
    }
}

/// Whether a conditional PUT failed because its condition no longer holds: 412
/// `PreconditionFailed`, or 409 `ConditionalRequestConflict` (another conditional write to the
/// key was in progress).
pub(crate) fn is_precondition_failed<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
) -> bool {
    match err {
        SdkError::ServiceError(ctx) => {
            matches!(
                ctx.err().code(),
                Some("PreconditionFailed" | "ConditionalRequestConflict")
            ) || matches!(ctx.raw().status().as_u16(), 409 | 412)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_error_messages_have_hints() {
        let m = describe_service_error(
            Some("PermanentRedirect"),
            Some("use the right endpoint"),
            301,
            Some("eu-west-1".into()),
        );
        assert!(
            m.contains("eu-west-1") && m.contains("PermanentRedirect"),
            "{m}"
        );
        let m = describe_service_error(None, None, 403, None);
        assert!(m.contains("HTTP 403") && m.contains("access denied"), "{m}");
        let m = describe_service_error(Some("NoSuchBucket"), Some("gone"), 404, None);
        assert!(m.starts_with("NoSuchBucket (HTTP 404): gone"), "{m}");
    }
}
