//! The one error type at the HTTP edge: each kind maps to a status and a stable snake_case
//! `code`. Internal details are logged, never returned.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_store::StoreError;
use serde::Serialize;

/// One problem with one field of a request.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldProblem {
    /// The offending field, as a dotted path (`config.token`).
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// The JSON body of every error response.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `stale_version`.
    pub code: &'static str,
    /// Human message that says what to do.
    pub message: String,
    /// Per-field problems, when the request body was at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldProblem>,
}

/// Every way an API call can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown bearer token")]
    Unauthorized,
    #[error("this token is read-only; an admin token is needed")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error(
        "version {expected} is stale; the current version is {current}: re-read the service and retry"
    )]
    StaleVersion { expected: i64, current: i64 },
    #[error(
        "service {0:?} is provisioned from the server's config file; change it there and restart \
         opsdeckd (or remove it from the file to manage it through the API)"
    )]
    Provisioned(String),
    #[error(
        "{0} is provisioned from the server's config file; change it there and restart opsdeckd \
         (or remove it from the file to manage it through the API)"
    )]
    ReadOnly(String),
    #[error("{0}")]
    InUse(String),
    #[error("{0}")]
    MalformedJson(String),
    #[error("{message}")]
    InvalidBody {
        message: String,
        details: Vec<FieldProblem>,
    },
    #[error("unknown provider {0:?}; GET /api/v1/providers lists the available ones")]
    UnknownProvider(String),
    #[error("{message}")]
    InvalidConfig {
        message: String,
        details: Vec<FieldProblem>,
    },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    #[error("too many failed authentications from this address; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error(
        "a test-all run is already in progress on this instance; wait for it to finish (its \
         results appear in GET /api/v1/status)"
    )]
    TestAllRunning,
    #[error("the {0} feature is turned off on this server ([features] {0} = false, or OPSDECK_FEATURE_{upper}=off)", upper = .0.to_ascii_uppercase())]
    FeatureDisabled(&'static str),
    #[error("{0}")]
    IncidentState(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::AlreadyExists(_) => (StatusCode::CONFLICT, "already_exists"),
            Self::StaleVersion { .. } => (StatusCode::CONFLICT, "stale_version"),
            Self::Provisioned(_) | Self::ReadOnly(_) => (StatusCode::CONFLICT, "provisioned"),
            Self::InUse(_) => (StatusCode::CONFLICT, "in_use"),
            Self::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            Self::InvalidBody { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            Self::UnknownProvider(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_provider"),
            Self::InvalidConfig { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_config"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::TestAllRunning => (StatusCode::CONFLICT, "test_all_running"),
            Self::FeatureDisabled(_) => (StatusCode::NOT_FOUND, "feature_disabled"),
            Self::IncidentState(_) => (StatusCode::CONFLICT, "incident_state"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The stable code for a status that reached the client without one of ours (an axum
    /// extractor rejection, a 405): every non-2xx answer gets the same JSON shape.
    pub fn code_for_status(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            406 => "not_acceptable",
            408 => "request_timeout",
            409 => "conflict",
            411 => "length_required",
            413 => "payload_too_large",
            414 => "uri_too_long",
            415 => "unsupported_media_type",
            422 => "invalid_body",
            429 => "too_many_requests",
            431 => "headers_too_large",
            503 => "unavailable",
            s if s >= 500 => "internal",
            _ => "error",
        }
    }

    /// A body error with one named field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let field = field.into();
        Self::InvalidBody {
            message: format!("{field}: {message}"),
            details: vec![FieldProblem { field, message }],
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let details = match &self {
            Self::InvalidBody { details, .. } | Self::InvalidConfig { details, .. } => {
                details.clone()
            }
            _ => Vec::new(),
        };
        let body = ErrorBody {
            code,
            message: self.to_string(),
            details,
        };
        let retry_after = match &self {
            Self::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let close = matches!(self, Self::PayloadTooLarge(_) | Self::RequestTimeout(_));
        let mut resp = (status, Json(body)).into_response();
        let h = resp.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if close {
            // The rest of the body was not read: the connection cannot carry another request.
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what } => Self::NotFound(format!("{what} not found")),
            StoreError::AlreadyExists { what } => {
                Self::AlreadyExists(format!("{what} already exists"))
            }
            StoreError::StaleVersion { expected, current } => {
                Self::StaleVersion { expected, current }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Names the field a serde error is about. `path` is where serde_path_to_error stopped ("." for
/// the root); for unknown/missing fields serde reports the parent, so the name in backticks is
/// appended.
pub(crate) fn field_of(path: &str, message: &str) -> String {
    let base = if path == "." {
        String::new()
    } else {
        path.to_owned()
    };
    for marker in ["unknown field `", "missing field `"] {
        if let Some(name) = message
            .split(marker)
            .nth(1)
            .and_then(|r| r.split('`').next())
        {
            // Depending on the serde path, the position is the parent or the field itself.
            return if base.is_empty() {
                name.to_owned()
            } else if base == name || base.ends_with(&format!(".{name}")) {
                base
            } else {
                format!("{base}.{name}")
            };
        }
    }
    if base.is_empty() {
        "body".to_owned()
    } else {
        base
    }
}

/// Shorthand.
pub type ApiResult<T> = Result<T, ApiError>;
