//! The AWS transport: STS and Cost Explorer clients from the AWS SDK (which signs with SigV4 and
//! speaks both protocols), driven through opsdeck's shared HTTP policy.
//!
//! - The SDK's own retries are switched off; every call goes through
//!   [`opsdeck_core::http::execute`], so retries, backoff, `Retry-After` against the caller's
//!   deadline, status classification and secret scrubbing are the same as for every provider,
//!   and the SDK's typed output comes back as the call's result. A failed call's raw response is
//!   classified by AWS error code ([`crate::error::AwsErrors`]).
//! - Credentials come only from the source the config names ([`CredentialSource`]); the SDK's
//!   ambient chain is used only for `credentials = "default_chain"`. Whatever the source, every
//!   credential the SDK resolves and every signed header it sends (`Authorization`,
//!   `x-amz-security-token`) is learned by the redactor, so a host echoing them back cannot make
//!   opsdeck store, log or return them.
//! - The SDK's HTTP client resolves names through the outbound address policy: a `base_url`
//!   whose name resolves to a link-local or metadata address is refused at connect time (a
//!   literal one before the SDK is built). Literal endpoints the SDK itself uses for instance
//!   metadata credentials (`default_chain` on EC2/ECS) do not go through DNS and keep working.
//!
//! The SDK config is loaded lazily on first use: loading is async (it may read the shared
//! config files) and building a service must not do I/O.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sts::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sts::error::{BoxError, DisplayErrorContext, SdkError};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use opsdeck_core::http::address::{self, LookupFn};
use opsdeck_core::http::{
    HttpResponse, HttpSettings, Redactor, Reply, RequestCtx, Vendor, classify_transport, execute,
};
use opsdeck_core::secrecy::ExposeSecret;
use opsdeck_core::{Error, FailureKind, Result};
use tokio::sync::OnceCell;

use crate::config::{AwsConfig, CredentialSource};
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
    lookup: LookupFn,
    sdk: OnceCell<Sdk>,
}

impl std::fmt::Debug for AwsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.config.credentials {
            CredentialSource::Static(_) => "static",
            CredentialSource::Profile(_) => "profile",
            CredentialSource::DefaultChain => "default_chain",
        };
        f.debug_struct("AwsClient")
            .field("region", &self.config.region)
            .field(
                "base_url",
                &self.config.base_url.as_ref().map(|u| u.as_str()),
            )
            .field("credentials", &source)
            .finish_non_exhaustive()
    }
}

/// A credentials provider that tells the redactor every credential it hands to the SDK.
#[derive(Debug)]
struct Learned {
    inner: SharedCredentialsProvider,
    redactor: Redactor,
}

impl ProvideCredentials for Learned {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let c = self.inner.provide_credentials().await?;
            self.redactor.learn(c.access_key_id());
            self.redactor.learn(c.secret_access_key());
            if let Some(token) = c.session_token() {
                self.redactor.learn(token);
            }
            Ok(c)
        })
    }
}

/// An SDK interceptor that tells the redactor the signed values of every request it sends.
#[derive(Debug)]
struct LearnSigned(Redactor);

impl Intercept for LearnSigned {
    fn name(&self) -> &'static str {
        "opsdeck-learn-signed-values"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        let headers = context.request().headers();
        if let Some(auth) = headers.get("authorization") {
            self.0.learn(auth);
            if let Some(signature) = auth.split("Signature=").nth(1) {
                self.0.learn(signature.trim());
            }
        }
        if let Some(token) = headers.get("x-amz-security-token") {
            self.0.learn(token);
        }
        Ok(())
    }
}

/// The SDK's DNS resolver under the outbound address policy.
#[derive(Clone)]
struct FilteringDns {
    allow_link_local: bool,
    lookup: LookupFn,
}

impl std::fmt::Debug for FilteringDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilteringDns")
            .field("allow_link_local", &self.allow_link_local)
            .finish_non_exhaustive()
    }
}

impl ResolveDns for FilteringDns {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        DnsFuture::new(async move {
            let addrs = (self.lookup)(name.to_owned())
                .await
                .map_err(ResolveDnsError::new)?;
            address::filter_resolved(name, addrs, self.allow_link_local)
                .map_err(ResolveDnsError::new)
        })
    }
}

impl AwsClient {
    /// A client for `config` under `settings`. No I/O.
    pub fn new(config: AwsConfig, settings: &HttpSettings) -> Self {
        Self::with_lookup(config, settings, address::system_lookup())
    }

