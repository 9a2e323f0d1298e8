//! Configuration from the environment, read once per cold start.
//!
//! Two profiles: on Lambda every setting a function needs is required and a missing one stops
//! the binary with one line naming it; the dev server starts with nothing set, filling
//! development defaults and announcing each one.

use std::path::PathBuf;
use std::time::Duration;

use crate::salla::signature::{PreviousSecret, Strategy, WebhookSecrets};
use crate::{AdapterError, Secret};

/// Where connection secrets live.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyStoreKind {
    /// A local encrypted file store, for development.
    Embedded { data_dir: PathBuf },
    /// DynamoDB with KMS-encrypted secrets, for AWS.
    DynamoDb { table: String, kms_key_id: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub webhook_secret: Secret,
    /// The secret being rotated out, verifying until the end of its overlap window.
    pub webhook_previous_secret: Option<PreviousSecret>,
    pub webhook_strategy: Strategy,
    pub salla_client_id: String,
    pub salla_client_secret: Secret,
    pub salla_accounts_url: String,
    pub salla_api_url: String,
    /// The app's id in the Salla Partner Portal: a Klaviyo key from a settings webhook is
    /// confirmed against the store's app settings under it. Unset only in development.
    pub salla_app_id: Option<String>,
    /// Salla's exchange authority, which verifies the token of a page shown in its dashboard.
    pub salla_exchange_url: String,
    /// The only origin that may frame the merchant pages (Salla's dashboard unless a test
    /// dashboard stands in for it).
    pub salla_dashboard_origin: String,
    pub klaviyo_api_url: String,
    pub session_secret: Secret,
    pub public_base_url: String,
    /// The key onboarding page the OAuth callback redirects to.
    pub onboarding_url: String,
    /// The OAuth redirect URI registered in the Partner Portal (the callback's own URL).
    pub oauth_redirect_uri: String,
    pub key_store: KeyStoreKind,
    pub key_cache_ttl: Duration,
    /// Signs cash-on-delivery confirm/cancel links.
    pub cod_link_secret: Secret,
    /// The link secret being rotated out, verifying until the end of its overlap window.
    pub cod_link_previous_secret: Option<PreviousSecret>,
    /// The COD confirmation page the links lead to; empty where links are not made.
    pub cod_confirm_url: String,
}

/// Longest `KEY_CACHE_TTL_SECS` accepted. The cache confirms an entry's version every few
/// seconds, so the TTL bounds what a failed confirmation can serve: a decrypted key stays in
/// a warm process at most this long without a full read.
pub const MAX_KEY_CACHE_TTL_SECS: u64 = 300;

/// Which process is reading the configuration.
#[derive(Debug, Clone, Copy)]
pub enum Profile {
    /// A Lambda function: these variables must be set.
    Lambda { required: &'static [&'static str] },
    /// The local dev server on this port: everything has a development default.
    Dev { port: u16 },
}

/// Development defaults. They are public (in this file), so the dev server warns about each.
const DEV_WEBHOOK_SECRET: &str = "dev-webhook-secret";
const DEV_SESSION_SECRET: &str = "dev-session-secret-change-me-0123456789";
const DEV_COD_LINK_SECRET: &str = "dev-cod-link-secret-change-me-0123456789";

impl Config {
    /// The secrets a webhook delivery may be authenticated with.
    pub fn webhook_secrets(&self) -> WebhookSecrets {
        WebhookSecrets {
            current: self.webhook_secret.clone(),
            previous: self.webhook_previous_secret.clone(),
        }
    }

    /// The secrets a cash-on-delivery link may be signed with.
    pub fn cod_link_secrets(&self) -> crate::cod::link::LinkSecrets {
        crate::cod::link::LinkSecrets {
            current: self.cod_link_secret.clone(),
            previous: self.cod_link_previous_secret.clone(),
        }
    }

