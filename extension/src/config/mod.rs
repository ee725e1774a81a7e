//! The config in force: where it is read from ([`source`]), how it is loaded ([`loader`]) and
//! re-read while the environment lives ([`refresh`]), the stop alarms read at every refresh
//! ([`alarms`]), and the state the proxies read ([`state`]). The document itself (keys, validation) is `faultline_schema::config`.

pub mod alarms;
pub mod loader;
pub mod refresh;
pub mod source;
pub mod state;
