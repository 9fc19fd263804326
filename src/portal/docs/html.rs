//! Escaping and Markdown for text that comes from a spec or a config: both are untrusted input
//! on a page other people open, so every string goes through `esc` or `markdown`.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use std::fmt::Write;

/// Text for HTML content or a quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// CommonMark to HTML. Raw HTML in the source is shown as text, and links or images may only
/// point to http(s), mailto or this site (no `javascript:` and the like).
pub fn markdown(src: &str) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(src, opts).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe_url(dest_url), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Image { link_type, dest_url: safe_url(dest_url), title, id })
        }
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    if safe_href(&url) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// Whether a link from a spec may be followed: http(s), mailto, or relative to this site.
pub fn safe_href(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    // A relative URL has no `:` before its first `/`, `?` or `#`.
    let scheme_free = match (lower.find(':'), lower.find(['/', '?', '#'])) {
        (None, _) => true,
        (Some(colon), Some(sep)) => sep < colon,
        (Some(_), None) => false,
    };
    let allowed = ["http://", "https://", "mailto:"].iter().any(|p| lower.starts_with(p));
    allowed || (scheme_free && !lower.starts_with("//"))
}

/// `<a href>` to a spec-supplied URL when it is safe, else the text alone.
pub fn link(url: Option<&str>, text: &str) -> String {
    match url.filter(|u| safe_href(u)) {
        Some(u) => format!("<a href=\"{}\" rel=\"noopener nofollow\">{}</a>", esc(u), esc(text)),
        None => esc(text),
    }
}

/// `<p class="docs-desc">…</p>`-style block of Markdown, or nothing for an absent text.
pub fn description(out: &mut String, text: Option<&str>) {
    if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
        let _ = write!(out, "<div class=\"docs-desc\">{}</div>", markdown(t));
    }
}

/// An id fragment from any text: letters, digits, `-` and `_` kept, the rest `-`.
pub fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn markdown_shows_raw_html_as_text() {
        let html = markdown("Hello <script>alert(1)</script> **bold**\n\n<img src=x onerror=alert(1)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
    }

    #[test]
    fn markdown_drops_script_links() {
        for bad in ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " data:text/html,x", "vbscript:x", "//evil.example/x"]
        {
            let html = markdown(&format!("[x]({bad}) ![i]({bad})"));
            assert!(!html.to_ascii_lowercase().contains("script:"), "{bad}: {html}");
            assert!(!html.contains("data:") && !html.contains("//evil"), "{bad}: {html}");
        }
        let ok = markdown("[docs](https://example.com/a) [here](/apis) [top](#x) [rel](a/b?c=d:e)");
        for want in ["https://example.com/a", "href=\"/apis\"", "href=\"#x\"", "href=\"a/b?c=d:e\""] {
            assert!(ok.contains(want), "{want}: {ok}");
        }
    }

    #[test]
    fn slugs_are_id_safe() {
        assert_eq!(slug("get /pets/{id}"), "get--pets--id-");
    }
}