    /// Reads the process environment. Returns the config and the names of the settings that
    /// fell back to a development default.
    pub fn from_env(profile: Profile) -> Result<(Config, Vec<&'static str>), AdapterError> {
        Self::from_lookup(|k| std::env::var(k).ok(), profile)
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        profile: Profile,
    ) -> Result<(Config, Vec<&'static str>), AdapterError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut defaulted = Vec::new();
        let mut setting = |name: &'static str, dev_default: &str| -> Result<String, AdapterError> {
            if let Some(v) = get(name) {
                return Ok(v);
            }
            match profile {
                Profile::Lambda { required } if required.contains(&name) => Err(
                    AdapterError::Config(format!("missing required setting {name}")),
                ),
                Profile::Lambda { .. } => Ok(String::new()),
                Profile::Dev { .. } => {
                    defaulted.push(name);
                    Ok(dev_default.to_string())
                }
            }
        };
        let dev_base = match profile {
            Profile::Dev { port } => format!("http://127.0.0.1:{port}"),
            Profile::Lambda { .. } => String::new(),
        };

        let webhook_secret = Secret::new(setting("SALLA_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)?);
        let salla_client_id = setting("SALLA_CLIENT_ID", "dev-client-id")?;
        let salla_client_secret = Secret::new(setting("SALLA_CLIENT_SECRET", "dev-client-secret")?);
        let session_secret = Secret::new(setting("SESSION_SECRET", DEV_SESSION_SECRET)?);
        let cod_link_secret = Secret::new(setting("COD_LINK_SECRET", DEV_COD_LINK_SECRET)?);
        let cod_link_previous_secret = previous_secret(
            get("COD_LINK_SECRET_PREVIOUS"),
            get("COD_LINK_ROTATION_ENDS_AT"),
            "COD_LINK_SECRET_PREVIOUS",
            "COD_LINK_ROTATION_ENDS_AT",
        )?;
        let public_base_url = setting("PUBLIC_BASE_URL", &dev_base)?;
        let onboarding_url = setting("ONBOARDING_URL", &format!("{public_base_url}/onboarding"))?;
        let cod_confirm_url = setting("COD_CONFIRM_URL", &format!("{public_base_url}/cod/"))?;
        let oauth_redirect_uri = setting(
            "OAUTH_REDIRECT_URI",
            &format!("{public_base_url}/oauth/callback"),
        )?;

        let webhook_strategy = match get("SALLA_WEBHOOK_STRATEGY") {
            None => Strategy::Signature,
            Some(v) => Strategy::parse(&v).ok_or_else(|| {
                AdapterError::Config(
                    "SALLA_WEBHOOK_STRATEGY must be `signature` or `token`".to_string(),
                )
            })?,
        };
        // The token strategy sends the app-wide secret in every request's `Authorization`
        // header, where anything that logs or relays headers sees it, and whoever holds it can
        // sign any store's lifecycle events. On AWS it needs the operator's explicit consent.
        if webhook_strategy == Strategy::Token
            && matches!(profile, Profile::Lambda { .. })
            && get("SALLA_ALLOW_TOKEN_STRATEGY").as_deref() != Some("true")
        {
            return Err(AdapterError::Config(
                "SALLA_WEBHOOK_STRATEGY=token sends the webhook secret in every request header; \
                 use `signature`, or set SALLA_ALLOW_TOKEN_STRATEGY=true to accept the risk"
                    .into(),
            ));
        }

        let salla_app_id = match get("SALLA_APP_ID") {
            Some(id)
                if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some(id)
            }
            Some(_) => {
                return Err(AdapterError::Config(
                    "SALLA_APP_ID must be the app's numeric id from the Salla Partner Portal"
                        .into(),
                ));
            }
            None => match profile {
                Profile::Lambda { required } if required.contains(&"SALLA_APP_ID") => {
                    return Err(AdapterError::Config(
                        "missing required setting SALLA_APP_ID".into(),
                    ));
                }
                _ => None,
            },
        };

        let salla_dashboard_origin = match get("SALLA_DASHBOARD_ORIGIN") {
            None => crate::web::SALLA_DASHBOARD_ORIGIN.to_string(),
            Some(origin) if crate::web::is_dashboard_origin(&origin) => {
                origin.trim_end_matches('/').to_string()
            }
            Some(_) => {
                return Err(AdapterError::Config(
                    "SALLA_DASHBOARD_ORIGIN must be an https origin (scheme and host only), \
                     or http on loopback"
                        .into(),
                ));
            }
        };

        let default_store = match profile {
            Profile::Dev { .. } => "embedded",
            Profile::Lambda { .. } => "dynamodb",
        };
        let key_store = match get("KEY_STORE").as_deref().unwrap_or(default_store) {
            "embedded" => KeyStoreKind::Embedded {
                data_dir: PathBuf::from(get("DATA_DIR").unwrap_or_else(|| ".data".to_string())),
            },
            "dynamodb" => KeyStoreKind::DynamoDb {
                table: get("TABLE_NAME").ok_or_else(|| {
                    AdapterError::Config("missing required setting TABLE_NAME".into())
                })?,
                kms_key_id: get("KMS_KEY_ID").ok_or_else(|| {
                    AdapterError::Config("missing required setting KMS_KEY_ID".into())
                })?,
            },
            _ => {
                return Err(AdapterError::Config(
                    "KEY_STORE must be `embedded` or `dynamodb`".into(),
                ));
            }
        };
        let webhook_previous_secret = match get("SALLA_WEBHOOK_SECRET_PREVIOUS") {
            None => None,
            Some(secret) => {
                // An overlap without an end would keep a retired secret valid forever.
                let ends = get("SALLA_WEBHOOK_ROTATION_ENDS_AT").ok_or_else(|| {
                    AdapterError::Config(
                        "SALLA_WEBHOOK_SECRET_PREVIOUS needs SALLA_WEBHOOK_ROTATION_ENDS_AT \
                         (the end of the overlap window, e.g. 2026-12-03T12:00:00Z)"
                            .into(),
                    )
                })?;
                let until = time::OffsetDateTime::parse(
                    &ends,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|_| {
                    AdapterError::Config(
                        "SALLA_WEBHOOK_ROTATION_ENDS_AT must be an RFC 3339 time, e.g. \
                         2026-12-03T12:00:00Z"
                            .into(),
                    )
                })?
                .unix_timestamp();
                Some(PreviousSecret {
                    secret: Secret::new(secret),
                    until,
                })
            }
        };
        let key_cache_ttl = match get("KEY_CACHE_TTL_SECS") {
            None => Duration::from_secs(60),
            Some(v) => {
                let secs: u64 = v.parse().map_err(|_| {
                    AdapterError::Config(
                        "KEY_CACHE_TTL_SECS must be a whole number of seconds".into(),
                    )
                })?;
                if secs > MAX_KEY_CACHE_TTL_SECS {
                    return Err(AdapterError::Config(format!(
                        "KEY_CACHE_TTL_SECS must be at most {MAX_KEY_CACHE_TTL_SECS}: a \
                         decrypted key is held no longer than that"
                    )));
                }
                Duration::from_secs(secs)
            }
        };

        let config = Config {
            webhook_secret,
            webhook_previous_secret,
            webhook_strategy,
            salla_client_id,
            salla_client_secret,
            salla_accounts_url: get("SALLA_ACCOUNTS_URL")
                .unwrap_or_else(|| "https://accounts.salla.sa".into()),
            salla_api_url: get("SALLA_API_URL")
                .unwrap_or_else(|| "https://api.salla.dev/admin/v2".into()),
            salla_app_id,
            salla_dashboard_origin,
            salla_exchange_url: get("SALLA_EXCHANGE_URL")
                .unwrap_or_else(|| "https://api.salla.dev/exchange-authority/v1".into()),
            klaviyo_api_url: get("KLAVIYO_API_URL")
                .unwrap_or_else(|| "https://a.klaviyo.com".into()),
            session_secret,
            public_base_url,
            onboarding_url,
            oauth_redirect_uri,
            key_store,
            key_cache_ttl,
            cod_link_secret,
            cod_link_previous_secret,
            cod_confirm_url,
        };
        Ok((config, defaulted))
    }
}

