//! The developer portal from a test's side: a gateway with `[portal]` on a free port, and a
//! cookie-keeping form client (what a browser without JavaScript does).

use super::{free_port, request, Gateway, Response};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct Portal {
    pub gw: Gateway,
    pub addr: SocketAddr,
}

/// A gateway whose config is `[portal]` (listen + `portal_extra`) and `body`.
pub async fn start(portal_extra: &str, body: &str) -> Portal {
    start_with_server("", portal_extra, body).await
}

/// The same with extra `[server]` keys.
pub async fn start_with_server(server_extra: &str, portal_extra: &str, body: &str) -> Portal {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let gw =
        Gateway::start_with(server_extra, &format!("[portal]\nlisten = \"{addr}\"\n{portal_extra}\n\n{body}")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "portal not listening: {}", gw.stderr_text());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Portal { gw, addr }
}

/// One visitor: keeps the cookies the portal sets.
#[derive(Clone)]
pub struct Visitor {
    pub addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
}

impl Visitor {
    pub fn new(addr: SocketAddr) -> Visitor {
        Visitor { addr, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, r: &Response) {
        for (n, v) in &r.headers {
            if n.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap_or_default();
                if let Some((k, val)) = pair.split_once('=') {
                    if val.is_empty() {
                        self.cookies.remove(k);
                    } else {
                        self.cookies.insert(k.to_string(), val.to_string());
                    }
                }
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let c = self.cookie_header();
        let mut h = vec![("Host", "portal.test")];
        if !c.is_empty() {
            h.push(("Cookie", &c));
        }
        let r = request(self.addr, "GET", path, &h, b"").await;
        self.keep(&r);
        r
    }

    /// Post form fields (URL-encoded here) with extra headers.
    pub async fn post_with(&mut self, path: &str, fields: &[(&str, &str)], extra: &[(&str, &str)]) -> Response {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let c = self.cookie_header();
        let mut h = vec![("Host", "portal.test"), ("Content-Type", "application/x-www-form-urlencoded")];
        if !c.is_empty() {
            h.push(("Cookie", &c));
        }
        h.extend_from_slice(extra);
        let r = request(self.addr, "POST", path, &h, body.as_bytes()).await;
        self.keep(&r);
        r
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_with(path, fields, &[]).await
    }

    /// The CSRF token of the form on `page`.
    pub async fn token(&mut self, page: &str) -> String {
        let r = self.get(page).await;
        assert_eq!(r.status, 200, "{page}: {}", r.text());
        csrf_of(&r.text())
    }

    pub async fn sign_up(&mut self, email: &str, password: &str) -> Response {
        let t = self.token("/signup").await;
        self.post("/signup", &[("csrf", &t), ("email", email), ("password", password)]).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Response {
        let t = self.token("/login").await;
        self.post("/login", &[("csrf", &t), ("email", email), ("password", password)]).await
    }

    /// Sign up and in; the session's CSRF token.
    pub async fn account(&mut self, email: &str) -> String {
        self.sign_up(email, "a-long-password").await;
        let r = self.sign_in(email, "a-long-password").await;
        assert_eq!(r.status, 303, "sign-in: {}", r.text());
        self.token("/apps").await
    }

    /// Create an app; its id.
    pub async fn app(&mut self, csrf: &str, name: &str) -> String {
        let r = self.post("/apps", &[("csrf", csrf), ("name", name)]).await;
        assert_eq!(r.status, 303, "create app: {}", r.text());
        r.header("location").unwrap().trim_start_matches("/apps/").to_string()
    }

    /// Issue a key for an app; the secret shown once.
    pub async fn key(&mut self, csrf: &str, app: &str) -> String {
        let r = self.post(&format!("/apps/{app}/keys"), &[("csrf", csrf)]).await;
        assert_eq!(r.status, 200, "issue key: {}", r.text());
        between(&r.text(), "id=\"new-key\">", "<").expect("the new key on the page")
    }
}

pub fn csrf_of(html: &str) -> String {
    between(html, "name=\"csrf\" value=\"", "\"").expect("a csrf field")
}

pub fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(s[from..from + len].to_string())
}
