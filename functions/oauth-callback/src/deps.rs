//! What the callback needs, built once per cold start.

use std::sync::Arc;

use adapters::config::Config;
use adapters::keystore::{KeyStore, SallaTokens};
use adapters::salla::oauth::{MerchantInfo, SallaOAuth};
use adapters::session;
use adapters::startup::Function;
use adapters::{AdapterError, Secret};
use async_trait::async_trait;
use lambda_http::{Body, Request, Response};

/// Salla's OAuth endpoints as the callback uses them; [`SallaOAuth`] in production.
#[async_trait]
pub trait Authorizer: Send + Sync {
    /// Trades the single-use authorization code for the store's tokens.
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<SallaTokens, AdapterError>;
    /// The store (merchant) the access token belongs to: id, name and domain.
    async fn user_info(&self, access_token: &Secret) -> Result<MerchantInfo, AdapterError>;
}

#[async_trait]
impl Authorizer for SallaOAuth {
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<SallaTokens, AdapterError> {
        SallaOAuth::exchange_code(self, code, redirect_uri).await
    }

    async fn user_info(&self, access_token: &Secret) -> Result<MerchantInfo, AdapterError> {
        SallaOAuth::user_info(self, access_token).await
    }
}

/// Everything the handler needs. Generic over the OAuth client so tests can fake Salla.
pub struct Deps<A = SallaOAuth> {
    pub oauth: A,
    pub keys: Arc<dyn KeyStore>,
    pub session_secret: Secret,
    /// The onboarding page the merchant lands on afterwards (`ONBOARDING_URL`).
    pub onboarding_url: String,
    /// The redirect URI registered with Salla; the token endpoint requires the same value.
    pub redirect_uri: String,
    /// Where tokens that complete the store's connection queue its first import.
    pub history: adapters::history::start::HistoryStart,
}

impl Deps {
    /// Fails (naming the setting) when the session secret is too short to sign with.
    pub fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        session::check_secret(&config.session_secret)?;
        Ok(Self {
            oauth: SallaOAuth::new(
                config.salla_accounts_url.clone(),
                config.salla_client_id.clone(),
                config.salla_client_secret.clone(),
            ),
            keys,
            session_secret: config.session_secret.clone(),
            onboarding_url: config.onboarding_url.clone(),
            redirect_uri: config.oauth_redirect_uri.clone(),
            history: adapters::history::start::HistoryStart::from_env(),
        })
    }
}

impl Function for Deps {
    const NAME: &'static str = "oauth-callback";
    const REQUIRED: &'static [&'static str] = &[
        "SALLA_CLIENT_ID",
        "SALLA_CLIENT_SECRET",
        "SESSION_SECRET",
        "ONBOARDING_URL",
    ];

    fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        Deps::from_config(config, keys)
    }

    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        crate::handle(self, req)
    }
}
