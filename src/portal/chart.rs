//! Bar charts as inline SVG, drawn on the server (no chart library, no script). Each chart has
//! a `<title>` and `<desc>` for screen readers; the page puts the same numbers in a table.

use maud::{html, Markup};

const W: f64 = 640.0;
const H: f64 = 160.0;
const PAD: f64 = 24.0;

/// `bars`: (label, calls, errors). Errors are drawn over the calls they are part of.
pub fn bars(id: &str, title: &str, bars: &[(String, i64, i64)]) -> Markup {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let n = bars.len().max(1) as f64;
    let slot = (W - PAD) / n;
    let bar_w = (slot * 0.8).max(1.0);
    let y = |v: i64| H - PAD - (v as f64 / max) * (H - 2.0 * PAD);
    let total: i64 = bars.iter().map(|b| b.1).sum();
    let errors: i64 = bars.iter().map(|b| b.2).sum();
    html! {
        svg id=(id) class="chart" viewBox={ "0 0 " (W) " " (H) } role="img" aria-labelledby={ (id) "-t " (id) "-d" } preserveAspectRatio="none" {
            title id={ (id) "-t" } { (title) }
            desc id={ (id) "-d" } { (total) " calls, " (errors) " errors; the table below has each bar's numbers." }
            line class="axis" x1=(PAD) y1=(H - PAD) x2=(W) y2=(H - PAD) {}
            text class="tick" x="0" y=(PAD) { (max as i64) }
            text class="tick" x="0" y=(H - PAD) { "0" }
            @for (i, (label, calls, errs)) in bars.iter().enumerate() {
                @let x = PAD + i as f64 * slot + (slot - bar_w) / 2.0;
                rect class="calls" x=(fmt(x)) y=(fmt(y(*calls))) width=(fmt(bar_w)) height=(fmt(H - PAD - y(*calls))) {
                    title { (label) ": " (calls) " calls, " (errs) " errors" }
                }
                @if *errs > 0 {
                    rect class="errors" x=(fmt(x)) y=(fmt(y(*errs))) width=(fmt(bar_w)) height=(fmt(H - PAD - y(*errs))) {}
                }
            }
            @if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
                text class="tick" x=(PAD) y=(H - 6.0) { (first.0) }
                text class="tick end" x=(W) y=(H - 6.0) text-anchor="end" { (last.0) }
            }
        }
    }
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}
