//! Rate limits, quotas and concurrency limits (`[[plan]]`, `limits`), after authentication so
//! the consumer is known. Every limit of a request is checked; a request denied by one gives
//! back what the others took. Allowed and denied answers carry `RateLimit-Policy` / `RateLimit`
//! (draft-ietf-httpapi-ratelimit-headers-09) and `X-RateLimit-Limit` / `-Remaining` / `-Reset`;
//! a 429 also `Retry-After`.

mod headers;
mod key;
mod redis;

use super::registry::{self, Built, Plugins, RouteScope};
use crate::config::LimitKey;
use crate::limits::gcra::Decision;
use crate::limits::local::{Cell, LocalStore};
use crate::limits::{Backend, Clock, InFlight, Plan, Plans, Policy};
use crate::pipeline::Problem;
use crate::pipeline::RequestCtx;
use crate::pipeline::{Flow, Phases, Plugin};
use async_trait::async_trait;
#[doc(hidden)]
pub use headers::for_decisions;
use headers::{PolicyHeaders, RATELIMIT, RATELIMIT_POLICY, X_LIMIT, X_REMAINING, X_RESET};
use http::HeaderValue;
use key::key_value;
use pingora_proxy::Session;
use prometheus::IntCounter;
use smallvec::SmallVec;
use std::sync::Arc;

/// A policy with its pre-resolved metric counters on this route's API and its fixed headers.
struct Counted {
    policy: Arc<Policy>,
    allowed: IntCounter,
    limited: IntCounter,
    headers: PolicyHeaders,
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
        if limits.is_empty() && default_plan.is_none() && !(authenticated && plans.consumers_may_have_plans) {
            return None;
        }
        let counted = |policy: &Arc<Policy>| {
            let (allowed, limited) = metrics.ratelimit(api, &policy.name);
            Counted { policy: policy.clone(), allowed, limited, headers: PolicyHeaders::new(policy) }
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

fn too_many(ctx: &mut RequestCtx, retry_after: u64, what: &'static str) -> Flow {
    ctx.answer.push(http::header::RETRY_AFTER, HeaderValue::from(retry_after));
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
        // Its headers reach every answer through `ctx.answer` (moved in by the proxy).
        Phases { request: true, ..Default::default() }
    }

    fn request_now(&self, session: &mut Session, ctx: &mut RequestCtx) -> Option<Flow> {
        if matches!(*self.backend, Backend::Redis(_)) {
            return None;
        }
        Some(match self.admit(session, ctx) {
            Ok(plan) => self.decide_local(self.limits_of(plan), session, ctx),
            Err(refused) => refused,
        })
    }

    async fn request(&self, session: &mut Session, ctx: &mut RequestCtx) -> Flow {
        let plan = match self.admit(session, ctx) {
            Ok(plan) => plan,
            Err(refused) => return refused,
        };
        match &*self.backend {
            Backend::Local => self.decide_local(self.limits_of(plan), session, ctx),
            Backend::Redis(r) => self.decide_redis(r, self.limits_of(plan), session, ctx).await,
        }
    }
}

impl RateLimit {
    /// The request's plan (the consumer's, else the route's, else the API's), after taking a
    /// concurrency slot when the plan has a concurrency limit.
    fn admit(&self, session: &Session, ctx: &mut RequestCtx) -> Result<Option<&PlanCounted>, Flow> {
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
                let cell = key.with_bytes(|key| self.store.cell(c.id.wrapping_add(tag), key));
                match InFlight::acquire(cell, c.max) {
                    Some(slot) => {
                        allowed.inc();
                        ctx.state.insert(slot);
                    }
                    None => {
                        limited.inc();
                        // draft-09 quota unit for in-flight limits; nothing left, retry in 1 s.
                        let h = &mut ctx.answer;
                        let policy = format!("\"{}\";q={};qu=\"concurrent-requests\"", c.name, c.max);
                        if let Ok(v) = HeaderValue::from_str(&policy) {
                            h.push(RATELIMIT_POLICY.clone(), v);
                        }
                        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\";r=0;t=1", c.name)) {
                            h.push(RATELIMIT.clone(), v);
                        }
                        h.push(X_LIMIT.clone(), HeaderValue::from(c.max));
                        h.push(X_REMAINING.clone(), HeaderValue::from_static("0"));
                        h.push(X_RESET.clone(), HeaderValue::from_static("1"));
                        return Err(too_many(ctx, 1, "too many requests in flight for this consumer"));
                    }
                }
            }
        }
        Ok(plan)
    }

    /// The route's and the API's limits, then the plan's.
    fn limits_of<'a>(&'a self, plan: Option<&'a PlanCounted>) -> impl Iterator<Item = &'a Counted> {
        self.limits.iter().chain(plan.into_iter().flat_map(|pc| pc.policies.iter()))
    }

    /// Every limit in turn on this process's cells; a denial gives back what the others took.
    fn decide_local<'a>(
        &'a self,
        all: impl Iterator<Item = &'a Counted>,
        session: &Session,
        ctx: &mut RequestCtx,
    ) -> Flow {
        let clock = Clock::new(self.store.now());
        let mut taken: SmallVec<[(&Counted, Arc<Cell>, Decision); 4]> = SmallVec::new();
        for c in all {
            let (tag, key) = key_value(&c.policy.key, session, ctx);
            let cell = key.with_bytes(|key| self.store.cell(c.policy.id.wrapping_add(tag), key));
            let d = c.policy.take(&cell, &clock);
            if !d.allowed {
                for (t, cell, _) in &taken {
                    t.policy.undo(cell, &clock);
                }
                return denied(ctx, c, d, &clock);
            }
            taken.push((c, cell, d));
        }
        let decided: SmallVec<[(&Counted, Decision); 4]> = taken.iter().map(|(c, _, d)| (*c, *d)).collect();
        allowed(ctx, &decided, &clock)
    }
}

/// Every limit allowed the request: count it and say what is left.
fn allowed(ctx: &mut RequestCtx, decided: &[(&Counted, Decision)], clock: &Clock) -> Flow {
    for (c, _) in decided {
        c.allowed.inc();
    }
    headers::write(&mut ctx.answer, decided, clock);
    Flow::Continue
}

/// Limit `c` denied the request: 429 naming only that limit.
fn denied(ctx: &mut RequestCtx, c: &Counted, d: Decision, clock: &Clock) -> Flow {
    c.limited.inc();
    headers::write(&mut ctx.answer, &[(c, d)], clock);
    ctx.state.take::<InFlight>();
    too_many(ctx, d.retry_after, "rate limit exceeded")
}

/// The API's and the route's `limits`, and the plans.
pub struct RateLimitPolicy;
pub static POLICY: RateLimitPolicy = RateLimitPolicy;

impl registry::Policy for RateLimitPolicy {
    fn for_route(&self, r: &RouteScope, out: &mut Plugins) -> Built {
        let a = r.api.api;
        let api_scope = format!("api:{}:{}", a.name, a.version);
        let mut limits = crate::limits::limit_policies(&api_scope, "api", &a.limits);
        if let Some(rc) = r.route {
            let scope = format!("{api_scope}:{}:{:?}", r.pattern, rc.methods);
            limits.extend(crate::limits::limit_policies(&scope, "route", &rc.limits));
        }
        let plan = r.route.and_then(|rc| rc.plan.as_deref()).or(a.plan.as_deref());
        let authenticated = !r.auth_methods().is_empty();
        if let Some(l) = RateLimit::build(&r.api.setup.limits, &a.name, plan, limits, authenticated) {
            out.push(Arc::new(l));
        }
        Ok(())
    }
}
