//! The AWS transport: STS and Cost Explorer clients from the AWS SDK (which signs with SigV4 and
//! speaks both protocols), driven through opsdeck's shared HTTP policy.
//!
//! The SDK's own retries are switched off; every call goes through
//! [`opsdeck_core::http::execute`], so retries, backoff, `Retry-After` against the caller's
//! deadline, status classification and secret scrubbing are the same as for every provider.
//! The SDK hands back the raw response of a failed call, which is classified here by AWS error
//! code ([`crate::error::AwsErrors`]).
//!
//! The SDK config is loaded lazily on first use: loading is async (it may read the shared
//! config files) and building a service must not do I/O.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::error::{DisplayErrorContext, SdkError};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use opsdeck_core::http::{
    HttpResponse, HttpSettings, Redactor, Vendor, classify_transport, execute,
};
use opsdeck_core::secrecy::ExposeSecret;
use opsdeck_core::{Error, FailureKind, Result};
use tokio::sync::OnceCell;

use crate::config::AwsConfig;
use crate::error::AwsErrors;

/// Cost Explorer has a single endpoint, in us-east-1 ("The Cost Explorer API provides the
/// following endpoint: https://ce.us-east-1.amazonaws.com"), whatever region the user works in.
pub const COST_EXPLORER_REGION: &str = "us-east-1";

/// The raw HTTP response type the SDK attaches to its errors.
type SdkHttpResponse = aws_sdk_sts::config::http::HttpResponse;

/// Which AWS service a call goes to (for names and hosts in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// AWS Security Token Service.
    Sts,
    /// AWS Cost Explorer.
    CostExplorer,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Sts => "AWS STS",
            Api::CostExplorer => "AWS Cost Explorer",
        }
    }
}

struct Sdk {
    sts: aws_sdk_sts::Client,
    ce: aws_sdk_costexplorer::Client,
}

/// STS and Cost Explorer clients for one service instance, built once.
pub struct AwsClient {
    config: AwsConfig,
    settings: HttpSettings,
    redactor: Redactor,
    sdk: OnceCell<Sdk>,
}

impl std::fmt::Debug for AwsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsClient")
            .field("region", &self.config.region)
            .field(
                "base_url",
                &self.config.base_url.as_ref().map(|u| u.as_str()),
            )
            .field("static_keys", &self.config.keys.is_some())
            .field("profile", &self.config.profile)
            .finish_non_exhaustive()
    }
}

impl AwsClient {
    /// A client for `config` under `settings`. No I/O.
    pub fn new(config: AwsConfig, settings: &HttpSettings) -> Self {
        let redactor = Redactor::new(config.secrets());
        AwsClient {
            config,
            settings: settings.clone(),
            redactor,
            sdk: OnceCell::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AwsConfig {
        &self.config
    }

    async fn sdk(&self) -> Result<&Sdk> {
        self.sdk
            .get_or_try_init(|| async {
                let app = AppName::new(concat!("opsdeck-", env!("CARGO_PKG_VERSION")))
                    .map_err(|e| Error::invalid_config(format!("bad SDK app name: {e}")))?;
                // Retries are opsdeck's (see the module docs); the SDK makes one attempt per call.
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(self.config.region.clone()))
                    .app_name(app)
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(self.settings.connect_timeout)
                            .operation_attempt_timeout(self.settings.request_timeout)
                            .build(),
                    );
                if let Some(url) = &self.config.base_url {
                    loader = loader.endpoint_url(url.as_str().trim_end_matches('/'));
                }
                if let Some(profile) = &self.config.profile {
                    loader = loader.profile_name(profile);
                }
                if let Some(keys) = &self.config.keys {
                    loader = loader.credentials_provider(Credentials::new(
                        keys.access_key_id.expose_secret(),
                        keys.secret_access_key.expose_secret(),
                        keys.session_token
                            .as_ref()
                            .map(|t| t.expose_secret().to_owned()),
                        None,
                        "opsdeck-config",
                    ));
                }
                let shared = loader.load().await;
                let ce_conf = aws_sdk_costexplorer::config::Builder::from(&shared)
                    .region(Region::new(COST_EXPLORER_REGION))
                    .build();
                Ok(Sdk {
                    sts: aws_sdk_sts::Client::new(&shared),
                    ce: aws_sdk_costexplorer::Client::from_conf(ce_conf),
                })
            })
            .await
    }

