//! One module per command.

pub mod disable;
pub mod enable;
pub mod experiment;
pub mod iam_policy;
pub mod init;
pub mod layer;
pub mod render;
pub mod report;
pub mod stackset;
pub mod status;
