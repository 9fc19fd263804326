//! The process around the data plane: assembling Pingora's server with every service, the
//! binary upgrade, config reload, the hand-over of listening sockets, per-connection limits,
//! draining on stop and the allocator. Nothing here runs per request except the connection
//! limits, which sit in front of Pingora's HTTP parsing.

pub mod alloc;
pub mod connections;
pub mod drain;
pub mod handover;
pub mod reload;
pub mod server;
pub mod tls_listeners;
pub mod upgrade;
