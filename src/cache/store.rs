//! The in-memory `pingora_cache::Storage`: objects indexed by primary key (scheme, host, path,
//! query) and then by variance (the `Vary` headers' values), so one URL's variants can be
//! purged together. The byte bound is kept by the eviction manager (`mod.rs`), which tells
//! this store what to drop; the store counts what it holds and what was evicted.

use async_trait::async_trait;
use bytes::Bytes;
use pingora_cache::key::{CacheHashKey, CompactCacheKey, HashBinary};
use pingora_cache::storage::{
    HandleHit, HandleMiss, HitHandler, MissFinishType, MissHandler, PurgeOutcome, PurgeTarget, PurgeType,
};
use pingora_cache::trace::SpanHandle;
use pingora_cache::{CacheKey, CacheMeta, Storage};
use pingora_error::{Error, ErrorType, Result};
use pingora_http::ResponseHeader;
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// One stored response: its meta, kept parsed (a hit clones it instead of decoding pingora's
/// serialized form, which costs a zstd decompression per hit), and its body.
struct Object {
    meta: Arc<Meta>,
    body: Bytes,
}

impl Object {
    fn size(&self) -> usize {
        self.body.len() + self.meta.size
    }
}

/// What a `CacheMeta` is rebuilt from. The age reference (`epoch`) is carried as an epoch
/// override; the Vary provenance restarts at `created`, which at worst makes an older variant
/// a miss, never a wrong hit.
struct Meta {
    fresh_until: SystemTime,
    created: SystemTime,
    epoch: SystemTime,
    swr: u32,
    sie: u32,
    variance: Option<HashBinary>,
    header: ResponseHeader,
    /// Bytes counted for the header (names, values, line overhead).
    size: usize,
}

impl Meta {
    fn of(m: &CacheMeta) -> Meta {
        let header = m.response_header_copy();
        let size = 64 + header.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>();
        Meta {
            fresh_until: m.fresh_until(),
            created: m.created(),
            epoch: m.epoch(),
            swr: m.stale_while_revalidate_sec(),
            sie: m.stale_if_error_sec(),
            variance: m.variance(),
            header,
            size,
        }
    }

    /// The whole body is stored, so a hit can say how long it is: a response that came chunked,
    /// or whose `Content-Length` was dropped for a JSON edit, is served with the real length
    /// (not chunked). An empty body without a length stays as it came (a HEAD answer says
    /// nothing about its GET's body).
    fn frame_by_length(&mut self, len: usize) {
        let h = &self.header.headers;
        let has_body = !matches!(self.header.status.as_u16(), 100..=199 | 204 | 304);
        if !has_body
            || h.contains_key(http::header::CONTENT_LENGTH)
            || (len == 0 && !h.contains_key(http::header::TRANSFER_ENCODING))
        {
            return;
        }
        self.header.remove_header(&http::header::TRANSFER_ENCODING);
        // A number is always a valid header value.
        let _ = self.header.insert_header(http::header::CONTENT_LENGTH, len);
    }

    fn to_meta(&self) -> CacheMeta {
        let mut m = CacheMeta::new(self.fresh_until, self.created, self.swr, self.sie, self.header.clone());
        m.set_epoch_override(self.epoch);
        if let Some(v) = self.variance {
            m.set_variance(v);
        }
        m
    }
}

/// Every variant stored under one primary key, and the URL that key was made from.
struct Family {
    url: Arc<str>,
    variants: HashMap<Option<HashBinary>, Object>,
}

#[derive(Default)]
pub struct MemStore {
    map: RwLock<HashMap<HashBinary, Family>>,
    bytes: AtomicUsize,
    objects: AtomicUsize,
    evictions: AtomicU64,
    /// Responses larger than this are not stored (checked again while a body streams in).
    pub max_object_size: AtomicUsize,
}

/// What a purge of many entries removed: their eviction identities.
pub type Removed = Vec<CompactCacheKey>;

impl MemStore {
    pub fn bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }
    pub fn objects(&self) -> usize {
        self.objects.load(Relaxed)
    }
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Relaxed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<HashBinary, Family>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<HashBinary, Family>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, removed: &Object) {
        self.bytes.fetch_sub(removed.size(), Relaxed);
        self.objects.fetch_sub(1, Relaxed);
    }

    /// Remove every variant of every URL that `matches`; returns what was removed.
    pub fn purge_where(&self, matches: impl Fn(&str) -> bool) -> Removed {
        let mut removed = Vec::new();
        let mut map = self.write();
        map.retain(|primary, fam| {
            if !matches(&fam.url) {
                return true;
            }
            for (variance, obj) in fam.variants.drain() {
                self.forget(&obj);
                removed.push(compact(*primary, variance));
            }
            false
        });
        removed
    }

    /// Remove one primary key's variants (all of them when `variance` is `None` and `all`).
    fn remove(&self, primary: &HashBinary, variance: Option<HashBinary>, all: bool) -> Removed {
        let mut map = self.write();
        let Some(fam) = map.get_mut(primary) else { return Vec::new() };
        let mut removed = Vec::new();
        if all {
            for (v, obj) in fam.variants.drain() {
                self.forget(&obj);
                removed.push(compact(*primary, v));
            }
        } else if let Some(obj) = fam.variants.remove(&variance) {
            self.forget(&obj);
            removed.push(compact(*primary, variance));
        }
        if fam.variants.is_empty() {
            map.remove(primary);
        }
        removed
    }
}

