//! The developer portal without a browser: accounts, sessions and CSRF, what an attacker sends
//! (forged forms, guessed accounts, script in names), apps and keys enforced at the proxy, the
//! approval flow through the admin API, usage, and `check` on `[portal]`.

mod common;

use common::portal::{between, start, Portal, Visitor};
use common::{check_config, Upstream};

fn body(up: &Upstream, extra: &str) -> String {
    format!(
        "[analytics]\nflush_interval = \"200ms\"\n\n\
         [[plan]]\nname = \"free\"\nquota = \"100/day\"\n\n\
         [[plan]]\nname = \"gold\"\nquota = \"1000/day\"\napproval = true\n\n\
         [[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n\
         [[api]]\nname = \"pets\"\ntitle = \"Pets\"\ndescription = \"All the pets.\"\nbase_path = \"/pets\"\ncluster = \"c\"\nauth = [\"api_key\"]\n\n\
         [[api]]\nname = \"old\"\nbase_path = \"/old\"\ncluster = \"c\"\nauth = [\"api_key\"]\nstatus = \"deprecated\"\ndeprecated_since = \"2026-01-01\"\nsunset = \"2099-01-01\"\n{extra}",
        up.addr
    )
}

async fn portal(up: &Upstream) -> Portal {
    start("", &body(up, "")).await
}

async fn proxy_status(p: &Portal, path: &str, key: &str) -> u16 {
    p.gw.send("GET", path, &[("X-API-Key", key)], b"").await.status
}

#[tokio::test]
async fn keys_issued_in_the_portal_work_at_the_proxy_until_revoked() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    let csrf = v.account("dev@example.com").await;
    let app = v.app(&csrf, "My app").await;
    let key = v.key(&csrf, &app).await;
    assert!(key.starts_with("gh_"), "{key}");
    let r = p.gw.send("GET", "/pets/1", &[("X-API-Key", &key)], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_header("x-consumer-name").as_deref(), Some(format!("app-{app}").as_str()));

    // The key is shown once: the app page lists only its prefix.
    let page = v.get(&format!("/apps/{app}")).await.text();
    assert!(!page.contains(&key) && page.contains(&key[..11]), "{page}");

    // Rotation: the new key works at once, the old one during its grace period.
    let key_id = between(&page, &format!("/apps/{app}/keys/"), "/rotate").unwrap();
    let r = v.post(&format!("/apps/{app}/keys/{key_id}/rotate"), &[("csrf", &csrf)]).await;
    let rotated = between(&r.text(), "id=\"new-key\">", "<").unwrap();
    assert_eq!(proxy_status(&p, "/pets/1", &rotated).await, 200);
    assert_eq!(proxy_status(&p, "/pets/1", &key).await, 200);

    // Revoked: refused by the gateway as soon as the page says so.
    let page = v.get(&format!("/apps/{app}")).await.text();
    let new_id = page.match_indices("/revoke").filter_map(|(i, _)| page[..i].rsplit('/').next()).last().unwrap();
    let r = v.post(&format!("/apps/{app}/keys/{new_id}/revoke"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(proxy_status(&p, "/pets/1", &rotated).await, 401);

    // Another account cannot see or touch the app.
    let mut other = Visitor::new(p.addr);
    let other_csrf = other.account("other@example.com").await;
    assert_eq!(other.get(&format!("/apps/{app}")).await.status, 404);
    let r = other.post(&format!("/apps/{app}/keys"), &[("csrf", &other_csrf)]).await;
    assert_eq!(r.status, 404);

    // Deleting the app deletes its consumer and every key of it.
    let last = v.key(&csrf, &app).await;
    assert_eq!(proxy_status(&p, "/pets/1", &last).await, 200);
    let r = v.post(&format!("/apps/{app}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/apps")));
    assert_eq!(proxy_status(&p, "/pets/1", &last).await, 401);
    assert_eq!(proxy_status(&p, "/pets/1", &key).await, 401, "the rotated-out key too");
    assert_eq!(p.gw.admin_get(&format!("/consumers/app-{app}")).await.status, 404);
}

