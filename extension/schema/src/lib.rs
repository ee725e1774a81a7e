//! faultline's one schema, shared by the extension and the deployer: the YAML config and its
//! validation ([`config`]), the flag names ([`flags`]), what an event says about itself
//! ([`event`]), the labels a request carries ([`labels`]), which experiments apply to a request ([`matcher`]), the fault they add up to
//! ([`fault`]) the experiment as the Failure Flags SDKs read it ([`sdk_view`]) and the rule of
//! which stop-alarm states halt an experiment ([`stop_alarms`]), and the AWS services the deployer
//! wires for TLS origination ([`aws_services`]), and the variables of faultline's own wiring in the
//! function's environment ([`wiring`]).
//!
//! Everything here is pure: no I/O, no clock read, no random draw, no async runtime. Callers pass
//! the time and the draw in.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod aws_services;
pub mod config;
pub mod cost;
pub mod event;
pub mod fault;
pub mod flags;
pub mod labels;
pub mod matcher;
pub mod sdk_view;
pub mod stop_alarms;
pub mod wiring;
