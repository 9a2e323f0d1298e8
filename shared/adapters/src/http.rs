//! One HTTP client per process, shared by the Klaviyo and Salla adapters.
//!
//! Building a rustls client loads and parses the system's root certificates (several
//! milliseconds each time); one shared client also keeps one connection pool. It is built on
//! first use, and [`warm_up`] builds it on a spare thread during the cold start so neither
//! the start nor the first webhook waits for it. Timeouts are set per request by each adapter.

use std::sync::OnceLock;
use std::time::Duration;

static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();

/// The shared client (a cheap handle: clones share the pool).
pub fn client() -> reqwest::Client {
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .pool_idle_timeout(Duration::from_secs(50))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
        .clone()
}

/// Builds the client now, on its own thread.
pub fn warm_up() {
    std::thread::spawn(|| {
        client();
    });
}
