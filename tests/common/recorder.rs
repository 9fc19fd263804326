//! A raw upstream for the framing matrix: it keeps every byte it receives and what a strict
//! HTTP/1.1 reader (RFC 9112) makes of them, and answers each request `200 ok`. Anything a
//! lenient reader would guess at is written down as a problem instead of being guessed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Framing or syntax a strict reader refuses: each one a way two readers could disagree.
    pub problems: Vec<String>,
}

impl Seen {
    pub fn header_count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
    raw: Vec<u8>,
}

pub struct Recorder {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

impl Recorder {
    pub async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let l = log.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s, l.clone()));
            }
        });
        Recorder { addr, log }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().seen.clone()
    }

    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap().raw).to_string()
    }

    pub fn clear(&self) {
        *self.log.lock().unwrap() = Log::default();
    }
}

enum Read {
    /// A whole request and the bytes it took.
    Done(Seen, usize),
    More,
    Broken(String),
}

async fn serve(mut s: TcpStream, log: Arc<Mutex<Log>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match read_request(&buf) {
            Read::Done(seen, used) => {
                log.lock().unwrap().seen.push(seen);
                buf.drain(..used);
                let ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
                if s.write_all(ok).await.is_err() {
                    return;
                }
                continue;
            }
            Read::Broken(why) => {
                let seen = Seen { problems: vec![why], ..Seen::default() };
                log.lock().unwrap().seen.push(seen);
                return;
            }
            Read::More => {}
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                log.lock().unwrap().raw.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

fn read_request(buf: &[u8]) -> Read {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > 65536 { Read::Broken("head too long".into()) } else { Read::More };
    };
    let head = &buf[..end + 4];
    let mut problems = Vec::new();
    if head.iter().enumerate().any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r')) {
        problems.push("bare LF in the head".into());
    }
    let mut hs = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut hs);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Read::Broken("head does not parse".into()),
        Err(e) => return Read::Broken(format!("head does not parse: {e}")),
    }
    let headers: Vec<(String, String)> =
        req.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).to_string())).collect();
    let cls = values(&headers, "content-length");
    let tes = values(&headers, "transfer-encoding");
    let hosts = values(&headers, "host").len();
    if hosts != 1 {
        problems.push(format!("{hosts} Host headers"));
    }
    if req.version != Some(1) {
        problems.push("not HTTP/1.1".into());
    }
    if cls.len() > 1 {
        problems.push(format!("{} Content-Length headers", cls.len()));
    }
    if !cls.is_empty() && !tes.is_empty() {
        problems.push("both Content-Length and Transfer-Encoding".into());
    }
    let base = Seen {
        method: req.method.unwrap_or_default().to_string(),
        target: req.path.unwrap_or_default().to_string(),
        headers: headers.clone(),
        ..Seen::default()
    };
    let start = head.len();
    let (body, used) = if !tes.is_empty() {
        let codings = tes.join(",");
        let last = codings.rsplit(',').next().unwrap_or("").trim();
        if !last.eq_ignore_ascii_case("chunked") || codings.matches("chunked").count() != 1 {
            problems.push(format!("Transfer-Encoding {codings:?} does not end in one chunked"));
            return Read::Broken(problems.join("; "));
        }
        match dechunk(&buf[start..]) {
            Ok(Some((b, n))) => (b, start + n),
            Ok(None) => return Read::More,
            Err(e) => return Read::Broken(e),
        }
    } else if let Some(cl) = cls.first() {
        let Some(n) = cl.parse::<usize>().ok().filter(|_| cl.bytes().all(|b| b.is_ascii_digit())) else {
            return Read::Broken(format!("Content-Length {cl:?}"));
        };
        if buf.len() < start + n {
            return Read::More;
        }
        (buf[start..start + n].to_vec(), start + n)
    } else {
        (Vec::new(), start)
    };
    Read::Done(Seen { body, problems, ..base }, used)
}

fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()).collect()
}

/// Strict chunked decoding: hex sizes (extensions allowed), CRLF everywhere, trailers ignored.
fn dechunk(b: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut at = 0;
    let mut out = Vec::new();
    loop {
        let Some(eol) = b[at..].windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let line = &b[at..at + eol];
        let size_part = line.split(|&c| c == b';').next().unwrap_or_default();
        if size_part.is_empty() || size_part.len() > 16 || !size_part.iter().all(u8::is_ascii_hexdigit) {
            return Err(format!("chunk size line {:?}", String::from_utf8_lossy(line)));
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_part).unwrap(), 16).map_err(|e| e.to_string())?;
        at += eol + 2;
        if size == 0 {
            // Trailers end at an empty line.
            loop {
                let Some(eol) = b[at..].windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((out, at)));
                }
            }
        }
        if b.len() < at + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&b[at..at + size]);
        if &b[at + size..at + size + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        at += size + 2;
    }
}
