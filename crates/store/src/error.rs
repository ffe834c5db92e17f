//! The store's error type: one enum whose kinds the server maps to HTTP statuses.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
///
/// Messages name the setting or file to fix; they never contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No service, token or row with that key.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, e.g. `service "gh-main"`.
        what: String,
    },
    /// A unique key (service name) is already taken.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What collided, e.g. `service "gh-main"`.
        what: String,
    },
    /// Optimistic concurrency: the caller's version is not the stored one.
    #[error("version {expected} is stale; the current version is {current}")]
    StaleVersion {
        /// The version the caller sent.
        expected: i64,
        /// The version in the database.
        current: i64,
    },
    /// The secret key is malformed.
    #[error("invalid secret key from {source_name}: {reason}")]
    InvalidKey {
        /// Where the key came from (`OPSDECK_SECRET_KEY` or a file path).
        source_name: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// The key does not decrypt this database.
    #[error(
        "the secret key from {source_name} (key id {got}) does not match the key this database \
         was encrypted with (key id {expected}); start with the original key, or restore it"
    )]
    WrongKey {
        /// Where the key came from.
        source_name: String,
        /// Key id recorded in the database.
        expected: String,
        /// Key id of the key we were given.
        got: String,
    },
    /// The database holds secrets but no key was given.
    #[error(
        "no secret key: this database was encrypted with key id {expected}, but OPSDECK_SECRET_KEY \
         is not set and {path} does not exist; restore the key file or set OPSDECK_SECRET_KEY"
    )]
    MissingKey {
        /// Key id recorded in the database.
        expected: String,
        /// The key file that was looked for.
        path: PathBuf,
    },
    /// The database holds secrets, its key check is gone, and the key does not open them.
    #[error(
        "the database's key check (meta.key_check) is missing and the secret key from \
         {source_name} (key id {got}) does not open the stored secrets (the database last \
         recorded key id {expected}); start with the key the secrets were encrypted with"
    )]
    KeyCheckMissing {
        /// Where the key came from.
        source_name: String,
        /// Key id of the key we were given.
        got: String,
        /// Key id recorded in the database, if any.
        expected: String,
    },
    /// The key file is readable by others and its mode cannot be changed.
    #[error(
        "the secret key file {path} is readable by other users and its mode cannot be changed; \
         run `chmod 600 {path}` as its owner"
    )]
    InsecureKeyFile {
        /// The key file.
        path: PathBuf,
    },
    /// A stored secret could not be decrypted (tampered row or wrong key).
    #[error("secret field {field:?} of service {service:?} cannot be decrypted")]
    Decrypt {
        /// Service name.
        service: String,
        /// Field name.
        field: String,
    },
    /// The key file or data directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A second opsdeckd tried to open the same SQLite data directory.
    #[error(
        "another opsdeckd already uses {path}; SQLite supports one instance — use PostgreSQL \
         (OPSDECK_DATABASE_URL) to run several"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The database URL is not one we support.
    #[error("unsupported OPSDECK_DATABASE_URL scheme {scheme:?}: use postgres:// or sqlite:")]
    UnsupportedUrl {
        /// The scheme that was given.
        scheme: String,
    },
    /// A stored value does not have the shape we wrote.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// Which value.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
