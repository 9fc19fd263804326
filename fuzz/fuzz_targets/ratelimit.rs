//! Rate limit arithmetic and its headers: any limit the config accepts, any cell state and any
//! clock give a decision without a panic, and headers that are valid structured fields
//! (`RateLimit-Policy`, `RateLimit`, RFC 8941 integers of at most 15 digits) and plain numbers.
#![no_main]

use gatehouse::config::{LimitKey, QuotaWindow};
use gatehouse::limits::gcra::{Decision, Gcra, QuotaRule};
use gatehouse::limits::{Clock, Kind, Policy};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// Limits within what `gatehouse check` accepts (rate and burst at most 10^9, quotas < 2^32).
fn kind(u: &mut Unstructured) -> Result<Kind> {
    Ok(if u.arbitrary()? {
        let n = u.int_in_range(1..=1_000_000_000)?;
        let per = *u.choose(&[1, 60, 3600, 86400])?;
        let burst = if u.arbitrary()? { u.int_in_range(1..=1_000_000_000)? } else { n };
        Kind::Rate(Gcra::new(n, Duration::from_secs(per), burst))
    } else {
        let n = u.int_in_range(1..=u32::MAX as u64)?;
        let window = *u.choose(&[QuotaWindow::Hour, QuotaWindow::Day, QuotaWindow::Month])?;
        Kind::Quota(QuotaRule { n, window })
    })
}

fn name(u: &mut Unstructured, i: usize) -> Result<String> {
    let raw: String = u.arbitrary()?;
    Ok(if gatehouse::config::name_valid(&raw) { raw } else { format!("limit-{i}") })
}

/// An sf-integer (RFC 8941 §3.3.1): 1 to 15 digits.
fn sf_integer(s: &str) -> bool {
    (1..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// `"name";k1=N;k2=N, …` with the given keys, one item per policy.
fn check_list(value: &str, keys: [&str; 2], names: &[String]) {
    let items: Vec<&str> = value.split(", ").collect();
    assert_eq!(items.len(), names.len(), "{value}");
    for (item, name) in items.iter().zip(names) {
        let mut params = item.split(';');
        assert_eq!(params.next(), Some(format!("\"{name}\"").as_str()), "{value}");
        for key in keys {
            let p = params.next().unwrap_or_default();
            let n = p.strip_prefix(key).and_then(|p| p.strip_prefix('=')).unwrap_or_default();
            assert!(sf_integer(n), "{key} of {value}");
        }
        assert!(params.next().is_none(), "{value}");
    }
}

fn run(u: &mut Unstructured) -> Result<()> {
    let (now, unix): (u64, u64) = (u.arbitrary()?, u.arbitrary()?);
    let count = u.int_in_range(1..=3)?;
    let mut decided: Vec<(Arc<Policy>, Decision)> = Vec::new();
    for i in 0..count {
        let kind = kind(u)?;
        let cell = AtomicU64::new(u.arbitrary()?);
        let policy = Policy { name: name(u, i)?, id: i as u64, kind, key: LimitKey::Ip };
        // Several requests on one cell at clocks that may go backwards.
        let mut d = None;
        for _ in 0..u.int_in_range(1..=4)? {
            let step: u64 = u.arbitrary()?;
            let (now, unix) = (now.wrapping_add(step), unix.wrapping_add(step / 1_000_000_000));
            let decision = match kind {
                Kind::Rate(g) => g.take(&cell, now),
                Kind::Quota(q) => q.take(&cell, unix),
            };
            assert!(decision.allowed || decision.retry_after >= 1, "{decision:?}");
            assert!(decision.remaining < policy.quota_units(), "{decision:?}");
            d = Some(decision);
        }
        decided.push((Arc::new(policy), d.expect("one decision at least")));
    }
    let names: Vec<String> = decided.iter().map(|(p, _)| p.name.clone()).collect();
    let headers = gatehouse::plugins::rate_limit::for_decisions(&decided, &Clock::at(now, unix));
    let get = |n: &str| {
        let v = headers.iter().find(|(h, _)| h == n).unwrap_or_else(|| panic!("no {n}"));
        v.1.to_str().expect("a header value is visible ASCII").to_string()
    };
    check_list(&get("ratelimit-policy"), ["q", "w"], &names);
    check_list(&get("ratelimit"), ["r", "t"], &names);
    for n in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
        assert!(sf_integer(&get(n)), "{n}");
    }
    assert_eq!(headers.len(), 5);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
