//! Configuration problems: what is wrong, where (service and field), and a stable `code` that
//! programs can match on instead of the message text.

use std::fmt;

use serde::Serialize;

/// What kind of problem a [`ConfigProblem`] is. The snake_case spelling is a stable contract
/// (it appears in `--json` output and API error details); messages may be reworded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemCode {
    /// The file is not valid TOML (or could not be read).
    Syntax,
    /// The file could not be read.
    Unreadable,
    /// A required field (including `provider`) is missing.
    MissingField,
    /// A field the provider does not declare.
    UnknownField,
    /// A value of the wrong type (a number where a string belongs, …).
    WrongType,
    /// A value of the right type that is not accepted (a bad URL, an unknown enum value, …).
    InvalidValue,
    /// A number or duration outside its accepted range.
    OutOfRange,
    /// A value longer than its limit.
    TooLong,
    /// More items than the limit allows.
    TooMany,
    /// A service name that breaks the naming rules.
    InvalidName,
    /// The same service name is declared twice.
    DuplicateName,
    /// A provider id no registered provider has.
    UnknownProvider,
    /// A first-party provider id whose Cargo feature is not enabled in this build.
    ProviderNotCompiled,
    /// A `${VAR}` whose environment variable is not set.
    MissingEnv,
    /// A service name given on the command line (or to [`crate::config::ConfigLoader::only`])
    /// that the file does not declare.
    UnknownService,
    /// The provider refused the validated config when building the service.
    Rejected,
}

impl ProblemCode {
    /// Stable snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::Syntax => "syntax",
            ProblemCode::Unreadable => "unreadable",
            ProblemCode::MissingField => "missing_field",
            ProblemCode::UnknownField => "unknown_field",
            ProblemCode::WrongType => "wrong_type",
            ProblemCode::InvalidValue => "invalid_value",
            ProblemCode::OutOfRange => "out_of_range",
            ProblemCode::TooLong => "too_long",
            ProblemCode::TooMany => "too_many",
            ProblemCode::InvalidName => "invalid_name",
            ProblemCode::DuplicateName => "duplicate_name",
            ProblemCode::UnknownProvider => "unknown_provider",
            ProblemCode::ProviderNotCompiled => "provider_not_compiled",
            ProblemCode::MissingEnv => "missing_env",
            ProblemCode::UnknownService => "unknown_service",
            ProblemCode::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConfigProblem {
    /// Service (table key) the problem is in, if any.
    pub service: Option<String>,
    /// Field the problem is about, if any.
    pub field: Option<String>,
    /// What kind of problem it is.
    pub code: ProblemCode,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl ConfigProblem {
    /// A problem about `field` of `service`. The code defaults to
    /// [`ProblemCode::InvalidValue`]; set another with [`with_code`](Self::with_code).
    pub fn field(service: &str, field: &str, message: impl Into<String>) -> Self {
        ConfigProblem {
            service: Some(service.to_owned()),
            field: Some(field.to_owned()),
            code: ProblemCode::InvalidValue,
            message: message.into(),
        }
    }

    /// A problem about a whole service (code [`ProblemCode::InvalidValue`] unless changed).
    pub fn service(service: &str, message: impl Into<String>) -> Self {
        ConfigProblem {
            service: Some(service.to_owned()),
            field: None,
            code: ProblemCode::InvalidValue,
            message: message.into(),
        }
    }

    /// A problem about the file as a whole (code [`ProblemCode::InvalidValue`] unless changed).
    pub fn file(message: impl Into<String>) -> Self {
        ConfigProblem {
            service: None,
            field: None,
            code: ProblemCode::InvalidValue,
            message: message.into(),
        }
    }

    /// The same problem with another code.
    pub fn with_code(mut self, code: ProblemCode) -> Self {
        self.code = code;
        self
    }

    /// Whether the problem is about `field` of `service`.
    pub(crate) fn is_at(&self, service: &str, field: &str) -> bool {
        self.service.as_deref() == Some(service) && self.field.as_deref() == Some(field)
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.service, &self.field) {
            (Some(s), Some(field)) => write!(f, "services.{s}.{field}: {}", self.message),
            (Some(s), None) => write!(f, "services.{s}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, in file order.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    /// `Ok(value)` when `problems` is empty, else the problems.
    pub(crate) fn check<T>(problems: Vec<ConfigProblem>, value: T) -> Result<T, ConfigErrors> {
        if problems.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors { problems })
        }
    }

    /// Whether any problem has `code`.
    pub fn has(&self, code: ProblemCode) -> bool {
        self.problems.iter().any(|p| p.code == code)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} configuration problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl From<ConfigProblem> for ConfigErrors {
    fn from(p: ConfigProblem) -> Self {
        ConfigErrors { problems: vec![p] }
    }
}
