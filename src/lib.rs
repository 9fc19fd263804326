//! Gatehouse: an API gateway and API management platform on Pingora.

pub mod access_log;
pub mod admin;
pub mod analytics;
pub mod cache;
pub mod config;
pub mod consumers;
pub mod echo;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod openapi;
pub mod pipeline;
pub mod plugins;
pub mod portal;
pub mod process;
pub mod proxy;
pub mod runtime;
pub mod store;
pub mod tls;
pub mod upstream;
pub mod web;
