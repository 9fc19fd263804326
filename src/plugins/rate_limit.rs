//! Rate limits, quotas and concurrency limits (`[[plan]]`, `limits`), after authentication so
//! the consumer is known. Every limit of a request is checked; a request denied by one gives
//! back what the others took. Allowed and denied answers carry `RateLimit-Policy` / `RateLimit`
//! (draft-ietf-httpapi-ratelimit-headers-09) and `X-RateLimit-Limit` / `-Remaining` / `-Reset`;
//! a 429 also `Retry-After`.

use super::{Flow, Phases, Plugin};
use crate::config::LimitKey;
use crate::config::OnBackendError;
use crate::limits::gcra::Decision;
use crate::limits::local::{Cell, LocalStore};
use crate::limits::redis::{Verdict, KEY_PREFIX};
use crate::limits::{Backend, InFlight, Plan, Plans, Policy, RedisBackend};
use crate::proxy::ctx::RequestCtx;
use crate::proxy::respond::Problem;
use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use pingora_proxy::Session;
use prometheus::IntCounter;
use std::borrow::Cow;
use std::fmt::Write;
use std::sync::Arc;
use std::time::SystemTime;

static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// A policy with its pre-resolved metric counters on this route's API.
struct Counted {
    policy: Arc<Policy>,
    allowed: IntCounter,
    limited: IntCounter,
}

struct PlanCounted {
    plan: Arc<Plan>,
    policies: Vec<Counted>,
    /// (allowed, limited) of the concurrency limit.
    concurrency: Option<(IntCounter, IntCounter)>,
}

/// What a route's limiter is built from (the same for every route of a config).
pub struct LimitSetup<'a> {
    /// Local cells (rates and quotas with the local backend; concurrency always).
    pub store: &'a Arc<LocalStore>,
    pub plans: &'a Arc<Plans>,
    pub backend: &'a Arc<Backend>,
    pub metrics: &'a crate::metrics::Metrics,
}

pub struct RateLimit {
    store: Arc<LocalStore>,
    backend: Arc<Backend>,
    /// `gatehouse_ratelimit_backend_errors_total` by (reason, action) is labelled at error time.
    metrics_errors: prometheus::IntCounterVec,
    backend_duration: prometheus::Histogram,
    plans: Arc<Plans>,
    /// The plans in `Plans::list` order, with this API's counters.
    plan_counters: Vec<PlanCounted>,
    /// The route's plan, else the API's (index in `plans.list`).
    default_plan: Option<usize>,
    /// The API's and the route's `limits`.
    limits: Vec<Counted>,
}

impl RateLimit {
    /// `None` when no limit can apply to this route: such a route pays nothing.
    pub fn build(
        setup: &LimitSetup,
        api: &str,
        default_plan: Option<&str>,
        limits: Vec<Arc<Policy>>,
        authenticated: bool,
    ) -> Option<RateLimit> {
        let LimitSetup { store, plans, backend, metrics } = *setup;
        let default_plan = default_plan.and_then(|n| plans.by_name.get(n).copied());
        if limits.is_empty() && default_plan.is_none() && !(authenticated && plans.consumers_have_plans) {
            return None;
        }
        let counted = |policy: &Arc<Policy>| {
            let (allowed, limited) = metrics.ratelimit(api, &policy.name);
            Counted { policy: policy.clone(), allowed, limited }
        };
        let plan_counters = plans
            .list
            .iter()
            .map(|plan| PlanCounted {
                plan: plan.clone(),
                policies: plan.policies.iter().map(counted).collect(),
                concurrency: plan.concurrency.as_ref().map(|c| metrics.ratelimit(api, &c.name)),
            })
            .collect();
        Some(RateLimit {
            store: store.clone(),
            backend: backend.clone(),
            metrics_errors: metrics.ratelimit_backend_errors.clone(),
            backend_duration: metrics.ratelimit_backend_duration.clone(),
            plans: plans.clone(),
            plan_counters,
            default_plan,
            limits: limits.iter().map(counted).collect(),
        })
    }
}

