//! What the intake needs, built once per cold start and borrowed by every invocation.

use std::sync::Arc;
use std::time::Duration;

use adapters::config::Config;
use adapters::keystore::KeyStore;
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use adapters::salla::api::SallaApi;
use adapters::salla::signature::Strategy;
use adapters::startup::Function;
use adapters::{AdapterError, Secret};
use lambda_http::{Body, Request, Response};

use crate::enrich::{ProductCache, RefreshLocks, TokenRefresher};

/// Salla's bodies are a few KB; an order with hundreds of lines stays far below this. Anything
/// larger is not a Salla webhook and is refused before we spend a MAC on it.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct Deps {
    pub webhook_secret: Secret,
    pub strategy: Strategy,
    pub store: Arc<dyn KeyStore>,
    pub klaviyo: Arc<dyn KlaviyoApi>,
    pub salla_api: SallaApi,
    pub refresher: Arc<dyn TokenRefresher>,
    pub products: ProductCache,
    pub refresh_locks: RefreshLocks,
    pub max_body_bytes: usize,
    /// Time one webhook may spend on Klaviyo, retries included; well inside Salla's 30 s.
    pub klaviyo_budget: Duration,
    /// When this process last tried each flagged store's key (see [`crate::relay`]).
    pub reconnect_probes: crate::relay::ReconnectProbes,
}

impl Deps {
    /// Wires the production clients around an already-built key store (the dev server and the
    /// tests pass theirs).
    pub fn new(config: &Config, store: Arc<dyn KeyStore>) -> Deps {
        // Overlaps the phone metadata build with the rest of the cold start (see warm_up).
        std::thread::spawn(mapping::warm_up);
        adapters::http::warm_up();
        let klaviyo = KlaviyoClient::new(config.klaviyo_api_url.clone());
        let budget = klaviyo.policy().budget;
        Deps {
            webhook_secret: config.webhook_secret.clone(),
            strategy: config.webhook_strategy,
            store,
            klaviyo: Arc::new(klaviyo),
            salla_api: SallaApi::new(config.salla_api_url.clone()),
            refresher: Arc::new(crate::enrich::OAuthRefresher::new(config)),
            products: ProductCache::default(),
            refresh_locks: RefreshLocks::default(),
            max_body_bytes: MAX_BODY_BYTES,
            klaviyo_budget: budget,
            reconnect_probes: Default::default(),
        }
    }
}

impl Function for Deps {
    const NAME: &'static str = "webhook-intake";
    const REQUIRED: &'static [&'static str] = &[
        "SALLA_WEBHOOK_SECRET",
        "SALLA_CLIENT_ID",
        "SALLA_CLIENT_SECRET",
    ];

    fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        Ok(Deps::new(config, keys))
    }

    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        crate::handle(self, req)
    }
}
