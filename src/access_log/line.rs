//! One access log line as JSON, written byte by byte: integers by `itoa`, durations as
//! milliseconds with microsecond resolution, the time from a per-thread cache of the current
//! second, strings copied whole unless a byte needs escaping. Keys in alphabetical order, as the
//! log has always had them.

use std::cell::Cell;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one line says about a request. `None` is written as `null`.
#[derive(Default)]
pub struct Entry<'a> {
    pub api: Option<&'a str>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub client: Option<IpAddr>,
    pub consumer: Option<&'a str>,
    pub duration: Duration,
    pub method: &'a str,
    /// The request target as received (not necessarily UTF-8: written lossily).
    pub path: &'a [u8],
    pub request_id: &'a str,
    pub route: Option<&'a str>,
    pub status: u16,
    pub upstream: Option<&'a str>,
    pub upstream_time: Option<Duration>,
}

impl Entry<'_> {
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"api\":");
        opt_str(out, self.api);
        out.extend_from_slice(b",\"bytes_in\":");
        int(out, self.bytes_in);
        out.extend_from_slice(b",\"bytes_out\":");
        int(out, self.bytes_out);
        out.extend_from_slice(b",\"client\":");
        match self.client {
            Some(ip) => {
                out.push(b'"');
                write_ip(out, ip);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"consumer\":");
        opt_str(out, self.consumer);
        out.extend_from_slice(b",\"duration_ms\":");
        millis(out, self.duration);
        out.extend_from_slice(b",\"method\":");
        string(out, self.method);
        out.extend_from_slice(b",\"path\":");
        lossy_string(out, self.path);
        out.extend_from_slice(b",\"request_id\":");
        string(out, self.request_id);
        out.extend_from_slice(b",\"route\":");
        opt_str(out, self.route);
        out.extend_from_slice(b",\"status\":");
        int(out, self.status as u64);
        out.extend_from_slice(b",\"time\":\"");
        now_rfc3339_millis(out);
        out.extend_from_slice(b"\",\"upstream\":");
        opt_str(out, self.upstream);
        out.extend_from_slice(b",\"upstream_ms\":");
        match self.upstream_time {
            Some(t) => millis(out, t),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}\n");
    }
}

fn int(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Milliseconds with microsecond resolution: `0.613`, `12.000`, `1500.250`.
fn millis(out: &mut Vec<u8>, d: Duration) {
    let micros = d.as_micros().min(u64::MAX as u128) as u64;
    int(out, micros / 1000);
    let frac = (micros % 1000) as u16;
    out.extend_from_slice(&[b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8]);
}

fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Whether a byte must be escaped in a JSON string (`"`, `\`, control characters).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    // No short circuit: the scan compiles to a few vector instructions per 16 bytes.
    if s.bytes().fold(false, |any, b| any | needs_escape(b)) {
        escaped(out, s.as_bytes());
    } else {
        out.extend_from_slice(s.as_bytes());
    }
    out.push(b'"');
}

/// A JSON string of bytes; what is not UTF-8 becomes U+FFFD, as `String::from_utf8_lossy` has it.
fn lossy_string(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.iter().fold(false, |any, &b| any | (b >= 0x80)) {
        out.push(b'"');
        for chunk in bytes.utf8_chunks() {
            escaped(out, chunk.valid().as_bytes());
            if !chunk.invalid().is_empty() {
                out.extend_from_slice("\u{FFFD}".as_bytes());
            }
        }
        out.push(b'"');
    } else {
        // ASCII is UTF-8.
        string(out, std::str::from_utf8(bytes).unwrap_or_default());
    }
}

/// Valid UTF-8 with `"`, `\` and control characters escaped (the short forms where JSON has them).
fn escaped(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            _ => 0,
        };
        out.extend_from_slice(&s[start..i]);
        start = i + 1;
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
    out.extend_from_slice(&s[start..]);
}

fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, &o) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if o >= 100 {
                    out.push(b'0' + o / 100);
                }
                if o >= 10 {
                    out.push(b'0' + o / 10 % 10);
                }
                out.push(b'0' + o % 10);
            }
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            // std writes a mapped address as ::ffff:a.b.c.d
            Some(v4) => {
                out.extend_from_slice(b"::ffff:");
                write_ip(out, IpAddr::V4(v4));
            }
            None => write_v6(out, v6.segments()),
        },
    }
}