/// The key of a limit for this request: a tag (added to the limit's id, so a consumer name and
/// an IP never share a cell) and the value.
fn key_value<'a>(key: &LimitKey, session: &'a Session, ctx: &'a RequestCtx) -> (u64, Cow<'a, str>) {
    let ip = || (1, ctx.client_ip.map(|ip| Cow::Owned(ip.to_string())).unwrap_or_default());
    match key {
        LimitKey::Consumer => match &ctx.consumer {
            Some(c) => (0, Cow::Borrowed(c.name.as_str())),
            None => ip(),
        },
        LimitKey::Ip => ip(),
        LimitKey::Header(name) => (
            2,
            session
                .req_header()
                .headers
                .get(name.as_str())
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
                .unwrap_or_default(),
        ),
        LimitKey::Route => (3, Cow::Borrowed("")),
    }
}

/// Write the headers of these decisions into `ctx.limit_headers`; the X- headers follow the
/// tightest limit.
fn headers(ctx: &mut RequestCtx, decided: &[(&Counted, Decision)], unix: u64) {
    let (mut policy, mut state) = (String::new(), String::new());
    for (c, d) in decided {
        let sep = if policy.is_empty() { "" } else { ", " };
        let p = &c.policy;
        let _ = write!(policy, "{sep}\"{}\";q={};w={}", p.name, p.quota_units(), p.window_secs(unix));
        let _ = write!(state, "{sep}\"{}\";r={};t={}", p.name, d.remaining, d.reset);
    }
    let Some((c, d)) = decided.iter().min_by_key(|(_, d)| (d.remaining, std::cmp::Reverse(d.reset))) else {
        return;
    };
    let h = &mut ctx.limit_headers;
    let mut put = |name: &HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.push((name.clone(), v));
        }
    };
    put(&RATELIMIT_POLICY, policy);
    put(&RATELIMIT, state);
    put(&X_LIMIT, c.policy.quota_units().to_string());
    put(&X_REMAINING, d.remaining.to_string());
    put(&X_RESET, d.reset.to_string());
}

fn too_many(ctx: &mut RequestCtx, retry_after: u64, what: &'static str) -> Flow {
    ctx.limit_headers.push((http::header::RETRY_AFTER, HeaderValue::from(retry_after)));
    Flow::Respond(Problem::new(429, what))
}

