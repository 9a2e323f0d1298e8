//! The three app events the product acts on: tokens, settings (the Klaviyo key), uninstall.

use crate::lenient::{self, get};
use crate::rules::Ctx;
use crate::{Action, MappingError};
use serde_json::Value;

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

/// Settings key the merchant's Klaviyo private key is entered under in Salla's app form.
pub const KLAVIYO_KEY_SETTING: &str = "klaviyo_private_key";

pub(crate) fn authorize(ctx: &Ctx) -> Result<Action, MappingError> {
    let d = &ctx.env.data;
    let token = |key: &'static str, field: &'static str| -> Result<String, MappingError> {
        match d.get(key) {
            None | Some(Value::Null) => Err(MappingError::MissingField(field)),
            Some(Value::String(s)) if s.trim().is_empty() => Err(MappingError::MissingField(field)),
            Some(Value::String(s)) => Ok(s.trim().to_owned()),
            Some(_) => Err(MappingError::WrongType {
                field,
                expected: "string",
            }),
        }
    };
    let access_token = token("access_token", "data.access_token")?;
    let refresh_token = token("refresh_token", "data.refresh_token")?;
    let expires = match d.get("expires").or_else(|| d.get("expires_in")) {
        None | Some(Value::Null) => return Err(MappingError::MissingField("data.expires")),
        Some(v) => lenient::int(Some(v)).ok_or(MappingError::WrongType {
            field: "data.expires",
            expected: "integer",
        })?,
    };
    let scope = lenient::text(d.get("scope")).map(str::to_owned);
    Ok(Action::Authorize(SallaAuthorization {
        access_token,
        refresh_token,
        expires,
        scope,
    }))
}

pub(crate) fn settings_updated(ctx: &Ctx) -> Result<Action, MappingError> {
    let settings = match ctx.env.data.get("settings") {
        None | Some(Value::Null) => return Err(MappingError::MissingField("data.settings")),
        Some(s @ Value::Object(_)) => s,
        Some(_) => {
            return Err(MappingError::WrongType {
                field: "data.settings",
                expected: "object",
            });
        }
    };
    let klaviyo_private_key = match get(settings, &[KLAVIYO_KEY_SETTING]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
        Some(_) => {
            return Err(MappingError::WrongType {
                field: "data.settings.klaviyo_private_key",
                expected: "string",
            });
        }
    };
    Ok(Action::SettingsUpdated {
        klaviyo_private_key,
    })
}

pub(crate) fn uninstalled(_: &Ctx) -> Result<Action, MappingError> {
    Ok(Action::Uninstalled)
}
