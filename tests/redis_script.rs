//! The Redis script against the local arithmetic, step by step on an injected clock (the script
//! takes a test clock instead of Redis TIME): both backends must make the same decisions with the
//! same header values, across calendar boundaries too (month ends, leap years).

mod common;

use common::redis::RedisServer;
use gatehouse::config::QuotaWindow;
use gatehouse::limits::gcra::{Decision, Gcra, QuotaRule};
use gatehouse::limits::redis::{RedisConn, Verdict};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

/// One limit decided by the script at `clock_us`.
async fn on_redis(conn: &RedisConn, key: &str, args: (&'static str, u64, u64), clock_us: u64) -> Decision {
    let (kind, a, b) = args;
    match conn.decide(&[(key.to_string(), kind, a, b)], Some(clock_us), WAIT).await.expect("Redis answers") {
        Verdict::Allowed(d) => d[0],
        Verdict::Denied { index, decision } => {
            assert_eq!(index, 0);
            decision
        }
    }
}

async fn connect() -> Option<(RedisServer, std::sync::Arc<RedisConn>)> {
    let server = RedisServer::start().await?;
    let conn = RedisConn::new(&server.url).unwrap();
    conn.start();
    Some((server, conn))
}

#[tokio::test]
async fn rates_decide_as_the_local_gcra_does() {
    let Some((_server, conn)) = connect().await else { return };
    let mut rng = fastrand::Rng::with_seed(7);
    // (n, per seconds, burst): intervals whole in µs, so both clocks are exact.
    for (i, (n, per, burst)) in [(5, 1, 5), (50, 3600, 50), (3, 60, 1), (10, 1, 25)].into_iter().enumerate() {
        let g = Gcra::new(n, Duration::from_secs(per), burst);
        let cell = AtomicU64::new(0);
        let key = format!("test:{{rl}}:rate{i}");
        let mut clock_us: u64 = 1_800_000_000_000_000;
        for step in 0..300 {
            // Mostly bursts, sometimes a pause of up to two windows.
            clock_us += match rng.u8(0..10) {
                0..=6 => rng.u64(0..2_000),
                7 | 8 => rng.u64(0..per * 1_000_000 / n),
                _ => rng.u64(0..2 * per * 1_000_000 * burst / n),
            };
            let local = g.take(&cell, clock_us * 1000);
            let remote = on_redis(&conn, &key, ("r", g.interval / 1000, g.burst), clock_us).await;
            assert_eq!(remote, local, "limit {i} step {step} at {clock_us} µs");
        }
    }
}

#[tokio::test]
async fn quotas_roll_over_with_the_utc_calendar_as_locally() {
    let Some((_server, conn)) = connect().await else { return };
    let mut rng = fastrand::Rng::with_seed(11);
    for (kind, window) in [("h", QuotaWindow::Hour), ("d", QuotaWindow::Day), ("m", QuotaWindow::Month)] {
        let q = QuotaRule { n: 3, window };
        let cell = AtomicU64::new(0);
        let key = format!("test:{{rl}}:quota-{kind}");
        // From 2023-12-30 over the 2024 leap day to 2025.
        let mut unix: u64 = 1_703_894_400;
        for step in 0..400 {
            unix += match rng.u8(0..4) {
                0 | 1 => rng.u64(0..30),
                2 => rng.u64(0..4_000),
                _ => rng.u64(0..3 * 86_400),
            };
            let local = q.take(&cell, unix);
            let remote = on_redis(&conn, &key, (kind, 3, 0), unix * 1_000_000).await;
            assert_eq!(remote, local, "{kind} step {step} at {unix}");
        }
    }
    // The month boundary exactly: 2024-02-29T23:59:59Z is the last second of February.
    let key = "test:{rl}:leap";
    let last_feb_second = 1_709_251_199;
    for _ in 0..3 {
        assert!(on_redis(&conn, key, ("m", 3, 0), last_feb_second * 1_000_000).await.allowed);
    }
    let denied = on_redis(&conn, key, ("m", 3, 0), last_feb_second * 1_000_000).await;
    assert_eq!((denied.allowed, denied.retry_after), (false, 1));
    let march = on_redis(&conn, key, ("m", 3, 0), (last_feb_second + 1) * 1_000_000).await;
    assert_eq!((march.allowed, march.remaining, march.reset), (true, 2, 31 * 86_400));
}

#[tokio::test]
async fn a_denial_commits_none_of_the_other_limits() {
    let Some((_server, conn)) = connect().await else { return };
    let t = 1_800_000_000_000_000;
    let quota = ("test:{rl}:q".to_string(), "d", 5, 0);
    let rate = ("test:{rl}:r".to_string(), "r", 1_000_000, 1);
    let both = [quota.clone(), rate.clone()];
    assert!(matches!(conn.decide(&both, Some(t), WAIT).await, Ok(Verdict::Allowed(_))));
    match conn.decide(&both, Some(t), WAIT).await {
        Ok(Verdict::Denied { index: 1, decision }) => assert_eq!(decision.retry_after, 1),
        other => panic!("expected the rate to deny: {other:?}"),
    }
    // The quota counted only the allowed request: 5 - 1 - 1 left after this one.
    match conn.decide(&[quota], Some(t), WAIT).await {
        Ok(Verdict::Allowed(d)) => assert_eq!(d[0].remaining, 3),
        other => panic!("{other:?}"),
    }
}
