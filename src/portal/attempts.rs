//! Sign-in attempts are limited per client address and per account with the gateway's GCRA
//! (in this process).

use crate::limits::gcra::Gcra;
use crate::limits::local::LocalStore;
use std::net::IpAddr;
use std::time::Duration;

/// Sign-in attempt limits: per client address (many accounts tried from one place) and per
/// account (one account tried from many places).
pub struct Attempts {
    cells: LocalStore,
    per_ip: Gcra,
    per_account: Gcra,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            cells: LocalStore::default(),
            per_ip: Gcra::new(20, Duration::from_secs(60), 20),
            per_account: Gcra::new(5, Duration::from_secs(300), 5),
        }
    }
}

impl Attempts {
    /// Take one attempt for `ip` and `account`; false when either is over its limit.
    pub fn allow(&self, ip: Option<IpAddr>, account: &str) -> bool {
        let now = self.cells.now();
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        let take = |limit: u64, g: &Gcra, value: &[u8]| {
            let cell = self.cells.cell(limit, value);
            let allowed = g.take(&cell.state, now).allowed;
            // Kept until its count is back to idle, even if the table is swept meanwhile.
            cell.set_idle_at(Gcra::idle_at(&cell.state));
            allowed
        };
        take(1, &self.per_ip, ip.as_bytes()) && take(2, &self.per_account, account.as_bytes())
    }
}
