//! The GraphQL envelope over the shared HTTP client: one POST per query to the configured
//! endpoint with `{"query", "variables"}`, auth by token kind, `errors[]` handled by
//! [`RailwayErrors::check_success`](crate::error::RailwayErrors), `data` returned typed.

use opsdeck_core::http::{HttpClient, HttpResponse, HttpSettings};
use opsdeck_core::{Error, Result};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::{RailwayConfig, TokenKind};
use crate::error::RailwayErrors;

/// The `data` member of a GraphQL answer. Errors were already checked by the vendor policy.
#[derive(Debug, Deserialize)]
struct DataEnvelope<T> {
    data: Option<T>,
}

/// A Railway GraphQL client for one service instance.
#[derive(Debug, Clone)]
pub(crate) struct GraphQl {
    http: HttpClient,
}

impl GraphQl {
    /// Build the client (no I/O). Account and workspace tokens go in `Authorization: Bearer`,
    /// project tokens in `Project-Access-Token` (docs.railway.com "Public API"; the Railway CLI
    /// does the same in `client.rs`).
    pub(crate) fn new(config: &RailwayConfig, settings: &HttpSettings) -> Result<Self> {
        let builder = HttpClient::builder("Railway", &config.base_url, settings)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .vendor(RailwayErrors {
                token_kind: config.token_kind,
            });
        let builder = match config.token_kind {
            TokenKind::Account | TokenKind::Workspace => builder.bearer(&config.token),
            TokenKind::Project => builder.secret_header("project-access-token", &config.token),
        };
        Ok(GraphQl {
            http: builder.build()?,
        })
    }

    /// Run `query` with `variables` and return its typed `data` and the raw response (for
    /// rate-limit headers).
    pub(crate) async fn query<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: Value,
    ) -> Result<(T, HttpResponse)> {
        let body = json!({ "query": query, "variables": variables });
        // The endpoint is the whole base URL (…/graphql/v2); passing it absolute keeps the
        // client from appending a trailing slash.
        let request = self.http.post(self.http.base())?.json(&body);
        let response = self.http.send(request).await?;
        let envelope: DataEnvelope<T> = response.json()?;
        match envelope.data {
            Some(data) => Ok((data, response)),
            None => Err(Error::invalid_response(format!(
                "Railway answered HTTP {} with neither data nor errors. base_url may not point at Railway's GraphQL endpoint.",
                response.status.as_u16()
            ))),
        }
    }
}