    /// The STS client.
    pub async fn sts(&self) -> Result<&aws_sdk_sts::Client> {
        Ok(&self.sdk().await?.sts)
    }

    /// The Cost Explorer client (always us-east-1).
    pub async fn ce(&self) -> Result<&aws_sdk_costexplorer::Client> {
        Ok(&self.sdk().await?.ce)
    }

    fn host(&self, api: Api) -> String {
        match &self.config.base_url {
            Some(u) => u.host_str().unwrap_or("the configured base_url").to_owned(),
            None => match api {
                Api::Sts => format!("sts.{}.amazonaws.com", self.config.region),
                Api::CostExplorer => format!("ce.{COST_EXPLORER_REGION}.amazonaws.com"),
            },
        }
    }

    fn vendor(&self, api: Api, action: &'static str) -> Vendor {
        Vendor {
            name: api.name(),
            host: self.host(api),
            errors: Arc::new(AwsErrors { action }),
            redactor: self.redactor.clone(),
        }
    }

    /// Run one SDK operation under the shared policy. `send` builds and sends the request once;
    /// it is called again for each retry.
    pub async fn call<T, E, F, Fut>(&self, api: Api, action: &'static str, mut send: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, SdkHttpResponse>>>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let vendor = self.vendor(api, action);
        let slot: Mutex<Option<T>> = Mutex::new(None);
        let slot_ref = &slot;
        let vendor_ref = &vendor;
        execute(&self.settings, &vendor, |timeout| {
            let fut = send();
            async move {
                match fut.await {
                    Ok(out) => {
                        *slot_ref.lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
                        // The typed output is in `slot`; the policy only needs to see a success.
                        Ok(HttpResponse::new(
                            StatusCode::OK,
                            HeaderMap::new(),
                            Bytes::new(),
                            "/",
                        ))
                    }
                    Err(e) => from_sdk_error(e, vendor_ref, timeout),
                }
            }
        })
        .await?;
        slot.into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .ok_or_else(|| {
                Error::invalid_response(format!("{} returned no result for {action}.", api.name()))
            })
    }
}

/// Turn an SDK failure into what the shared policy expects: the raw response for any answer
/// with an error status (classified by status and AWS code), or a classified error when there
/// was no usable answer.
fn from_sdk_error<E>(
    err: SdkError<E, SdkHttpResponse>,
    vendor: &Vendor,
    timeout: Duration,
) -> Result<HttpResponse>
where
    E: std::error::Error + Send + Sync + 'static,
{
    if let Some(raw) = err.raw_response() {
        let response = to_http_response(raw);
        if !response.status.is_success() {
            return Ok(response);
        }
        // A 2xx whose body the SDK could not read: not the API we expect.
        let what = if response.is_html() {
            "an HTML page instead of an API answer (check base_url: a proxy or portal may be in the way)"
        } else {
            "a body it could not parse"
        };
        tracing::debug!(vendor = vendor.name, error = %DisplayErrorContext(&err), "unreadable response");
        return Err(Error::invalid_response(format!(
            "{} at {} answered HTTP {} with {what}.",
            vendor.name,
            vendor.host,
            response.status.as_u16()
        )));
    }
    if let Some(creds) = credentials_error(&err) {
        return Err(credentials_failure(creds, &err));
    }
    match &err {
        SdkError::TimeoutError(_) => Err(Error::new(
            FailureKind::Timeout,
            format!(
                "{} at {} did not answer within {:.1}s.",
                vendor.name,
                vendor.host,
                timeout.as_secs_f64()
            ),
        )),
        SdkError::DispatchFailure(d) if d.is_timeout() => Err(Error::new(
            FailureKind::Timeout,
            format!(
                "{} at {} did not answer within {:.1}s.",
                vendor.name,
                vendor.host,
                timeout.as_secs_f64()
            ),
        )),
        SdkError::DispatchFailure(_) => {
            Err(classify_transport(vendor.name, &vendor.host, &err, timeout))
        }
        SdkError::ConstructionFailure(_) => Err(Error::invalid_config(format!(
            "Could not build the {} request: {}. Check region and base_url.",
            vendor.name,
            DisplayErrorContext(&err)
        ))),
        _ => Err(Error::provider(format!(
            "{} call failed: {}",
            vendor.name,
            DisplayErrorContext(&err)
        ))),
    }
}

