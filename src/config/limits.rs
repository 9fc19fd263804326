//! `[[plan]]` and the `plan`/`limits` keys of `[[api]]` and `[[api.route]]`: the serde model and
//! the checks that need more than a type.

use super::model::Config;
use super::units::HumanDuration;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::Duration;

type Err<'a> = dyn FnMut(String, String) + 'a;

/// `"N/s"`, `"N/min"`, `"N/hour"`, `"N/day"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub n: u64,
    pub per: Duration,
}

impl TryFrom<String> for Rate {
    type Error = String;
    fn try_from(s: String) -> Result<Rate, String> {
        let bad = || format!("expected \"N/s\", \"N/min\", \"N/hour\" or \"N/day\" with N > 0, got {s:?}");
        let (n, unit) = s.split_once('/').ok_or_else(bad)?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        let secs = match unit.trim() {
            "s" => 1,
            "min" => 60,
            "hour" => 3600,
            "day" => 86400,
            _ => return Err(bad()),
        };
        if n == 0 || n > 1_000_000_000 {
            return Err(bad());
        }
        Ok(Rate { n, per: Duration::from_secs(secs) })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Rate::try_from(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A calendar window in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaWindow {
    Hour,
    Day,
    Month,
}

/// `"N/hour"`, `"N/day"`, `"N/month"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    pub n: u64,
    pub window: QuotaWindow,
}

impl TryFrom<String> for Quota {
    type Error = String;
    fn try_from(s: String) -> Result<Quota, String> {
        let bad = || format!("expected \"N/hour\", \"N/day\" or \"N/month\" with N > 0, got {s:?}");
        let (n, unit) = s.split_once('/').ok_or_else(bad)?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        let window = match unit.trim() {
            "hour" => QuotaWindow::Hour,
            "day" => QuotaWindow::Day,
            "month" => QuotaWindow::Month,
            _ => return Err(bad()),
        };
        if n == 0 || n > u32::MAX as u64 {
            return Err(bad());
        }
        Ok(Quota { n, window })
    }
}

impl<'de> Deserialize<'de> for Quota {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Quota::try_from(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What a limit counts by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LimitKey {
    /// The authenticated consumer; the client IP for an anonymous request.
    Consumer,
    Ip,
    /// The value of this request header (lower-case name); requests without it share one count.
    Header(String),
    /// One count for the whole route.
    Route,
}

impl TryFrom<String> for LimitKey {
    type Error = String;
    fn try_from(s: String) -> Result<LimitKey, String> {
        match s.as_str() {
            "consumer" => Ok(LimitKey::Consumer),
            "ip" => Ok(LimitKey::Ip),
            "route" => Ok(LimitKey::Route),
            _ => match s.strip_prefix("header:") {
                Some(h) if http::HeaderName::from_bytes(h.as_bytes()).is_ok() => {
                    Ok(LimitKey::Header(h.to_ascii_lowercase()))
                }
                _ => Err(format!("expected \"consumer\", \"ip\", \"header:NAME\" or \"route\", got {s:?}")),
            },
        }
    }
}

impl<'de> Deserialize<'de> for LimitKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LimitKey::try_from(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    pub name: String,
    pub rate: Option<Rate>,
    /// Requests allowed at once from idle; default N of `rate`.
    pub burst: Option<u64>,
    pub quota: Option<Quota>,
    /// Max requests in flight per consumer.
    pub concurrency: Option<u32>,
    /// Portal subscriptions need an operator's approval (used by the portal).
    #[serde(default)]
    pub approval: bool,
}

/// One entry of `[[api]] limits` / `[[api.route]] limits`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    pub rate: Option<Rate>,
    pub burst: Option<u64>,
    pub quota: Option<Quota>,
    /// Default `consumer` (the client IP for anonymous requests).
    #[serde(default = "d_key")]
    pub key: LimitKey,
}

fn d_key() -> LimitKey {
    LimitKey::Consumer
}

/// Where limit state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitsBackend {
    /// In this process: exact on one node.
    #[default]
    Local,
    /// In Redis: exact across every node sharing it.
    Redis,
}

/// What a request gets when Redis cannot decide in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBackendError {
    #[default]
    Allow,
    Deny,
}

impl OnBackendError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnBackendError::Allow => "allow",
            OnBackendError::Deny => "deny",
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub backend: LimitsBackend,
    /// `redis://[user:password@]host:port[/db]`, `rediss://…` or `unix:///path.sock`.
    pub redis_url: Option<String>,
    /// The longest a request waits for Redis's decision.
    pub timeout: HumanDuration,
    pub on_backend_error: OnBackendError,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            backend: LimitsBackend::Local,
            redis_url: None,
            timeout: HumanDuration(Duration::from_millis(50)),
            on_backend_error: OnBackendError::Allow,
        }
    }
}

