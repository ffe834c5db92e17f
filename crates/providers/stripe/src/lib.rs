//! opsdeck provider for [Stripe](https://stripe.com) (billing category).
//!
//! The connection test reads the balance (`GET /v1/balance`, the cheapest call every key type
//! can be granted) and then, when the key may, the account for an identity. Metrics cover the
//! balance per currency, charges of the last 30 days (gross volume, counts, refunds, failures)
//! and active subscriptions with their MRR, computed with exact integer arithmetic in minor
//! units.
//!
//! Layout: `config.rs` (fields and typed config), `client.rs` (Stripe wire types and paging),
//! `error.rs` (Stripe error mapping), `metrics.rs` (revenue and MRR arithmetic, pure),
//! `service.rs` (the service and its category verbs).

#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod metrics;
mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{FIELDS, StripeConfig, StripeConfigBuilder};

pub use service::StripeService;

use opsdeck_core::{Category, ProviderDescriptor};

/// Provider id, also the Cargo feature name.
pub const ID: &str = "stripe";

/// The `Stripe-Version` every request pins, so responses do not follow each account's default
/// API version. The fields opsdeck parses (balance `available`/`pending`, charge `amount`,
/// `amount_captured`, `amount_refunded`, `status`, `paid`, `refunded`, `created`, subscription
/// item `price.unit_amount`, `price.recurring`, `quantity`) were checked against this version's
/// published API reference; changing it means checking them again (docs/decisions.md).
pub const STRIPE_VERSION: &str = "2025-10-29.clover";

/// The provider's descriptor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor::new(ID, "Stripe", Category::Billing)
    .description("Balance, 30-day gross volume, refunds and failed payments, active subscriptions and MRR of a Stripe account.")
    .docs_url("https://github.com/opsdeck/opsdeck/blob/main/docs/providers/stripe.md")
    .fields(FIELDS)
    .no_status_page("status.stripe.com is Stripe's own page without a Statuspage v2 feed");

opsdeck_core::register_provider!(DESCRIPTOR, StripeService::build);
