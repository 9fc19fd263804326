//! Policies as plugins (the trait and the chain are in `pipeline`). Each plugin declares the
//! phases it works in; a route's chain is built once at load time with one list per phase, so a
//! phase with no plugins costs nothing.

pub mod auth;
pub mod body_limit;
pub mod compression;
pub mod cors;
pub mod headers;
pub mod ip;
pub mod json_body;
pub mod lifecycle;
pub mod mock;
pub mod rate_limit;
pub mod registry;
pub mod validate;
