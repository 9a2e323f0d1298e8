//! The vocabulary between the two sides: what a rule sees ([`Ctx`]: the parsed Salla delivery
//! and the fetched product details) and what it decides ([`Action`]: Klaviyo requests to send,
//! tokens or a key to store, or a reason to ignore the delivery).
//!
//! It sits apart from the rules table so that the table, the event families and the intake
//! all depend on it and it depends on none of them.

use crate::klaviyo::KlaviyoRequest;
use crate::salla::cod_settings::CodSettings;
use crate::salla::date;
use crate::salla::enrichment::Enrichment;
use crate::salla::envelope::Envelope;

/// What the intake should do with one delivery.
#[derive(Clone, PartialEq)]
pub enum Action {
    /// `app.store.authorize`: store the Salla tokens.
    Authorize(SallaAuthorization),
    /// `app.settings.updated`: what `data.settings.klaviyo_private_key` says about the key,
    /// and the COD confirmation settings when the form sent them.
    SettingsUpdated {
        klaviyo_private_key: KeySetting,
        cod: Option<CodSettings>,
    },
    /// `app.uninstalled`: delete everything stored for the store.
    Uninstalled,
    /// Store events: send these requests to Klaviyo, in order.
    Send(Vec<KlaviyoRequest>),
    /// Known-but-unused and unknown events.
    Ignore { reason: &'static str },
}

/// Never prints the Klaviyo key, tokens or shopper data: requests show as their labels.
impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Authorize(auth) => f.debug_tuple("Authorize").field(auth).finish(),
            Action::SettingsUpdated {
                klaviyo_private_key,
                cod,
            } => f
                .debug_struct("SettingsUpdated")
                .field("klaviyo_private_key", klaviyo_private_key)
                .field("cod", cod)
                .finish(),
            Action::Uninstalled => f.write_str("Uninstalled"),
            Action::Send(requests) => {
                let labels: Vec<String> = requests.iter().map(KlaviyoRequest::label).collect();
                f.debug_tuple("Send").field(&labels).finish()
            }
            Action::Ignore { reason } => f.debug_struct("Ignore").field("reason", reason).finish(),
        }
    }
}

/// The Klaviyo key field of a settings event. Only an explicit empty value disconnects a store:
/// a delivery that lacks the field (or sends `null`) says nothing about the key, and treating
/// it as "removed" would silently stop a store's relay.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySetting {
    /// Field missing or `null`: keep whatever is held.
    Absent,
    /// Empty or whitespace-only: the merchant removed the key.
    Cleared,
    /// The trimmed key as entered (its shape is not checked here).
    Key(String),
}

/// Never prints the key.
impl std::fmt::Debug for KeySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySetting::Absent => f.write_str("Absent"),
            KeySetting::Cleared => f.write_str("Cleared"),
            KeySetting::Key(_) => f.write_str("Key(<redacted>)"),
        }
    }
}

/// Salla OAuth tokens from `app.store.authorize` (Easy Mode).
#[derive(Clone, PartialEq, Eq)]
pub struct SallaAuthorization {
    pub access_token: String,
    pub refresh_token: String,
    /// As given. Salla documents an absolute unix time here; the intake treats values below
    /// 1e9 as a lifetime in seconds (the token endpoint's meaning).
    pub expires: i64,
    pub scope: Option<String>,
}

/// Tokens never reach a log through `{:?}`.
impl std::fmt::Debug for SallaAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SallaAuthorization")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires", &self.expires)
            .field("scope", &self.scope)
            .finish()
    }
}

/// What a rule sees: the delivery and whatever product details the intake fetched.
pub(crate) struct Ctx<'a> {
    pub env: &'a Envelope,
    pub enrichment: &'a Enrichment,
}

impl Ctx<'_> {
    pub fn store(&self) -> &str {
        &self.env.store_id
    }

    /// The delivery's own timestamp (`created_at`), as RFC 3339.
    pub fn event_time(&self) -> Option<String> {
        self.env.created_at.as_deref().and_then(date::timestamp_str)
    }
}
