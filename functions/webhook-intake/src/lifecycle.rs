//! App lifecycle events: what we hold for a store is created, replaced and deleted here, and
//! only here on the webhook path. Events can arrive in any order and more than once, so each
//! handler is an idempotent merge into the stored record.

use adapters::clock::now_unix;
use adapters::keystore::{self, KlaviyoConnection, SallaTokens};
use adapters::{AdapterError, Secret};
use mapping::SallaAuthorization;

use crate::Deps;
use crate::error::IntakeError;
use crate::outcome::Outcome;

pub async fn authorize(
    deps: &Deps,
    store_id: &str,
    auth: SallaAuthorization,
) -> Result<Outcome, IntakeError> {
    if auth.access_token.is_empty() || auth.refresh_token.is_empty() {
        return Err(IntakeError::BadBody(mapping::MappingError::MissingField(
            "data.access_token",
        )));
    }
    let tokens = SallaTokens {
        access_token: Secret::new(auth.access_token),
        refresh_token: Secret::new(auth.refresh_token),
        expires_at: SallaTokens::expiry_from(Some(auth.expires), now_unix()),
        scope: auth.scope,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    };
    keystore::update(deps.store.as_ref(), store_id, |record| {
        record.salla = Some(tokens.clone());
    })
    .await?;
    Ok(Outcome::Lifecycle {
        change: "salla_tokens_stored",
    })
}

pub async fn settings_updated(
    deps: &Deps,
    store_id: &str,
    key: Option<String>,
) -> Result<Outcome, IntakeError> {
    let Some(key) = key.map(Secret::new) else {
        // The merchant emptied the key field: stop relaying and forget the key.
        let existing = deps.store.get(store_id).await?;
        if existing.as_ref().is_some_and(|r| r.klaviyo.is_some()) {
            keystore::update(deps.store.as_ref(), store_id, |record| {
                record.klaviyo = None
            })
            .await?;
            return Ok(Outcome::Lifecycle {
                change: "klaviyo_key_removed",
            });
        }
        return Ok(Outcome::Lifecycle {
            change: "settings_without_key",
        });
    };
    let account = match deps.klaviyo.get_account(&key).await {
        Ok(account) => account,
        Err(AdapterError::Unauthorized { status, code, .. }) => {
            // Not stored. Answering 200: redelivering the same invalid key cannot help; the
            // Validation URL and the onboarding page tell the merchant what is wrong.
            tracing::warn!(
                store_id,
                klaviyo_status = status,
                klaviyo_code = code.as_deref().unwrap_or("-"),
                "klaviyo key from settings rejected; not stored"
            );
            return Ok(Outcome::Lifecycle {
                change: "klaviyo_key_rejected",
            });
        }
        Err(e) => return Err(e.into()),
    };
    let connection = KlaviyoConnection {
        private_key: key,
        account_name: account.name,
        account_id: Some(account.id),
        validated_at: now_unix(),
        needs_reconnect: false,
    };
    let mut previous_account = None;
    keystore::update(deps.store.as_ref(), store_id, |record| {
        previous_account = record.klaviyo.as_ref().and_then(|k| k.account_id.clone());
        record.klaviyo = Some(connection.clone());
    })
    .await?;
    // Moving a store's shopper data to another Klaviyo account is the change an attacker
    // with the webhook secret would make: every one is logged under its own name so the
    // operator can count and alarm on it (account ids name no shopper).
    if let Some(previous) = previous_account.filter(|p| Some(p) != connection.account_id.as_ref()) {
        tracing::warn!(
            event = "klaviyo_account_changed",
            store_id,
            previous_account = %previous,
            account = connection.account_id.as_deref().unwrap_or("-"),
            "store switched to another Klaviyo account"
        );
        return Ok(Outcome::Lifecycle {
            change: "klaviyo_account_changed",
        });
    }
    Ok(Outcome::Lifecycle {
        change: "klaviyo_key_stored",
    })
}

pub async fn uninstalled(deps: &Deps, store_id: &str) -> Result<Outcome, IntakeError> {
    deps.store.delete(store_id).await?;
    deps.products.forget_store(store_id);
    Ok(Outcome::Lifecycle {
        change: "store_deleted",
    })
}
