//! Soak (issue 11): steady keep-alive load on a proxied route and a cached one, with a config
//! reload every two seconds, for `SOAK_SECS` seconds (default 20; `make soak` runs 180). Every
//! request must be answered 200, every reload applied, and the gateway's open file descriptors
//! and resident memory must end where they were once warm.

mod common;

use common::load::Load;
use common::{Gateway, Upstream};
use std::time::{Duration, Instant};

fn body(up: &Upstream, tag: u32) -> String {
    format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n\
         [[api]]\nname = \"soak\"\nbase_path = \"/soak\"\ncluster = \"c\"\nlimits = [{{ rate = \"1000000/s\", key = \"ip\" }}]\n\
         [api.response]\nset_headers = {{ \"x-config\" = \"{tag}\" }}\n\n\
         [[api]]\nname = \"cached\"\nbase_path = \"/cached\"\ncluster = \"c\"\ncache = {{ enabled = true, default_ttl = \"1h\" }}\n",
        up.addr
    )
}

/// (resident KiB, open descriptors) of a process.
fn footprint(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    (rss, fds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_load_with_reloads_stays_flat_and_error_free() {
    let secs: u64 = std::env::var("SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let up = Upstream::start("u").await;
    let g = Gateway::start(&body(&up, 0)).await;
    let load = Load::start(g.addr, &["/soak/a", "/cached/b", "/soak/c?x=1"], 8);
    let start = Instant::now();
    let warm = Duration::from_secs(secs / 4).max(Duration::from_secs(3));
    let mut samples = Vec::new();
    let mut reloads = 0;
    let mut next_reload = Instant::now() + Duration::from_secs(2);
    while start.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if start.elapsed() > warm {
            samples.push(footprint(g.pid()));
        }
        if Instant::now() >= next_reload {
            reloads += 1;
            g.rewrite(&body(&up, reloads));
            let r = g.admin_post("/reload").await;
            assert_eq!(r.status, 200, "reload {reloads}: {}", r.text());
            next_reload += Duration::from_secs(2);
        }
    }
    let tally = load.stop().await;
    println!(
        "soak {secs}s: {tally:?}, {reloads} reloads, footprint samples (KiB, fds) first {:?} last {:?}",
        samples.first(),
        samples.last()
    );
    assert!(tally.total() > 1000, "the load ran: {tally:?}");
    assert_eq!(tally.unanswered, 0, "{tally:?}");
    assert_eq!(tally.statuses.keys().copied().collect::<Vec<_>>(), vec![200], "{tally:?}");
    // The last reload is what answers now.
    let r = g.get("/soak/z").await;
    assert_eq!(r.header("x-config"), Some(reloads.to_string().as_str()));

    // Flat: the last quarter's peak within 10 % (+4 MiB) of the first quarter's peak, and no
    // more descriptors at the end than while warm.
    let q = (samples.len() / 4).max(1);
    let peak = |s: &[(u64, usize)]| s.iter().map(|x| x.0).max().unwrap();
    let (early, late) = (peak(&samples[..q]), peak(&samples[samples.len() - q..]));
    assert!(late <= early + early / 10 + 4096, "RSS grew: {early} KiB → {late} KiB");
    let fds_early = samples[..q].iter().map(|x| x.1).max().unwrap();
    let fds_late = samples[samples.len() - q..].iter().map(|x| x.1).max().unwrap();
    assert!(fds_late <= fds_early + 2, "descriptors grew: {fds_early} → {fds_late}");
}
