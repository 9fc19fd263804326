//! The lifecycle keys of `[[api]]`: `status`, `deprecated_since`,
//! `sunset`, `successor`, `deprecation_link`, and the checks that tie them together.

use super::model::Config;
use serde::Deserialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Err<'a> = dyn FnMut(String, String) + 'a;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiStatus {
    #[default]
    Active,
    Deprecated,
    Retired,
}

/// A moment in UTC: `"2026-06-30T12:00:00Z"` (RFC 3339) or a date, `"2026-06-30"` (its start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment(pub SystemTime);

impl Moment {
    pub fn unix(self) -> u64 {
        self.0.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

impl TryFrom<String> for Moment {
    type Error = String;
    fn try_from(s: String) -> Result<Moment, String> {
        let full = if s.len() == 10 { format!("{s}T00:00:00Z") } else { s.clone() };
        let t = humantime::parse_rfc3339(&full).map_err(|_| {
            format!("expected an RFC 3339 time (\"2026-06-30T00:00:00Z\") or a date (\"2026-06-30\"), got {s:?}")
        })?;
        // Before 1970 would make `Deprecation: @-N`; nobody deprecates an API then.
        if t < UNIX_EPOCH + Duration::from_secs(1) {
            return Err(format!("{s:?} is before 1970"));
        }
        Ok(Moment(t))
    }
}

impl<'de> Deserialize<'de> for Moment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Moment::try_from(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A link target that may go into a `Link` header: an absolute http(s) URL or an absolute path,
/// with nothing that could end the `<…>` or the header (no `<>"`, spaces or control characters).
fn link_ok(s: &str) -> bool {
    let shape = s.starts_with('/') || s.starts_with("https://") || s.starts_with("http://");
    shape && s.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'))
}

pub fn validate(cfg: &Config, err: &mut Err) {
    // Looked up by key, not by scanning every API for each (10,000 APIs made that quadratic).
    let versions: std::collections::HashSet<(&str, &str)> =
        cfg.apis.iter().map(|o| (o.name.as_str(), o.version.as_str())).collect();
    let mut firsts: std::collections::HashMap<(&str, &str, &[String]), &super::ApiConfig> =
        std::collections::HashMap::new();
    for o in &cfg.apis {
        firsts.entry((o.name.as_str(), o.base_path.as_str(), o.hosts.as_slice())).or_insert(o);
    }
    for (i, a) in cfg.apis.iter().enumerate() {
        let p = format!("api[{i}]");
        if a.status == ApiStatus::Deprecated && a.deprecated_since.is_none() {
            err(format!("{p}.deprecated_since"), "status = \"deprecated\" needs deprecated_since".into());
        }
        if let (Some(since), Some(sunset)) = (a.deprecated_since, a.sunset) {
            if sunset < since {
                err(format!("{p}.sunset"), "is before deprecated_since".into());
            }
        }
        if let Some(v) = &a.successor {
            if v == &a.version {
                err(format!("{p}.successor"), "names this version itself".into());
            } else if !versions.contains(&(a.name.as_str(), v.as_str())) {
                err(format!("{p}.successor"), format!("no version {v:?} of API {:?}", a.name));
            }
        }
        if let Some(l) = &a.deprecation_link {
            if !link_ok(l) {
                err(
                    format!("{p}.deprecation_link"),
                    "must be an http(s) URL or an absolute path without spaces, quotes or <>".into(),
                );
            }
        }
        // Versions sharing a base path are picked by one header.
        let first = firsts.get(&(a.name.as_str(), a.base_path.as_str(), a.hosts.as_slice())).copied();
        if let Some(f) = first.filter(|f| f.version_header != a.version_header) {
            err(
                format!("{p}.version_header"),
                format!(
                    "versions of {:?} on {} must use one version_header ({:?})",
                    a.name,
                    a.base_path,
                    f.version_header.as_str()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_and_links() {
        assert_eq!(Moment::try_from("2026-06-30".to_string()).unwrap().unix(), 1_782_777_600);
        assert_eq!(Moment::try_from("2026-06-30T00:00:01Z".to_string()).unwrap().unix(), 1_782_777_601);
        assert!(Moment::try_from("30/06/2026".to_string()).is_err());
        assert!(link_ok("https://dev.example.com/pets/v2"));
        assert!(link_ok("/portal/apis/pets/v1"));
        assert!(!link_ok("https://x/>; rel=\"evil\""));
        assert!(!link_ok("javascript:alert(1)"));
        assert!(!link_ok("/a b"));
    }
}
