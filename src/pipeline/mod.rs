//! What every per-request part shares, below all of them: the request context, the problem
//! type (one error vocabulary for the proxy, the connection layer, the admin API and the
//! portal), the plugin trait with its phases, the per-request answer headers and the chain.
//! Plugins and the proxy depend on this module; it depends on neither.

pub mod problem;

pub use problem::{Problem, ProblemKind};