#[tokio::test]
async fn session_cookie_flags_and_sign_out() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    v.sign_up("flags@example.com", "a-long-password").await;
    let r = v.sign_in("flags@example.com", "a-long-password").await;
    assert_eq!(r.status, 303);
    let cookie = r.headers.iter().find(|(n, v)| n.eq_ignore_ascii_case("set-cookie") && v.starts_with("gh_session="));
    let cookie = cookie.map(|c| c.1.clone()).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http without an https public_url: {cookie}");
    let token = between(&cookie, "gh_session=", ";").unwrap();
    assert_eq!(token.len(), 43, "32 random bytes, base64url");
    assert!(v.get("/apps").await.text().contains("flags@example.com"));

    let csrf = v.token("/apps").await;
    let r = v.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    // The old cookie no longer opens a session (it was deleted in the store, not only cleared).
    let mut replay = Visitor::new(p.addr);
    replay.cookies.insert("gh_session".into(), token);
    let r = replay.get("/apps").await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));

    // Behind https (public_url), cookies are Secure.
    let p = start("public_url = \"https://developers.example.com\"", &body(&up, "")).await;
    let r = Visitor::new(p.addr).get("/login").await;
    let c = r.header("set-cookie").unwrap();
    assert!(c.contains("; Secure") && c.starts_with("gh_form="), "{c}");
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    // Anonymous forms: no token, a token for another visitor's cookie, a forged cookie.
    let fields = [("email", "x@example.com"), ("password", "a-long-password")];
    assert_eq!(v.post("/signup", &fields).await.status, 403);
    let mut other = Visitor::new(p.addr);
    let their_token = other.token("/signup").await;
    v.get("/signup").await;
    let r = v.post("/signup", &[("csrf", &their_token), fields[0], fields[1]]).await;
    assert_eq!(r.status, 403, "a token bound to someone else's cookie");
    let mut forged = Visitor::new(p.addr);
    forged.cookies.insert("gh_form".into(), "A".repeat(43));
    assert_eq!(forged.post("/login", &[("csrf", &"0".repeat(64)), fields[0], fields[1]]).await.status, 403);

    // Signed in: every post needs the session's token, and a cross-site Origin is refused.
    let csrf = v.account("csrf@example.com").await;
    assert_eq!(v.post("/apps", &[("name", "no token")]).await.status, 403);
    assert_eq!(v.post("/apps", &[("csrf", "wrong"), ("name", "bad token")]).await.status, 403);
    let r = v.post_with("/apps", &[("csrf", &csrf), ("name", "x")], &[("Origin", "https://evil.example")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(v.post("/logout", &[]).await.status, 403);
    let r = v.post_with("/apps", &[("csrf", &csrf), ("name", "ok")], &[("Origin", "http://portal.test")]).await;
    assert_eq!(r.status, 303);
    let page = v.get("/apps").await.text();
    assert!(!page.contains("no token") && !page.contains("bad token"), "{page}");
}

#[tokio::test]
async fn messages_do_not_reveal_accounts() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    let first = v.sign_up("taken@example.com", "a-long-password").await;
    let again = v.sign_up("taken@example.com", "another-password").await;
    let notice = |r: &common::Response| between(&r.text(), "id=\"form-message\">", "<");
    assert_eq!((first.status, notice(&first)), (again.status, notice(&again)), "sign-up of a taken email");
    // The second sign-up did not change the password.
    assert_eq!(v.sign_in("taken@example.com", "another-password").await.status, 401);

    let wrong = v.sign_in("taken@example.com", "wrong-password").await;
    let unknown = v.sign_in("nobody@example.com", "wrong-password").await;
    assert_eq!(wrong.status, 401);
    assert_eq!((wrong.status, notice(&wrong)), (unknown.status, notice(&unknown)));
    assert_eq!(notice(&wrong).as_deref(), Some("The email or password is wrong."));

    // A short password is refused at sign-up.
    let r = v.sign_up("short@example.com", "short").await;
    assert_eq!(r.status, 422);
    assert_eq!(v.sign_in("short@example.com", "short").await.status, 401);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_account() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    v.sign_up("target@example.com", "the-right-password").await;
    for i in 0..5 {
        assert_eq!(v.sign_in("target@example.com", "guess").await.status, 401, "attempt {i}");
    }
    let r = v.sign_in("target@example.com", "the-right-password").await;
    assert_eq!(r.status, 429, "even the right password, once the account is being guessed");
    assert!(r.text().contains("Too many sign-in attempts"), "{}", r.text());
    assert!(!r.text().contains("target@example.com"));
    assert!(r.header("retry-after").is_some());
    // Other accounts from the same address are not locked out by it.
    v.sign_up("bystander@example.com", "a-long-password").await;
    assert_eq!(v.sign_in("bystander@example.com", "a-long-password").await.status, 303);
}

