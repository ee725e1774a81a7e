//! The functions a command acts on: reading them ([`read`]), choosing them ([`select`]),
//! applying a plan to one ([`apply`]), and running a command over many at a bounded request rate
//! with progress and a report ([`batch`], [`rate_limit`]).

pub mod apply;
pub mod batch;
pub mod rate_limit;
pub mod read;
pub mod select;

pub use apply::apply_or_reread;
pub use read::{Function, get, list_all};
pub use select::{Batch, select};
