//! S3 plumbing shared by the input ([`crate::source::s3`]), the output ([`crate::sink::s3`]) and the
//! warehouse (Redshift `COPY` from S3):
//!
//! * [`location`]: `s3://bucket/prefix` URLs, validated, and the keys and URLs built from them.
//! * [`client`]: an `aws_sdk_s3::Client` from [`S3Settings`]: the standard AWS chain (env, profile,
//!   `AWS_ENDPOINT_URL`), or an explicit endpoint and static credentials (tests, S3-compatible
//!   stores). Retries are bounded in attempts and in total time.
//! * [`get`]: a whole object read with retries of a body that breaks off; [`GetError::NotFound`]
//!   when the key does not exist.
//! * [`error`]: [`S3Error`], one readable line per failed request (operation, bucket, key, what
//!   the service said and a hint), the SDK's error kept as its source. Never credentials.

pub mod client;
pub mod error;
pub mod get;
pub mod location;

pub use client::{s3_client, S3Settings, StaticCredentials, FALLBACK_REGION};
pub use error::{Cause, S3Error};
pub use get::{get_object, GetError, Object};
pub use location::{S3Location, S3UrlError};
