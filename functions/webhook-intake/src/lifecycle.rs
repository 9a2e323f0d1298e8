//! App lifecycle events: what we hold for a store is created, replaced and deleted here, and
//! only here on the webhook path. Events can arrive in any order and more than once, so each
//! handler is an idempotent merge into the stored record.

use adapters::clock::now_unix;
use adapters::deadline::Deadline;
use adapters::keystore::{self, KlaviyoConnection, SallaTokens};
use adapters::klaviyo::is_private_key_shape;
use adapters::{AdapterError, Secret};
use mapping::{KeySetting, SallaAuthorization};

use crate::Deps;
use crate::confirm::{Confirmation, confirm_key, needs_confirmation};
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
    deadline: Deadline,
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
    // A first key, or a key of another Klaviyo account, is stored only once Salla confirms the
    // merchant saved it (see crate::confirm): the webhook secret alone must not be enough to
    // send a store's shopper data somewhere new.
    let held = deps.store.get(store_id).await?;
    if needs_confirmation(held.as_ref(), &account.id) {
        if let Confirmation::Unconfirmed(reason) =
            confirm_key(deps, held.as_ref(), &key, deadline).await?
        {
            tracing::warn!(
                event = "klaviyo_key_unconfirmed",
                store_id,
                reason,
                account = %account.id,
                "klaviyo key from settings not confirmed by Salla; not stored"
            );
            return Ok(Outcome::Lifecycle {
                change: "klaviyo_key_unconfirmed",
            });
        }
    }
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
    use adapters::salla::api::AppSettingCheck;

    use crate::confirm::AppSettings;
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

    fn soon() -> Deadline {
        Deadline::after(std::time::Duration::from_secs(5))
    }

    /// Salla's app settings as the fake holds them, counting the reads.
    struct FakeSettings {
        answer: fn() -> Result<AppSettingCheck, AdapterError>,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl AppSettings for FakeSettings {
        async fn check_app_setting(
            &self,
            token: &Secret,
            app_id: &str,
            field: &str,
            _: &Secret,
        ) -> Result<AppSettingCheck, AdapterError> {
            assert_eq!(token.expose(), "at_live");
            assert_eq!(app_id, "513499943");
            assert_eq!(field, "klaviyo_private_key");
            self.calls.fetch_add(1, Ordering::SeqCst);
            (self.answer)()
        }
    }

    /// Deps that confirm keys with a fake Salla, for store 7 holding live Salla tokens and,
    /// when `held_account` is set, a key of that Klaviyo account.
    async fn confirming(
        answer: fn() -> Result<AppSettingCheck, AdapterError>,
        held_account: Option<&str>,
        with_tokens: bool,
    ) -> (Deps, Arc<FakeSettings>) {
        let (mut deps, _) = deps(account);
        let settings = Arc::new(FakeSettings {
            answer,
            calls: AtomicUsize::new(0),
        });
        deps.app_settings = settings.clone();
        deps.salla_app_id = Some("513499943".into());
        let mut record = adapters::keystore::StoreRecord::new("7");
        if with_tokens {
            record.salla = Some(SallaTokens {
                access_token: Secret::new("at_live"),
                refresh_token: Secret::new("rt_live"),
                expires_at: now_unix() + 86_400,
                scope: None,
                refresh_lease_until: None,
                refresh_blocked_at: None,
            });
        }
        record.klaviyo = held_account.map(|account| KlaviyoConnection {
            private_key: Secret::new("pk_held"),
            account_name: None,
            account_id: Some(account.into()),
            validated_at: 1,
            needs_reconnect: false,
        });
        deps.store.put(&record).await.unwrap();
        (deps, settings)
    }

    fn matches() -> Result<AppSettingCheck, AdapterError> {
        Ok(AppSettingCheck::Matches)
    }
    fn differs() -> Result<AppSettingCheck, AdapterError> {
        Ok(AppSettingCheck::Differs)
    }

    #[tokio::test]
    async fn a_first_key_is_stored_once_salla_holds_it() {
        let (deps, salla) = confirming(matches, None, true).await;
        let outcome = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()), soon())
            .await
            .unwrap();
        assert_eq!(change(outcome), "klaviyo_key_stored");
        assert_eq!(held_key(&deps).await.as_deref(), Some("pk_abc"));
        assert_eq!(salla.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_key_salla_does_not_hold_is_not_stored() {
        // A first key, and a key moving the store to another account: both need Salla's word.
        for held in [None, Some("Acct0")] {
            for answer in [differs as fn() -> _, || Ok(AppSettingCheck::AppNotActive)] {
                let (deps, _) = confirming(answer, held, true).await;
                let outcome =
                    settings_updated(&deps, "7", KeySetting::Key("pk_forged".into()), soon())
                        .await
                        .unwrap();
                assert_eq!(change(outcome), "klaviyo_key_unconfirmed", "{held:?}");
                let kept = held.map(|_| "pk_held");
                assert_eq!(held_key(&deps).await.as_deref(), kept);
            }
        }
    }

    #[tokio::test]
    async fn a_new_key_for_the_same_account_needs_no_confirmation() {
        let (deps, salla) = confirming(differs, Some("Acct1"), true).await;
        let outcome = settings_updated(&deps, "7", KeySetting::Key("pk_rotated".into()), soon())
            .await
            .unwrap();
        assert_eq!(change(outcome), "klaviyo_key_stored");
        assert_eq!(held_key(&deps).await.as_deref(), Some("pk_rotated"));
        assert_eq!(salla.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn without_salla_tokens_or_with_salla_down_the_delivery_is_retried() {
        let (deps, salla) = confirming(matches, None, false).await;
        let err = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()), soon())
            .await
            .unwrap_err();
        assert_eq!(err.status(), 503);
        assert_eq!(salla.calls.load(Ordering::SeqCst), 0);

        for answer in [
            (|| {
                Err(AdapterError::Unavailable {
                    service: Service::Salla,
                    detail: "HTTP 503".into(),
                })
            }) as fn() -> _,
            || {
                Err(AdapterError::Unauthorized {
                    service: Service::Salla,
                    status: 401,
                    code: None,
                })
            },
        ] {
            let (deps, _) = confirming(answer, Some("Acct0"), true).await;
            let err = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()), soon())
                .await
                .unwrap_err();
            assert_eq!(err.status(), 503);
            assert_eq!(held_key(&deps).await.as_deref(), Some("pk_held"));
        }
    }

    #[tokio::test]
    async fn only_an_explicit_empty_key_disconnects() {
        let (deps, _) = deps(account);
        let stored = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()), soon())
            .await
            .unwrap();
        assert_eq!(change(stored), "klaviyo_key_stored");

        let absent = settings_updated(&deps, "7", KeySetting::Absent, soon())
            .await
            .unwrap();
        assert_eq!(change(absent), "settings_without_key");
        assert_eq!(held_key(&deps).await.as_deref(), Some("pk_abc"));

        let cleared = settings_updated(&deps, "7", KeySetting::Cleared, soon())
            .await
            .unwrap();
        assert_eq!(change(cleared), "klaviyo_key_removed");
        assert_eq!(held_key(&deps).await, None);
    }

    #[tokio::test]
    async fn a_malformed_key_is_neither_checked_nor_stored() {
        let (deps, klaviyo) = deps(account);
        for bad in ["AbC123", "pk_a b", "pk_"] {
            let outcome = settings_updated(&deps, "7", KeySetting::Key(bad.into()), soon())
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
        let err = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()), soon())
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
        let outcome = settings_updated(&deps, "7", KeySetting::Key("pk_abc".into()), soon())
            .await
            .unwrap();
        assert_eq!(change(outcome), "klaviyo_key_rejected");
    }
}
