//! One source of truth for the key: what the merchant saves or disconnects on this page is
//! written back into the app's settings at Salla, so Salla's settings form shows the same key
//! and a later `app.settings.updated` (Salla sends the whole form) cannot bring back a key
//! the merchant disconnected here. The public key goes with it, for the storefront snippet.
//!
//! Best effort and logged: the page's change is already stored, and the store's access token
//! is used only while it is valid for another minute (refreshing is the intake's and the
//! refresh job's work). Salla's update replaces every settings key, so the others are sent
//! back as Salla holds them ([`SallaApi::write_app_settings`]).

use adapters::keystore::StoreRecord;
use adapters::salla::api::{PUBLIC_KEY_SETTING, SallaApi};
use serde_json::Value;

pub struct SettingsSync {
    pub api: SallaApi,
    pub app_id: String,
}

impl SettingsSync {
    /// Writes `private_key` (empty to clear) and `public_key` into the store's settings.
    pub async fn mirror(&self, record: &StoreRecord, private_key: &str, public_key: &str) {
        let changes = [
            (
                crate::validate::KEY_FIELD,
                Value::String(private_key.to_owned()),
            ),
            (PUBLIC_KEY_SETTING, Value::String(public_key.to_owned())),
        ];
        self.write(record, &changes).await;
    }

    /// Writes `changes` into the store's settings at Salla, the others kept as Salla holds
    /// them; nothing when the store has no access token valid for another minute.
    pub async fn write(&self, record: &StoreRecord, changes: &[(&str, Value)]) {
        let store_id = record.store_id.as_str();
        let Some(salla) = record
            .salla
            .as_ref()
            .filter(|s| s.expires_at > adapters::clock::now_unix() + 60)
        else {
            tracing::info!(
                event = "settings_sync",
                store_id,
                outcome = "no_usable_salla_token"
            );
            return;
        };
        match self
            .api
            .write_app_settings(&salla.access_token, &self.app_id, changes)
            .await
        {
            Ok(done) => tracing::info!(event = "settings_sync", store_id, outcome = ?done),
            Err(e) => tracing::warn!(event = "settings_sync", store_id, error = %e),
        }
    }
}