fn compact(primary: HashBinary, variance: Option<HashBinary>) -> CompactCacheKey {
    CompactCacheKey { primary, variance: variance.map(Box::new), user_tag: "".into() }
}

/// The URL part of a primary key (`key::primary` puts the consumer after a newline).
fn url_of(key: &CacheKey) -> Arc<str> {
    let raw = key.primary_key();
    let end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into()
}

#[async_trait]
impl Storage for MemStore {
    async fn lookup(&'static self, key: &CacheKey, _t: &SpanHandle) -> Result<Option<(CacheMeta, HitHandler)>> {
        let (meta, body, weight) = {
            let map = self.read();
            let Some(obj) = map.get(&key.primary_bin()).and_then(|f| f.variants.get(&key.variance_bin())) else {
                return Ok(None);
            };
            (obj.meta.clone(), obj.body.clone(), obj.size())
        };
        let meta = meta.to_meta();
        let len = body.len();
        Ok(Some((meta, Box::new(Hit { body, start: 0, end: len, done: false, weight }))))
    }

    async fn get_miss_handler(&'static self, key: &CacheKey, meta: &CacheMeta, _t: &SpanHandle) -> Result<MissHandler> {
        Ok(Box::new(Fill {
            store: self,
            primary: key.primary_bin(),
            variance: key.variance_bin(),
            url: url_of(key),
            meta: Meta::of(meta),
            body: Vec::new(),
        }))
    }

    async fn purge(&'static self, target: PurgeTarget<'_>, why: PurgeType, _t: &SpanHandle) -> Result<PurgeOutcome> {
        let removed = match target {
            // An invalidation of a URL drops all of its variants (pingora names the primary only).
            PurgeTarget::Active(k) => self.remove(&k.primary, None, true),
            PurgeTarget::Exact(e) => {
                let k = e.key();
                self.remove(&k.primary, k.variance.as_deref().copied(), false)
            }
        };
        if removed.is_empty() {
            return Ok(PurgeOutcome::NotFound);
        }
        if matches!(why, PurgeType::Eviction) {
            self.evictions.fetch_add(removed.len() as u64, Relaxed);
        }
        Ok(PurgeOutcome::Purged(None))
    }

    async fn update_meta(&'static self, key: &CacheKey, meta: &CacheMeta, _t: &SpanHandle) -> Result<bool> {
        let meta = Arc::new(Meta::of(meta));
        let mut map = self.write();
        let Some(obj) = map.get_mut(&key.primary_bin()).and_then(|f| f.variants.get_mut(&key.variance_bin())) else {
            return Ok(false);
        };
        let before = obj.size();
        obj.meta = meta;
        let after = obj.size();
        self.bytes.fetch_add(after, Relaxed);
        self.bytes.fetch_sub(before, Relaxed);
        Ok(true)
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync + 'static) {
        self
    }
}

/// Reads a stored body (whole, or one range of it).
struct Hit {
    body: Bytes,
    start: usize,
    end: usize,
    done: bool,
    /// The object's size as the eviction manager counts it.
    weight: usize,
}

#[async_trait]
impl HandleHit for Hit {
    async fn read_body(&mut self) -> Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        Ok(Some(self.body.slice(self.start..self.end)))
    }

    async fn finish(self: Box<Self>, _s: &'static (dyn Storage + Sync), _k: &CacheKey, _t: &SpanHandle) -> Result<()> {
        Ok(())
    }

    fn can_seek(&self) -> bool {
        true
    }

    fn seek(&mut self, start: usize, end: Option<usize>) -> Result<()> {
        if start >= self.body.len() {
            return Error::e_explain(ErrorType::InternalError, "seek start beyond the stored body");
        }
        self.start = start;
        self.end = end.map_or(self.body.len(), |e| e.min(self.body.len()));
        self.done = false;
        Ok(())
    }

    fn get_eviction_weight(&self) -> usize {
        self.weight
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
    fn as_any_mut(&mut self) -> &mut (dyn Any + Send + Sync) {
        self
    }
}

/// Buffers a response body; only `finish` (the whole body arrived) makes it visible.
struct Fill {
    store: &'static MemStore,
    primary: HashBinary,
    variance: Option<HashBinary>,
    url: Arc<str>,
    meta: Meta,
    body: Vec<u8>,
}

#[async_trait]
impl HandleMiss for Fill {
    async fn write_body(&mut self, data: Bytes, _eof: bool) -> Result<()> {
        if self.body.len() + data.len() > self.store.max_object_size.load(Relaxed) {
            return Error::e_explain(ErrorType::InternalError, "response larger than cache.max_object_size");
        }
        self.body.extend_from_slice(&data);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<MissFinishType> {
        let Fill { store, primary, variance, url, mut meta, body } = *self;
        meta.frame_by_length(body.len());
        let obj = Object { meta: Arc::new(meta), body: Bytes::from(body) };
        let size = obj.size();
        let mut map = store.write();
        let fam = map.entry(primary).or_insert_with(|| Family { url, variants: HashMap::new() });
        store.bytes.fetch_add(size, Relaxed);
        store.objects.fetch_add(1, Relaxed);
        if let Some(old) = fam.variants.insert(variance, obj) {
            store.forget(&old);
        }
        Ok(MissFinishType::Created(size))
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