fn to_http_response(raw: &SdkHttpResponse) -> HttpResponse {
    let mut headers = HeaderMap::new();
    for (name, value) in raw.headers().iter() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let status = StatusCode::from_u16(raw.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = raw
        .body()
        .bytes()
        .map(Bytes::copy_from_slice)
        .unwrap_or_default();
    HttpResponse::new(status, headers, body, "/")
}

/// The credential-provider error somewhere in the SDK error's source chain, if any.
fn credentials_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        cur = e.source();
    }
    None
}

fn credentials_failure(creds: &CredentialsError, err: &(dyn std::error::Error + 'static)) -> Error {
    // The chain's own text says which sources were tried and why each failed; it names
    // sources, never credential values.
    let detail = DisplayErrorContext(err).to_string();
    let detail = detail.trim_start_matches("dispatch failure: other: ");
    match creds {
        CredentialsError::CredentialsNotLoaded(_) => Error::invalid_config(format!(
            "No AWS credentials were found. Set access_key_id and secret_access_key (or profile) for this service, or provide credentials through the environment, SSO, web identity or instance metadata. The AWS SDK reported: {detail}"
        )),
        CredentialsError::ProviderTimedOut(_) => Error::new(
            FailureKind::Timeout,
            format!("Loading AWS credentials timed out: {detail}"),
        ),
        CredentialsError::InvalidConfiguration(_) => Error::invalid_config(format!(
            "The AWS credential configuration is invalid (profile or shared config files): {detail}"
        )),
        _ => Error::new(
            FailureKind::InvalidCredentials,
            format!(
                "AWS credentials could not be obtained (e.g. an expired SSO session: run `aws sso login`): {detail}"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::error::ConnectorError;

    fn vendor() -> Vendor {
        Vendor {
            name: Api::Sts.name(),
            host: "sts.eu-west-1.amazonaws.com".to_owned(),
            errors: Arc::new(AwsErrors {
                action: "sts:GetCallerIdentity",
            }),
            redactor: Redactor::default(),
        }
    }

    fn dispatch(source: CredentialsError) -> SdkError<std::io::Error, SdkHttpResponse> {
        SdkError::dispatch_failure(ConnectorError::other(Box::new(source), None))
    }

    #[test]
    fn missing_credentials_say_what_was_tried() {
        let err = from_sdk_error(
            dispatch(CredentialsError::not_loaded(
                "no credentials found in chain. Attempted: Environment, Profile",
            )),
            &vendor(),
            Duration::from_secs(5),
        )
        .err()
        .unwrap_or_else(|| Error::provider("no error"));
        assert_eq!(err.kind(), FailureKind::InvalidConfig, "{err}");
        assert!(
            err.message().contains("No AWS credentials were found"),
            "{err}"
        );
        assert!(err.message().contains("Attempted: Environment"), "{err}");
    }

    #[test]
    fn credential_provider_failures_are_classified() {
        let cases = [
            (
                CredentialsError::provider_error("the SSO session has expired"),
                FailureKind::InvalidCredentials,
            ),
            (
                CredentialsError::provider_timed_out(Duration::from_secs(5)),
                FailureKind::Timeout,
            ),
            (
                CredentialsError::invalid_configuration("profile `prod` not found"),
                FailureKind::InvalidConfig,
            ),
        ];
        for (source, kind) in cases {
            let err = from_sdk_error(dispatch(source), &vendor(), Duration::from_secs(5))
                .err()
                .unwrap_or_else(|| Error::provider("no error"));
            assert_eq!(err.kind(), kind, "{err}");
        }
    }

    #[test]
    fn connection_failures_are_unreachable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let err = from_sdk_error(
            SdkError::<std::io::Error, SdkHttpResponse>::dispatch_failure(ConnectorError::io(
                Box::new(io),
            )),
            &vendor(),
            Duration::from_secs(5),
        )
        .err()
        .unwrap_or_else(|| Error::provider("no error"));
        assert_eq!(err.kind(), FailureKind::Unreachable, "{err}");
        assert!(
            err.message().contains("sts.eu-west-1.amazonaws.com"),
            "{err}"
        );
    }
}