/// RFC 5952 text: lowercase hex, the longest run (two or more) of zero groups as `::`.
fn write_v6(out: &mut Vec<u8>, g: [u16; 8]) {
    let (mut best, mut best_len, mut run, mut run_len) = (8, 0, 0, 0);
    for (i, &x) in g.iter().enumerate() {
        if x == 0 {
            if run_len == 0 {
                run = i;
            }
            run_len += 1;
            if run_len > best_len {
                (best, best_len) = (run, run_len);
            }
        } else {
            run_len = 0;
        }
    }
    if best_len < 2 {
        best = 8;
    }
    let mut i = 0;
    while i < 8 {
        if i == best {
            out.extend_from_slice(b"::");
            i += best_len;
            continue;
        }
        if i > 0 && i != best + best_len {
            out.push(b':');
        }
        hex(out, g[i]);
        i += 1;
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(out: &mut Vec<u8>, x: u16) {
    let mut shift = 12;
    while shift > 0 && (x >> shift) == 0 {
        shift -= 4;
    }
    loop {
        out.push(HEX[((x >> shift) & 15) as usize]);
        if shift == 0 {
            break;
        }
        shift -= 4;
    }
}

thread_local! {
    /// The current second as `YYYY-MM-DDTHH:MM:SS.`, made once a second per thread.
    static SECOND: Cell<(u64, [u8; 20])> = const { Cell::new((u64::MAX, [0; 20])) };
}

/// Now as `2026-12-08T01:02:03.456Z` (UTC, milliseconds).
fn now_rfc3339_millis(out: &mut Vec<u8>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != secs {
        text = second_text(secs);
        SECOND.set((secs, text));
    }
    out.extend_from_slice(&text);
    let ms = now.subsec_millis();
    out.extend_from_slice(&[b'0' + (ms / 100) as u8, b'0' + (ms / 10 % 10) as u8, b'0' + (ms % 10) as u8, b'Z']);
}

fn second_text(secs: u64) -> [u8; 20] {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    let mut t = *b"0000-00-00T00:00:00.";
    let two = |t: &mut [u8; 20], at: usize, v: u64| {
        t[at] = b'0' + (v / 10) as u8;
        t[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut t, 0, (y / 100) as u64);
    two(&mut t, 2, (y % 100) as u64);
    two(&mut t, 5, m);
    two(&mut t, 8, d);
    two(&mut t, 11, s / 3600);
    two(&mut t, 14, s / 60 % 60);
    two(&mut t, 17, s % 60);
    t
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`, public domain algorithm).
fn civil_from_days(z: i64) -> (i64, u64, u64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn json(e: &Entry) -> serde_json::Value {
        let mut out = Vec::new();
        e.write_json(&mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn the_line_matches_what_serde_json_would_write() {
        let e = Entry {
            api: Some("pets"),
            bytes_in: 12,
            bytes_out: 3456,
            client: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 200, 7))),
            consumer: None,
            duration: Duration::from_micros(1250),
            method: "POST",
            path: b"/p/\"q\"\\\n\x01\xff\xfe?x=\xc3\xa9",
            request_id: "abc-1",
            route: Some("/p/{id}"),
            status: 201,
            upstream: Some("10.0.0.1:80"),
            upstream_time: None,
        };
        let mut line = Vec::new();
        e.write_json(&mut line);
        let text = std::str::from_utf8(&line).unwrap();
        let got: serde_json::Value = serde_json::from_str(text).unwrap();
        let time = got["time"].as_str().unwrap().to_string();
        let expected = serde_json::json!({
            "time": time,
            "client": "10.0.200.7",
            "method": "POST",
            "path": String::from_utf8_lossy(e.path),
            "status": 201,
            "bytes_in": 12,
            "bytes_out": 3456,
            "duration_ms": 1.25,
            "upstream_ms": null,
            "api": "pets",
            "route": "/p/{id}",
            "upstream": "10.0.0.1:80",
            "consumer": null,
            "request_id": "abc-1",
        });
        assert_eq!(got, expected);
        // The keys in the order the log had when serde_json wrote it (sorted), durations as
        // milliseconds with three decimals.
        let sorted = expected.as_object().unwrap().keys();
        let at: Vec<usize> = sorted.map(|k| text.find(&format!("\"{k}\":")).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("\"duration_ms\":1.250,"), "{text}");
    }

    #[test]
    fn every_control_character_is_escaped_as_serde_json_does() {
        let all: Vec<u8> = (0u8..0x80).collect();
        let mut out = Vec::new();
        lossy_string(&mut out, &all);
        let ours = String::from_utf8(out).unwrap();
        assert_eq!(ours, serde_json::to_string(std::str::from_utf8(&all).unwrap()).unwrap());
    }

    #[test]
    fn addresses_are_written_as_std_writes_them() {
        let cases: Vec<IpAddr> = vec![
            Ipv4Addr::new(0, 0, 0, 0).into(),
            Ipv4Addr::new(255, 255, 255, 255).into(),
            Ipv6Addr::LOCALHOST.into(),
            Ipv6Addr::UNSPECIFIED.into(),
            "2001:db8::1".parse().unwrap(),
            "2001:db8:0:1:0:0:0:1".parse().unwrap(),
            "2001:0:0:1:0:0:0:1".parse().unwrap(),
            "1:0:2:0:3:0:4:0".parse().unwrap(),
            "fe80::abcd:ef01:0:0".parse().unwrap(),
            "::ffff:192.0.2.9".parse().unwrap(),
            "::192.0.2.9".parse().unwrap(),
            "1:2:3:4:5:6:7:8".parse().unwrap(),
        ];
        for ip in cases {
            let mut out = Vec::new();
            write_ip(&mut out, ip);
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string(), "{ip:?}");
        }
    }

    #[test]
    fn the_time_is_rfc3339_utc_with_milliseconds() {
        for secs in [0u64, 951_782_400, 1_796_688_000, 4_102_444_799] {
            let text = second_text(secs);
            let expected = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string();
            assert_eq!(std::str::from_utf8(&text).unwrap(), &expected[..20].replace('Z', "."), "{secs}");
        }
        let v = json(&Entry::default());
        let t = v["time"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(t).is_ok() && t.len() == 24, "{t}");
    }
}
