//! What the management listeners (admin API, developer portal) share: an axum router served on
//! a Pingora listener (so a binary upgrade hands its socket over like the proxy's), with body
//! and time limits, request ids, and every error answer rendered as problem+json from the
//! pipeline's one problem vocabulary.

pub mod adaptor;
pub mod problem;

pub use adaptor::{AxumApp, ClientAddr, Limits};
pub use problem::{Problem, ProblemKind, RequestId};
