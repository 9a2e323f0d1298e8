//! What the intake needs, built once per cold start and borrowed by every invocation.

use std::sync::Arc;
use std::time::Duration;

use adapters::AdapterError;
use adapters::config::Config;
use adapters::keystore::KeyStore;
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use adapters::salla::api::SallaApi;
use adapters::salla::signature::{Strategy, WebhookSecrets};
use adapters::startup::Function;
use lambda_http::{Body, Request, Response};

use adapters::salla::oauth::SallaOAuth;
use adapters::salla::refresh::{RefreshLocks, TokenRefresher};

use crate::confirm::AppSettings;
use crate::enrich::{ProductCache, ProductLookup};

/// Salla's bodies are a few KB; an order with hundreds of lines stays far below this. Anything
/// larger is not a Salla webhook and is refused before we spend a MAC on it.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The longest one webhook may take, whatever Lambda allows: Salla waits ~30 s, and the
/// function's timeout (25 s in template.yaml) must never be what ends an invocation.
pub const BUDGET: Duration = Duration::from_secs(20);

/// Kept back from the Lambda context's deadline so the answer is written before Lambda
/// stops the process.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(1);

pub struct Deps {
    pub webhook_secrets: WebhookSecrets,
    pub strategy: Strategy,
    pub store: Arc<dyn KeyStore>,
    pub klaviyo: Arc<dyn KlaviyoApi>,
    pub salla_api: Arc<dyn ProductLookup>,
    pub app_settings: Arc<dyn AppSettings>,
    /// The app's Partner Portal id; `None` (development only) stores settings keys without
    /// confirming them with Salla.
    pub salla_app_id: Option<String>,
    pub refresher: Arc<dyn TokenRefresher>,
    pub products: ProductCache,
    pub refresh_locks: RefreshLocks,
    pub max_body_bytes: usize,
    /// Time one webhook may take ([`BUDGET`]); the invocation's deadline is the earlier of
    /// this and the Lambda context's deadline less [`DEADLINE_MARGIN`].
    pub budget: Duration,
    /// When this process last tried each flagged store's key (see [`crate::relay`]).
    pub reconnect_probes: crate::relay::ReconnectProbes,
    /// Signs the confirm/cancel links a COD order's Placed Order carries; `None` when the
    /// confirmation page is not configured.
    pub cod_links: Option<adapters::cod::link::LinkIssuer>,
    /// This process's sync-health counts, written to `health` at most once a minute a store.
    pub tally: adapters::health::Tally,
    pub health: Arc<dyn adapters::health::HealthStore>,
    /// Where a connected store's first import and a marked store's repair are queued
    /// (`HISTORY_QUEUE_URL`); disabled without it.
    pub history: adapters::history::start::HistoryStart,
    /// Where a points event reads the customer's orders and reviews (Salla's Merchant API).
    pub points: Arc<dyn adapters::points::PointsSource>,
}

impl Deps {
    /// Wires the production clients around an already-built key store (the dev server and the
    /// tests pass theirs).
    pub fn new(config: &Config, store: Arc<dyn KeyStore>) -> Deps {
        // Overlaps the phone metadata build with the rest of the cold start (see warm_up).
        std::thread::spawn(mapping::warm_up);
        adapters::http::warm_up();
        let klaviyo = KlaviyoClient::new(config.klaviyo_api_url.clone());
        let salla = Arc::new(SallaApi::new(config.salla_api_url.clone()));
        if config.salla_app_id.is_none() {
            tracing::warn!(
                "SALLA_APP_ID is not set: Klaviyo keys from the settings form are stored \
                 without confirming them with Salla (development only)"
            );
        }
        Deps {
            webhook_secrets: config.webhook_secrets(),
            strategy: config.webhook_strategy,
            store,
            klaviyo: Arc::new(klaviyo),
            salla_api: salla.clone(),
            app_settings: salla,
            salla_app_id: config.salla_app_id.clone(),
            refresher: Arc::new(SallaOAuth::new(
                config.salla_accounts_url.clone(),
                config.salla_client_id.clone(),
                config.salla_client_secret.clone(),
            )),
            products: ProductCache::default(),
            refresh_locks: RefreshLocks::default(),
            max_body_bytes: MAX_BODY_BYTES,
            budget: BUDGET,
            reconnect_probes: Default::default(),
            cod_links: adapters::cod::link::LinkIssuer::new(
                config.cod_link_secrets(),
                &config.cod_confirm_url,
            ),
            tally: adapters::health::Tally::default(),
            health: adapters::health::build(config),
            history: adapters::history::start::HistoryStart::from_env(),
            points: Arc::new(adapters::salla::merchant::MerchantApi::new(
                config.salla_api_url.clone(),
                adapters::salla::merchant::DEFAULT_TIMEOUT,
            )),
        }
    }
}

impl Function for Deps {
    const NAME: &'static str = "webhook-intake";
    const REQUIRED: &'static [&'static str] = &[
        "SALLA_WEBHOOK_SECRET",
        "SALLA_CLIENT_ID",
        "SALLA_CLIENT_SECRET",
        "SALLA_APP_ID",
    ];

    fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        Ok(Deps::new(config, keys))
    }

    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        crate::handle(self, req)
    }
}
