//! One vocabulary of errors for every answer Gatehouse makes itself (RFC 9457
//! `application/problem+json`): the proxy, the connection layer, the admin API and the portal
//! all build a [`Problem`], and every kind has one slug, `urn:gatehouse:problem:<slug>`.
//! Never an upstream address, a file path or a backtrace in one.

use pingora::{Error, ErrorSource, ErrorType};
use std::borrow::Cow;
use std::sync::Arc;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Set by peer selection when no peer of the cluster is usable (as opposed to peers that were
/// tried and failed); told apart from other 502s by this type, not by its text.
pub const NO_HEALTHY_UPSTREAM: ErrorType = ErrorType::CustomCode("no healthy upstream", 502);

/// What went wrong, as the last part of the problem's `type` URN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    /// No route of the proxy matches the request.
    NoRoute,
    /// A management resource that does not exist.
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    Gone,
    BodyTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    Unprocessable,
    RateLimited,
    HeadersTooLarge,
    BadGateway,
    Unavailable,
    UpstreamTimeout,
    /// The management store cannot be reached.
    StoreUnavailable,
    /// The resource is defined in the config file and cannot be changed through the API.
    ReadOnly,
    /// The process is stopping or being replaced.
    Stopping,
    /// A config file that does not pass the checks.
    InvalidConfig,
    Error,
}

impl ProblemKind {
    /// The one slug table.
    pub fn slug(self) -> &'static str {
        use ProblemKind::*;
        match self {
            BadRequest => "bad-request",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            NoRoute => "no-route",
            NotFound => "not-found",
            MethodNotAllowed => "method-not-allowed",
            RequestTimeout => "request-timeout",
            Conflict => "conflict",
            Gone => "gone",
            BodyTooLarge => "body-too-large",
            UriTooLong => "uri-too-long",
            UnsupportedMediaType => "unsupported-media-type",
            Unprocessable => "unprocessable",
            RateLimited => "rate-limited",
            HeadersTooLarge => "headers-too-large",
            BadGateway => "bad-gateway",
            Unavailable => "unavailable",
            UpstreamTimeout => "upstream-timeout",
            StoreUnavailable => "store-unavailable",
            ReadOnly => "read-only",
            Stopping => "stopping",
            InvalidConfig => "invalid-config",
            Error => "error",
        }
    }

    /// The kind a status means when nothing more specific is said.
    pub fn for_status(status: u16) -> ProblemKind {
        use ProblemKind::*;
        match status {
            400 => BadRequest,
            401 => Unauthorized,
            403 => Forbidden,
            404 => NotFound,
            405 => MethodNotAllowed,
            408 => RequestTimeout,
            409 => Conflict,
            410 => Gone,
            413 => BodyTooLarge,
            414 => UriTooLong,
            415 => UnsupportedMediaType,
            422 => Unprocessable,
            429 => RateLimited,
            431 => HeadersTooLarge,
            502 => BadGateway,
            503 => Unavailable,
            504 => UpstreamTimeout,
            _ => Error,
        }
    }
}

/// A status as a number, whichever way the caller has it.
pub trait Status {
    fn code(self) -> u16;
}
impl Status for u16 {
    fn code(self) -> u16 {
        self
    }
}
impl Status for http::StatusCode {
    fn code(self) -> u16 {
        self.as_u16()
    }
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: u16,
    pub kind: ProblemKind,
    pub detail: Cow<'static, str>,
    /// `Allow` header for 405.
    pub allow: Option<String>,
    /// Close the connection after answering.
    pub close: bool,
    /// `WWW-Authenticate` challenges for 401, one header each.
    pub challenges: Option<Arc<Vec<http::HeaderValue>>>,
    /// Every problem found (request validation, the config check), as the `errors` member.
    pub errors: Option<Arc<serde_json::Value>>,
}

impl Problem {
    pub fn new(status: impl Status, detail: impl Into<Cow<'static, str>>) -> Self {
        let status = status.code();
        Problem {
            status,
            kind: ProblemKind::for_status(status),
            detail: detail.into(),
            allow: None,
            close: false,
            challenges: None,
            errors: None,
        }
    }

