//! App lifecycle events: what we hold for a store is created, replaced and deleted here, and
//! only here on the webhook path. Events can arrive in any order and more than once, so each
//! handler is an idempotent merge into the stored record.

use adapters::clock::now_unix;
use adapters::keystore::{self, KlaviyoConnection, SallaTokens};
use adapters::klaviyo::is_private_key_shape;
use adapters::{AdapterError, Secret};
use mapping::{KeySetting, SallaAuthorization};

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
    key: KeySetting,
) -> Result<Outcome, IntakeError> {
    let key = match key {
        // A delivery without the key field says nothing about the key: keep what is held.
        KeySetting::Absent => {
            return Ok(Outcome::Lifecycle {
                change: "settings_without_key",
            });
        }
        KeySetting::Cleared => return clear_key(deps, store_id).await,
        KeySetting::Key(key) => key,
    };
    if !is_private_key_shape(&key) {
        // Cannot be a Klaviyo private key: not sent to Klaviyo, not stored. 200, since
        // redelivering it cannot help; the onboarding page runs the same check.
        tracing::warn!(
            event = "klaviyo_key_malformed",
            store_id,
            "klaviyo key from settings is not a private key; not stored"
        );
        return Ok(Outcome::Lifecycle {
            change: "klaviyo_key_malformed",
        });
    }
    let key = Secret::new(key);
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
        // Klaviyo answers 400/404 for a key it does not know (as the onboarding page reads it).
        Err(AdapterError::Rejected {
            status: status @ (400 | 404),
            ..
        }) => {
            tracing::warn!(
                store_id,
                klaviyo_status = status,
                "klaviyo key from settings rejected; not stored"
            );
            return Ok(Outcome::Lifecycle {
                change: "klaviyo_key_rejected",
            });
        }
        // Klaviyo busy or down (5xx, 429, timeout): the key is neither stored unchecked nor
        // dropped. The 503 makes Salla redeliver the event, and the merchant sees the failed
        // delivery in the webhook log if Klaviyo stays down.
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

/// The merchant emptied the key field: stop relaying and forget the key.
async fn clear_key(deps: &Deps, store_id: &str) -> Result<Outcome, IntakeError> {
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
    Ok(Outcome::Lifecycle {
        change: "settings_without_key",
    })
}

pub async fn uninstalled(deps: &Deps, store_id: &str) -> Result<Outcome, IntakeError> {
    deps.store.delete(store_id).await?;
    deps.products.forget_store(store_id);
    Ok(Outcome::Lifecycle {
        change: "store_deleted",
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use adapters::Service;
    use adapters::config::{Config, Profile};
    use adapters::keystore::memory::MemoryKeyStore;
    use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
    use async_trait::async_trait;
    use serde_json::Value;
    use tokio::time::Instant;

    use super::*;

    /// Answers every key check with `answer` and counts the calls.
    struct FakeKlaviyo {
        answer: fn() -> Result<AccountInfo, AdapterError>,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl KlaviyoApi for FakeKlaviyo {
        async fn get_account(&self, _: &Secret) -> Result<AccountInfo, AdapterError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            (self.answer)()
        }
        async fn call(
            &self,
            _: &Secret,
            _: &'static str,
            _: &str,
            _: Option<&Value>,
            _: Instant,
        ) -> Result<Delivery, AdapterError> {
            Err(AdapterError::Config("not used".into()))
        }
    }

    fn account() -> Result<AccountInfo, AdapterError> {
        Ok(AccountInfo {
            id: "Acct1".into(),
            name: Some("Shop".into()),
            preferred_currency: None,
        })
    }

    fn outage() -> Result<AccountInfo, AdapterError> {
        Err(AdapterError::Unavailable {
            service: Service::Klaviyo,
            detail: "retries exhausted".into(),
        })
    }

    fn deps(answer: fn() -> Result<AccountInfo, AdapterError>) -> (Deps, Arc<FakeKlaviyo>) {
        let (config, _) = Config::from_lookup(
            |k| (k == "SALLA_WEBHOOK_SECRET").then(|| "s".to_string()),
            Profile::Dev { port: 0 },
        )
        .unwrap();
        let mut deps = Deps::new(&config, Arc::new(MemoryKeyStore::new()));
        let klaviyo = Arc::new(FakeKlaviyo {
            answer,
            calls: AtomicUsize::new(0),
        });
        deps.klaviyo = klaviyo.clone();
        (deps, klaviyo)
    }

    async fn held_key(deps: &Deps) -> Option<String> {
        deps.store
            .get("7")
            .await
            .unwrap()
            .and_then(|r| r.klaviyo)
            .map(|k| k.private_key.expose().to_owned())
    }

    fn change(outcome: Outcome) -> &'static str {
        outcome.name()
    }

    #[tokio::test]
    async fn only_an_explicit_empty_key_disconnects() {
        let (deps, _) = deps(account);
        let stored = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()))
            .await
            .unwrap();
        assert_eq!(change(stored), "klaviyo_key_stored");

        let absent = settings_updated(&deps, "7", KeySetting::Absent)
            .await
            .unwrap();
        assert_eq!(change(absent), "settings_without_key");
        assert_eq!(held_key(&deps).await.as_deref(), Some("pk_abc"));

        let cleared = settings_updated(&deps, "7", KeySetting::Cleared)
            .await
            .unwrap();
        assert_eq!(change(cleared), "klaviyo_key_removed");
        assert_eq!(held_key(&deps).await, None);
    }

    #[tokio::test]
    async fn a_malformed_key_is_neither_checked_nor_stored() {
        let (deps, klaviyo) = deps(account);
        for bad in ["AbC123", "pk_a b", "pk_"] {
            let outcome = settings_updated(&deps, "7", KeySetting::Key(bad.into()))
                .await
                .unwrap();
            assert_eq!(change(outcome), "klaviyo_key_malformed", "{bad}");
        }
        assert_eq!(klaviyo.calls.load(Ordering::SeqCst), 0);
        assert_eq!(held_key(&deps).await, None);
    }

    #[tokio::test]
    async fn a_klaviyo_outage_asks_salla_to_redeliver() {
        let (deps, _) = deps(outage);
        let err = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()))
            .await
            .unwrap_err();
        assert_eq!(err.status(), 503);
        assert_eq!(held_key(&deps).await, None);
    }

    #[tokio::test]
    async fn klaviyo_not_knowing_the_key_is_a_rejection_not_a_defect() {
        fn unknown() -> Result<AccountInfo, AdapterError> {
            Err(AdapterError::Rejected {
                service: Service::Klaviyo,
                status: 400,
                code: "invalid".into(),
                detail: String::new(),
            })
        }
        let (deps, _) = deps(unknown);
        let outcome = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()))
            .await
            .unwrap();
        assert_eq!(change(outcome), "klaviyo_key_rejected");
    }
}
