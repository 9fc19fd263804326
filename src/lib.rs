//! Gatehouse: an API gateway and API management platform on Pingora.

pub mod access_log;
pub mod admin;
pub mod alloc;
pub mod analytics;
pub mod cache;
pub mod config;
pub mod conn;
pub mod echo;
pub mod handover;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod openapi;
pub mod plugins;
pub mod portal;
pub mod proxy;
pub mod reload;
pub mod runtime;
pub mod server;
pub mod store;
pub mod tls;
pub mod upgrade;
pub mod upstream;