fn check_backend(l: &LimitsConfig, err: &mut Err) {
    match (&l.backend, &l.redis_url) {
        (LimitsBackend::Redis, None) => err("limits.redis_url".into(), "backend = \"redis\" needs a redis_url".into()),
        (_, Some(url)) => {
            if let Err(e) = redis::Client::open(url.as_str()) {
                // The error's kind only: its text may echo the URL and a password in it.
                err(
                    "limits.redis_url".into(),
                    format!("not a Redis URL ({:?}); expected redis://host:port, rediss://… or unix:///path", e.kind()),
                );
            }
        }
        _ => {}
    }
    let t = l.timeout.0;
    if t.is_zero() || t > Duration::from_secs(10) {
        err("limits.timeout".into(), "must be between 1ms and 10s".into());
    }
}

fn check_burst(rate: Option<Rate>, burst: Option<u64>, p: &str, err: &mut Err) {
    match (rate, burst) {
        (None, Some(_)) => err(format!("{p}.burst"), "needs a rate".into()),
        (_, Some(0)) => err(format!("{p}.burst"), "must be at least 1".into()),
        (_, Some(b)) if b > 1_000_000_000 => err(format!("{p}.burst"), "must be at most 1000000000".into()),
        _ => {}
    }
}

fn check_limits(limits: &[LimitConfig], p: &str, err: &mut Err) {
    for (i, l) in limits.iter().enumerate() {
        let p = format!("{p}.limits[{i}]");
        if l.rate.is_none() && l.quota.is_none() {
            err(p.clone(), "needs a rate or a quota".into());
        }
        check_burst(l.rate, l.burst, &p, err);
    }
}

pub fn validate(cfg: &Config, err: &mut Err) {
    check_backend(&cfg.limits, err);
    let mut names = BTreeSet::new();
    for (i, plan) in cfg.plans.iter().enumerate() {
        let p = format!("plan[{i}]");
        super::validate::name_ok(&plan.name, &format!("{p}.name"), err);
        if !names.insert(plan.name.as_str()) {
            err(format!("{p}.name"), format!("duplicate plan name {:?}", plan.name));
        }
        check_burst(plan.rate, plan.burst, &p, err);
        if plan.concurrency == Some(0) {
            err(format!("{p}.concurrency"), "must be at least 1".into());
        }
    }
    let mut plan_ref = |plan: &Option<String>, key: String| {
        if let Some(name) = plan {
            if !names.contains(name.as_str()) {
                err(key, format!("no plan named {name:?}"));
            }
        }
    };
    for (i, c) in cfg.consumers.iter().enumerate() {
        plan_ref(&c.plan, format!("consumer[{i}].plan"));
    }
    for (i, a) in cfg.apis.iter().enumerate() {
        plan_ref(&a.plan, format!("api[{i}].plan"));
        for (j, r) in a.route.iter().enumerate() {
            plan_ref(&r.plan, format!("api[{i}].route[{j}].plan"));
        }
    }
    for (i, a) in cfg.apis.iter().enumerate() {
        check_limits(&a.limits, &format!("api[{i}]"), err);
        for (j, r) in a.route.iter().enumerate() {
            check_limits(&r.limits, &format!("api[{i}].route[{j}]"), err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_quotas_keys() {
        assert_eq!(Rate::try_from("50/hour".to_string()).unwrap(), Rate { n: 50, per: Duration::from_secs(3600) });
        assert!(Rate::try_from("0/s".to_string()).is_err());
        assert!(Rate::try_from("5/week".to_string()).is_err());
        assert_eq!(Quota::try_from("10/month".to_string()).unwrap().window, QuotaWindow::Month);
        assert_eq!(LimitKey::try_from("header:X-Tenant".to_string()).unwrap(), LimitKey::Header("x-tenant".into()));
        assert!(LimitKey::try_from("cookie:a".to_string()).is_err());
    }
}
