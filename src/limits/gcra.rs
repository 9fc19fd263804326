//! The arithmetic of one limit on one key, as pure functions of an atomic cell and an injected
//! time, so unit tests step the clock instead of sleeping.
//!
//! Rates use GCRA: the cell holds the theoretical arrival time (TAT, ns on the store's clock).
//! A request is allowed when `max(TAT, now) + T <= now + burst·T`, where `T = per / n`; one
//! compare-exchange loop commits it. Quotas count in a calendar window: the cell holds the
//! window's index (high 32 bits) and the count (low 32 bits).

use std::sync::atomic::{AtomicU64, Ordering};

const NS: u64 = 1_000_000_000;

/// The result of checking one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests still allowed right now (after this one, when it is allowed).
    pub remaining: u64,
    /// Seconds until the limit is back to full (rate) or the window ends (quota).
    pub reset: u64,
    /// Denied: seconds after which the same request is allowed.
    pub retry_after: u64,
}

fn ceil_secs(ns: u64) -> u64 {
    ns.div_ceil(NS)
}

/// A GCRA rate: `interval` ns between requests, `burst` at once from idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gcra {
    pub interval: u64,
    pub burst: u64,
}

impl Gcra {
    pub fn new(n: u64, per: std::time::Duration, burst: u64) -> Gcra {
        let per = per.as_nanos() as u64;
        Gcra { interval: (per / n.max(1)).max(1), burst: burst.max(1) }
    }

    /// The window of `burst` requests, in seconds (for `RateLimit-Policy: w`).
    pub fn window_secs(&self) -> u64 {
        ceil_secs(self.interval.saturating_mul(self.burst)).max(1)
    }

    /// Check and, if allowed, take one request.
    pub fn take(&self, cell: &AtomicU64, now: u64) -> Decision {
        let limit = now.saturating_add(self.interval.saturating_mul(self.burst));
        let mut cur = cell.load(Ordering::Acquire);
        loop {
            let tat = cur.max(now);
            let new_tat = tat.saturating_add(self.interval);
            if new_tat > limit {
                // Allowed once `new_tat <= then + burst·T`.
                let wait = new_tat - limit;
                return Decision {
                    allowed: false,
                    remaining: 0,
                    reset: ceil_secs(tat - now),
                    retry_after: ceil_secs(wait).max(1),
                };
            }
            match cell.compare_exchange_weak(cur, new_tat, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    return Decision {
                        allowed: true,
                        remaining: (limit - new_tat) / self.interval,
                        reset: ceil_secs(new_tat - now),
                        retry_after: 0,
                    }
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Give back a request taken by `take` (another limit of the same request denied it).
    pub fn undo(&self, cell: &AtomicU64) {
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| Some(t.saturating_sub(self.interval)));
    }

    /// The time from which the cell is as good as new (it may then be evicted).
    pub fn idle_at(cell: &AtomicU64) -> u64 {
        cell.load(Ordering::Acquire)
    }
}

/// A calendar window in UTC: its index and its end, for a time in unix seconds.
pub fn window(w: crate::config::QuotaWindow, unix: u64) -> (u64, u64) {
    use crate::config::QuotaWindow::*;
    // Saturating: a clock at the end of u64 time (found by fuzzing) must not overflow.
    match w {
        Hour => (unix / 3600, (unix / 3600 + 1).saturating_mul(3600)),
        Day => (unix / 86400, (unix / 86400 + 1).saturating_mul(86400)),
        Month => {
            let (y, m) = year_month(unix / 86400);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (y * 12 + m - 1, days_from_civil(ny, nm).saturating_mul(86400))
        }
    }
}

/// (year, month 1-12) of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
fn year_month(days: u64) -> (u64, u64) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as u64, m as u64)
}

/// Days since 1970-01-01 of the first day of a month.
fn days_from_civil(y: u64, m: u64) -> u64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m as i64 - 3 } else { m as i64 + 9 };
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as u64
}

/// A quota: `n` requests per calendar window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuotaRule {
    pub n: u64,
    pub window: crate::config::QuotaWindow,
}

impl QuotaRule {
    /// Check and, if allowed, count one request at `unix` seconds.
    pub fn take(&self, cell: &AtomicU64, unix: u64) -> Decision {
        let (idx, end) = window(self.window, unix);
        let reset = end.saturating_sub(unix).max(1);
        let idx = idx & 0xffff_ffff;
        let mut cur = cell.load(Ordering::Acquire);
        loop {
            let count = if cur >> 32 == idx { cur & 0xffff_ffff } else { 0 };
            if count >= self.n {
                return Decision { allowed: false, remaining: 0, reset, retry_after: reset };
            }
            let next = (idx << 32) | (count + 1);
            match cell.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Decision { allowed: true, remaining: self.n - count - 1, reset, retry_after: 0 },
                Err(actual) => cur = actual,
            }
        }
    }

    /// Requests left in the window of `unix`, without taking one.
    pub fn remaining(&self, cell: &AtomicU64, unix: u64) -> u64 {
        let idx = window(self.window, unix).0 & 0xffff_ffff;
        let cur = cell.load(Ordering::Acquire);
        let used = if cur >> 32 == idx { cur & 0xffff_ffff } else { 0 };
        self.n.saturating_sub(used)
    }

    /// Give back a request counted by `take` at `unix` (if its window is still the current one).
    pub fn undo(&self, cell: &AtomicU64, unix: u64) {
        let idx = window(self.window, unix).0 & 0xffff_ffff;
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
            (c >> 32 == idx && c & 0xffff_ffff > 0).then_some(c - 1)
        });
    }

    /// The window's length in seconds (for `RateLimit-Policy: w`).
    pub fn window_secs(&self, unix: u64) -> u64 {
        use crate::config::QuotaWindow::*;
        match self.window {
            Hour => 3600,
            Day => 86400,
            Month => {
                let (_, end) = window(self.window, unix);
                let start = days_from_civil_of(unix).saturating_mul(86400);
                end.saturating_sub(start).max(1)
            }
        }
    }
}