/// Behind a trusted TLS-terminating proxy: clients are told apart by `X-Forwarded-For` (one
/// client's guessing does not lock out the others) and cookies are `Secure`.
#[tokio::test]
async fn behind_a_trusted_proxy() {
    let up = Upstream::start("up").await;
    let p = common::portal::start_with_server("trusted_proxies = [\"127.0.0.1\"]", "", &body(&up, "")).await;
    let mut v = Visitor::new(p.addr);
    let r =
        common::request(p.addr, "GET", "/login", &[("Host", "portal.test"), ("X-Forwarded-Proto", "https")], b"").await;
    assert!(r.header("set-cookie").unwrap().contains("; Secure"), "{:?}", r.header("set-cookie"));
    let attempt = |v: &mut Visitor, client: &'static str, n: usize| {
        let mut v = v.clone();
        async move {
            let t = v.token("/login").await;
            let email = format!("guess{n}@example.com");
            let fields = [("csrf", t.as_str()), ("email", email.as_str()), ("password", "wrong-password")];
            v.post_with("/login", &fields, &[("X-Forwarded-For", client)]).await.status
        }
    };
    for n in 0..20 {
        assert_eq!(attempt(&mut v, "203.0.113.7", n).await, 401, "attempt {n}");
    }
    assert_eq!(attempt(&mut v, "203.0.113.7", 20).await, 429, "21st attempt from one client address");
    assert_eq!(attempt(&mut v, "198.51.100.9", 21).await, 401, "another client behind the same proxy");
}

#[tokio::test]
async fn user_text_is_escaped() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    let csrf = v.account("xss@example.com").await;
    let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let app = v.app(&csrf, evil).await;
    for page in ["/apps".to_string(), format!("/apps/{app}"), "/usage".to_string()] {
        let html = v.get(&page).await.text();
        assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "{page}: {html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
    }
    let html = v.get("/?q=%3Cscript%3Ealert(3)%3C%2Fscript%3E").await.text();
    assert!(!html.contains("<script>alert(3)") && html.contains("&lt;script&gt;alert(3)"), "{html}");
    let r = v.get("/").await;
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn approval_plans_wait_for_the_operator() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    let csrf = v.account("sub@example.com").await;
    let app = v.app(&csrf, "subscriber").await;
    let consumer = format!("app-{app}");

    let r =
        v.post(&format!("/apps/{app}/subscriptions"), &[("csrf", &csrf), ("api", "pets/v1"), ("plan", "gold")]).await;
    assert!(r.text().contains("class=\"badge pending\">pending"), "{}", r.text());
    let plan = |p: &Portal| {
        let c = consumer.clone();
        let admin = p.gw.admin;
        async move { common::request(admin, "GET", &format!("/consumers/{c}"), &[], b"").await.json()["plan"].clone() }
    };
    assert_eq!(plan(&p).await, serde_json::Value::Null, "pending: no plan yet");

    let list = p.gw.admin_get("/subscriptions?status=pending").await.json();
    let subs = list["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "{list}");
    assert_eq!((subs[0]["consumer"].as_str(), subs[0]["plan"].as_str()), (Some(consumer.as_str()), Some("gold")));
    assert_eq!(
        (subs[0]["app_name"].as_str(), subs[0]["account"].as_str()),
        (Some("subscriber"), Some("sub@example.com"))
    );
    let id = subs[0]["id"].as_str().unwrap().to_string();
    let r = p.gw.admin_post(&format!("/subscriptions/{id}/approve")).await;
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("approved")));
    assert_eq!(plan(&p).await, "gold");
    assert!(v.get(&format!("/apps/{app}")).await.text().contains("class=\"badge approved\">approved"));
    // Decided once: approving again, or rejecting now, is a conflict.
    let r = p.gw.admin_post(&format!("/subscriptions/{id}/reject")).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(p.gw.admin_post("/subscriptions/nope/approve").await.status, 404);
    assert_eq!(p.gw.admin_get("/subscriptions?status=bogus").await.status, 400);

    // A plan without approval applies at once; a rejected one leaves the plan alone.
    let r =
        v.post(&format!("/apps/{app}/subscriptions"), &[("csrf", &csrf), ("api", "old/v1"), ("plan", "free")]).await;
    assert!(r.text().contains("class=\"badge approved\">approved"));
    assert_eq!(plan(&p).await, "free");
    v.post(&format!("/apps/{app}/subscriptions"), &[("csrf", &csrf), ("api", "pets/v1"), ("plan", "gold")]).await;
    let id = p.gw.admin_get("/subscriptions?status=pending").await.json()["subscriptions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(p.gw.admin_post(&format!("/subscriptions/{id}/reject")).await.json()["status"], "rejected");
    assert_eq!(plan(&p).await, "free");
    // An unknown plan or API is refused.
    let r = v
        .post(&format!("/apps/{app}/subscriptions"), &[("csrf", &csrf), ("api", "pets/v1"), ("plan", "platinum")])
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn usage_shows_the_apps_calls_quota_and_deprecations() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    let csrf = v.account("usage@example.com").await;
    let app = v.app(&csrf, "counted").await;
    v.post(&format!("/apps/{app}/subscriptions"), &[("csrf", &csrf), ("api", "pets/v1"), ("plan", "free")]).await;
    let key = v.key(&csrf, &app).await;
    for _ in 0..3 {
        assert_eq!(proxy_status(&p, "/pets/1", &key).await, 200);
    }
    assert_eq!(proxy_status(&p, "/old/x", &key).await, 200);
    // Analytics are flushed every 200ms here: poll for them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let page = loop {
        let page = v.get("/usage").await.text();
        if page.contains("<strong class=\"calls-total\">3</strong>") {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "usage never showed 3 calls: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(page.contains("<svg id=\"hours-") && page.contains("<title id=\"hours-"), "{page}");
    assert!(page.contains("Plan <strong>free</strong>: 100 calls per day"), "{page}");
    assert!(page.contains("id=\"quota-remaining\">96<"), "4 calls taken of 100: {page}");
    let notices = between(&page, "id=\"deprecations\"", "</section>").expect("a deprecation notice");
    assert!(notices.contains("is deprecated") && notices.contains("2099-01-01"), "{notices}");
}

