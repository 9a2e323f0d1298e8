//! Confirming a Klaviyo key from a settings webhook with Salla before a store's shopper data
//! goes to a Klaviyo account it did not go to before.
//!
//! The webhook secret is one secret for every store, so a signed `app.settings.updated` proves
//! only that its sender holds that secret. Salla itself knows what the merchant saved: the
//! store's app settings, read with the store's own OAuth token (which the webhook secret does
//! not give). A key that would connect a store for the first time, or move it to another
//! Klaviyo account, is stored only when Salla holds the same value. A new key for the same
//! account needs no confirmation: it cannot send the data anywhere new.

use adapters::deadline::Deadline;
use adapters::keystore::StoreRecord;
use adapters::salla::api::{AppSettingCheck, PUBLIC_KEY_SETTING, SallaApi, SettingsWrite};
use adapters::{AdapterError, Secret, Service};
use async_trait::async_trait;

use crate::Deps;
use crate::error::IntakeError;

/// The Merchant API's app-settings read. A trait so the decision is testable without HTTP.
#[async_trait]
pub trait AppSettings: Send + Sync {
    async fn check_app_setting(
        &self,
        access_token: &Secret,
        app_id: &str,
        field: &str,
        expected: &Secret,
    ) -> Result<AppSettingCheck, AdapterError>;

    /// Sets settings fields when they differ (see [`SallaApi::write_app_settings`]).
    async fn write_app_settings(
        &self,
        access_token: &Secret,
        app_id: &str,
        changes: &[(&str, serde_json::Value)],
    ) -> Result<SettingsWrite, AdapterError>;
}

#[async_trait]
impl AppSettings for SallaApi {
    async fn check_app_setting(
        &self,
        access_token: &Secret,
        app_id: &str,
        field: &str,
        expected: &Secret,
    ) -> Result<AppSettingCheck, AdapterError> {
        SallaApi::check_app_setting(self, access_token, app_id, field, expected).await
    }

    async fn write_app_settings(
        &self,
        access_token: &Secret,
        app_id: &str,
        changes: &[(&str, serde_json::Value)],
    ) -> Result<SettingsWrite, AdapterError> {
        SallaApi::write_app_settings(self, access_token, app_id, changes).await
    }
}

/// Puts the connected account's public key (its site id, which Klaviyo's onsite script and
/// client API take; never the private key) into the store's public settings field, for the
/// storefront snippet. Best effort and logged: the key is stored whatever Salla answers, and
/// the next settings event or page save tries again. Unchanged values are not written, so
/// the settings event a write triggers ends the round.
pub async fn publish_public_key(
    deps: &Deps,
    record: &StoreRecord,
    public_key: &str,
    deadline: Deadline,
) {
    let Some(app_id) = deps.salla_app_id.as_deref() else {
        return;
    };
    let store_id = record.store_id.as_str();
    let Some(token) = crate::enrich::access_token(deps, record, deadline).await else {
        return;
    };
    let changes = [(
        PUBLIC_KEY_SETTING,
        serde_json::Value::String(public_key.to_owned()),
    )];
    let written = deadline
        .run(
            Service::Salla,
            deps.app_settings
                .write_app_settings(&token, app_id, &changes),
        )
        .await;
    match written {
        Ok(w) => {
            tracing::info!(event = "public_key_setting", store_id, outcome = ?w, "salla settings")
        }
        Err(e) => {
            tracing::warn!(event = "public_key_setting", store_id, error = %e, "salla settings")
        }
    }
}

/// Whether a key may be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Salla holds this key, or none is needed (same account; no app id in development).
    Confirmed,
    /// Not stored; the reason names no shopper and no key.
    Unconfirmed(&'static str),
}

/// Whether storing a key for `account_id` needs Salla's word: a first key, or another account.
pub fn needs_confirmation(held: Option<&StoreRecord>, account_id: &str) -> bool {
    let held_account = held
        .and_then(|r| r.klaviyo.as_ref())
        .and_then(|k| k.account_id.as_deref());
    held_account != Some(account_id)
}

/// Asks Salla whether the store's settings hold `key`.
///
/// - No Salla tokens held yet → 503: `app.store.authorize` may simply not have arrived yet
///   (Salla does not order deliveries), and its redelivery will find them.
/// - Tokens that cannot be used (expired, refresh stopped) → unconfirmed: a redelivery cannot
///   do better. The merchant can still connect through the app page, which Salla's own
///   sign-in protects.
/// - Salla down, slow or refusing the token → 503, so Salla redelivers.
pub async fn confirm_key(
    deps: &Deps,
    record: Option<&StoreRecord>,
    key: &Secret,
    deadline: Deadline,
) -> Result<Confirmation, IntakeError> {
    let Some(app_id) = deps.salla_app_id.as_deref() else {
        return Ok(Confirmation::Confirmed);
    };
    let Some(record) = record.filter(|r| r.salla.is_some()) else {
        return Err(IntakeError::Unavailable(AdapterError::Unavailable {
            service: Service::Salla,
            detail: "no Salla token yet to confirm the key with".into(),
        }));
    };
    let Some(token) = crate::enrich::access_token(deps, record, deadline).await else {
        return Ok(Confirmation::Unconfirmed("salla_token_unusable"));
    };
    let check = deadline
        .run(
            Service::Salla,
            deps.app_settings
                .check_app_setting(&token, app_id, mapping::KLAVIYO_KEY_SETTING, key),
        )
        .await;
    match check {
        Ok(AppSettingCheck::Matches) => Ok(Confirmation::Confirmed),
        Ok(AppSettingCheck::Differs) => Ok(Confirmation::Unconfirmed("differs")),
        Ok(AppSettingCheck::AppNotActive) => Ok(Confirmation::Unconfirmed("app_not_active")),
        Err(AdapterError::Unauthorized { status, .. }) => {
            Err(IntakeError::Unavailable(AdapterError::Unavailable {
                service: Service::Salla,
                detail: format!("Salla refused the store's token (HTTP {status})"),
            }))
        }
        Err(e) if e.is_transient() => Err(IntakeError::Unavailable(e)),
        Err(e) => Err(IntakeError::Internal(e)),
    }
}