/// A secret being rotated out and the end of its overlap window, which it needs: an overlap
/// without an end would keep a retired secret valid forever.
fn previous_secret(
    secret: Option<String>,
    ends_at: Option<String>,
    secret_name: &str,
    ends_name: &str,
) -> Result<Option<PreviousSecret>, AdapterError> {
    let Some(secret) = secret else {
        return Ok(None);
    };
    let ends = ends_at.ok_or_else(|| {
        AdapterError::Config(format!(
            "{secret_name} needs {ends_name} (the end of the overlap window, e.g. \
             2026-12-03T12:00:00Z)"
        ))
    })?;
    let until = time::OffsetDateTime::parse(&ends, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            AdapterError::Config(format!(
                "{ends_name} must be an RFC 3339 time, e.g. 2026-12-03T12:00:00Z"
            ))
        })?
        .unix_timestamp();
    Ok(Some(PreviousSecret {
        secret: Secret::new(secret),
        until,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn a_previous_webhook_secret_needs_the_end_of_its_overlap() {
        let dev = Profile::Dev { port: 3000 };
        let (c, _) = Config::from_lookup(lookup(&[]), dev).unwrap();
        assert!(c.webhook_secrets().previous.is_none());

        let err = Config::from_lookup(lookup(&[("SALLA_WEBHOOK_SECRET_PREVIOUS", "old")]), dev)
            .unwrap_err();
        assert!(
            err.to_string().contains("SALLA_WEBHOOK_ROTATION_ENDS_AT"),
            "{err}"
        );
        let err = Config::from_lookup(
            lookup(&[
                ("SALLA_WEBHOOK_SECRET_PREVIOUS", "old"),
                ("SALLA_WEBHOOK_ROTATION_ENDS_AT", "tomorrow"),
            ]),
            dev,
        )
        .unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");

        let (c, _) = Config::from_lookup(
            lookup(&[
                ("SALLA_WEBHOOK_SECRET_PREVIOUS", "old"),
                ("SALLA_WEBHOOK_ROTATION_ENDS_AT", "2026-12-03T12:00:00Z"),
            ]),
            dev,
        )
        .unwrap();
        let previous = c.webhook_secrets().previous.unwrap();
        assert_eq!(previous.secret.expose(), "old");
        assert_eq!(previous.until, 1_796_299_200);
        // An empty end with no previous secret (the template's default) is no rotation.
        let (c, _) = Config::from_lookup(
            lookup(&[
                ("SALLA_WEBHOOK_SECRET_PREVIOUS", ""),
                ("SALLA_WEBHOOK_ROTATION_ENDS_AT", ""),
            ]),
            dev,
        )
        .unwrap();
        assert!(c.webhook_previous_secret.is_none());
    }

    #[test]
    fn the_cod_link_secret_has_a_dev_default_and_rotates_with_an_end() {
        let dev = Profile::Dev { port: 3000 };
        let (c, defaulted) = Config::from_lookup(lookup(&[]), dev).unwrap();
        assert!(defaulted.contains(&"COD_LINK_SECRET"));
        assert!(c.cod_link_secret.expose().len() >= crate::cod::link::MIN_SECRET_LEN);
        assert!(c.cod_link_secrets().previous.is_none());
        assert_eq!(c.cod_confirm_url, "http://127.0.0.1:3000/cod/");

        let err =
            Config::from_lookup(lookup(&[("COD_LINK_SECRET_PREVIOUS", "old")]), dev).unwrap_err();
        assert!(
            err.to_string().contains("COD_LINK_ROTATION_ENDS_AT"),
            "{err}"
        );
        let err = Config::from_lookup(
            lookup(&[
                ("COD_LINK_SECRET_PREVIOUS", "old"),
                ("COD_LINK_ROTATION_ENDS_AT", "soon"),
            ]),
            dev,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("COD_LINK_ROTATION_ENDS_AT must be"),
            "{err}"
        );
        let (c, _) = Config::from_lookup(
            lookup(&[
                ("COD_LINK_SECRET", "current-cod-secret"),
                ("COD_LINK_SECRET_PREVIOUS", "old"),
                ("COD_LINK_ROTATION_ENDS_AT", "2026-12-03T12:00:00Z"),
            ]),
            dev,
        )
        .unwrap();
        let secrets = c.cod_link_secrets();
        assert_eq!(secrets.current.expose(), "current-cod-secret");
        let previous = secrets.previous.unwrap();
        assert_eq!(previous.secret.expose(), "old");
        assert_eq!(previous.until, 1_796_299_200);

        let err = Config::from_lookup(
            lookup(&[
                ("SALLA_WEBHOOK_SECRET", "s"),
                ("TABLE_NAME", "t"),
                ("KMS_KEY_ID", "k"),
            ]),
            Profile::Lambda {
                required: &["COD_LINK_SECRET"],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("COD_LINK_SECRET"), "{err}");
    }

    #[test]
    fn the_salla_app_id_is_numeric_and_required_where_named() {
        let dev = Profile::Dev { port: 3000 };
        let (c, _) = Config::from_lookup(lookup(&[]), dev).unwrap();
        assert_eq!(c.salla_app_id, None);
        let (c, _) = Config::from_lookup(lookup(&[("SALLA_APP_ID", " 513499943 ")]), dev).unwrap();
        assert_eq!(c.salla_app_id.as_deref(), Some("513499943"));
        for bad in ["app-1", "51349/../9943", "123456789012345678901"] {
            let err = Config::from_lookup(lookup(&[("SALLA_APP_ID", bad)]), dev).unwrap_err();
            assert!(err.to_string().contains("numeric"), "{bad}: {err}");
        }
        let lambda = |pairs: &[(&str, &str)]| {
            let mut all = vec![
                ("SALLA_WEBHOOK_SECRET", "s"),
                ("TABLE_NAME", "t"),
                ("KMS_KEY_ID", "k"),
            ];
            all.extend_from_slice(pairs);
            Config::from_lookup(
                lookup(&all),
                Profile::Lambda {
                    required: &["SALLA_WEBHOOK_SECRET", "SALLA_APP_ID"],
                },
            )
        };
        let err = lambda(&[]).unwrap_err();
        assert!(err.to_string().contains("SALLA_APP_ID"), "{err}");
        assert!(lambda(&[("SALLA_APP_ID", "1")]).is_ok());
    }

    #[test]
    fn the_dashboard_origin_defaults_to_salla_s_and_refuses_wildcards() {
        let dev = Profile::Dev { port: 3000 };
        let origin = |v: &[(&str, &str)]| {
            Config::from_lookup(lookup(v), dev).map(|(c, _)| c.salla_dashboard_origin)
        };
        assert_eq!(origin(&[]).unwrap(), "https://s.salla.sa");
        assert_eq!(
            origin(&[("SALLA_DASHBOARD_ORIGIN", "http://localhost:4000/")]).unwrap(),
            "http://localhost:4000"
        );
        for bad in [
            "https://*.salla.sa",
            "http://dash.example",
            "https://s.salla.sa/x",
        ] {
            assert!(origin(&[("SALLA_DASHBOARD_ORIGIN", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_cache_ttl_is_capped() {
        let ttl = |v: &str| {
            Config::from_lookup(
                lookup(&[("KEY_CACHE_TTL_SECS", v)]),
                Profile::Dev { port: 3000 },
            )
            .map(|(c, _)| c.key_cache_ttl)
        };
        assert_eq!(ttl("300").unwrap(), Duration::from_secs(300));
        let err = ttl("301").unwrap_err().to_string();
        assert!(
            err.contains("KEY_CACHE_TTL_SECS must be at most 300"),
            "{err}"
        );
        assert!(ttl("86400").is_err());
    }

    #[test]
    fn dev_profile_starts_with_nothing_and_names_defaults() {
        let (c, defaulted) = Config::from_lookup(lookup(&[]), Profile::Dev { port: 3000 }).unwrap();
        assert_eq!(c.public_base_url, "http://127.0.0.1:3000");
        assert_eq!(c.onboarding_url, "http://127.0.0.1:3000/onboarding");
        assert_eq!(c.webhook_strategy, Strategy::Signature);
        assert!(matches!(c.key_store, KeyStoreKind::Embedded { .. }));
        assert!(defaulted.contains(&"SALLA_WEBHOOK_SECRET"));
        assert!(defaulted.contains(&"SESSION_SECRET"));
    }

    #[test]
    fn lambda_profile_names_the_missing_setting() {
        let err = Config::from_lookup(
            lookup(&[("TABLE_NAME", "t"), ("KMS_KEY_ID", "k")]),
            Profile::Lambda {
                required: &["SALLA_WEBHOOK_SECRET"],
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: missing required setting SALLA_WEBHOOK_SECRET"
        );
        let err = Config::from_lookup(
            lookup(&[("SALLA_WEBHOOK_SECRET", "s")]),
            Profile::Lambda {
                required: &["SALLA_WEBHOOK_SECRET"],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("TABLE_NAME"));
        let (c, defaulted) = Config::from_lookup(
            lookup(&[
                ("SALLA_WEBHOOK_SECRET", "s"),
                ("TABLE_NAME", "t"),
                ("KMS_KEY_ID", "k"),
                ("SALLA_WEBHOOK_STRATEGY", "Token"),
                ("SALLA_ALLOW_TOKEN_STRATEGY", "true"),
                ("KEY_CACHE_TTL_SECS", "5"),
            ]),
            Profile::Lambda {
                required: &["SALLA_WEBHOOK_SECRET"],
            },
        )
        .unwrap();
        assert!(defaulted.is_empty());
        assert_eq!(c.webhook_strategy, Strategy::Token);
        assert_eq!(c.key_cache_ttl, Duration::from_secs(5));
        assert_eq!(
            c.key_store,
            KeyStoreKind::DynamoDb {
                table: "t".into(),
                kms_key_id: "k".into()
            }
        );
    }

    #[test]
    fn token_strategy_on_lambda_needs_the_operator_s_explicit_consent() {
        let lambda = Profile::Lambda {
            required: &["SALLA_WEBHOOK_SECRET"],
        };
        let base = [
            ("SALLA_WEBHOOK_SECRET", "s"),
            ("TABLE_NAME", "t"),
            ("KMS_KEY_ID", "k"),
            ("SALLA_WEBHOOK_STRATEGY", "token"),
        ];
        let err = Config::from_lookup(lookup(&base), lambda).unwrap_err();
        assert!(
            err.to_string().contains("SALLA_ALLOW_TOKEN_STRATEGY"),
            "{err}"
        );
        let mut refused = base.to_vec();
        refused.push(("SALLA_ALLOW_TOKEN_STRATEGY", "false"));
        assert!(Config::from_lookup(lookup(&refused), lambda).is_err());
        let mut allowed = base.to_vec();
        allowed.push(("SALLA_ALLOW_TOKEN_STRATEGY", "true"));
        let (c, _) = Config::from_lookup(lookup(&allowed), lambda).unwrap();
        assert_eq!(c.webhook_strategy, Strategy::Token);
        // The dev server may use it freely: nothing travels beyond this machine.
        let (c, _) = Config::from_lookup(
            lookup(&[("SALLA_WEBHOOK_STRATEGY", "token")]),
            Profile::Dev { port: 1 },
        )
        .unwrap();
        assert_eq!(c.webhook_strategy, Strategy::Token);
    }

    #[test]
    fn bad_values_are_named() {
        let e = Config::from_lookup(
            lookup(&[("SALLA_WEBHOOK_STRATEGY", "none")]),
            Profile::Dev { port: 1 },
        )
        .unwrap_err();
        assert!(e.to_string().contains("SALLA_WEBHOOK_STRATEGY"));
        let e = Config::from_lookup(lookup(&[("KEY_STORE", "s3")]), Profile::Dev { port: 1 })
            .unwrap_err();
        assert!(e.to_string().contains("KEY_STORE"));
    }
}
