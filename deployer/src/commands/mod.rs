//! One module per command.

pub mod disable;
pub mod enable;
pub mod init;
pub mod status;
