//! What the page needs, built once per cold start.

use std::sync::Arc;

use adapters::AdapterError;
use adapters::clock::now_unix;
use adapters::cod::link::{LinkSecrets, MIN_SECRET_LEN};
use adapters::config::Config;
use adapters::keystore::KeyStore;
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use adapters::once::SpentMarks;
use adapters::salla::oauth::SallaOAuth;
use adapters::salla::order_status::{self, OrderStatusApi, OrderStatusClient};
use adapters::salla::refresh::{RefreshLocks, TokenRefresher};
use adapters::startup::Function;
use lambda_http::{Body, Request, Response};

pub struct Deps {
    pub keys: Arc<dyn KeyStore>,
    pub orders: Arc<dyn OrderStatusApi>,
    pub klaviyo: Arc<dyn KlaviyoApi>,
    pub refresher: Arc<dyn TokenRefresher>,
    pub refresh_locks: RefreshLocks,
    pub links: LinkSecrets,
    /// Short-lived marks that let one answer per order through at a time.
    pub answers: Arc<dyn SpentMarks>,
    /// Unix seconds now; a field so tests can move the clock past a link's expiry.
    pub now: fn() -> i64,
}

impl Deps {
    /// Fails (naming the setting) when the link secret is too short to sign with.
    pub fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        if config.cod_link_secret.expose().len() < MIN_SECRET_LEN {
            return Err(AdapterError::Config(format!(
                "COD_LINK_SECRET must be at least {MIN_SECRET_LEN} characters"
            )));
        }
        if let Some(previous) = &config.cod_link_previous_secret {
            tracing::warn!(
                rotation_ends_at = previous.until,
                "cod link secret rotation: links signed with the previous secret work until \
                 rotation_ends_at"
            );
        }
        Ok(Self {
            keys,
            orders: Arc::new(OrderStatusClient::new(
                config.salla_api_url.clone(),
                order_status::TIMEOUT,
            )),
            klaviyo: Arc::new(KlaviyoClient::new(config.klaviyo_api_url.clone())),
            refresher: Arc::new(SallaOAuth::new(
                config.salla_accounts_url.clone(),
                config.salla_client_id.clone(),
                config.salla_client_secret.clone(),
            )),
            refresh_locks: RefreshLocks::default(),
            links: config.cod_link_secrets(),
            answers: adapters::once::build(config)?,
            now: now_unix,
        })
    }
}

impl Function for Deps {
    const NAME: &'static str = "cod-confirm";
    const REQUIRED: &'static [&'static str] =
        &["COD_LINK_SECRET", "SALLA_CLIENT_ID", "SALLA_CLIENT_SECRET"];

    fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        Deps::from_config(config, keys)
    }

    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        crate::handle(self, req)
    }
}
