//! The admin API: an axum router served on `[admin] listen` through the Pingora
//! adaptor (`adaptor.rs`), so its socket is handed over on a binary upgrade like the proxy's.
//!
//! When a token is set, every route — `/openapi.json` included — needs
//! `Authorization: Bearer <token>`; one rule, and no unauthenticated surface on the listener.
//! Errors are problem+json (`problem.rs`).

mod analytics;
mod consumers;
mod handlers;
mod keys;
mod purge;
mod subscriptions;

pub use crate::web::{problem, AxumApp, ClientAddr, Limits, Problem, RequestId};

use crate::runtime::reload::Reloader;
use crate::runtime::{RuntimeHandle, Shared};
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;

pub struct AdminState {
    pub runtime: RuntimeHandle,
    pub shared: Arc<Shared>,
    pub reloader: Arc<Reloader>,
    pub started: Instant,
    /// sha256 of the token: compared digest to digest, so the token's length does not leak.
    token_sha256: Option<[u8; 32]>,
}

impl AdminState {
    pub fn new(runtime: RuntimeHandle, shared: Arc<Shared>, reloader: Arc<Reloader>, token: Option<&str>) -> Self {
        let token_sha256 = token.map(|t| Sha256::digest(t.as_bytes()).into());
        AdminState { runtime, shared, reloader, started: Instant::now(), token_sha256 }
    }
}

type S = Arc<AdminState>;

/// Routes added through here are recorded, so the OpenAPI document can be checked against
/// exactly what is served. Add every admin route with [`Routes::add`], never `Router::route`.
pub struct Routes {
    router: Router<S>,
    list: Vec<(Method, &'static str)>,
}

impl Routes {
    fn add<H: Handler<T, S>, T: 'static>(mut self, method: Method, path: &'static str, handler: H) -> Self {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
        self.router = self.router.route(path, on(filter, handler));
        self.list.push((method, path));
        self
    }

    /// (method, path) of every route.
    pub fn list(&self) -> &[(Method, &'static str)] {
        &self.list
    }
}

pub fn routes() -> Routes {
    use handlers::*;
    Routes { router: Router::new(), list: Vec::new() }
        .add(Method::GET, "/status", status)
        .add(Method::GET, "/metrics", metrics)
        .add(Method::GET, "/apis", apis)
        .add(Method::GET, "/clusters", clusters)
        .add(Method::POST, "/reload", reload)
        .add(Method::GET, "/openapi.json", openapi)
        .add(Method::DELETE, "/cache", purge::purge)
        .add(Method::GET, "/consumers", consumers::list)
        .add(Method::POST, "/consumers", consumers::create)
        .add(Method::GET, "/consumers/{name}", consumers::get)
        .add(Method::PATCH, "/consumers/{name}", consumers::patch)
        .add(Method::DELETE, "/consumers/{name}", consumers::delete)
        .add(Method::GET, "/consumers/{name}/keys", keys::list_keys)
        .add(Method::POST, "/consumers/{name}/keys", keys::create_key)
        .add(Method::DELETE, "/consumers/{name}/keys/{id}", keys::delete_key)
        .add(Method::POST, "/consumers/{name}/keys/{id}/rotate", keys::rotate_key)
        .add(Method::GET, "/analytics", analytics::analytics)
        .add(Method::GET, "/analytics/top", analytics::top)
        .add(Method::GET, "/apis/{name}/{version}/deprecated-usage", analytics::deprecated_usage)
        .add(Method::GET, "/subscriptions", subscriptions::list)
        .add(Method::POST, "/subscriptions/{id}/approve", subscriptions::approve)
        .add(Method::POST, "/subscriptions/{id}/reject", subscriptions::reject)
}

/// The whole admin router: routes, 404 fallback, token check, problem rendering (outermost).
pub fn router(state: AdminState) -> Router {
    let state = Arc::new(state);
    routes()
        .router
        .fallback(handlers::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(middleware::from_fn(problem::problems))
        .with_state(state)
}

/// The admin listener's Pingora app. The token is checked before a body is read, too.
pub fn app(state: AdminState) -> AxumApp {
    let token = state.token_sha256;
    let app = AxumApp::new(router(state), Limits::default());
    match token {
        Some(want) => app.with_head_check(Box::new(move |h: &HeaderMap| unauthorized(h, &want))),
        None => app,
    }
}

async fn require_token(State(st): State<S>, req: Request, next: Next) -> Response {
    if let Some(res) = st.token_sha256.as_ref().and_then(|want| unauthorized(req.headers(), want)) {
        return res;
    }
    next.run(req).await
}

/// The 401 for a request without the token whose sha256 is `want`.
fn unauthorized(headers: &HeaderMap, want: &[u8; 32]) -> Option<Response> {
    let given = headers.get(AUTHORIZATION).and_then(|v| bearer(v.as_bytes()));
    if given.is_some_and(|g| digest_eq(&Sha256::digest(g).into(), want)) {
        return None;
    }
    let p = Problem::new(StatusCode::UNAUTHORIZED, "a valid admin token is required (Authorization: Bearer)");
    Some(([(WWW_AUTHENTICATE, "Bearer")], p).into_response())
}

/// The credentials of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
fn bearer(v: &[u8]) -> Option<&[u8]> {
    let space = v.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = v.split_at(space);
    scheme.eq_ignore_ascii_case(b"bearer").then(|| rest.trim_ascii()).filter(|t| !t.is_empty())
}

/// Equal-length digests compared without an early exit.
fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn openapi_document_lists_exactly_the_served_routes() {
        let doc: serde_json::Value = serde_json::from_str(handlers::OPENAPI).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(handlers::OPENAPI.matches(handlers::VERSION_PLACEHOLDER).count(), 1, "info.version placeholder");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let served: BTreeSet<_> = routes().list().iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        assert_eq!(documented, served, "openapi.json and the router disagree");
    }

    /// The router enforces the token on its own (the adaptor's head check is only an early exit).
    #[tokio::test]
    async fn the_router_checks_the_token_itself() {
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        std::fs::write(&file, "[server]\ndata_dir = \".\"\n").unwrap();
        let loaded = crate::config::load_file(&file).unwrap();
        let shared = Arc::new(Shared::default());
        let rt = crate::runtime::build(&loaded, &shared).unwrap_or_else(|_| panic!("runtime"));
        let handle = Arc::new(arc_swap::ArcSwap::from_pointee(rt));
        let reloader = Arc::new(Reloader::new(loaded, handle.clone(), shared.clone()));
        let app = router(AdminState::new(handle, shared, reloader, Some("0123456789abcdef")));
        let call = |auth: Option<&str>, method: Method| {
            let mut req = http::Request::builder().method(method).uri("/status");
            if let Some(a) = auth {
                req = req.header(AUTHORIZATION, a);
            }
            app.clone().oneshot(req.body(axum::body::Body::empty()).unwrap())
        };
        let r = call(None, Method::GET).await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        assert_eq!(r.headers()[http::header::CONTENT_TYPE], problem::PROBLEM_JSON);
        assert_eq!(call(Some("Bearer 0123456789abcdef"), Method::GET).await.unwrap().status(), 200);
        let r = call(Some("Bearer 0123456789abcdef"), Method::PUT).await.unwrap();
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()[http::header::ALLOW], "GET,HEAD");
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer   abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bearerabc"), None);
    }

    #[test]
    fn digests_compare() {
        let d = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
        assert!(digest_eq(&d("0123456789abcdef"), &d("0123456789abcdef")));
        assert!(!digest_eq(&d("0123456789abcdef"), &d("0123456789abcde")));
    }
}
