//! Counters for `GET /metrics`, written out in the Prometheus text exposition format.
//!
//! Framework-free and hand-written: a few counters and histograms behind one mutex, recorded
//! by [`crate::dispatch::Dispatcher::dispatch`] for every call (and by the service for
//! requests that never reached dispatch), and rendered on demand.
//!
//! Label cardinality is bounded: the `method` label is a name from the registry, or one of
//! [`UNKNOWN_METHOD`] and [`UNDECODED`]; `protocol` is one of three values; `code` is a
//! fault code, a small fixed set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// The `method` label of calls naming a method the registry does not have.
pub const UNKNOWN_METHOD: &str = "(unknown)";
/// The `method` label of requests refused before a method name was read.
pub const UNDECODED: &str = "(undecoded)";

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The wire protocol a call came in over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    XmlRpc,
    JsonRpc,
    Soap,
}

impl Protocol {
    /// The label value (`xmlrpc`, `jsonrpc`, `soap`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::XmlRpc => "xmlrpc",
            Protocol::JsonRpc => "jsonrpc",
            Protocol::Soap => "soap",
        }
    }
}

/// Per (protocol, method) statistics.
#[derive(Debug, Default, Clone)]
struct Series {
    calls: u64,
    faults: BTreeMap<i32, u64>,
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    buckets: [u64; BUCKETS.len() + 1],
    seconds: f64,
}

/// Database connection pool use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub shared: usize,
}

/// Figures gathered at scrape time rather than counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Live sessions (cached by the caller; see [`Metrics::cached_sessions`]).
    pub active_sessions: Option<i64>,
    pub pool: Option<PoolUse>,
}

/// The process-wide metrics registry.
#[derive(Debug)]
pub struct Metrics {
    series: Mutex<BTreeMap<(Protocol, String), Series>>,
    login_failures: AtomicU64,
    /// The last session count and the unix time it was taken (`-1`: never).
    sessions_value: AtomicI64,
    sessions_taken_at: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            series: Mutex::new(BTreeMap::new()),
            login_failures: AtomicU64::new(0),
            sessions_value: AtomicI64::new(0),
            sessions_taken_at: AtomicI64::new(-1),
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Records one finished call. `method` must already be bounded (a registry name or one
    /// of the constants of this module).
    pub fn record_call(
        &self,
        protocol: Protocol,
        method: &str,
        elapsed: Duration,
        fault: Option<i32>,
    ) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = series.entry((protocol, method.to_owned())).or_default();
        entry.calls += 1;
        entry.seconds += seconds;
        entry.buckets[bucket] += 1;
        if let Some(code) = fault {
            *entry.faults.entry(code).or_default() += 1;
        }
    }

