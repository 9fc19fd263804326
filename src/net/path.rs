//! Request path normalization, done once before routing so that the path that was routed is
//! the path that is forwarded: percent-decoding of unreserved characters (so `%2e` is a dot),
//! dot-segment removal (RFC 3986 §5.2.4), duplicate slashes collapsed; NUL and (by default)
//! encoded slashes and backslashes are refused.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// `%00` anywhere in the path.
    Nul,
    /// `%2F`, `%5C` or a raw `\` while `allow_encoded_slash` is off.
    EncodedSlash,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// Not an origin-form path (`*`, empty, or no leading `/`).
    NotOrigin,
}

impl PathError {
    pub fn detail(self) -> &'static str {
        match self {
            PathError::Nul => "the request path contains an encoded NUL byte",
            PathError::EncodedSlash => "the request path contains an encoded slash or a backslash",
            PathError::BadEscape => "the request path contains an invalid percent-escape",
            PathError::NotOrigin => "the request target is not a path",
        }
    }
}

/// Normalize `path` (no query). `Ok(None)` means it is already normal (the common case, found
/// with one scan and no allocation).
pub fn normalize(path: &[u8], allow_encoded_slash: bool) -> Result<Option<Vec<u8>>, PathError> {
    if path.first() != Some(&b'/') {
        return Err(PathError::NotOrigin);
    }
    if is_plain(path) {
        return Ok(None);
    }
    let decoded = decode_unreserved(path, allow_encoded_slash)?;
    let out = remove_dot_segments(&decoded);
    Ok(if out == path { None } else { Some(out) })
}

/// True when the path has no `%`, no `\`, no empty segment and no dot segment.
fn is_plain(path: &[u8]) -> bool {
    let mut prev = 0u8;
    for (i, &b) in path.iter().enumerate() {
        match b {
            b'%' | b'\\' => return false,
            b'/' if prev == b'/' => return false,
            b'.' if prev == b'/' => {
                let rest = &path[i..];
                let seg_end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
                if matches!(&rest[..seg_end], b"." | b"..") {
                    return false;
                }
            }
            _ => {}
        }
        prev = b;
    }
    true
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_unreserved(path: &[u8], allow_encoded_slash: bool) -> Result<Vec<u8>, PathError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        if b == b'\\' && !allow_encoded_slash {
            return Err(PathError::EncodedSlash);
        }
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let (Some(h), Some(l)) = (path.get(i + 1).and_then(|&c| hex(c)), path.get(i + 2).and_then(|&c| hex(c))) else {
            return Err(PathError::BadEscape);
        };
        let d = h << 4 | l;
        match d {
            0 => return Err(PathError::Nul),
            b'/' | b'\\' if !allow_encoded_slash => return Err(PathError::EncodedSlash),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => out.push(b),
            _ => out.extend_from_slice(&[b'%', HEX[(d >> 4) as usize], HEX[(d & 15) as usize]]),
        }
        i += 3;
    }
    Ok(out)
}

fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let mut segs: Vec<&[u8]> = Vec::new();
    let mut trailing = false;
    for seg in path.split(|&b| b == b'/').skip(1) {
        trailing = false;
        match seg {
            b"" => trailing = true,
            b"." => trailing = true,
            b".." => {
                segs.pop();
                trailing = true;
            }
            s => segs.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for s in &segs {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if trailing || segs.is_empty() {
        out.push(b'/');
    }
    out
}

/// For config paths: true when `p` is already in the form `normalize` produces.
pub fn is_normalized_path(p: &str) -> bool {
    matches!(normalize(p.as_bytes(), false), Ok(None)) && !p.contains('%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> Result<String, PathError> {
        normalize(p.as_bytes(), false).map(|o| String::from_utf8(o.unwrap_or_else(|| p.as_bytes().to_vec())).unwrap())
    }

    #[test]
    fn matrix() {
        assert_eq!(n("/pets/1").unwrap(), "/pets/1");
        assert_eq!(n("/pets//1").unwrap(), "/pets/1");
        assert_eq!(n("/a/./b/../c").unwrap(), "/a/c");
        assert_eq!(n("/a/%2e%2E/b").unwrap(), "/b");
        assert_eq!(n("/../../etc/passwd").unwrap(), "/etc/passwd");
        assert_eq!(n("/a/..").unwrap(), "/");
        assert_eq!(n("/pets/").unwrap(), "/pets/");
        assert_eq!(n("/%70ets").unwrap(), "/pets");
        assert_eq!(n("/a%20b").unwrap(), "/a%20b");
        assert_eq!(n("/a%c3%a9").unwrap(), "/a%C3%A9");
        assert_eq!(n("/a/%252e%252e/b").unwrap(), "/a/%252e%252e/b");
        assert_eq!(n("/a/.../b").unwrap(), "/a/.../b");
        assert_eq!(n("/a%00b"), Err(PathError::Nul));
        assert_eq!(n("/a%2fb"), Err(PathError::EncodedSlash));
        assert_eq!(n("/a%5Cb"), Err(PathError::EncodedSlash));
        assert_eq!(n("/a\\b"), Err(PathError::EncodedSlash));
        assert_eq!(n("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(n("/a%2"), Err(PathError::BadEscape));
        assert_eq!(n("*"), Err(PathError::NotOrigin));
        assert_eq!(normalize(b"/a%2Fb", true).unwrap(), None);
    }
}
