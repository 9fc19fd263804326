//! What every per-request part shares, below all of them: the request context, the problem
//! type (one error vocabulary for the proxy, the connection layer, the admin API and the
//! portal), the plugin trait with its phases, the per-request answer headers and the chain.
//! Plugins and the proxy depend on this module; it depends on neither (only on `config` and
//! `consumers`, the domain types below it).

pub mod answer;
pub mod body;
pub mod chain;
pub mod ctx;
pub mod edit;
pub mod plugin;
pub mod problem;
pub mod respond;
pub mod state;

pub use answer::AnswerHeaders;
pub use chain::Chain;
pub use ctx::RequestCtx;
pub use plugin::{Flow, Phases, Plugin};
pub use problem::{Problem, ProblemKind};