    /// A client whose SDK resolves names with `lookup` (tests stand in a name that resolves to
    /// a metadata address).
    fn with_lookup(config: AwsConfig, settings: &HttpSettings, lookup: LookupFn) -> Self {
        let redactor = Redactor::new(config.secrets());
        AwsClient {
            config,
            settings: settings.clone(),
            redactor,
            lookup,
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
                if let Some(url) = &self.config.base_url {
                    address::check_url(url, self.settings.allow_link_local)
                        .map_err(|why| Error::invalid_config(format!("AWS base_url: {why}.")))?;
                }
                let app = AppName::new(concat!("opsdeck-", env!("CARGO_PKG_VERSION")))
                    .map_err(|e| Error::invalid_config(format!("bad SDK app name: {e}")))?;
                let http = aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::AwsLc,
                    ))
                    .build_with_resolver(FilteringDns {
                        allow_link_local: self.settings.allow_link_local,
                        lookup: self.lookup.clone(),
                    });
                // Retries are opsdeck's (see the module docs); the SDK makes one attempt per call.
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(self.config.region.clone()))
                    .app_name(app)
                    .http_client(http)
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
                loader = match &self.config.credentials {
                    CredentialSource::Static(keys) => {
                        loader.credentials_provider(Credentials::new(
                            keys.access_key_id.expose_secret(),
                            keys.secret_access_key.expose_secret(),
                            keys.session_token
                                .as_ref()
                                .map(|t| t.expose_secret().to_owned()),
                            None,
                            "opsdeck-config",
                        ))
                    }
                    // Only this profile: the chain's other sources (environment, instance
                    // metadata) must not stand in when the profile gives nothing.
                    CredentialSource::Profile(profile) => {
                        loader.profile_name(profile).credentials_provider(
                            aws_config::profile::ProfileFileCredentialsProvider::builder()
                                .profile_name(profile)
                                .build(),
                        )
                    }
                    CredentialSource::DefaultChain => loader,
                };
                let shared = loader.load().await;
                let credentials = shared.credentials_provider().ok_or_else(|| {
                    Error::invalid_config(
                        "The AWS SDK has no credentials provider for this service.",
                    )
                })?;
                let learned = SharedCredentialsProvider::new(Learned {
                    inner: credentials,
                    redactor: self.redactor.clone(),
                });
                let sts_conf = aws_sdk_sts::config::Builder::from(&shared)
                    .credentials_provider(learned.clone())
                    .interceptor(LearnSigned(self.redactor.clone()))
                    .build();
                let ce_conf = aws_sdk_costexplorer::config::Builder::from(&shared)
                    .region(Region::new(COST_EXPLORER_REGION))
                    .credentials_provider(learned)
                    .interceptor(LearnSigned(self.redactor.clone()))
                    .build();
                Ok(Sdk {
                    sts: aws_sdk_sts::Client::from_conf(sts_conf),
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

    fn vendor(&self, api: Api) -> Vendor {
        Vendor::new(
            api.name(),
            self.host(api),
            Arc::new(AwsErrors),
            self.redactor.clone(),
        )
    }

    /// Run one SDK operation (`action`, the IAM action it needs) under the shared policy and
    /// return its typed output. `send` builds and sends the request once; it is called again
    /// for each retry.
    pub async fn call<T, E, F, Fut>(&self, api: Api, action: &'static str, mut send: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, SdkHttpResponse>>>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let vendor = self.vendor(api);
        let vendor_ref = &vendor;
        let failure_context = &self.config.credentials;
        // Both protocols POST to the endpoint's root; the operation names the call.
        let ctx = RequestCtx::new(action, "/");
        execute(&self.settings, &vendor, &ctx, |timeout| {
            let fut = send();
            async move {
                match fut.await {
                    Ok(out) => Ok(Reply::Value(out)),
                    Err(e) => {
                        from_sdk_error(e, vendor_ref, failure_context, timeout).map(Reply::Response)
                    }
                }
            }
        })
        .await
    }
}

/// Turn an SDK failure into what the shared policy expects: the raw response for any answer
/// with an error status (classified by status and AWS code), or a classified error when there
/// was no usable answer.
fn from_sdk_error<E>(
    err: SdkError<E, SdkHttpResponse>,
    vendor: &Vendor,
    source: &CredentialSource,
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
        return Err(credentials_failure(creds, source, &err));
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

fn credentials_failure(
    creds: &CredentialsError,
    source: &CredentialSource,
    err: &(dyn std::error::Error + 'static),
) -> Error {
    // The chain's own text says which sources were tried and why each failed; it names
    // sources, never credential values.
    let detail = DisplayErrorContext(err).to_string();
    let detail = detail.trim_start_matches("dispatch failure: other: ");
    match creds {
        CredentialsError::CredentialsNotLoaded(_) => {
            let what = match source {
                CredentialSource::Profile(p) => {
                    format!("The profile \"{p}\" gave no AWS credentials.")
                }
                _ => "credentials = \"default_chain\", but the AWS credential chain found no credentials on this machine.".to_owned(),
            };
            Error::invalid_config(format!("{what} The AWS SDK reported: {detail}")).with_hint(
                "Provide credentials through the environment, shared files, SSO, web identity or instance metadata, or set access_key_id and secret_access_key for this service.",
            )
        }
        CredentialsError::ProviderTimedOut(_) => Error::new(
            FailureKind::Timeout,
            format!("Loading AWS credentials timed out: {detail}"),
        ),
        CredentialsError::InvalidConfiguration(_) => Error::invalid_config(format!(
            "The AWS credential configuration is invalid (profile or shared config files): {detail}"
        )),
        _ => Error::new(
            FailureKind::InvalidCredentials,
            format!("AWS credentials could not be obtained: {detail}"),
        )
        .with_hint("An expired SSO session is the usual cause: run `aws sso login`."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::error::ConnectorError;

    fn vendor() -> Vendor {
        Vendor::new(
            Api::Sts.name(),
            "sts.eu-west-1.amazonaws.com",
            Arc::new(AwsErrors),
            Redactor::default(),
        )
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
            &CredentialSource::DefaultChain,
            Duration::from_secs(5),
        )
        .err()
        .unwrap_or_else(|| Error::provider("no error"));
        assert_eq!(err.kind(), FailureKind::InvalidConfig, "{err}");
        assert!(err.message().contains("found no credentials"), "{err}");
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
            let err = from_sdk_error(
                dispatch(source),
                &vendor(),
                &CredentialSource::DefaultChain,
                Duration::from_secs(5),
            )
            .err()
            .unwrap_or_else(|| Error::provider("no error"));
            assert_eq!(err.kind(), kind, "{err}");
        }
    }

    fn static_config(base: &str) -> AwsConfig {
        AwsConfig {
            region: "eu-west-1".to_owned(),
            credentials: CredentialSource::Static(crate::config::StaticKeys {
                access_key_id: "AKIAOPSDECKDNSTEST01".into(),
                secret_access_key: "dnsTestSecretAccessKey0123456789abcdef".into(),
                session_token: None,
            }),
            cost_cache_ttl: Duration::ZERO,
            base_url: url::Url::parse(base).ok(),
        }
    }

    /// `metadata.test` resolves to the metadata address, anything else to loopback.
    fn lookup() -> LookupFn {
        Arc::new(|name: String| {
            Box::pin(async move {
                let ip: std::net::IpAddr = if name == "metadata.test" {
                    [169, 254, 169, 254].into()
                } else {
                    [127, 0, 0, 1].into()
                };
                Ok(vec![ip])
            })
        })
    }

    async fn caller_identity(client: &AwsClient) -> Result<String> {
        let sts = client.sts().await?;
        let out = client
            .call(Api::Sts, "sts:GetCallerIdentity", || {
                sts.get_caller_identity().send()
            })
            .await?;
        Ok(out.arn().unwrap_or_default().to_owned())
    }

    #[tokio::test]
    async fn the_sdk_refuses_names_that_resolve_to_a_metadata_address() {
        use opsdeck_testkit::wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                include_str!("../tests/it/fixtures/sts_get_caller_identity_200.xml"),
                "text/xml",
            ))
            .mount(&server)
            .await;
        let port = server.address().port();
        let settings = opsdeck_testkit::FAST_RETRIES;
        let blocked = AwsClient::with_lookup(
            static_config(&format!("http://metadata.test:{port}")),
            &settings,
            lookup(),
        );
        let err = caller_identity(&blocked)
            .await
            .err()
            .unwrap_or_else(|| Error::provider("no error"));
        assert_eq!(err.kind(), FailureKind::InvalidConfig, "{err}");
        assert!(err.message().contains("metadata.test"), "{err}");
        assert!(
            server
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty()
        );
        // A name on loopback (a local emulator, a proxy) works.
        let local = AwsClient::with_lookup(
            static_config(&format!("http://local.test:{port}")),
            &settings,
            lookup(),
        );
        let arn = caller_identity(&local)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(arn.starts_with("arn:aws:"), "{arn}");
    }

    #[tokio::test]
    async fn a_literal_metadata_endpoint_is_refused_before_the_sdk_is_built() {
        let client = AwsClient::new(
            static_config("http://169.254.169.254/"),
            &opsdeck_testkit::FAST_RETRIES,
        );
        let err = caller_identity(&client)
            .await
            .err()
            .unwrap_or_else(|| Error::provider("no error"));
        assert_eq!(err.kind(), FailureKind::InvalidConfig, "{err}");
    }

    #[tokio::test]
    async fn resolved_credentials_are_learned_by_the_redactor() {
        let redactor = Redactor::default();
        let learned = Learned {
            inner: SharedCredentialsProvider::new(Credentials::new(
                "AKIARESOLVEDKEY00001",
                "resolvedSecretAccessKey0123456789abcd",
                Some("resolvedSessionToken0123456789".to_owned()),
                None,
                "test",
            )),
            redactor: redactor.clone(),
        };
        assert!(learned.provide_credentials().await.is_ok());
        assert_eq!(
            redactor.scrub("AKIARESOLVEDKEY00001 resolvedSessionToken0123456789"),
            "[REDACTED] [REDACTED]"
        );
    }

    #[test]
    fn connection_failures_are_unreachable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let err = from_sdk_error(
            SdkError::<std::io::Error, SdkHttpResponse>::dispatch_failure(ConnectorError::io(
                Box::new(io),
            )),
            &vendor(),
            &CredentialSource::DefaultChain,
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
