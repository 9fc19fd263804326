//! The developer portal: server-rendered HTML on `[portal] listen`,
//! served through the same Pingora adaptor as the admin API, so a binary upgrade hands its
//! socket over too. Pages: catalog, API docs with try-it, sign-up/in/out, apps and keys, usage.
//!
//! Accounts, sessions, apps and subscriptions live in the store (`store/portal.rs`); an app is
//! a store consumer, so its keys are enforced by the proxy like any other once the live tables
//! are reloaded (which every write here does before it answers).

mod accounts;
mod api_page;
mod apps;
mod assets;
mod attempts;
mod catalog;
mod chart;
mod csrf;
pub mod docs;
mod extract;
mod form;
mod layout;
mod page;
mod password;
mod session;
mod usage;

use crate::runtime::reload::Reloader;
use crate::runtime::{RuntimeHandle, Shared};
use crate::web::{AxumApp, Limits};
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

pub use page::PageError;

/// What the pages show of `[portal]`, fixed at start.
pub struct Branding {
    pub title: String,
    pub accent: String,
    /// Bytes and media type.
    pub logo: Option<(Vec<u8>, &'static str)>,
}

pub struct PortalState {
    pub runtime: RuntimeHandle,
    pub shared: Arc<Shared>,
    pub reloader: Arc<Reloader>,
    pub branding: Branding,
    /// Cookies get `Secure` (the portal is reached over https: `public_url`).
    pub secure_cookies: bool,
    /// The gateway's first plain proxy listener: where try-it requests are relayed.
    pub proxy: SocketAddr,
    /// The proxy's base URL as shown in code samples.
    pub gateway_url: String,
    /// Sign-in attempts per client address and per account (GCRA, in this process).
    pub attempts: attempts::Attempts,
    /// Signs the CSRF tokens of the anonymous forms; read from the store on first use.
    pub form_key: tokio::sync::OnceCell<[u8; 32]>,
}

pub fn router(state: PortalState) -> Router {
    let state = Arc::new(state);
    Router::new()
        .route("/", get(catalog::page))
        .route("/signup", get(accounts::signup_page).post(accounts::signup))
        .route("/login", get(accounts::login_page).post(accounts::login))
        .route("/logout", post(accounts::logout))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/apps/{id}", get(apps::show))
        .route("/apps/{id}/delete", post(apps::delete))
        .route("/apps/{id}/keys", post(apps::issue_key))
        .route("/apps/{id}/keys/{key}/rotate", post(apps::rotate_key))
        .route("/apps/{id}/keys/{key}/revoke", post(apps::revoke_key))
        .route("/apps/{id}/subscriptions", post(apps::subscribe))
        .route("/usage", get(usage::page))
        .route("/apis/{name}/{version}", get(api_page::page))
        .route("/apis/{name}/{version}/try", post(api_page::try_it))
        .route("/assets/{file}", get(assets::serve))
        .fallback(page::not_found)
        .method_not_allowed_fallback(page::wrong_method)
        .layer(axum::middleware::from_fn(page::security_headers))
        .with_state(state)
}

/// The portal listener's Pingora app.
pub fn app(state: PortalState) -> AxumApp {
    // 1 MiB: room for a try-it body of 256 KiB once form-encoded.
    AxumApp::new(router(state), Limits::default())
}

/// Build the portal's state for `serve` (the logo was checked when the config was loaded).
pub fn state(
    loaded: &crate::config::LoadedConfig,
    cfg: &crate::config::portal::PortalConfig,
    runtime: RuntimeHandle,
    shared: Arc<Shared>,
    reloader: Arc<Reloader>,
) -> Result<PortalState, crate::config::ConfigError> {
    let logo = crate::config::portal::read_logo(loaded, cfg)?;
    let first = loaded.config.server.listen.first().cloned().unwrap_or_else(|| "127.0.0.1:8080".into());
    let proxy: SocketAddr =
        crate::config::resolve_addr(&first).map_err(|m| crate::config::ConfigError::new("server.listen", m))?;
    // A wildcard listener is reached on loopback from this process.
    let proxy = if proxy.ip().is_unspecified() {
        SocketAddr::new(
            if proxy.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() },
            proxy.port(),
        )
    } else {
        proxy
    };
    Ok(PortalState {
        runtime,
        shared,
        reloader,
        branding: Branding { title: cfg.title.trim().to_string(), accent: cfg.accent_color.clone(), logo },
        secure_cookies: cfg.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
        gateway_url: format!("http://{proxy}"),
        proxy,
        attempts: attempts::Attempts::default(),
        form_key: tokio::sync::OnceCell::new(),
    })
}
