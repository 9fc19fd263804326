//! HTTP methods as the config names them, and as a set of bits for the router and the
//! policies that apply to some methods only.

/// The methods a route may list.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"];

/// Methods as bits; `ANY` also covers methods outside the known set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodSet(pub u16);

impl MethodSet {
    pub const ANY: MethodSet = MethodSet(u16::MAX);
    const OTHER: u16 = 1 << 15;

    pub fn from_names(names: &[String]) -> MethodSet {
        if names.is_empty() {
            return MethodSet::ANY;
        }
        MethodSet(names.iter().map(|n| Self::bit_of_name(n)).fold(0, |a, b| a | b))
    }

    fn bit_of_name(n: &str) -> u16 {
        match METHODS.iter().position(|m| *m == n) {
            Some(i) => 1 << i,
            None => Self::OTHER,
        }
    }

    pub fn bit(m: &http::Method) -> u16 {
        Self::bit_of_name(m.as_str())
    }

    pub fn overlaps(self, o: MethodSet) -> bool {
        self.0 & o.0 != 0
    }

    /// The `Allow` header value for a 405.
    pub fn allow_header(self) -> String {
        let names: Vec<&str> =
            METHODS.iter().enumerate().filter(|(i, _)| self.0 & (1 << i) != 0).map(|(_, m)| *m).collect();
        names.join(", ")
    }
}

/// One method of `[api.cors] methods`: a name of [`METHODS`], parsed at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method(http::Method);

impl Method {
    pub fn parse(m: &str) -> Result<Method, String> {
        let unknown = || format!("unknown method {m:?}; expected one of {}", METHODS.join(", "));
        if !METHODS.contains(&m) {
            return Err(unknown());
        }
        http::Method::from_bytes(m.as_bytes()).map(Method).map_err(|_| unknown())
    }

    pub fn as_http(&self) -> &http::Method {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::values::parse_str(d, Method::parse)
    }
}
