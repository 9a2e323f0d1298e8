//! App lifecycle events: what we hold for a store is created, replaced and deleted here, and
//! only here on the webhook path. Events can arrive in any order and more than once, so each
//! handler is an idempotent merge into the stored record, gated by [`decide`]: Salla neither
//! orders nor deduplicates deliveries and a signed body can be replayed, so an event older
//! than the newest of its kind applied (or than an uninstall) changes nothing.

use adapters::clock::now_unix;
use adapters::deadline::Deadline;
use adapters::keystore::{KlaviyoConnection, Lifecycle, SallaTokens, StoreRecord};
use adapters::klaviyo::is_private_key_shape;
use adapters::{AdapterError, Secret};
use mapping::{CodSettings, KeySetting, SallaAuthorization};

use crate::Deps;
use crate::confirm::{Confirmation, confirm_key, needs_confirmation};
use crate::error::IntakeError;
use crate::outcome::Outcome;

/// Oldest lifecycle body applied, relative to now: Salla's retries span about 15 minutes,
/// so anything far older is a replay.
pub const MAX_AGE_SECS: i64 = 6 * 3600;
/// Furthest ahead of our clock a lifecycle body may claim to be (clock skew, Riyadh time).
pub const MAX_AHEAD_SECS: i64 = 3600;

/// Which lifecycle event a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Authorize,
    Settings,
    Uninstall,
}

impl Kind {
    fn event(self) -> &'static str {
        match self {
            Kind::Authorize => "app.store.authorize",
            Kind::Settings => "app.settings.updated",
            Kind::Uninstall => "app.uninstalled",
        }
    }
}

/// Why a lifecycle event is not applied; its name is the outcome and the log's `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No parsable `created_at`: it cannot be ordered.
    TimeUnknown,
    /// Sent more than [`MAX_AGE_SECS`] ago: a replay.
    TooOld,
    /// Claims a time more than [`MAX_AHEAD_SECS`] ahead.
    FromFuture,
    /// Older than what the store's record has applied.
    Stale,
    /// Tokens expiring before the ones held, which a refresh has replaced since.
    StaleTokens,
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::TimeUnknown => "lifecycle_time_unknown",
            Refusal::TooOld => "lifecycle_too_old",
            Refusal::FromFuture => "lifecycle_from_future",
            Refusal::Stale => "stale_lifecycle",
            Refusal::StaleTokens => "stale_salla_tokens",
        }
    }
}

/// Whether a `kind` event sent at `created_at` may be applied to a store whose record holds
/// `held`; its time if so. Equal times: an authorize already applied is not applied again
/// (the refresh token it carried may have been spent since), a settings event is (the same
/// delivery again, harmless), and nothing at or before an uninstall re-creates data.
pub fn decide(
    kind: Kind,
    created_at: Option<i64>,
    now: i64,
    held: &Lifecycle,
) -> Result<i64, Refusal> {
    let t = created_at.ok_or(Refusal::TimeUnknown)?;
    if t < now.saturating_sub(MAX_AGE_SECS) {
        return Err(Refusal::TooOld);
    }
    if t > now.saturating_add(MAX_AHEAD_SECS) {
        return Err(Refusal::FromFuture);
    }
    let at_or_after = |held: Option<i64>| held.is_some_and(|h| h >= t);
    let after = |held: Option<i64>| held.is_some_and(|h| h > t);
    let stale = match kind {
        Kind::Authorize => at_or_after(held.authorized_at) || at_or_after(held.uninstalled_at),
        Kind::Settings => at_or_after(held.uninstalled_at) || after(held.settings_at),
        // A late uninstall must not wipe a reinstall (or settings saved after it).
        Kind::Uninstall => after(held.authorized_at.max(held.settings_at)),
    };
    if stale { Err(Refusal::Stale) } else { Ok(t) }
}

