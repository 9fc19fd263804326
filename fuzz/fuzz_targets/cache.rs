//! Cache policy on arbitrary headers: `policy::response` (what is stored, for how long),
//! `client_asks`, `client_forbids_store` and `variance`. A stored response never keeps
//! `Set-Cookie`, `Age` or hop-by-hop fields, and the variance of a request is deterministic.
//! Input: `STATUS [ttl=SECONDS] [auth]`, response header lines, an empty line, request header
//! lines.
#![no_main]

use gatehouse::cache::policy::{client_asks, client_forbids_store, response, variance, Requester};
use gatehouse::cache::RouteCache;
use libfuzzer_sys::fuzz_target;
use pingora_cache::RespCacheable;
use std::time::Duration;

const NEVER_STORED: [&str; 9] = [
    "set-cookie",
    "age",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
];

fuzz_target!(|data: &[u8]| {
    let (resp_part, req_part) = gatehouse_fuzz::split_blank(data);
    let mut lines = gatehouse_fuzz::lines(resp_part);
    let Some(first) = lines.next() else { return };
    let first = String::from_utf8_lossy(first);
    let mut words = first.split(' ');
    let Some(Ok(status)) = words.next().map(str::parse::<u16>) else { return };
    let mut route = RouteCache { default_ttl: None, per_consumer: false };
    let mut who = Requester { shared_needs_consent: false };
    for w in words {
        if let Some(Ok(s)) = w.strip_prefix("ttl=").map(str::parse::<u64>) {
            route.default_ttl = Some(Duration::from_secs(s));
        }
        who.shared_needs_consent |= w == "auth";
    }
    let Ok(mut resp) = pingora_http::ResponseHeader::build(status, None) else { return };
    for (n, v) in gatehouse_fuzz::header_fields(lines) {
        if resp.append_header(n, v).is_err() {
            return;
        }
    }
    let Some(req) = gatehouse_fuzz::request(b"GET /", gatehouse_fuzz::header_fields(gatehouse_fuzz::lines(req_part)))
    else {
        return;
    };
    let _ = client_asks(&req);
    let _ = client_forbids_store(&req);
    let RespCacheable::Cacheable(meta) = response(&resp, &route, &who) else { return };
    for n in NEVER_STORED {
        assert!(!meta.headers().contains_key(n), "{n} stored");
    }
    assert_eq!(variance(&meta, &req), variance(&meta, &req));
});
