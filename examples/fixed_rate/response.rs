//! Streaming HTTP/1.1 response framing: finds where each response ends (head, then a
//! Content-Length, chunked or empty body) in bytes that arrive in arbitrary pieces, without
//! copying the body anywhere. The generator only needs the status and the end of each answer.

/// Longest chunk-size or trailer line we wait for before calling the answer broken.
const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// Body bytes still to skip (Content-Length).
    Fixed(usize),
    ChunkSize,
    /// Chunk data still to skip, then its CRLF.
    ChunkData(usize),
    ChunkEnd,
    Trailers,
}

/// One connection's position inside the response it is reading.
#[derive(Debug)]
pub struct ResponseReader {
    state: State,
    status: u16,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader { state: State::Head, status: 0 }
    }
}

impl ResponseReader {
    /// True between responses: nothing of the next answer has been consumed yet.
    pub fn at_start(&self) -> bool {
        self.state == State::Head
    }

    /// Consumes what it can from the front of `buf`: returns the bytes used and, when a response
    /// ended within them, its status (the bytes after it belong to the next one). Bytes not used
    /// must be offered again, with more appended, on the next call.
    pub fn advance(&mut self, buf: &[u8]) -> Result<(usize, Option<u16>), &'static str> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            match self.state {
                State::Head => {
                    let mut headers = [httparse::EMPTY_HEADER; 64];
                    let mut resp = httparse::Response::new(&mut headers);
                    let n = match resp.parse(rest).map_err(|_| "malformed response head")? {
                        httparse::Status::Complete(n) => n,
                        httparse::Status::Partial => return Ok((pos, None)),
                    };
                    pos += n;
                    let status = resp.code.unwrap_or(0);
                    // 1xx (100 Continue, 103 Early Hints) are interim: the real answer follows.
                    if (100..200).contains(&status) && status != 101 {
                        continue;
                    }
                    self.status = status;
                    self.state = body_framing(status, resp.headers)?;
                    if self.state == State::Fixed(0) {
                        self.state = State::Head;
                        return Ok((pos, Some(status)));
                    }
                }
                State::Fixed(left) => {
                    let take = left.min(rest.len());
                    pos += take;
                    if take < left {
                        self.state = State::Fixed(left - take);
                        return Ok((pos, None));
                    }
                    self.state = State::Head;
                    return Ok((pos, Some(self.status)));
                }
                State::ChunkSize => {
                    let Some(line) = line(rest)? else { return Ok((pos, None)) };
                    pos += line.len() + 2;
                    let size = line.split(|b| *b == b';').next().unwrap_or_default();
                    let size = std::str::from_utf8(size).map_err(|_| "bad chunk size")?.trim();
                    let size = usize::from_str_radix(size, 16).map_err(|_| "bad chunk size")?;
                    self.state = if size == 0 { State::Trailers } else { State::ChunkData(size) };
                }
                State::ChunkData(left) => {
                    let take = left.min(rest.len());
                    pos += take;
                    if take < left {
                        self.state = State::ChunkData(left - take);
                        return Ok((pos, None));
                    }
                    self.state = State::ChunkEnd;
                }
                State::ChunkEnd => {
                    if rest.len() < 2 {
                        return Ok((pos, None));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err("chunk data longer than its size");
                    }
                    pos += 2;
                    self.state = State::ChunkSize;
                }
                State::Trailers => {
                    let Some(line) = line(rest)? else { return Ok((pos, None)) };
                    pos += line.len() + 2;
                    if line.is_empty() {
                        self.state = State::Head;
                        return Ok((pos, Some(self.status)));
                    }
                }
            }
        }
    }
}

/// How the body of a final response is delimited (RFC 9112 section 6.3, for a GET).
fn body_framing(status: u16, headers: &[httparse::Header]) -> Result<State, &'static str> {
    if status == 204 || status == 304 {
        return Ok(State::Fixed(0));
    }
    let header = |name: &str| headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value);
    if let Some(te) = header("transfer-encoding") {
        // Chunked must be the last coding; anything else would be read to close.
        let last = te.rsplit(|b| *b == b',').next().unwrap_or_default();
        return match last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            true => Ok(State::ChunkSize),
            false => Err("transfer-encoding without chunked"),
        };
    }
    let mut lengths = headers.iter().filter(|h| h.name.eq_ignore_ascii_case("content-length"));
    match (lengths.next(), lengths.next()) {
        (Some(len), None) => {
            let len = std::str::from_utf8(len.value).map_err(|_| "bad content-length")?;
            // Digits only: "+5" or "-1" parse as numbers elsewhere but are not lengths.
            if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
                return Err("bad content-length");
            }
            Ok(State::Fixed(len.parse().map_err(|_| "bad content-length")?))
        }
        (Some(_), Some(_)) => Err("several content-length headers"),
        // Keep-alive needs a length: a body read to close would end the connection.
        (None, _) => Err("response without content-length or chunked"),
    }
}

/// The line at the front of `buf` without its CRLF, or None while it is incomplete.
fn line(buf: &[u8]) -> Result<Option<&[u8]>, &'static str> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(i) => Ok(Some(&buf[..i])),
        None if buf.len() > MAX_LINE => Err("line too long in a chunked body"),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::ResponseReader;

    const ANSWERS: &[(&str, u16)] = &[
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200),
        ("HTTP/1.1 204 No Content\r\n\r\n", 204),
        ("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", 304),
        ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok", 201),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nwiki\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
            200,
        ),
        ("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 404),
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200),
    ];

    /// Feeds `input` in pieces of `step` bytes the way a connection buffer does: unused bytes stay
    /// at the front and the next piece is appended.
    fn statuses(input: &[u8], step: usize) -> Result<Vec<u16>, &'static str> {
        let (mut reader, mut pending, mut out) = (ResponseReader::default(), Vec::new(), Vec::new());
        for piece in input.chunks(step) {
            pending.extend_from_slice(piece);
            loop {
                let (used, done) = reader.advance(&pending)?;
                pending.drain(..used);
                match done {
                    Some(status) => out.push(status),
                    None => break,
                }
            }
        }
        assert!(pending.is_empty() && reader.at_start(), "left over: {pending:?}");
        Ok(out)
    }

    #[test]
    fn every_framing_in_any_split() {
        let all: String = ANSWERS.iter().map(|(a, _)| *a).collect();
        let want: Vec<u16> = ANSWERS.iter().map(|(_, s)| *s).collect();
        for step in [1, 2, 3, 7, 16, 64, all.len()] {
            assert_eq!(statuses(all.as_bytes(), step).unwrap(), want, "pieces of {step}");
        }
    }

    #[test]
    fn a_body_far_larger_than_any_buffer_is_skipped_not_kept() {
        let body = vec![b'x'; 1 << 20];
        let mut reader = ResponseReader::default();
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
        assert_eq!(reader.advance(head).unwrap(), (head.len(), None));
        for piece in body.chunks(16384).take(63) {
            assert_eq!(reader.advance(piece).unwrap(), (16384, None));
        }
        assert_eq!(reader.advance(&body[..16384 + 3]).unwrap(), (16384, Some(200)));
    }

    #[test]
    fn what_a_broken_or_hostile_server_sends_is_an_error_not_a_hang() {
        for bad in [
            "HTTP/1.1 200 OK\r\n\r\nbody until close",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            assert!(statuses(bad.as_bytes(), bad.len()).is_err(), "accepted: {bad:?}");
        }
        let endless = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{}", "0".repeat(5000));
        assert!(statuses(endless.as_bytes(), 100).is_err());
    }
}
