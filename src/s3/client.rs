//! The S3 client: where to reach S3 and with which credentials ([`S3Settings`]), and retries
//! bounded in attempts and in total time ([`s3_client`]).

use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::Client;

/// Region used when neither the settings nor the AWS chain name one (S3 answers a request sent to the
/// wrong region with a redirect that names the right one, which ends up in the error message).
pub const FALLBACK_REGION: &str = "us-east-1";

/// Static credentials, for tests and S3-compatible stores. `Debug` never prints the secret.
#[derive(Clone)]
pub struct StaticCredentials {
    /// Access key id (not secret, but still only printed by explicit request).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl StaticCredentials {
    /// Long-term credentials without a session token.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How to reach S3. `Default` means: the standard AWS chain for region, endpoint and credentials,
/// standard retries (5 attempts) and bounded timeouts.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Region; `None` uses `AWS_REGION` / the profile, then [`FALLBACK_REGION`].
    pub region: Option<String>,
    /// Endpoint URL of an S3-compatible store; `None` uses `AWS_ENDPOINT_URL(_S3)` / the profile,
    /// then AWS.
    pub endpoint_url: Option<String>,
    /// Explicit credentials; `None` uses the AWS chain (env, profile, SSO, container, IMDS).
    pub credentials: Option<StaticCredentials>,
    /// Path-style addressing (`endpoint/bucket/key`); `None` turns it on exactly when a custom
    /// endpoint is in use.
    pub force_path_style: Option<bool>,
    /// Attempts per request, the first included (SDK standard retry mode).
    pub max_attempts: u32,
    /// First retry delay; doubles (with jitter) up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// Time bound of one attempt.
    pub attempt_timeout: Duration,
    /// Time bound of one operation, all its attempts and back-offs included.
    pub operation_timeout: Duration,
    /// Extra attempts of a GET whose body broke off mid-way (the SDK retries only up to the
    /// response headers).
    pub body_retries: u32,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            credentials: None,
            force_path_style: None,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(120),
            operation_timeout: Duration::from_secs(300),
            body_retries: 3,
        }
    }
}

/// Whether the environment names a custom S3 endpoint.
fn env_endpoint() -> Option<String> {
    let ignored = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if ignored {
        return None;
    }
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.trim().is_empty())
}

/// Builds an S3 client from `settings` and the standard AWS chain.
///
/// With a custom endpoint (from the settings or `AWS_ENDPOINT_URL(_S3)`), the client uses path-style
/// addressing and computes and validates checksums only when an operation requires them, as
/// S3-compatible stores (MinIO, R2, s3s…) expect. Retries use the SDK's standard mode, bounded by
/// `max_attempts` and by `operation_timeout`.
pub async fn s3_client(settings: &S3Settings) -> Client {
    let retry = RetryConfig::standard()
        .with_max_attempts(settings.max_attempts.max(1))
        .with_initial_backoff(settings.initial_backoff)
        .with_max_backoff(settings.max_backoff);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .operation_attempt_timeout(settings.attempt_timeout)
        .operation_timeout(settings.operation_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(region) = settings.region.as_deref().filter(|r| !r.trim().is_empty()) {
        loader = loader.region(Region::new(region.trim().to_string()));
    }
    if let Some(endpoint) = settings.endpoint_url.as_deref() {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(c) = &settings.credentials {
        loader = loader.credentials_provider(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "sparkify",
        ));
    }
    let sdk = loader.load().await;

    let custom_endpoint =
        settings.endpoint_url.is_some() || sdk.endpoint_url().is_some() || env_endpoint().is_some();
    let mut config = aws_sdk_s3::config::Builder::from(&sdk);
    if sdk.region().is_none() {
        tracing::debug!("no AWS region configured; using {FALLBACK_REGION}");
        config = config.region(Region::from_static(FALLBACK_REGION));
    }
    if settings.force_path_style.unwrap_or(custom_endpoint) {
        config = config.force_path_style(true);
    }
    if custom_endpoint {
        config = config
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    Client::from_conf(config.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c = StaticCredentials {
            session_token: Some("tok-secret".into()),
            ..StaticCredentials::new("AKID", "very-secret")
        };
        let s = S3Settings {
            credentials: Some(c),
            ..S3Settings::default()
        };
        let text = format!("{s:?}");
        assert!(
            !text.contains("very-secret") && !text.contains("tok-secret"),
            "{text}"
        );
        assert!(text.contains("AKID"));
    }
}
