//! What the page and the Validation URL need, built once per cold start.

use std::sync::Arc;

use adapters::config::Config;
use adapters::keystore::KeyStore;
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use adapters::once::SpentMarks;
use adapters::salla::embedded::{EmbeddedTokens, SallaEmbedded};
use adapters::startup::Function;
use adapters::{AdapterError, Secret, session};
use lambda_http::{Body, Request, Response};

pub struct Deps {
    pub keys: Arc<dyn KeyStore>,
    pub klaviyo: Arc<dyn KlaviyoApi>,
    pub session_secret: Secret,
    /// Spent handoff ids: a handoff token signs in once.
    pub handoffs: Arc<dyn SpentMarks>,
    /// Salla's check of the token its dashboard gives the embedded page; `None` when no app
    /// id is configured (development), where only the OAuth handoff signs in.
    pub embedded: Option<Arc<dyn EmbeddedTokens>>,
    /// The one origin allowed to frame the page (Salla's dashboard).
    pub dashboard_origin: String,
    /// Writes the page's key changes back into the app's settings at Salla; `None` without an
    /// app id (development).
    pub settings_sync: Option<crate::settings_sync::SettingsSync>,
    /// The stores' sync-health day records, as the intake writes them.
    pub health: Arc<dyn adapters::health::HealthStore>,
    /// Where a saved key that completes the store's connection queues its first import.
    pub history: adapters::history::start::HistoryStart,
    /// Each store's metric-mapping report, reused for [`crate::metric_mapping::CACHE_TTL`].
    pub mapping_cache: crate::metric_mapping::MappingCache,
}

impl Deps {
    /// Fails (naming the setting) when the session secret is too short to sign with.
    pub fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        session::check_secret(&config.session_secret)?;
        Ok(Self {
            keys,
            klaviyo: Arc::new(KlaviyoClient::new(config.klaviyo_api_url.clone())),
            session_secret: config.session_secret.clone(),
            handoffs: adapters::once::build(config)?,
            embedded: config.salla_app_id.as_ref().map(|app_id| {
                Arc::new(SallaEmbedded::new(
                    &config.salla_exchange_url,
                    app_id.clone(),
                )) as Arc<dyn EmbeddedTokens>
            }),
            dashboard_origin: config.salla_dashboard_origin.clone(),
            health: adapters::health::build(config),
            settings_sync: config.salla_app_id.as_ref().map(|app_id| {
                crate::settings_sync::SettingsSync {
                    api: adapters::salla::api::SallaApi::new(config.salla_api_url.clone()),
                    app_id: app_id.clone(),
                }
            }),
            history: adapters::history::start::HistoryStart::from_env(),
            mapping_cache: Default::default(),
        })
    }

    pub(crate) fn secret(&self) -> &[u8] {
        self.session_secret.expose().as_bytes()
    }

    /// The last segment of the Validation URL the operator enters in the Partner Portal
    /// (`<onboarding URL>validate/<token>`). As good as a password: never log it.
    pub fn validation_token(&self) -> String {
        crate::validate::url_token(self.secret())
    }
}

impl Function for Deps {
    const NAME: &'static str = "key-onboarding";
    const REQUIRED: &'static [&'static str] = &["SESSION_SECRET", "SALLA_APP_ID"];

    fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        Deps::from_config(config, keys)
    }

    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        crate::handle(self, req)
    }
}
