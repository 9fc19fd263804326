//! The Redis path of the limiter: all limits of a request in one script call on Redis's clock,
//! so a denial has nothing to give back; `on_backend_error` when Redis cannot decide in time.

use super::key::key_value;
use super::{allowed, denied, Counted, RateLimit};
use crate::config::OnBackendError;
use crate::limits::redis::{Verdict, KEY_PREFIX};
use crate::limits::{Clock, RedisBackend};
use crate::pipeline::Flow;
use crate::pipeline::Problem;
use crate::pipeline::RequestCtx;
use http::HeaderValue;
use pingora_proxy::Session;

impl RateLimit {
    pub(super) async fn decide_redis<'a>(
        &'a self,
        r: &RedisBackend,
        all: impl Iterator<Item = &'a Counted>,
        session: &Session,
        ctx: &mut RequestCtx,
    ) -> Flow {
        let mut order: Vec<&Counted> = Vec::with_capacity(4);
        let mut args = Vec::with_capacity(4);
        for c in all {
            let (tag, key) = key_value(&c.policy.key, session, ctx);
            let (kind, a, b) = c.policy.script_args();
            let name = format!("{KEY_PREFIX}{:x}:{}", c.policy.id.wrapping_add(tag), key.text());
            args.push((name, kind, a, b));
            order.push(c);
        }
        if args.is_empty() {
            return Flow::Continue;
        }
        let started = std::time::Instant::now();
        let verdict = r.conn.decide(&args, None, r.timeout).await;
        self.backend_duration.observe(started.elapsed().as_secs_f64());
        // Only header values (`w` of a monthly quota) read this clock; decisions used Redis's.
        let clock = Clock::new(0);
        match verdict {
            Ok(Verdict::Allowed(decisions)) => {
                let decided: Vec<_> = order.into_iter().zip(decisions).collect();
                allowed(ctx, &decided, &clock)
            }
            Ok(Verdict::Denied { index, decision }) => match order.get(index) {
                Some(c) => denied(ctx, c, decision, &clock),
                None => Flow::Continue,
            },
            Err(e) => {
                let action = r.on_error.as_str();
                self.metrics_errors.with_label_values(&[e.label(), action]).inc();
                r.conn.warn(e, action);
                match r.on_error {
                    OnBackendError::Allow => Flow::Continue,
                    OnBackendError::Deny => {
                        ctx.state.take::<crate::limits::InFlight>();
                        ctx.answer.push(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
                        Flow::Respond(Problem::new(503, "the rate limit service is unavailable"))
                    }
                }
            }
        }
    }
}
