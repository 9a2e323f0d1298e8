//! The three app events the product acts on: tokens, settings (the Klaviyo key and the COD
//! confirmation settings), uninstall.

use crate::MappingError;
use crate::plan::{Action, Ctx, KeySetting, SallaAuthorization};
use crate::salla::cod_settings::CodSettings;
use crate::salla::json::JsonValueTrait;
use crate::salla::lenient::{self, get};

/// Settings key the merchant's Klaviyo private key is entered under in Salla's app form.
pub const KLAVIYO_KEY_SETTING: &str = "klaviyo_private_key";

pub(crate) fn authorize(ctx: &Ctx) -> Result<Action, MappingError> {
    let d = ctx.env.data();
    let token = |key: &'static str, field: &'static str| -> Result<String, MappingError> {
        let value = d.get(key).filter(|v| !v.is_null());
        match value.map(|v| v.as_str()) {
            None => Err(MappingError::MissingField(field)),
            Some(Some(s)) if s.trim().is_empty() => Err(MappingError::MissingField(field)),
            Some(Some(s)) => Ok(s.trim().to_owned()),
            Some(None) => Err(MappingError::WrongType {
                field,
                expected: "string",
            }),
        }
    };
    let access_token = token("access_token", "data.access_token")?;
    let refresh_token = token("refresh_token", "data.refresh_token")?;
    let expires = match d
        .get("expires")
        .or_else(|| d.get("expires_in"))
        .filter(|v| !v.is_null())
    {
        None => return Err(MappingError::MissingField("data.expires")),
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
    let settings = match ctx.env.data().get("settings").filter(|v| !v.is_null()) {
        None => return Err(MappingError::MissingField("data.settings")),
        Some(s) if s.is_object() => s,
        Some(_) => {
            return Err(MappingError::WrongType {
                field: "data.settings",
                expected: "object",
            });
        }
    };
    let key = get(settings, &[KLAVIYO_KEY_SETTING]).filter(|v| !v.is_null());
    let klaviyo_private_key = match key.map(|v| v.as_str()) {
        None => KeySetting::Absent,
        Some(Some(s)) if s.trim().is_empty() => KeySetting::Cleared,
        Some(Some(s)) => KeySetting::Key(s.trim().to_owned()),
        Some(None) => {
            return Err(MappingError::WrongType {
                field: "data.settings.klaviyo_private_key",
                expected: "string",
            });
        }
    };
    Ok(Action::SettingsUpdated {
        klaviyo_private_key,
        cod: CodSettings::from_settings(settings),
    })
}

pub(crate) fn uninstalled(_: &Ctx) -> Result<Action, MappingError> {
    Ok(Action::Uninstalled)
}
