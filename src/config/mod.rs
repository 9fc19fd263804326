//! Loading the TOML config: parse into typed values (every error, with its key path), validate
//! ranges and cross references, and hand a `Config` to `runtime::build`. Nothing here imports
//! the data plane or the management plane.

pub mod analytics;
pub mod auth;
pub mod cache;
pub mod cluster;
pub mod compression;
pub mod credentials;
pub mod lifecycle;
pub mod limits;
pub mod methods;
pub mod model;
mod parse;
pub mod portal;
pub mod server;
pub mod store;
pub mod units;
mod validate;
pub mod values;

pub use cluster::{host_of, resolve as resolve_addr};
pub use credentials::{ApiKeyDigest, JwksUrl, JwtAlgorithm, PasswordHash, PasswordScheme};
pub use methods::{Method, MethodSet, METHODS};
pub use model::*;
use std::fmt;
use std::path::{Path, PathBuf};
pub use validate::name_valid;
pub use values::{HashOn, HeaderName, HeaderValue, IpNetwork, JsonPointer};

/// One problem in a config file: where (a key path such as `api[0].cluster`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { path: path.into(), message: message.into() }
    }
}

/// Every problem found in one file; displays as one `FILE: <key path>: <problem>` line each.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub file: PathBuf,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", self.file.display(), e)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A parsed and validated config, with the directory its relative paths resolve against.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub file: PathBuf,
    /// sha256 of the file's bytes, lowercase hex.
    pub hash: String,
    pub base_dir: PathBuf,
    pub config: Config,
}

impl LoadedConfig {
    /// Resolve a path from the config file against the file's directory.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// Read, parse and validate a config file.
pub fn load_file(file: &Path) -> Result<LoadedConfig, ConfigErrors> {
    let fail = |errors| ConfigErrors { file: file.to_path_buf(), errors };
    let text = std::fs::read_to_string(file)
        .map_err(|e| fail(vec![ConfigError::new("(file)", format!("cannot read: {e}"))]))?;
    let config = load_str(&text).map_err(fail)?;
    let hash = {
        use sha2::{Digest, Sha256};
        Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    };
    let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let base_dir = if base_dir.as_os_str().is_empty() { PathBuf::from(".") } else { base_dir };
    Ok(LoadedConfig { file: file.to_path_buf(), hash, base_dir, config })
}

/// Parse and validate config text; every problem is returned, not only the first.
pub fn load_str(text: &str) -> Result<Config, Vec<ConfigError>> {
    let (config, seen, mut errors) = parse::parse_document(text).map_err(|e| vec![e])?;
    validate::validate(&config, &seen, &mut errors);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}