    /// Counts a failed `system.login`.
    pub fn record_login_failure(&self) {
        self.login_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The session count taken less than `max_age_secs` before `now`, if any.
    pub fn cached_sessions(&self, now: i64, max_age_secs: i64) -> Option<i64> {
        let taken = self.sessions_taken_at.load(Ordering::Relaxed);
        (taken >= 0 && now.saturating_sub(taken) < max_age_secs)
            .then(|| self.sessions_value.load(Ordering::Relaxed))
    }

    /// Remembers a fresh session count.
    pub fn store_sessions(&self, now: i64, count: i64) {
        self.sessions_value.store(count, Ordering::Relaxed);
        self.sessions_taken_at.store(now, Ordering::Relaxed);
    }

    /// The exposition text (format 0.0.4).
    pub fn render(&self, gauges: Gauges) -> String {
        let series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = String::new();
        out.push_str(
            "# HELP groupware_calls_total RPC calls dispatched, per protocol and method.\n\
             # TYPE groupware_calls_total counter\n",
        );
        for ((protocol, method), stats) in &series {
            let _ = writeln!(
                out,
                "groupware_calls_total{{protocol=\"{}\",method=\"{}\"}} {}",
                protocol.as_str(),
                escape_label(method),
                stats.calls
            );
        }
        out.push_str(
            "# HELP groupware_call_faults_total RPC calls answered with a fault, per protocol, method and fault code.\n\
             # TYPE groupware_call_faults_total counter\n",
        );
        for ((protocol, method), stats) in &series {
            for (code, count) in &stats.faults {
                let _ = writeln!(
                    out,
                    "groupware_call_faults_total{{protocol=\"{}\",method=\"{}\",code=\"{code}\"}} {count}",
                    protocol.as_str(),
                    escape_label(method),
                );
            }
        }
        out.push_str(
            "# HELP groupware_call_duration_seconds Time from decoded call to result, per protocol and method.\n\
             # TYPE groupware_call_duration_seconds histogram\n",
        );
        for ((protocol, method), stats) in &series {
            let labels = format!(
                "protocol=\"{}\",method=\"{}\"",
                protocol.as_str(),
                escape_label(method)
            );
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(stats.buckets.iter()) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "groupware_call_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += stats.buckets[BUCKETS.len()];
            let _ = writeln!(
                out,
                "groupware_call_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(
                out,
                "groupware_call_duration_seconds_sum{{{labels}}} {}",
                stats.seconds
            );
            let _ = writeln!(
                out,
                "groupware_call_duration_seconds_count{{{labels}}} {}",
                stats.calls
            );
        }
        let _ = writeln!(
            out,
            "# HELP groupware_login_failures_total Failed system.login calls.\n\
             # TYPE groupware_login_failures_total counter\n\
             groupware_login_failures_total {}",
            self.login_failures.load(Ordering::Relaxed)
        );
        if let Some(sessions) = gauges.active_sessions {
            let _ = writeln!(
                out,
                "# HELP groupware_active_sessions Unexpired login sessions (refreshed at most every 15 s).\n\
                 # TYPE groupware_active_sessions gauge\n\
                 groupware_active_sessions {sessions}"
            );
        }
        if let Some(pool) = gauges.pool {
            let _ = writeln!(
                out,
                "# HELP groupware_db_pool_max_connections Most connections the database pool opens.\n\
                 # TYPE groupware_db_pool_max_connections gauge\n\
                 groupware_db_pool_max_connections {}\n\
                 # HELP groupware_db_pool_connections Connections the database pool holds now.\n\
                 # TYPE groupware_db_pool_connections gauge\n\
                 groupware_db_pool_connections {}\n\
                 # HELP groupware_db_pool_available_connections Idle connections ready for use.\n\
                 # TYPE groupware_db_pool_available_connections gauge\n\
                 groupware_db_pool_available_connections {}\n\
                 # HELP groupware_db_pool_shared_connections Connections held out of the pool for concurrent reads to share.\n\
                 # TYPE groupware_db_pool_shared_connections gauge\n\
                 groupware_db_pool_shared_connections {}",
                pool.max_size, pool.size, pool.available, pool.shared
            );
        }
        out
    }
}

/// Escapes a label value (`\`, `"` and newlines), though registry names never need it.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_histograms_and_faults() {
        let metrics = Metrics::new();
        metrics.record_call(
            Protocol::XmlRpc,
            "system.time",
            Duration::from_millis(3),
            None,
        );
        metrics.record_call(
            Protocol::XmlRpc,
            "system.time",
            Duration::from_millis(70),
            Some(1004),
        );
        metrics.record_login_failure();
        let text = metrics.render(Gauges {
            active_sessions: Some(2),
            pool: Some(PoolUse {
                max_size: 8,
                size: 2,
                available: 1,
                shared: 2,
            }),
        });
        for line in [
            "groupware_calls_total{protocol=\"xmlrpc\",method=\"system.time\"} 2",
            "groupware_call_faults_total{protocol=\"xmlrpc\",method=\"system.time\",code=\"1004\"} 1",
            "groupware_call_duration_seconds_bucket{protocol=\"xmlrpc\",method=\"system.time\",le=\"0.005\"} 1",
            "groupware_call_duration_seconds_bucket{protocol=\"xmlrpc\",method=\"system.time\",le=\"0.05\"} 1",
            "groupware_call_duration_seconds_bucket{protocol=\"xmlrpc\",method=\"system.time\",le=\"0.1\"} 2",
            "groupware_call_duration_seconds_bucket{protocol=\"xmlrpc\",method=\"system.time\",le=\"+Inf\"} 2",
            "groupware_call_duration_seconds_count{protocol=\"xmlrpc\",method=\"system.time\"} 2",
            "groupware_login_failures_total 1",
            "groupware_active_sessions 2",
            "groupware_db_pool_available_connections 1",
            "groupware_db_pool_shared_connections 2",
        ] {
            assert!(text.lines().any(|got| got == line), "{line}\n{text}");
        }
    }

    #[test]
    fn session_cache_expires() {
        let metrics = Metrics::new();
        assert_eq!(metrics.cached_sessions(100, 15), None);
        metrics.store_sessions(100, 7);
        assert_eq!(metrics.cached_sessions(110, 15), Some(7));
        assert_eq!(metrics.cached_sessions(115, 15), None);
    }
}