#[async_trait]
impl Plugin for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }
    /// After authentication (200) and authorization.
    fn priority(&self) -> u32 {
        300
    }
    fn phases(&self) -> Phases {
        Phases { request: true, response: true, ..Default::default() }
    }

    async fn request(&self, session: &mut Session, ctx: &mut RequestCtx) -> Flow {
        // The consumer's plan, else the route's, else the API's.
        let plan = ctx
            .consumer
            .as_ref()
            .and_then(|c| c.plan.as_deref())
            .and_then(|n| self.plans.by_name.get(n).copied())
            .or(self.default_plan)
            .and_then(|i| self.plan_counters.get(i));
        if let Some(pc) = plan {
            if let (Some(c), Some((allowed, limited))) = (&pc.plan.concurrency, &pc.concurrency) {
                let (tag, key) = key_value(&LimitKey::Consumer, session, ctx);
                let cell = self.store.cell(c.id.wrapping_add(tag), &key);
                match InFlight::acquire(cell, c.max) {
                    Some(slot) => {
                        allowed.inc();
                        ctx.in_flight = Some(slot);
                    }
                    None => {
                        limited.inc();
                        // draft-09 quota unit for in-flight limits; nothing left, retry in 1 s.
                        let h = &mut ctx.limit_headers;
                        let policy = format!("\"{}\";q={};qu=\"concurrent-requests\"", c.name, c.max);
                        if let Ok(v) = HeaderValue::from_str(&policy) {
                            h.push((RATELIMIT_POLICY.clone(), v));
                        }
                        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\";r=0;t=1", c.name)) {
                            h.push((RATELIMIT.clone(), v));
                        }
                        h.push((X_LIMIT.clone(), HeaderValue::from(c.max)));
                        h.push((X_REMAINING.clone(), HeaderValue::from_static("0")));
                        h.push((X_RESET.clone(), HeaderValue::from_static("1")));
                        return too_many(ctx, 1, "too many requests in flight for this consumer");
                    }
                }
            }
        }
        let all = self.limits.iter().chain(plan.into_iter().flat_map(|pc| pc.policies.iter()));
        match &*self.backend {
            Backend::Local => self.decide_local(all, session, ctx),
            Backend::Redis(r) => self.decide_redis(r, all, session, ctx).await,
        }
    }

    fn response(&self, resp: &mut http::response::Parts, ctx: &RequestCtx) -> pingora::Result<()> {
        for (name, value) in &ctx.limit_headers {
            resp.headers.insert(name.clone(), value.clone());
        }
        Ok(())
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl RateLimit {
    fn decide_local<'a>(
        &'a self,
        all: impl Iterator<Item = &'a Counted>,
        session: &Session,
        ctx: &mut RequestCtx,
    ) -> Flow {
        let now = self.store.now();
        let unix = unix_now();
        let mut taken: Vec<(&Counted, Arc<Cell>, Decision)> = Vec::with_capacity(4);
        for c in all {
            let (tag, key) = key_value(&c.policy.key, session, ctx);
            let cell = self.store.cell(c.policy.id.wrapping_add(tag), &key);
            let d = c.policy.take(&cell, now, unix);
            if !d.allowed {
                // Give back what the others took: a denied request consumes nothing.
                for (t, cell, _) in &taken {
                    t.policy.undo(cell, unix);
                }
                c.limited.inc();
                headers(ctx, &[(c, d)], unix);
                ctx.in_flight = None;
                return too_many(ctx, d.retry_after, "rate limit exceeded");
            }
            taken.push((c, cell, d));
        }
        let decided: Vec<(&Counted, Decision)> = taken.iter().map(|(c, _, d)| (*c, *d)).collect();
        for (c, _) in &decided {
            c.allowed.inc();
        }
        headers(ctx, &decided, unix);
        Flow::Continue
    }

    /// All limits in one script call on Redis's clock; nothing to give back on a denial.
    async fn decide_redis<'a>(
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
            args.push((format!("{KEY_PREFIX}{:x}:{key}", c.policy.id.wrapping_add(tag)), kind, a, b));
            order.push(c);
        }
        if args.is_empty() {
            return Flow::Continue;
        }
        let started = std::time::Instant::now();
        let verdict = r.conn.decide(&args, None, r.timeout).await;
        self.backend_duration.observe(started.elapsed().as_secs_f64());
        let unix = unix_now();
        match verdict {
            Ok(Verdict::Allowed(decisions)) => {
                let decided: Vec<(&Counted, Decision)> = order.into_iter().zip(decisions).collect();
                for (c, _) in &decided {
                    c.allowed.inc();
                }
                headers(ctx, &decided, unix);
                Flow::Continue
            }
            Ok(Verdict::Denied { index, decision }) => {
                let Some(c) = order.get(index) else { return Flow::Continue };
                c.limited.inc();
                headers(ctx, &[(c, decision)], unix);
                ctx.in_flight = None;
                too_many(ctx, decision.retry_after, "rate limit exceeded")
            }
            Err(e) => {
                let action = r.on_error.as_str();
                self.metrics_errors.with_label_values(&[e.label(), action]).inc();
                r.conn.warn(e, action);
                match r.on_error {
                    OnBackendError::Allow => Flow::Continue,
                    OnBackendError::Deny => {
                        ctx.in_flight = None;
                        ctx.limit_headers.push((http::header::RETRY_AFTER, HeaderValue::from_static("1")));
                        Flow::Respond(Problem::new(503, "the rate limit service is unavailable"))
                    }
                }
            }
        }
    }
}
