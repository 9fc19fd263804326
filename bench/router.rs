//! Router lookup cost with 10 vs 10,000 routes (`make bench-router`). The lookup walks path
//! segments through hash maps, so the two should match within noise.

use criterion::{black_box, Criterion};
use gatehouse::runtime::router::{MethodSet, Router};
use std::sync::Arc;
use std::time::Instant;

/// `n` APIs like a real table: `/svcN` prefixes, each with an exact and a templated route.
fn table(n: usize) -> Router<usize> {
    let mut r = Router::default();
    let get = MethodSet::from_names(&["GET".to_string()]);
    for i in 0..n {
        let base = format!("/svc{i}");
        r.insert(&[], &base, false, MethodSet::ANY, Arc::new(i)).unwrap();
        r.insert(&[], &format!("{base}/items/{{id}}"), true, get, Arc::new(i)).unwrap();
        r.insert(&[], &format!("{base}/health"), true, get, Arc::new(i)).unwrap();
    }
    r
}

const PATHS: [&str; 4] = ["/svc7/items/42", "/svc3/orders/9/lines", "/svc9/health", "/nothing/here"];

fn lookups(r: &Router<usize>) -> usize {
    let get = MethodSet::bit(&http::Method::GET);
    let mut found = 0;
    for p in PATHS {
        if let gatehouse::runtime::router::Match::Found(v) = r.lookup("api.test", black_box(p), get) {
            found += **v;
        }
    }
    found
}

fn per_lookup_ns(r: &Router<usize>, iters: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(lookups(r));
    }
    start.elapsed().as_nanos() as f64 / (iters as f64 * PATHS.len() as f64)
}

fn main() {
    let small = table(10);
    let large = table(10_000);
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("router lookup, 10 routes", |b| b.iter(|| lookups(&small)));
    c.bench_function("router lookup, 10000 routes", |b| b.iter(|| lookups(&large)));
    c.final_summary();

    // Interleaved rounds, median of each, so both tables see the same machine state.
    if std::env::args().any(|a| a == "--bench") {
        let (mut s, mut l) = (Vec::new(), Vec::new());
        for _ in 0..15 {
            s.push(per_lookup_ns(&small, 200_000));
            l.push(per_lookup_ns(&large, 200_000));
        }
        s.sort_by(f64::total_cmp);
        l.sort_by(f64::total_cmp);
        let (ms, ml) = (s[s.len() / 2], l[l.len() / 2]);
        println!("router: 10 routes {ms:.1} ns/lookup, 10,000 routes {ml:.1} ns/lookup, ratio {:.3}", ml / ms);
    }
}