    pub fn kind(mut self, kind: ProblemKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    pub fn errors(mut self, errors: impl serde::Serialize) -> Self {
        let empty = |v: &serde_json::Value| v.is_null() || v.as_array().is_some_and(|a| a.is_empty());
        self.errors = serde_json::to_value(errors).ok().filter(|v| !empty(v)).map(Arc::new);
        self
    }

    pub fn status_code(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The problem+json document; `request_id` is left out when there is none.
    pub fn to_json(&self, request_id: Option<&str>) -> Vec<u8> {
        let title = self.status_code().canonical_reason().unwrap_or("Error");
        let mut v = serde_json::json!({
            "type": format!("urn:gatehouse:problem:{}", self.kind.slug()),
            "title": title,
            "status": self.status,
            "detail": self.detail,
        });
        if let Some(o) = v.as_object_mut() {
            if let Some(id) = request_id {
                o.insert("request_id".into(), id.into());
            }
            if let Some(errors) = &self.errors {
                o.insert("errors".into(), errors.as_ref().clone());
            }
        }
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// The problem for an error that ended a request in Pingora, told apart by its type;
    /// `None` when the client went away (nothing to answer).
    pub fn from_error(e: &Error) -> Option<Problem> {
        use ErrorType::*;
        let upstream_failed = || Problem::new(502, "the upstream failed to answer");
        let timeout = || Problem::new(504, "the upstream did not answer in time");
        let p = match e.etype() {
            t if *t == NO_HEALTHY_UPSTREAM => Problem::new(502, "no healthy upstream is available for this API"),
            HTTPStatus(413) => Problem::new(413, "the request body is larger than this gateway accepts").closing(),
            HTTPStatus(404) => Problem::new(404, "no route matches this request").kind(ProblemKind::NoRoute),
            HTTPStatus(502) => upstream_failed(),
            HTTPStatus(504) => timeout(),
            HTTPStatus(c) => Problem::new(*c, "the request could not be processed"),
            ConnectTimedout | ReadTimedout | WriteTimedout => timeout(),
            // A failed handshake or certificate check toward the upstream (say so, not where).
            TLSHandshakeFailure | InvalidCert | HandshakeError | TLSWantX509Lookup => upstream_failed(),
            _ => match e.esource() {
                ErrorSource::Upstream => upstream_failed(),
                ErrorSource::Downstream => match e.etype() {
                    WriteError | ReadError | ConnectionClosed => return None,
                    _ => Problem::new(400, "the request is malformed").closing(),
                },
                _ => Problem::new(500, "the gateway failed to handle the request"),
            },
        };
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slug_per_kind_and_status_defaults() {
        assert_eq!(Problem::new(404, "x").kind.slug(), "not-found");
        assert_eq!(Problem::new(404, "x").kind(ProblemKind::NoRoute).kind.slug(), "no-route");
        assert_eq!(Problem::new(http::StatusCode::CONFLICT, "x").kind.slug(), "conflict");
        assert_eq!(Problem::new(418, "x").kind.slug(), "error");
    }

    #[test]
    fn no_healthy_upstream_is_known_by_type() {
        let e = Error::explain(NO_HEALTHY_UPSTREAM, "whatever the text");
        let p = Problem::from_error(&e).unwrap();
        assert_eq!((p.status, p.detail.as_ref()), (502, "no healthy upstream is available for this API"));
        let other = Error::explain(ErrorType::HTTPStatus(502), "no healthy upstream");
        assert_eq!(Problem::from_error(&other).unwrap().detail, "the upstream failed to answer");
    }

    #[test]
    fn json_has_the_members_and_leaves_out_a_missing_request_id() {
        let p = Problem::new(400, "bad").errors(vec!["a"]);
        let v: serde_json::Value = serde_json::from_slice(&p.to_json(None)).unwrap();
        assert_eq!(v["type"], "urn:gatehouse:problem:bad-request");
        assert_eq!(v["errors"][0], "a");
        assert!(v.get("request_id").is_none());
        let v: serde_json::Value = serde_json::from_slice(&p.to_json(Some("r1"))).unwrap();
        assert_eq!(v["request_id"], "r1");
    }
}
