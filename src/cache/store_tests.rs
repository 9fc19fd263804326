//! Unit tests of the in-memory cache store.

use super::*;
use pingora_cache::trace::Span;
use std::time::Duration;

fn meta() -> CacheMeta {
    let now = SystemTime::now();
    CacheMeta::new(now + Duration::from_secs(60), now, 0, 0, ResponseHeader::build(200, None).unwrap())
}

async fn fill(store: &'static MemStore, key: &CacheKey, body: &'static [u8]) {
    let t = Span::inactive().handle();
    let mut miss = store.get_miss_handler(key, &meta(), &t).await.unwrap();
    miss.write_body(Bytes::from_static(body), true).await.unwrap();
    miss.finish().await.unwrap();
}

async fn body_of(store: &'static MemStore, key: &CacheKey) -> Option<Bytes> {
    let (_, mut hit) = store.lookup(key, &Span::inactive().handle()).await.unwrap()?;
    hit.read_body().await.unwrap()
}

#[tokio::test]
async fn variants_purges_and_accounting() {
    let store: &'static MemStore = Box::leak(Box::default());
    store.max_object_size.store(1 << 20, Relaxed);
    let a = CacheKey::new("http://h/a", "");
    let mut a_de = a.clone();
    a_de.set_variance_key(pingora_cache::key::hash_key("de"));
    let b = CacheKey::new("http://h/b\nalice", "");
    fill(store, &a, b"en").await;
    fill(store, &a_de, b"de").await;
    fill(store, &b, b"bee").await;
    assert_eq!(body_of(store, &a).await.as_deref(), Some(&b"en"[..]));
    assert_eq!(body_of(store, &a_de).await.as_deref(), Some(&b"de"[..]));
    assert_eq!(store.objects(), 3);
    // A purge by URL takes every variant; the consumer part is not part of the URL.
    assert_eq!(store.purge_where(|u| u == "http://h/a").len(), 2);
    assert!(body_of(store, &a_de).await.is_none());
    assert_eq!(store.purge_where(|u| u.starts_with("http://h/")).len(), 1);
    assert_eq!((store.objects(), store.bytes()), (0, 0));
}

#[tokio::test]
async fn a_hit_rebuilds_the_stored_meta() {
    let store: &'static MemStore = Box::leak(Box::default());
    store.max_object_size.store(1 << 20, Relaxed);
    let now = SystemTime::now();
    let mut header = ResponseHeader::build(200, None).unwrap();
    header.insert_header("etag", "\"v\"").unwrap();
    let mut m = CacheMeta::new(now + Duration::from_secs(30), now - Duration::from_secs(30), 7, 9, header);
    m.set_variance(pingora_cache::key::hash_key("v"));
    let mut k = CacheKey::new("http://h/m", "");
    k.set_variance_key(pingora_cache::key::hash_key("v"));
    let t = Span::inactive().handle();
    let mut miss = store.get_miss_handler(&k, &m, &t).await.unwrap();
    miss.write_body(Bytes::from_static(b"x"), true).await.unwrap();
    miss.finish().await.unwrap();
    let (got, _) = store.lookup(&k, &t).await.unwrap().unwrap();
    assert_eq!(got.fresh_until(), m.fresh_until());
    assert_eq!((got.stale_while_revalidate_sec(), got.stale_if_error_sec()), (7, 9));
    assert_eq!(got.variance(), m.variance());
    assert_eq!(got.headers().get("etag").unwrap(), "\"v\"");
    assert!((29..=31).contains(&got.age().as_secs()), "{:?}", got.age());
}

#[tokio::test]
async fn an_unfinished_or_oversized_fill_stores_nothing() {
    let store: &'static MemStore = Box::leak(Box::default());
    store.max_object_size.store(4, Relaxed);
    let k = CacheKey::new("http://h/x", "");
    let t = Span::inactive().handle();
    let mut miss = store.get_miss_handler(&k, &meta(), &t).await.unwrap();
    miss.write_body(Bytes::from_static(b"abc"), false).await.unwrap();
    assert!(body_of(store, &k).await.is_none(), "not visible before finish");
    assert!(miss.write_body(Bytes::from_static(b"de"), true).await.is_err(), "over max_object_size");
    drop(miss);
    assert!(body_of(store, &k).await.is_none());
    assert_eq!(store.bytes(), 0);
}
