//! `ApiJson<T>`: the JSON body extractor and responder for the API.
//!
//! axum's `Json` reports wrong types without naming the field; this one runs serde through
//! `serde_path_to_error`, so a 422 always says which field was wrong, and every rejection is our
//! JSON error body rather than axum's plain text.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldProblem, field_of};

/// JSON request body / response.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::MalformedJson(format!("cannot read the body: {e}")))?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body, classifying syntax errors (400) apart from shape errors (422).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                // serde_json appends " at line L column C"; the field path is more useful.
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                let field = field_of(&path, &message);
                ApiError::InvalidBody {
                    message: format!("{field}: {message}"),
                    details: vec![FieldProblem { field, message }],
                }
            }
            _ => ApiError::MalformedJson(format!("the body is not valid JSON: {inner}")),
        }
    })
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// An integer as JSON Schema means it: `937` and `937.0` are the same integer. serde would
/// refuse the second for an `i64`, so integer fields of request bodies read through this.
struct Int(i64);

impl<'de> serde::Deserialize<'de> for Int {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Int, E> {
                // 2^63 as f64; within it an integral float converts exactly.
                if v.fract() == 0.0 && v.abs() < 9.223_372_036_854_775e18 {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(Int(v as i64))
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `deserialize_with` for an `i64` field.
pub(crate) fn int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    <Int as serde::Deserialize>::deserialize(d).map(|i| i.0)
}

/// `deserialize_with` for an `Option<i64>` field (null = `None`).
pub(crate) fn opt_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    <Option<Int> as serde::Deserialize>::deserialize(d).map(|o| o.map(|i| i.0))
}

/// `deserialize_with` for a PATCH field where absent, null and a value differ.
pub(crate) fn some_opt_int<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<i64>>, D::Error> {
    opt_int(d).map(Some)
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::int")]
        n: i64,
    }

    #[test]
    fn integral_floats_are_integers() {
        let ok = |s: &str| serde_json::from_str::<T>(s).map(|t| t.n).ok();
        assert_eq!(ok(r#"{"n": 937}"#), Some(937));
        assert_eq!(ok(r#"{"n": 937.0}"#), Some(937));
        assert_eq!(ok(r#"{"n": -5}"#), Some(-5));
        assert_eq!(ok(r#"{"n": 937.5}"#), None);
        assert_eq!(ok(r#"{"n": 1e300}"#), None);
        assert_eq!(ok(r#"{"n": "937"}"#), None);
        assert_eq!(ok(r#"{"n": 18446744073709551615}"#), None);
    }
}