fn days_from_civil_of(unix: u64) -> u64 {
    let (y, m) = year_month(unix / 86400);
    days_from_civil(y, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::QuotaWindow;
    use std::time::Duration;

    const S: u64 = NS;

    #[test]
    fn burst_then_one_per_interval() {
        // 50/hour: exactly 50 at once, then one every 72 s.
        let g = Gcra::new(50, Duration::from_secs(3600), 50);
        let cell = AtomicU64::new(0);
        let t0 = 1000 * S;
        for i in 0..50 {
            let d = g.take(&cell, t0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 49 - i);
        }
        let d = g.take(&cell, t0);
        assert!(!d.allowed);
        assert_eq!((d.remaining, d.retry_after), (0, 72));
        assert!(!g.take(&cell, t0 + 71 * S).allowed);
        let d = g.take(&cell, t0 + 72 * S);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(!g.take(&cell, t0 + 72 * S).allowed);
    }

    #[test]
    fn remaining_never_zero_before_the_last() {
        let g = Gcra::new(2, Duration::from_secs(1), 2);
        let cell = AtomicU64::new(0);
        assert_eq!(g.take(&cell, S).remaining, 1);
        assert_eq!(g.take(&cell, S).remaining, 0);
        let d = g.take(&cell, S);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, 1);
        // A request after Retry-After is allowed.
        assert!(g.take(&cell, 2 * S).allowed);
    }

    #[test]
    fn undo_gives_the_request_back() {
        let g = Gcra::new(1, Duration::from_secs(10), 1);
        let cell = AtomicU64::new(0);
        assert!(g.take(&cell, 100 * S).allowed);
        g.undo(&cell);
        assert!(g.take(&cell, 100 * S).allowed);
        assert!(!g.take(&cell, 100 * S).allowed);
    }

    #[test]
    fn quota_rolls_over_with_the_calendar() {
        // 2026-01-31T23:59:59Z, then 2026-02-01T00:00:00Z.
        let jan31 = days_from_civil(2026, 1) * 86400 + 30 * 86400 + 86399;
        let q = QuotaRule { n: 2, window: QuotaWindow::Month };
        let cell = AtomicU64::new(0);
        assert_eq!(q.take(&cell, jan31).remaining, 1);
        assert_eq!(q.take(&cell, jan31).remaining, 0);
        let d = q.take(&cell, jan31);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, 1);
        assert_eq!(q.window_secs(jan31), 31 * 86400);
        let d = q.take(&cell, jan31 + 1);
        assert!(d.allowed);
        assert_eq!(d.reset, 28 * 86400);
        q.undo(&cell, jan31 + 1);
        assert_eq!(q.take(&cell, jan31 + 1).remaining, 1);

        let h = QuotaRule { n: 1, window: QuotaWindow::Hour };
        let c = AtomicU64::new(0);
        assert!(h.take(&c, 7200 + 3599).allowed);
        assert!(!h.take(&c, 7200 + 3599).allowed);
        assert!(h.take(&c, 3 * 3600).allowed);
        let d = QuotaRule { n: 1, window: QuotaWindow::Day };
        let c = AtomicU64::new(0);
        assert!(d.take(&c, 86399).allowed);
        assert!(!d.take(&c, 86399).allowed);
        assert!(d.take(&c, 86400).allowed);
    }

    /// Found by `make fuzz` (target `ratelimit`): a monthly quota at a wall clock near
    /// `u64::MAX` seconds overflowed computing its window's end.
    #[test]
    fn clocks_at_the_end_of_time_do_not_overflow() {
        for window in [QuotaWindow::Hour, QuotaWindow::Day, QuotaWindow::Month] {
            let q = QuotaRule { n: u32::MAX as u64, window };
            for unix in [u64::MAX, u64::MAX - 1, u64::MAX - 86_400 * 31, u64::MAX / 86_400 * 86_400] {
                let cell = AtomicU64::new(u64::MAX);
                let d = q.take(&cell, unix);
                assert!(d.allowed && d.reset >= 1, "{window:?} at {unix}: {d:?}");
                q.undo(&cell, unix);
                assert!(q.window_secs(unix) >= 1);
            }
        }
        let g = Gcra::new(1, Duration::from_secs(86_400), 1_000_000_000);
        let cell = AtomicU64::new(u64::MAX);
        assert!(g.take(&cell, u64::MAX - 1).remaining < 1_000_000_000);
        assert!(g.window_secs() >= 1);
    }

    #[test]
    fn calendar_months() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(days_from_civil(2024, 3) - days_from_civil(2024, 2), 29);
        assert_eq!(days_from_civil(2025, 1) - days_from_civil(2024, 12), 31);
    }
}
