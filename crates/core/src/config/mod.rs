//! Service configuration: the raw form a service arrives in (a TOML table from `opsdeck.toml`
//! or a JSON object from the API), `${VAR}` interpolation, and validation against a provider's
//! declared fields into typed [`ConfigValues`].
//!
//! Validation never does I/O and reports every problem at once, each with the service name,
//! the field, a stable [`ProblemCode`] and a message that says what is accepted.
//!
//! - `problem`: [`ConfigProblem`], [`ProblemCode`], [`ConfigErrors`];
//! - `values`: [`RawConfig`] (as written) and [`ConfigValues`] (validated);
//! - `validate`: provider fields ([`validate`]) and the keys every service has
//!   ([`validate_service_keys`]);
//! - `interpolate`: `${VAR}`;
//! - `file`: the `opsdeck.toml` loader ([`ConfigLoader`]);
//! - `spec`: [`ServiceSpec`], its builder, [`ProviderConfig`] and [`split_secrets`].

mod file;
mod interpolate;
mod problem;
mod spec;
mod validate;
mod values;

pub use file::{ConfigLoader, LoadedConfig, spec_from_map};
pub use interpolate::interpolate;
pub use problem::{ConfigErrors, ConfigProblem, ProblemCode};
pub use spec::{
    ConfigBuilder, ProviderConfig, ServiceSpec, ServiceSpecBuilder, SplitConfig, split_secrets,
};
pub use validate::{
    MAX_INTERVAL, MAX_NAME_CHARS, MAX_TAG_CHARS, MAX_TAGS, MAX_VALUE_BYTES, MIN_INTERVAL,
    SERVICE_KEYS, check_service_name, validate, validate_service_keys,
};
pub use values::{ConfigValue, ConfigValues, RawConfig};

pub(crate) use validate::{is_provider_id, suggest, validate_fields};
