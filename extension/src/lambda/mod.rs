//! What faultline asks of Lambda: the Extensions API ([`extensions_api`]), the address of a
//! Lambda API ([`endpoint`]) and the ready file the exec wrapper waits for ([`ready_file`]).

pub mod endpoint;
pub mod extensions_api;
pub mod ready_file;
