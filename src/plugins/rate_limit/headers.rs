//! The limit headers of an answer: `RateLimit-Policy` and `RateLimit` as structured fields
//! (draft-ietf-httpapi-ratelimit-headers-09) for every limit that decided, and `X-RateLimit-Limit`
//! / `-Remaining` / `-Reset` for the tightest. What does not change per request is made once, when
//! the config is built.

use super::Counted;
use crate::limits::gcra::Decision;
use crate::limits::{Clock, Kind, Policy};
use crate::pipeline::AnswerHeaders;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use std::sync::{Arc, OnceLock};

pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// One policy's fixed parts.
pub struct PolicyHeaders {
    /// `"name";q=Q;w=W`, unless `w` changes (a monthly quota's window is the month's length).
    item: Option<HeaderValue>,
    /// `X-RateLimit-Limit`.
    limit: HeaderValue,
}

fn item(p: &Policy, window: u64) -> String {
    format!("\"{}\";q={};w={}", p.name, p.quota_units(), window)
}

impl PolicyHeaders {
    pub fn new(p: &Policy) -> PolicyHeaders {
        let fixed = match p.kind {
            Kind::Rate(_) => true,
            Kind::Quota(q) => q.window != crate::config::QuotaWindow::Month,
        };
        PolicyHeaders {
            item: fixed.then(|| HeaderValue::from_str(&item(p, p.window_secs(0))).ok()).flatten(),
            limit: HeaderValue::from(p.quota_units()),
        }
    }
}

/// A number as a header value; small ones (most `-Remaining` and `-Reset` values) from a table
/// made once, so the common answer allocates nothing for them.
fn number(n: u64) -> HeaderValue {
    const SMALL: usize = 4096;
    static TABLE: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    let table = TABLE.get_or_init(|| (0..SMALL as u64).map(HeaderValue::from).collect());
    match table.get(n as usize) {
        Some(v) => v.clone(),
        None => HeaderValue::from(n),
    }
}

fn push_item(out: &mut Vec<u8>, c: &Counted, clock: &Clock) {
    match &c.headers.item {
        Some(v) => out.extend_from_slice(v.as_bytes()),
        None => out.extend_from_slice(item(&c.policy, c.policy.window_secs(clock.unix())).as_bytes()),
    }
}

/// Add the headers of these decisions to a request's answer headers.
pub fn write(h: &mut AnswerHeaders, decided: &[(&Counted, Decision)], clock: &Clock) {
    let Some((tightest, d)) = decided.iter().min_by_key(|(_, d)| (d.remaining, std::cmp::Reverse(d.reset))) else {
        return;
    };
    let policy = match decided {
        [(c, _)] if c.headers.item.is_some() => c.headers.item.clone(),
        _ => {
            let mut out = Vec::with_capacity(48 * decided.len());
            for (i, (c, _)) in decided.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                push_item(&mut out, c, clock);
            }
            HeaderValue::from_bytes(&out).ok()
        }
    };
    let mut state = Vec::with_capacity(40 * decided.len());
    let mut num = itoa::Buffer::new();
    for (i, (c, d)) in decided.iter().enumerate() {
        if i > 0 {
            state.extend_from_slice(b", ");
        }
        state.push(b'"');
        state.extend_from_slice(c.policy.name.as_bytes());
        state.extend_from_slice(b"\";r=");
        state.extend_from_slice(num.format(d.remaining).as_bytes());
        state.extend_from_slice(b";t=");
        state.extend_from_slice(num.format(d.reset).as_bytes());
    }
    h.reserve(6);
    if let Some(policy) = policy {
        h.push(RATELIMIT_POLICY.clone(), policy);
    }
    // The bytes move into the value (no copy); they are only checked.
    if let Ok(state) = HeaderValue::from_maybe_shared(Bytes::from(state)) {
        h.push(RATELIMIT.clone(), state);
    }
    h.push(X_LIMIT.clone(), tightest.headers.limit.clone());
    h.push(X_REMAINING.clone(), number(d.remaining));
    h.push(X_RESET.clone(), number(d.reset));
}

/// The headers `write` gives these policies' decisions, without a route's counters: what the
/// fuzz target feeds arbitrary limits, cell states and clocks.
#[doc(hidden)]
pub fn for_decisions(decided: &[(Arc<Policy>, Decision)], clock: &Clock) -> Vec<(HeaderName, HeaderValue)> {
    let unused = || prometheus::IntCounter::new("unused", "unused").expect("a valid metric name");
    let counted: Vec<Counted> = decided
        .iter()
        .map(|(p, _)| Counted {
            policy: p.clone(),
            allowed: unused(),
            limited: unused(),
            headers: PolicyHeaders::new(p),
        })
        .collect();
    let pairs: Vec<(&Counted, Decision)> = counted.iter().zip(decided).map(|(c, (_, d))| (c, *d)).collect();
    let mut out = AnswerHeaders::default();
    write(&mut out, &pairs, clock);
    out.iter().cloned().collect()
}