/// Tokens whose expiry is earlier than the held ones' are older: a refresh moved it later.
fn fresher_tokens(new: &SallaTokens, held: Option<&SallaTokens>) -> Result<(), Refusal> {
    match held {
        Some(held) if new.expires_at < held.expires_at => Err(Refusal::StaleTokens),
        _ => Ok(()),
    }
}

/// The 200 answer for an event not applied, logged under its reason (never the body).
fn refused(refusal: Refusal, kind: Kind, store_id: &str) -> Outcome {
    tracing::warn!(
        event = refusal.name(),
        store_id,
        salla_event = kind.event(),
        "lifecycle event not applied"
    );
    Outcome::Lifecycle {
        change: refusal.name(),
    }
}

/// Read-modify-write like [`adapters::keystore::update`], except that `change` may refuse (nothing is
/// written) or find nothing to change (`Ok(false)`: nothing is written either).
async fn apply<F>(
    deps: &Deps,
    store_id: &str,
    mut change: F,
) -> Result<Result<StoreRecord, Refusal>, IntakeError>
where
    F: FnMut(&mut StoreRecord) -> Result<bool, Refusal> + Send,
{
    const ATTEMPTS: usize = 5;
    // A refused event is answered 200 and never comes back, so a refusal drawn from a cached
    // copy is decided again on the record as stored.
    let mut current = false;
    for _ in 0..ATTEMPTS {
        let read = if current {
            deps.store.get_current(store_id).await?
        } else {
            deps.store.get(store_id).await?
        };
        let mut record = read.unwrap_or_else(|| StoreRecord::new(store_id));
        match change(&mut record) {
            Err(refusal) if current => return Ok(Err(refusal)),
            Err(_) => {
                current = true;
                continue;
            }
            Ok(false) => return Ok(Ok(record)),
            Ok(true) => {}
        }
        match deps.store.put(&record).await {
            Ok(version) => {
                record.version = version;
                return Ok(Ok(record));
            }
            Err(AdapterError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(AdapterError::Conflict {
        store_id: store_id.to_string(),
    }
    .into())
}

pub async fn authorize(
    deps: &Deps,
    store_id: &str,
    auth: SallaAuthorization,
    created_at: Option<i64>,
) -> Result<Outcome, IntakeError> {
    if auth.access_token.is_empty() || auth.refresh_token.is_empty() {
        return Err(IntakeError::BadBody(mapping::MappingError::MissingField(
            "data.access_token",
        )));
    }
    let now = now_unix();
    // A lifetime counts from when the event was sent, not from now, so a replayed body
    // yields the same expiry as the original and compares as older than a refresh.
    let sent = created_at.unwrap_or(now);
    let tokens = SallaTokens {
        access_token: Secret::new(auth.access_token),
        refresh_token: Secret::new(auth.refresh_token),
        expires_at: SallaTokens::expiry_from(Some(auth.expires), sent),
        scope: auth.scope,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    };
    let applied = apply(deps, store_id, |record| {
        let t = decide(Kind::Authorize, created_at, now, &record.lifecycle)?;
        fresher_tokens(&tokens, record.salla.as_ref())?;
        record.salla = Some(tokens.clone());
        record.lifecycle.authorized_at = Some(t);
        // A reinstall: the store is ours to keep again.
        record.ttl = None;
        Ok(true)
    })
    .await?;
    if let Err(refusal) = applied {
        return Ok(refused(refusal, Kind::Authorize, store_id));
    }
    Ok(Outcome::Lifecycle {
        change: "salla_tokens_stored",
    })
}

/// The ordering gate of `app.settings.updated`, run before [`settings_updated`]: `Some` is
/// the answer when the event must not be applied. A delivery naming the key or the COD
/// settings records its time, so an older one arriving later cannot bring back an older key
/// or older settings; the COD settings are stored here, since they need no check with
/// anyone. One without either changes nothing and records nothing. On an uninstalled store
/// a newer settings event is applied but the marker's expiry stays: only an install keeps
/// the store.
pub async fn settings_gate(
    deps: &Deps,
    store_id: &str,
    key: &KeySetting,
    cod: Option<&CodSettings>,
    loyalty: Option<&mapping::points::PointsRules>,
    created_at: Option<i64>,
) -> Result<Option<Outcome>, IntakeError> {
    let now = now_unix();
    let records_time = !matches!(key, KeySetting::Absent) || cod.is_some() || loyalty.is_some();
    let applied = apply(deps, store_id, |record| {
        let t = decide(Kind::Settings, created_at, now, &record.lifecycle)?;
        let newer = record.lifecycle.settings_at.is_none_or(|s| s < t);
        if records_time && newer {
            record.lifecycle.settings_at = Some(t);
            if let Some(cod) = cod {
                record.cod = Some(cod.clone());
            }
            if let Some(loyalty) = loyalty {
                record.loyalty = Some(loyalty.clone());
            }
            return Ok(true);
        }
        Ok(false)
    })
    .await?;
    Ok(applied
        .err()
        .map(|refusal| refused(refusal, Kind::Settings, store_id)))
}

pub async fn settings_updated(
    deps: &Deps,
    store_id: &str,
    key: KeySetting,
    created_at: Option<i64>,
    deadline: Deadline,
) -> Result<Outcome, IntakeError> {
    let key = match key {
        // A delivery without the key field says nothing about the key: keep what is held.
        KeySetting::Absent => {
            return Ok(Outcome::Lifecycle {
                change: "settings_without_key",
            });
        }
        KeySetting::Cleared => return clear_key(deps, store_id, created_at).await,
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
    if needs_confirmation(held.as_ref(), &account.id)
        && let Confirmation::Unconfirmed(reason) =
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
    let connection = KlaviyoConnection {
        private_key: key,
        account_name: account.name,
        account_id: Some(account.id),
        validated_at: now_unix(),
        needs_reconnect: false,
    };
    let mut previous_account = None;
    // Ordered again at the write: an uninstall or a newer settings event may have landed
    // while Klaviyo (and Salla) were asked.
    let now = now_unix();
    let applied = apply(deps, store_id, |record| {
        decide(Kind::Settings, created_at, now, &record.lifecycle)?;
        previous_account = record.klaviyo.as_ref().and_then(|k| k.account_id.clone());
        record.klaviyo = Some(connection.clone());
        Ok(true)
    })
    .await?;
    let written = match applied {
        Ok(written) => written,
        Err(refusal) => return Ok(refused(refusal, Kind::Settings, store_id)),
    };
    if let Some(account) = connection.account_id.as_deref() {
        crate::confirm::publish_public_key(deps, &written, account, deadline).await;
    }
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
async fn clear_key(
    deps: &Deps,
    store_id: &str,
    created_at: Option<i64>,
) -> Result<Outcome, IntakeError> {
    let existing = deps.store.get(store_id).await?;
    if existing.as_ref().is_some_and(|r| r.klaviyo.is_some()) {
        let now = now_unix();
        let applied = apply(deps, store_id, |record| {
            decide(Kind::Settings, created_at, now, &record.lifecycle)?;
            let had_key = record.klaviyo.take().is_some();
            Ok(had_key)
        })
        .await?;
        if let Err(refusal) = applied {
            return Ok(refused(refusal, Kind::Settings, store_id));
        }
        return Ok(Outcome::Lifecycle {
            change: "klaviyo_key_removed",
        });
    }
    Ok(Outcome::Lifecycle {
        change: "settings_without_key",
    })
}

/// Replaces what we hold with a deletion marker (see [`StoreRecord::mark_uninstalled`]) that
/// expires: it keeps late or replayed events from re-creating the store's data meanwhile.
pub async fn uninstalled(
    deps: &Deps,
    store_id: &str,
    created_at: Option<i64>,
) -> Result<Outcome, IntakeError> {
    let now = now_unix();
    let applied = apply(deps, store_id, |record| {
        let t = decide(Kind::Uninstall, created_at, now, &record.lifecycle)?;
        record.mark_uninstalled(t, now);
        Ok(true)
    })
    .await?;
    if let Err(refusal) = applied {
        return Ok(refused(refusal, Kind::Uninstall, store_id));
    }
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
    use adapters::keystore::{self, memory::MemoryKeyStore};
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
        /// The settings fields written, in order.
        writes: std::sync::Mutex<Vec<(String, serde_json::Value)>>,
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

        async fn write_app_settings(
            &self,
            token: &Secret,
            app_id: &str,
            changes: &[(&str, serde_json::Value)],
        ) -> Result<adapters::salla::api::SettingsWrite, AdapterError> {
            assert_eq!((token.expose(), app_id), ("at_live", "513499943"));
            let mut writes = self.writes.lock().unwrap();
            writes.extend(changes.iter().map(|(f, v)| ((*f).to_owned(), v.clone())));
            Ok(adapters::salla::api::SettingsWrite::Written)
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
            writes: Default::default(),
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

    /// Klaviyo answering the key check while the store is being uninstalled.
    struct UninstallDuringCheck {
        store: Arc<MemoryKeyStore>,
    }

    #[async_trait]
    impl KlaviyoApi for UninstallDuringCheck {
        async fn get_account(&self, _: &Secret) -> Result<AccountInfo, AdapterError> {
            let now = now_unix();
            keystore::update(self.store.as_ref(), "7", |r| r.mark_uninstalled(now, now))
                .await
                .unwrap();
            account()
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

    #[tokio::test]
    async fn an_uninstall_landing_during_the_key_check_wins() {
        let (mut deps, _) = deps(account);
        let store = Arc::new(MemoryKeyStore::new());
        deps.store = store.clone();
        deps.klaviyo = Arc::new(UninstallDuringCheck { store });
        let sent = now_unix() - 1;
        let key = KeySetting::Key("pk_abc".into());
        let outcome = settings_updated(&deps, "7", key, Some(sent), soon())
            .await
            .unwrap();
        assert_eq!(change(outcome), "stale_lifecycle");
        assert_eq!(held_key(&deps).await, None);
    }

    #[tokio::test]
    async fn a_first_key_is_stored_once_salla_holds_it() {
        let (deps, salla) = confirming(matches, None, true).await;
        let outcome = settings_updated(
            &deps,
            "7",
            KeySetting::Key("pk_abc".into()),
            Some(now_unix()),
            soon(),
        )
        .await
        .unwrap();
        assert_eq!(change(outcome), "klaviyo_key_stored");
        assert_eq!(held_key(&deps).await.as_deref(), Some("pk_abc"));
        assert_eq!(salla.calls.load(Ordering::SeqCst), 1);
        // The account's public key (never the private one) goes to the storefront's field.
        assert_eq!(
            *salla.writes.lock().unwrap(),
            [("klaviyo_public_key".to_owned(), serde_json::json!("Acct1"))]
        );
    }

    #[tokio::test]
    async fn a_key_salla_does_not_hold_is_not_stored() {
        // A first key, and a key moving the store to another account: both need Salla's word.
        for held in [None, Some("Acct0")] {
            for answer in [differs as fn() -> _, || Ok(AppSettingCheck::AppNotActive)] {
                let (deps, _) = confirming(answer, held, true).await;
                let outcome = settings_updated(
                    &deps,
                    "7",
                    KeySetting::Key("pk_forged".into()),
                    Some(now_unix()),
                    soon(),
                )
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
        let outcome = settings_updated(
            &deps,
            "7",
            KeySetting::Key("pk_rotated".into()),
            Some(now_unix()),
            soon(),
        )
        .await
        .unwrap();
        assert_eq!(change(outcome), "klaviyo_key_stored");
        assert_eq!(held_key(&deps).await.as_deref(), Some("pk_rotated"));
        assert_eq!(salla.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn without_salla_tokens_or_with_salla_down_the_delivery_is_retried() {
        let (deps, salla) = confirming(matches, None, false).await;
        let err = settings_updated(
            &deps,
            "7",
            KeySetting::Key("pk_abc".into()),
            Some(now_unix()),
            soon(),
        )
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
            let err = settings_updated(
                &deps,
                "7",
                KeySetting::Key("pk_abc".into()),
                Some(now_unix()),
                soon(),
            )
            .await
            .unwrap_err();
            assert_eq!(err.status(), 503);
            assert_eq!(held_key(&deps).await.as_deref(), Some("pk_held"));
        }
    }

    #[tokio::test]
    async fn only_an_explicit_empty_key_disconnects() {
        let (deps, _) = deps(account);
        let stored = settings_updated(
            &deps,
            "7",
            KeySetting::Key("pk_abc".into()),
            Some(now_unix()),
            soon(),
        )
        .await
        .unwrap();
        assert_eq!(change(stored), "klaviyo_key_stored");

        let absent = settings_updated(&deps, "7", KeySetting::Absent, Some(now_unix()), soon())
            .await
            .unwrap();
        assert_eq!(change(absent), "settings_without_key");
        assert_eq!(held_key(&deps).await.as_deref(), Some("pk_abc"));

        let cleared = settings_updated(&deps, "7", KeySetting::Cleared, Some(now_unix()), soon())
            .await
            .unwrap();
        assert_eq!(change(cleared), "klaviyo_key_removed");
        assert_eq!(held_key(&deps).await, None);
    }

    #[tokio::test]
    async fn a_malformed_key_is_neither_checked_nor_stored() {
        let (deps, klaviyo) = deps(account);
        for bad in ["AbC123", "pk_a b", "pk_"] {
            let outcome = settings_updated(
                &deps,
                "7",
                KeySetting::Key(bad.into()),
                Some(now_unix()),
                soon(),
            )
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
        let err = settings_updated(
            &deps,
            "7",
            KeySetting::Key("pk_abc".into()),
            Some(now_unix()),
            soon(),
        )
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
        let outcome = settings_updated(
            &deps,
            "7",
            KeySetting::Key("pk_abc".into()),
            Some(now_unix()),
            soon(),
        )
        .await
        .unwrap();
        assert_eq!(change(outcome), "klaviyo_key_rejected");
    }

    const NOW: i64 = 1_800_000_000;

    fn held(auth: Option<i64>, settings: Option<i64>, uninstalled: Option<i64>) -> Lifecycle {
        Lifecycle {
            authorized_at: auth,
            settings_at: settings,
            uninstalled_at: uninstalled,
        }
    }

    #[test]
    fn decision_table() {
        use Kind::*;
        let none = held(None, None, None);
        let t = NOW - 100;
        type Case = (Kind, Option<i64>, Lifecycle, Result<i64, Refusal>);
        let cases: &[Case] = &[
            (Authorize, None, none, Err(Refusal::TimeUnknown)),
            (Uninstall, None, none, Err(Refusal::TimeUnknown)),
            (
                Settings,
                Some(NOW - MAX_AGE_SECS - 1),
                none,
                Err(Refusal::TooOld),
            ),
            (
                Settings,
                Some(NOW - MAX_AGE_SECS),
                none,
                Ok(NOW - MAX_AGE_SECS),
            ),
            (
                Authorize,
                Some(NOW + MAX_AHEAD_SECS + 1),
                none,
                Err(Refusal::FromFuture),
            ),
            (
                Authorize,
                Some(NOW + MAX_AHEAD_SECS),
                none,
                Ok(NOW + MAX_AHEAD_SECS),
            ),
            (Authorize, Some(t), none, Ok(t)),
            // The applied authorize again: its refresh token may be spent.
            (
                Authorize,
                Some(t),
                held(Some(t), None, None),
                Err(Refusal::Stale),
            ),
            (Authorize, Some(t), held(Some(t - 1), None, None), Ok(t)),
            // Nothing at or before an uninstall re-creates data; after it, a reinstall.
            (
                Authorize,
                Some(t),
                held(None, None, Some(t)),
                Err(Refusal::Stale),
            ),
            (
                Authorize,
                Some(t),
                held(Some(t - 9), None, Some(t - 1)),
                Ok(t),
            ),
            (
                Settings,
                Some(t),
                held(None, None, Some(t)),
                Err(Refusal::Stale),
            ),
            (Settings, Some(t), held(None, None, Some(t - 1)), Ok(t)),
            // Settings: older is stale, the same delivery again is fine.
            (
                Settings,
                Some(t),
                held(None, Some(t + 1), None),
                Err(Refusal::Stale),
            ),
            (Settings, Some(t), held(None, Some(t), None), Ok(t)),
            (Settings, Some(t), held(Some(t + 5), None, None), Ok(t)),
            // A late uninstall must not wipe a reinstall or newer settings.
            (
                Uninstall,
                Some(t),
                held(Some(t + 1), None, None),
                Err(Refusal::Stale),
            ),
            (
                Uninstall,
                Some(t),
                held(None, Some(t + 1), None),
                Err(Refusal::Stale),
            ),
            (Uninstall, Some(t), held(Some(t), Some(t - 1), None), Ok(t)),
            (Uninstall, Some(t), held(None, None, Some(t + 1)), Ok(t)),
        ];
        for (kind, at, lifecycle, expected) in cases {
            assert_eq!(
                decide(*kind, *at, NOW, lifecycle),
                *expected,
                "{kind:?} at {at:?} over {lifecycle:?}"
            );
        }
    }

    fn auth(refresh: &str, expires: i64) -> SallaAuthorization {
        SallaAuthorization {
            access_token: format!("at-{refresh}"),
            refresh_token: refresh.into(),
            expires,
            scope: None,
        }
    }

    async fn record(deps: &Deps) -> Option<StoreRecord> {
        deps.store.get("7").await.unwrap()
    }

    #[tokio::test]
    async fn a_replayed_authorize_never_restores_an_older_refresh_token() {
        let (deps, _) = deps(account);
        let now = now_unix();
        let first = authorize(&deps, "7", auth("rt-1", 3600), Some(now - 60))
            .await
            .unwrap();
        assert_eq!(change(first), "salla_tokens_stored");
        // Redelivered as it was: the applied event again.
        let again = authorize(&deps, "7", auth("rt-1", 3600), Some(now - 60))
            .await
            .unwrap();
        assert_eq!(change(again), "stale_lifecycle");

        // A refresh since then moved the expiry later; a newer-stamped body with tokens
        // expiring before it is older than what is held.
        keystore::update(deps.store.as_ref(), "7", |r| {
            let s = r.salla.as_mut().unwrap();
            s.refresh_token = Secret::new("rt-2");
            s.expires_at = now + 7200;
        })
        .await
        .unwrap();
        let older_tokens = authorize(&deps, "7", auth("rt-0", now + 3000), Some(now - 30))
            .await
            .unwrap();
        assert_eq!(change(older_tokens), "stale_salla_tokens");
        let held = record(&deps).await.unwrap().salla.unwrap();
        assert_eq!(held.refresh_token.expose(), "rt-2");
    }

    /// A warm cache may hold a record a few seconds behind the table. A refusal decided on
    /// that copy would drop an authentic event for good (it is answered 200), so a refusal is
    /// confirmed on the record as stored: here the cached tokens outlive the reinstall's, but
    /// the table holds only the uninstall's marker.
    #[tokio::test]
    async fn a_reinstall_is_not_refused_on_a_cached_copy_of_the_uninstalled_record() {
        let (mut deps, _) = deps(account);
        use adapters::keystore::KeyStore;
        let table = Arc::new(MemoryKeyStore::new());
        deps.store = Arc::new(adapters::keystore::cached::CachedKeyStore::new(
            table.clone(),
            std::time::Duration::from_secs(60),
        ));
        let now = now_unix();
        let mut held = StoreRecord::new("7");
        held.salla = Some(SallaTokens {
            access_token: Secret::new("at-old"),
            refresh_token: Secret::new("rt-old"),
            expires_at: now + 30 * 86_400,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        });
        held.klaviyo = Some(KlaviyoConnection {
            private_key: Secret::new("pk_held"),
            account_name: None,
            account_id: Some("Acct1".into()),
            validated_at: 1,
            needs_reconnect: false,
        });
        held.lifecycle.authorized_at = Some(now - 3_600);
        table.put(&held).await.unwrap();
        assert!(record(&deps).await.unwrap().salla.is_some(), "cache warmed");
        // Another process applies the uninstall.
        keystore::update(table.as_ref(), "7", |r| r.mark_uninstalled(now - 30, now))
            .await
            .unwrap();

        let back = authorize(&deps, "7", auth("rt-new", now + 14 * 86_400), Some(now - 5))
            .await
            .unwrap();
        assert_eq!(change(back), "salla_tokens_stored");
        let stored = table.get("7").await.unwrap().unwrap();
        assert_eq!(stored.salla.unwrap().refresh_token.expose(), "rt-new");
        assert_eq!(stored.ttl, None);
    }

    #[tokio::test]
    async fn after_an_uninstall_older_events_recreate_nothing() {
        let (deps, klaviyo) = deps(account);
        let now = now_unix();
        authorize(&deps, "7", auth("rt-1", 3600), Some(now - 60))
            .await
            .unwrap();
        let gone = uninstalled(&deps, "7", Some(now - 10)).await.unwrap();
        assert_eq!(change(gone), "store_deleted");
        let marker = record(&deps).await.unwrap();
        assert!(marker.salla.is_none() && marker.klaviyo.is_none());
        assert_eq!(marker.lifecycle.uninstalled_at, Some(now - 10));
        assert!(marker.ttl.unwrap() >= now + StoreRecord::MARKER_TTL_SECS);

        let late = authorize(&deps, "7", auth("rt-late", 3600), Some(now - 20))
            .await
            .unwrap();
        assert_eq!(change(late), "stale_lifecycle");
        let key = KeySetting::Key("pk_abc".into());
        let gate = settings_gate(&deps, "7", &key, None, None, Some(now - 10))
            .await
            .unwrap();
        assert_eq!(gate.map(change), Some("stale_lifecycle"));
        assert_eq!(klaviyo.calls.load(Ordering::SeqCst), 0);
        assert_eq!(record(&deps).await.unwrap(), marker);

        // A reinstall (newer authorize) clears the marker's expiry.
        let back = authorize(&deps, "7", auth("rt-new", 3600), Some(now))
            .await
            .unwrap();
        assert_eq!(change(back), "salla_tokens_stored");
        let reinstalled = record(&deps).await.unwrap();
        assert_eq!(reinstalled.ttl, None);
        assert_eq!(reinstalled.version, marker.version + 1);
    }

    #[tokio::test]
    async fn a_late_uninstall_keeps_a_reinstall() {
        let (deps, _) = deps(account);
        let now = now_unix();
        authorize(&deps, "7", auth("rt-1", 3600), Some(now - 5))
            .await
            .unwrap();
        let late = uninstalled(&deps, "7", Some(now - 60)).await.unwrap();
        assert_eq!(change(late), "stale_lifecycle");
        let kept = record(&deps).await.unwrap();
        assert!(kept.salla.is_some() && kept.ttl.is_none());
    }

    #[tokio::test]
    async fn settings_gate_refuses_older_and_keeps_a_marker_expiry() {
        let (deps, _) = deps(account);
        let now = now_unix();
        let key = KeySetting::Key("pk_abc".into());
        assert_eq!(
            settings_gate(&deps, "7", &key, None, None, Some(now))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            record(&deps).await.unwrap().lifecycle.settings_at,
            Some(now)
        );
        // The same delivery again passes; an older one does not.
        assert_eq!(
            settings_gate(&deps, "7", &key, None, None, Some(now))
                .await
                .unwrap(),
            None
        );
        let older = settings_gate(&deps, "7", &key, None, None, Some(now - 1))
            .await
            .unwrap();
        assert_eq!(older.map(change), Some("stale_lifecycle"));
        // No key field: checked, nothing recorded.
        let absent = settings_gate(&deps, "8", &KeySetting::Absent, None, None, Some(now))
            .await
            .unwrap();
        assert_eq!(absent, None);
        assert!(deps.store.get("8").await.unwrap().is_none());
        let too_old = settings_gate(&deps, "7", &key, None, None, Some(now - MAX_AGE_SECS - 60))
            .await
            .unwrap();
        assert_eq!(too_old.map(change), Some("lifecycle_too_old"));

        uninstalled(&deps, "7", Some(now + 1)).await.unwrap();
        assert_eq!(
            settings_gate(&deps, "7", &key, None, None, Some(now + 2))
                .await
                .unwrap(),
            None
        );
        let marker = record(&deps).await.unwrap();
        assert!(marker.ttl.is_some(), "only an install keeps the store");
        assert_eq!(marker.lifecycle.settings_at, Some(now + 2));
    }

    #[tokio::test]
    async fn cod_settings_are_kept_in_order_and_without_a_key() {
        let (deps, _) = deps(account);
        let now = now_unix();
        let chosen = |hours| CodSettings {
            link_hours: hours,
            ..CodSettings::default()
        };
        // Settings without the key field still carry the merchant's COD choice.
        let gate = settings_gate(
            &deps,
            "7",
            &KeySetting::Absent,
            Some(&chosen(24)),
            None,
            Some(now),
        )
        .await;
        assert_eq!(gate.unwrap(), None);
        assert_eq!(record(&deps).await.unwrap().cod, Some(chosen(24)));
        // An older delivery arriving later does not bring back older settings.
        let older = settings_gate(
            &deps,
            "7",
            &KeySetting::Absent,
            Some(&chosen(5)),
            None,
            Some(now - 3),
        )
        .await;
        assert_eq!(older.unwrap().map(change), Some("stale_lifecycle"));
        let newer = settings_gate(
            &deps,
            "7",
            &KeySetting::Absent,
            Some(&chosen(48)),
            None,
            Some(now + 1),
        )
        .await;
        assert_eq!(newer.unwrap(), None);
        assert_eq!(record(&deps).await.unwrap().cod, Some(chosen(48)));
        // A delivery without the COD fields keeps them.
        let key = KeySetting::Key("pk_abc".into());
        let gate = settings_gate(&deps, "7", &key, None, None, Some(now + 2));
        assert_eq!(gate.await.unwrap(), None);
        assert_eq!(record(&deps).await.unwrap().cod, Some(chosen(48)));
    }

    #[tokio::test]
    async fn points_rules_are_kept_in_order_and_without_a_key() {
        let (deps, _) = deps(account);
        let now = now_unix();
        let rules = |percent| mapping::points::PointsRules {
            enabled: true,
            percent,
            ..Default::default()
        };
        let (three, five) = (rules(3), rules(5));
        let gate = settings_gate(
            &deps,
            "7",
            &KeySetting::Absent,
            None,
            Some(&three),
            Some(now),
        );
        assert_eq!(gate.await.unwrap(), None);
        assert_eq!(record(&deps).await.unwrap().loyalty, Some(rules(3)));
        let older = settings_gate(
            &deps,
            "7",
            &KeySetting::Absent,
            None,
            Some(&five),
            Some(now - 3),
        );
        assert_eq!(older.await.unwrap().map(change), Some("stale_lifecycle"));
        // A delivery without the points fields keeps them; the COD settings beside them too.
        let key = KeySetting::Key("pk_abc".into());
        let gate = settings_gate(&deps, "7", &key, None, None, Some(now + 2));
        assert_eq!(gate.await.unwrap(), None);
        assert_eq!(record(&deps).await.unwrap().loyalty, Some(rules(3)));
    }
}