#[tokio::test]
async fn catalog_lists_filters_and_brands() {
    let up = Upstream::start("up").await;
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.svg");
    std::fs::write(&logo, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    let extra = format!("title = \"Acme APIs\"\naccent_color = \"#c03\"\nlogo = \"{}\"", logo.display());
    let p = start(&extra, &body(&up, "")).await;
    let mut v = Visitor::new(p.addr);
    let html = v.get("/").await.text();
    assert!(html.contains("<title>APIs · Acme APIs</title>") && html.contains("src=\"/assets/logo\""), "{html}");
    assert!(
        html.contains("href=\"/apis/pets/v1\"") && html.contains("All the pets.") && html.contains("Auth: API key")
    );
    assert!(html.contains("badge deprecated") && html.contains("sunset 2099-01-01"), "{html}");
    assert!(html.contains("name=\"viewport\""));
    let only = v.get("/?status=deprecated").await.text();
    assert!(only.contains("/apis/old/v1") && !only.contains("/apis/pets/v1"));
    let found = v.get("/?q=pets").await.text();
    assert!(found.contains("/apis/pets/v1") && !found.contains("/apis/old/v1"));
    let r = v.get("/assets/theme.css").await;
    assert!(r.text().contains("--accent: #c03;"));
    let r = v.get("/assets/logo").await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("image/svg+xml")));
    assert_eq!(v.get("/assets/../../etc/passwd").await.status, 404);
    assert_eq!(v.get("/apis/nope/v1").await.status, 404);
    // A reloaded form answer (GET on a POST-only address) gets a page, not an empty 405.
    let r = v.get("/logout").await;
    assert_eq!(r.status, 405);
    assert!(r.text().contains("This address takes a form"), "{}", r.text());

    // [portal] is read at start: a reload says it was not applied.
    let changed = format!("[portal]\nlisten = \"{}\"\ntitle = \"Renamed\"\n\n{}", p.addr, body(&up, ""));
    p.gw.rewrite(&changed);
    let r = p.gw.admin_post("/reload").await.json();
    let not_applied = r["reload"]["not_applied"].to_string();
    assert!(not_applied.contains("portal changed"), "{r}");
}

