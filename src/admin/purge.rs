//! `DELETE /cache`: purge everything, one URL (`?url=`, every variant and consumer), or every
//! URL under a prefix (`?prefix=`), on every node sharing the store. URLs are the cache's keys:
//! `scheme://host/path?query`.

use super::AdminState;
use crate::store::purges::Purge;
use crate::web::problem::Problem;
use axum::extract::{Query, State};
use axum::Json;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
pub struct PurgeQuery {
    url: Option<String>,
    prefix: Option<String>,
}

pub async fn purge(State(st): State<Arc<AdminState>>, Query(q): Query<PurgeQuery>) -> Result<Json<Value>, Problem> {
    let target = match (q.url, q.prefix) {
        (Some(_), Some(_)) => return Err(bad("give url or prefix, not both")),
        (Some(url), None) => Purge::Url(canonical(&url)?),
        (None, Some(prefix)) => Purge::Prefix(canonical(&prefix)?),
        (None, None) => Purge::All,
    };
    // This node's entries now; the other nodes' when they read the store (`purged` counts
    // this node's).
    let n = st.shared.cache.purge(|u| target.matches(u));
    st.shared.store.announce_purge(target);
    Ok(Json(json!({ "purged": n })))
}

fn bad(detail: &'static str) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, detail)
}

/// Scheme and host as the cache writes them (lower case); the rest as given.
fn canonical(url: &str) -> Result<String, Problem> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("expected a URL such as http://host/path"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad("the URL's scheme must be http or https"));
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(split);
    Ok(format!("{scheme}://{}{tail}", host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn scheme_and_host_are_lowered_only() {
        assert_eq!(super::canonical("HTTP://A.Example/P?Q").unwrap(), "http://a.example/P?Q");
        assert_eq!(super::canonical("https://a").unwrap(), "https://a");
        assert!(super::canonical("/path").is_err());
        assert!(super::canonical("ftp://a/").is_err());
    }
}
