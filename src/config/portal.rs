//! `[portal]`: the developer portal's listener and branding. The table's presence
//! starts the portal; each key has a default so `[portal]` alone is enough.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalConfig {
    pub listen: String,
    /// Shown in the header and the page titles.
    pub title: String,
    /// An image file (PNG, SVG, JPEG, GIF or WebP), read once at load and served from memory.
    pub logo: Option<String>,
    /// `#rgb` or `#rrggbb`: links, buttons and focus rings.
    pub accent_color: String,
    /// The portal's address as developers reach it (e.g. behind a TLS terminator); an https
    /// URL marks the session cookie `Secure`.
    pub public_url: Option<String>,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            listen: "127.0.0.1:8081".into(),
            title: "Developer portal".into(),
            logo: None,
            accent_color: "#2456a6".into(),
            public_url: None,
        }
    }
}

/// Largest logo accepted (it is held in memory and sent on every page view that shows it).
pub const MAX_LOGO: u64 = 512 << 10;

/// The logo's media type by file extension.
pub fn logo_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    })
}

pub fn is_hex_color(s: &str) -> bool {
    let Some(hex) = s.strip_prefix('#') else { return false };
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn validate(p: &PortalConfig, err: &mut dyn FnMut(String, String)) {
    if let Err(m) = super::validate::socket_addr(&p.listen) {
        err("portal.listen".into(), m);
    }
    let title = p.title.trim();
    if title.is_empty() || title.chars().count() > 80 || title.chars().any(char::is_control) {
        err("portal.title".into(), "must be 1-80 characters without control characters".into());
    }
    if !is_hex_color(&p.accent_color) {
        err("portal.accent_color".into(), format!("{:?} is not a CSS hex colour such as \"#2456a6\"", p.accent_color));
    }
    if let Some(logo) = &p.logo {
        if logo_type(logo).is_none() {
            err("portal.logo".into(), format!("{logo:?}: use a .png, .svg, .jpg, .gif or .webp file"));
        }
    }
    if let Some(u) = &p.public_url {
        let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
        let host = rest.map(|r| r.split('/').next().unwrap_or_default());
        if host.is_none_or(|h| h.is_empty() || h.contains(['?', '#', ' ', '@'])) {
            err(
                "portal.public_url".into(),
                format!("{u:?} is not an http(s) URL such as \"https://developers.example.com\""),
            );
        }
    }
}

/// The logo's bytes and media type, read for `serve` and `check` (a missing or oversized file
/// is reported against `portal.logo`).
pub fn read_logo(
    loaded: &super::LoadedConfig,
    p: &PortalConfig,
) -> Result<Option<(Vec<u8>, &'static str)>, super::ConfigError> {
    let Some(logo) = &p.logo else { return Ok(None) };
    let fail = |m: String| super::ConfigError::new("portal.logo", m);
    let path = loaded.resolve(logo);
    let kind = logo_type(logo).ok_or_else(|| fail(format!("{logo:?}: unknown image type")))?;
    let meta = std::fs::metadata(&path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > MAX_LOGO {
        return Err(fail(format!("{} is larger than {} KiB", path.display(), MAX_LOGO >> 10)));
    }
    let bytes = std::fs::read(&path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    Ok(Some((bytes, kind)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert!(is_hex_color("#abc") && is_hex_color("#A0b1C2"));
        for bad in ["abc", "#abcd", "#ggg", "red", "#abc;}body{x:y", ""] {
            assert!(!is_hex_color(bad), "{bad}");
        }
    }
}
