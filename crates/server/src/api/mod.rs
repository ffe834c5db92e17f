//! The JSON API under `/api/v1`, one module per resource. Handlers are thin: validation comes
//! from core, persistence from the store.

pub mod alerts;
pub mod checks;
pub mod history;
pub mod incidents;
pub mod providers;
pub mod services;
pub mod session;
pub mod status;
pub mod tests;
pub mod tokens;

pub use alerts::*;
pub use checks::*;
pub use history::*;
pub use incidents::*;
pub use providers::*;
pub use services::*;
pub use session::*;
pub use status::*;
pub use tests::*;
pub use tokens::*;
