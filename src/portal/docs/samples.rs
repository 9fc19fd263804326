//! Code samples of one call in curl, JavaScript (fetch) and Python (requests). Every value from
//! a spec is quoted for its language (single quotes in the shell, JSON string literals in JS and
//! Python), so an example holding `'`, `"` or `$(…)` stays data. The key is the placeholder
//! `YOUR_API_KEY`, which DOCS_JS replaces with a key just issued.

use super::call::{Call, Credential, KEY_PLACEHOLDER};
use super::html::esc;
use serde_json::Value;
use std::fmt::Write;

/// The three samples, all visible without JS (DOCS_JS turns them into tabs).
pub fn render(call: &Call, gateway_url: &str) -> String {
    let url = format!("{}{}", gateway_url.trim_end_matches('/'), call.target());
    let mut out = String::from("<div class=\"docs-samples\" data-docs-tabs>");
    for (lang, label, code) in [
        ("curl", "curl", curl(call, &url)),
        ("js", "JavaScript", js(call, &url)),
        ("python", "Python", python(call, &url)),
    ] {
        let _ = write!(
            out,
            "<figure class=\"docs-sample\" data-lang=\"{lang}\"><figcaption>{label}</figcaption><pre><code>{}</code></pre></figure>",
            esc(&code)
        );
    }
    out.push_str("</div>");
    out
}

/// Headers the call sends, credential first.
fn headers(call: &Call) -> Vec<(String, String)> {
    let mut h = Vec::new();
    match &call.auth {
        Credential::Header(name) => h.push((name.clone(), KEY_PLACEHOLDER.to_string())),
        Credential::Bearer => h.push(("Authorization".into(), "Bearer YOUR_TOKEN".into())),
        Credential::None | Credential::Query(_) | Credential::Basic => {}
    }
    h.extend(call.headers.iter().cloned());
    if let Some(b) = &call.body {
        h.push(("Content-Type".into(), b.media.clone()));
    }
    h
}

/// The URL with a query-string key appended, when the key goes there.
fn full_url(call: &Call, url: &str) -> String {
    match &call.auth {
        Credential::Query(name) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}{}={KEY_PLACEHOLDER}", super::call::encode(name))
        }
        _ => url.to_string(),
    }
}

