//! Static files, embedded in the binary (no CDN, works offline). `theme.css` carries the
//! configured accent colour (validated as a hex colour at load).

use super::PortalState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use std::sync::Arc;

const PORTAL_CSS: &str = include_str!("../../portal/portal.css");
const PORTAL_JS: &str = include_str!("../../portal/portal.js");
use super::docs::{DOCS_CSS, DOCS_JS};

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

pub async fn serve(State(st): State<Arc<PortalState>>, Path(file): Path<String>) -> Response {
    let (kind, body): (&str, Vec<u8>) = match file.as_str() {
        "portal.css" => (CSS, PORTAL_CSS.into()),
        "portal.js" => (JS, PORTAL_JS.into()),
        "docs.css" => (CSS, DOCS_CSS.into()),
        "docs.js" => (JS, DOCS_JS.into()),
        "theme.css" => (CSS, format!(":root {{ --accent: {}; }}\n", st.branding.accent).into_bytes()),
        "logo" => match &st.branding.logo {
            Some((bytes, kind)) => (kind, bytes.clone()),
            None => return super::PageError::NotFound.into_response(),
        },
        _ => return super::PageError::NotFound.into_response(),
    };
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "public, max-age=300")], body).into_response()
}