#[tokio::test]
async fn try_it_relays_through_the_gateway() {
    let up = Upstream::start("up").await;
    let p = portal(&up).await;
    let mut v = Visitor::new(p.addr);
    let csrf = v.account("try@example.com").await;
    let app = v.app(&csrf, "tryer").await;
    let key = v.key(&csrf, &app).await;
    let page = v.get("/apis/pets/v1").await.text();
    assert!(page.contains("id=\"try-form\"") && page.contains("X-API-Key: YOUR_API_KEY"), "{page}");
    let headers = format!("X-API-Key: {key}");
    let fields = [("csrf", csrf.as_str()), ("method", "GET"), ("path", "/pets/7"), ("headers", &headers)];
    let r = v.post("/apis/pets/v1/try", &fields).await;
    assert!(r.text().contains("id=\"try-status\">200<"), "{}", r.text());
    let r = v.post_with("/apis/pets/v1/try", &fields, &[("Accept", "application/json")]).await;
    assert_eq!(r.json()["status"], 200);
    let no_key = [("csrf", csrf.as_str()), ("method", "GET"), ("path", "/pets/7")];
    assert_eq!(
        v.post_with("/apis/pets/v1/try", &no_key, &[("Accept", "application/json")]).await.json()["status"],
        401
    );
    // No relaying for strangers, nor of headers that speak for someone else.
    assert_eq!(Visitor::new(p.addr).post("/apis/pets/v1/try", &fields).await.status, 303);
    for spoof in ["X-Forwarded-For: 10.0.0.1", "Forwarded: for=10.0.0.1", "Host: other.example"] {
        let fields = [("csrf", csrf.as_str()), ("method", "GET"), ("path", "/pets/7"), ("headers", spoof)];
        assert_eq!(v.post("/apis/pets/v1/try", &fields).await.status, 400, "{spoof}");
    }
}

#[test]
fn check_names_bad_portal_keys() {
    let (code, out) = check_config(
        "[portal]\nlisten = \"nowhere\"\naccent_color = \"red; } body { x\"\nlogo = \"missing.png\"\npublic_url = \"ftp://x\"\ncolour = 1\n",
    );
    assert_eq!(code, Some(1), "{out}");
    for line in [
        "gatehouse.toml: portal.colour: unknown key",
        "gatehouse.toml: portal.accent_color: \"red; } body { x\" is not a CSS hex colour",
        "gatehouse.toml: portal.public_url: \"ftp://x\" is not an http(s) URL",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    let (code, out) = check_config("[portal]\nlogo = \"missing.png\"\n");
    assert_eq!(code, Some(1));
    assert!(out.contains("portal.logo: cannot read"), "{out}");
    let (code, out) = check_config("[portal]\nlisten = \"nowhere\"\n");
    assert!(code == Some(1) && out.contains("gatehouse.toml: portal.listen:"), "{out}");
    assert_eq!(check_config("[portal]\n").0, Some(0));
}

/// Two nodes on one PostgreSQL store: an account made on one signs in on the other (the form
/// key is shared through the store), and a key issued on one works on the other.
#[tokio::test]
async fn portal_on_postgres_across_two_nodes() {
    let Some(pg) = common::postgres::Postgres::start().await else { return };
    let up = Upstream::start("up").await;
    let store = format!("[store]\nurl = \"{}\"\n\n{}", pg.url, body(&up, ""));
    let a = start("", &store).await;
    let b = start("", &store).await;
    let mut on_a = Visitor::new(a.addr);
    let csrf = on_a.account("pg@example.com").await;
    let app = on_a.app(&csrf, "pg app").await;
    let r = on_a
        .post(&format!("/apps/{app}/subscriptions"), &[("csrf", &csrf), ("api", "pets/v1"), ("plan", "gold")])
        .await;
    assert!(r.text().contains("badge pending"), "{}", r.text());
    let key = on_a.key(&csrf, &app).await;

    let mut on_b = Visitor::new(b.addr);
    let r = on_b.sign_in("pg@example.com", "a-long-password").await;
    assert_eq!(r.status, 303, "signed in on the other node: {}", r.text());
    assert!(on_b.get(&format!("/apps/{app}")).await.text().contains("pg app"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while proxy_status(&b, "/pets/1", &key).await != 200 {
        assert!(std::time::Instant::now() < deadline, "the key never worked on node B");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = b.gw.admin_get("/subscriptions?status=pending").await.json()["subscriptions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b.gw.admin_post(&format!("/subscriptions/{id}/approve")).await.status, 200);
    assert_eq!(a.gw.admin_get(&format!("/consumers/app-{app}")).await.json()["plan"], "gold");
}