/// A POSIX shell word: single-quoted, each `'` written as `'\''`.
pub fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A JS or Python string literal (JSON's string syntax is valid in both).
fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn curl(call: &Call, url: &str) -> String {
    let mut lines = vec![match call.method.as_str() {
        "GET" => format!("curl -i {}", sh(&full_url(call, url))),
        "HEAD" => format!("curl -I {}", sh(&full_url(call, url))),
        m => format!("curl -i -X {m} {}", sh(&full_url(call, url))),
    }];
    if call.auth == Credential::Basic {
        lines.push("-u 'YOUR_USERNAME:YOUR_PASSWORD'".into());
    }
    for (k, v) in headers(call) {
        lines.push(format!("-H {}", sh(&format!("{k}: {v}"))));
    }
    if let Some(b) = &call.body {
        lines.push(format!("--data-raw {}", sh(&b.text)));
    }
    lines.join(" \\\n  ")
}

fn js(call: &Call, url: &str) -> String {
    let mut opts = vec![format!("  method: {},", lit(&call.method))];
    let mut h: Vec<String> = headers(call).iter().map(|(k, v)| format!("    {}: {},", lit(k), lit(v))).collect();
    if call.auth == Credential::Basic {
        h.insert(0, "    \"Authorization\": \"Basic \" + btoa(\"YOUR_USERNAME:YOUR_PASSWORD\"),".into());
    }
    if !h.is_empty() {
        opts.push(format!("  headers: {{\n{}\n  }},", h.join("\n")));
    }
    if let Some(b) = &call.body {
        let body = match &b.json {
            Some(v) => format!("JSON.stringify({})", indent(&pretty(v), "  ")),
            None => lit(&b.text),
        };
        opts.push(format!("  body: {body},"));
    }
    format!(
        "const response = await fetch({}, {{\n{}\n}});\nconsole.log(response.status, await response.text());",
        lit(&full_url(call, url)),
        opts.join("\n")
    )
}

fn python(call: &Call, url: &str) -> String {
    let method = call.method.to_ascii_lowercase();
    let known = ["get", "post", "put", "patch", "delete", "head", "options"].contains(&method.as_str());
    let mut args = if known {
        vec![format!("    {},", lit(&full_url(call, url)))]
    } else {
        vec![format!("    {},", lit(&call.method)), format!("    {},", lit(&full_url(call, url)))]
    };
    let h: Vec<(String, String)> = headers(call)
        .into_iter()
        .filter(|(k, _)| !(call.body.as_ref().is_some_and(|b| b.json.is_some()) && k == "Content-Type"))
        .collect();
    if !h.is_empty() {
        let items: Vec<String> = h.iter().map(|(k, v)| format!("{}: {}", lit(k), lit(v))).collect();
        args.push(format!("    headers={{{}}},", items.join(", ")));
    }
    if call.auth == Credential::Basic {
        args.push("    auth=(\"YOUR_USERNAME\", \"YOUR_PASSWORD\"),".into());
    }
    if let Some(b) = &call.body {
        match &b.json {
            Some(v) => args.push(format!("    json={},", indent(&py(v, 1), "    "))),
            None => args.push(format!("    data={},", lit(&b.text))),
        }
    }
    let func = if known { method } else { "request".into() };
    format!(
        "import requests\n\nresponse = requests.{func}(\n{}\n)\nprint(response.status_code, response.text)",
        args.join("\n")
    )
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Every line after the first indented by `pad`.
fn indent(s: &str, pad: &str) -> String {
    s.replace('\n', &format!("\n{pad}"))
}

/// A JSON value as a Python literal (`True`, `None`, dicts and lists), indented by level.
fn py(v: &Value, level: usize) -> String {
    let pad = "    ".repeat(level);
    let close = "    ".repeat(level - 1);
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => lit(s),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|x| format!("{pad}{},", py(x, level + 1))).collect();
            format!("[\n{}\n{close}]", items.join("\n"))
        }
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => {
            let items: Vec<String> = m.iter().map(|(k, x)| format!("{pad}{}: {},", lit(k), py(x, level + 1))).collect();
            format!("{{\n{}\n{close}}}", items.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::call::Body;
    use super::*;
    use serde_json::json;

    fn call(body: Option<Value>) -> Call {
        Call {
            method: "POST".into(),
            path: "/pets/1%27%24%28id%29".into(),
            query: String::new(),
            headers: vec![("X-Note".into(), "it's $(whoami) \"quoted\"".into())],
            auth: Credential::Header("X-API-Key".into()),
            body: body.map(|v| Body { media: "application/json".into(), text: pretty(&v), json: Some(v) }),
        }
    }

    #[test]
    fn shell_quoting_keeps_hostile_text_as_one_word() {
        assert_eq!(sh("it's $(x)"), r"'it'\''s $(x)'");
        let c = curl(&call(Some(json!({"name": "O'Brien $(id)"}))), "http://gw/pets");
        assert!(c.contains(r"-H 'X-Note: it'\''s $(whoami) "), "{c}");
        assert!(c.contains(r#"--data-raw '{"#), "{c}");
        assert!(c.contains(r"O'\''Brien $(id)"), "{c}");
        assert!(c.contains("-H 'X-API-Key: YOUR_API_KEY'"), "{c}");
    }

    #[test]
    fn js_and_python_use_string_literals() {
        let j = js(&call(Some(json!({"name": "a\"b", "ok": true}))), "http://gw/p");
        assert!(j.contains(r#""X-Note": "it's $(whoami) \"quoted\"""#), "{j}");
        assert!(j.contains(r#""name": "a\"b""#), "{j}");
        let p = python(&call(Some(json!({"name": "a\"b", "ok": true, "n": null}))), "http://gw/p");
        assert!(p.contains("requests.post("), "{p}");
        assert!(p.contains(r#""ok": True"#) && p.contains(r#""n": None"#), "{p}");
        assert!(p.contains(r#""X-API-Key": "YOUR_API_KEY""#), "{p}");
    }
}
