//! `POST` of the page's forms: save a key (checked with Klaviyo first), disconnect, run the
//! history import again, or send a test event.

use std::time::Instant;

use adapters::keystore::{self, IfAbsent, KlaviyoConnection, NotWritten};
use adapters::web;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::error::OnboardingError;
use crate::i18n::{Lang, Notice, Theme};
use crate::outcome::{self, Action, Outcome};
use crate::session::{self, Carrier, Session};
use crate::{Deps, key_check, test_event, view};

/// A form post is a key and four short fields.
const MAX_FORM_BODY: usize = 8 * 1024;

pub async fn post(deps: &Deps, req: &Request) -> Response<Body> {
    let started = Instant::now();
    let accept = web::header(req.headers(), header::ACCEPT_LANGUAGE);
    let Some(bytes) = web::body_bytes(req, MAX_FORM_BODY) else {
        let e = OnboardingError::TooLarge {
            limit: MAX_FORM_BODY,
        };
        return view::signed_out(Lang::negotiate(None, accept), Theme::Light, &e);
    };
    let form = web::parse_pairs(bytes);
    let field = |name| web::param(&form, name);
    let lang = Lang::negotiate(field("lang"), accept);
    let theme = Theme::parse(field("theme"));
    let now = adapters::clock::now_unix();

    // 1. A valid session, 2. for the store this form was rendered for, 3. with the form's
    // CSRF token. Nothing is read or changed before all three pass.
    let session = match session::current_or_form(deps, req, field("session"), now) {
        Ok(session) if field("store_id") == Some(session.store_id.as_str()) => session,
        Ok(session) => {
            return refuse(
                (lang, theme),
                Some(&session.store_id),
                OnboardingError::OtherStore,
                started,
            );
        }
        Err(e) => return refuse((lang, theme), None, e, started),
    };
    let gate = if session::csrf_ok(deps, &session, field("csrf")) {
        installed(deps, &session.store_id).await
    } else {
        Err(OnboardingError::CsrfFailed)
    };

    let (action, result) = match (field("action"), gate) {
        (_, Err(e)) => (Action::Post, Err(e)),
        (action, Ok(())) => match action {
            Some(crm) if crate::crm_form::handles(crm) => {
                return crate::crm_form::post(deps, (lang, theme), &session, &form, started).await;
            }
            Some(points) if crate::points_page::handles(points) => {
                return crate::points_page::post(deps, (lang, theme), &session, &form, started)
                    .await;
            }
            // The merchant confirms the store (name and domain shown beside the box) before a
            // key is attached: a sign-in someone else started must not collect their key.
            Some("save") if field("confirm_store") != Some("yes") => {
                (Action::Save, Err(OnboardingError::Unconfirmed))
            }
            Some("save") => (
                Action::Save,
                save(deps, &session.store_id, field("private_key"), now).await,
            ),
            Some("disconnect") => (
                Action::Disconnect,
                disconnect(deps, &session.store_id).await,
            ),
            Some("rerun_import") => (Action::Rerun, rerun(deps, &session.store_id, now).await),
            Some("test_event") => (
                Action::TestEvent,
                send_test(deps, &session.store_id, now).await,
            ),
            _ => (Action::Post, Err(OnboardingError::UnknownAction)),
        },
    };
    let (resp, name) = match result {
        Ok(done) => {
            let notice = match done {
                Outcome::Disconnected => Notice::Disconnected,
                Outcome::ImportQueued => Notice::ImportQueued,
                Outcome::TestSent => Notice::TestSent,
                _ => Notice::Saved,
            };
            if session.carrier == Carrier::Page {
                // Inside the dashboard frame the redirected GET might come without a cookie:
                // the page is answered directly (saving the same key twice is harmless).
                match view::page_for(deps, lang, theme, &session, Some(notice)).await {
                    Ok(resp) => (resp, done.name()),
                    Err(e) => (view::signed_out(lang, theme, &e), e.code()),
                }
            } else {
                // Post/redirect/get: a reload must not resubmit the key.
                let location = view::location(req, Some(lang), theme, Some(notice));
                (
                    web::redirect(StatusCode::SEE_OTHER, &location, None),
                    done.name(),
                )
            }
        }
        // No page for a store that removed the app: only the message to reinstall.
        Err(e @ OnboardingError::AppRemoved) => (view::signed_out(lang, theme, &e), e.code()),
        Err(e) => (again(deps, (lang, theme), &session, &e).await, e.code()),
    };
    outcome::log(
        action,
        Some(&session.store_id),
        name,
        resp.status(),
        started,
    );
    resp
}

/// Whether the session's store still has the app: a session may outlive an uninstall, and
/// nothing is done for a store whose record is a deletion marker (the writes refuse it too,
/// should the uninstall land during the action). A store we hold nothing for passes: the
/// merchant may save a key before `app.store.authorize` reaches us.
async fn installed(deps: &Deps, store_id: &str) -> Result<(), OnboardingError> {
    let record = deps
        .keys
        .get(store_id)
        .await
        .map_err(storage_down(store_id))?;
    if record.is_some_and(|r| r.is_marker()) {
        return Err(OnboardingError::AppRemoved);
    }
    Ok(())
}

/// What a write that found the store uninstalled (or gone) answers.
fn not_written(_: NotWritten) -> OnboardingError {
    OnboardingError::AppRemoved
}

/// The store's page again with the error next to the current state (re-read for that; no
/// Klaviyo call for the mapping or the health counts on an error page).
async fn again(
    deps: &Deps,
    look: (Lang, Theme),
    session: &Session,
    e: &OnboardingError,
) -> Response<Body> {
    let record = deps.keys.get(&session.store_id).await.ok().flatten();
    view::signed_in(
        deps,
        look,
        e.status(),
        session,
        view::Parts {
            klaviyo: record.as_ref().and_then(|r| r.klaviyo.as_ref()),
            record: record.as_ref(),
            ..Default::default()
        },
        None,
        Some(e.problem()),
    )
}

/// A form post without a usable session: the same 401 page whatever the reason.
fn refuse(
    (lang, theme): (Lang, Theme),
    store_id: Option<&str>,
    e: OnboardingError,
    started: Instant,
) -> Response<Body> {
    let resp = view::signed_out(lang, theme, &e);
    outcome::log(Action::Post, store_id, e.code(), resp.status(), started);
    resp
}

/// "Import again", by the rule [`adapters::history::start::rerun_allowed`] states.
async fn rerun(deps: &Deps, store_id: &str, now: i64) -> Result<Outcome, OnboardingError> {
    use adapters::history::start::Rerun;
    match deps.history.rerun(deps.keys.as_ref(), store_id, now).await {
        Rerun::Queued | Rerun::Claimed => Ok(Outcome::ImportQueued),
        Rerun::Refused(why) => Err(OnboardingError::Rerun(why)),
        Rerun::Failed => Err(OnboardingError::RerunFailed),
    }
}

/// One test event with the saved key; a store without a usable key has nothing to test.
async fn send_test(deps: &Deps, store_id: &str, now: i64) -> Result<Outcome, OnboardingError> {
    let record = deps
        .keys
        .get(store_id)
        .await
        .map_err(storage_down(store_id))?;
    let Some(connection) = record
        .and_then(|r| r.klaviyo)
        .filter(|k| !k.needs_reconnect)
    else {
        return Err(OnboardingError::TestEvent(
            crate::i18n::Problem::TestKeyRevoked,
        ));
    };
    test_event::send(deps.klaviyo.as_ref(), store_id, &connection, now)
        .await
        .map_err(OnboardingError::TestEvent)?;
    Ok(Outcome::TestSent)
}

async fn save(
    deps: &Deps,
    store_id: &str,
    raw_key: Option<&str>,
    now: i64,
) -> Result<Outcome, OnboardingError> {
    let key = key_check::shape(raw_key).map_err(OnboardingError::Key)?;
    let account = key_check::with_klaviyo(deps.klaviyo.as_ref(), &key)
        .await
        .map_err(OnboardingError::Key)?;
    let connection = KlaviyoConnection {
        private_key: key,
        account_name: account.name,
        account_id: Some(account.id),
        validated_at: now,
        needs_reconnect: false,
    };
    // The one writer besides the lifecycle events that may create a store's record.
    let saved = keystore::update_live(deps.keys.as_ref(), store_id, IfAbsent::Create, |r| {
        r.klaviyo = Some(connection.clone())
    })
    .await
    .map_err(storage_down(store_id))?
    .map_err(not_written)?;
    if let Some(sync) = &deps.settings_sync {
        let public_key = connection.account_id.as_deref().unwrap_or_default();
        sync.mirror(&saved, connection.private_key.expose(), public_key)
            .await;
    }
    deps.history
        .import_if_connected(deps.keys.as_ref(), &saved, "onboarding")
        .await;
    Ok(Outcome::Saved)
}

/// Forgets the Klaviyo key only: the Salla tokens stay so the merchant can reconnect without
/// reinstalling, and so do the settings, the lifecycle times and the record itself (of a
/// store without tokens too). Deleting it would restart its version, which a warm cache
/// confirms by: it would keep sending to the old key once a new one is saved. Only the
/// uninstall ends a store's record.
async fn disconnect(deps: &Deps, store_id: &str) -> Result<Outcome, OnboardingError> {
    let existing = deps
        .keys
        .get(store_id)
        .await
        .map_err(storage_down(store_id))?;
    if let Some(record) = existing.filter(|r| r.klaviyo.is_some()) {
        let written = keystore::update_live(deps.keys.as_ref(), store_id, IfAbsent::Skip, |r| {
            r.klaviyo = None
        })
        .await
        .map_err(storage_down(store_id))?;
        match written {
            Ok(_) => {}
            // Nothing held any more: nothing to disconnect.
            Err(NotWritten::Absent) => return Ok(Outcome::Disconnected),
            Err(removed) => return Err(not_written(removed)),
        }
        // Salla's form empties too, so its next settings event says "disconnected".
        if let Some(sync) = &deps.settings_sync {
            sync.mirror(&record, "", "").await;
        }
    }
    Ok(Outcome::Disconnected)
}

fn storage_down(store_id: &str) -> impl Fn(adapters::AdapterError) -> OnboardingError + '_ {
    move |e| {
        tracing::error!(event = "onboarding_write", store_id = %store_id, error = %e);
        OnboardingError::StorageDown(e)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use adapters::Secret;
    use adapters::keystore::KeyStore;
    use adapters::keystore::cached::CachedKeyStore;
    use adapters::keystore::{KlaviyoConnection, StoreRecord};
    use lambda_http::http::StatusCode;

    use crate::handle;
    use crate::test_support::*;

    fn keyed(key: &str) -> StoreRecord {
        let mut record = StoreRecord::new(STORE);
        record.klaviyo = Some(KlaviyoConnection {
            private_key: Secret::new(key),
            account_name: None,
            account_id: Some("Old1".into()),
            validated_at: 1,
            needs_reconnect: false,
        });
        record
    }

    /// A warm intake confirms its cached record by version. Disconnecting and saving a new
    /// key on the page must move the version on, never restart it: a restarted version 1
    /// would confirm the old key's cached version 1 and keep sending to the old account.
    #[tokio::test]
    async fn a_disconnect_then_a_new_key_is_seen_by_a_warm_cache() {
        let (deps, keys) = deps();
        keys.put(&keyed("pk_first_key_1111")).await.unwrap();
        let intake =
            CachedKeyStore::new(keys.clone(), Duration::from_secs(60)).with_recheck(Duration::ZERO);
        let cached = intake.get(STORE).await.unwrap().unwrap();
        assert_eq!(
            cached.klaviyo.unwrap().private_key.expose(),
            "pk_first_key_1111"
        );

        let token = session_token(STORE, 0);
        let resp = handle(&deps, form(&token, &[("action", "disconnect")])).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let resp = handle(
            &deps,
            form(&token, &[("action", "save"), ("private_key", GOOD_KEY)]),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);

        let seen = intake.get(STORE).await.unwrap().unwrap();
        assert_eq!(seen.klaviyo.unwrap().private_key.expose(), GOOD_KEY);
        assert!(seen.version > 1, "the version counts on: {}", seen.version);
    }

    /// The page's disconnect keeps the record of a store without Salla tokens (its
    /// lifecycle times and settings with it): only the uninstall ends a store's record.
    #[tokio::test]
    async fn a_disconnect_without_salla_tokens_keeps_the_record() {
        let (deps, keys) = deps();
        let mut record = keyed("pk_first_key_1111");
        record.lifecycle.settings_at = Some(1_796_000_000);
        keys.put(&record).await.unwrap();
        let token = session_token(STORE, 0);
        let resp = handle(&deps, form(&token, &[("action", "disconnect")])).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let kept = keys.get(STORE).await.unwrap().unwrap();
        assert_eq!(kept.klaviyo, None);
        assert_eq!(kept.lifecycle.settings_at, Some(1_796_000_000));
        assert_eq!((kept.version, kept.ttl), (2, None));
    }

    /// A session that outlived an uninstall: every page action is refused with the same
    /// clear message, nothing is stored and Klaviyo is not asked.
    #[tokio::test]
    async fn page_actions_on_an_uninstalled_store_are_refused_and_store_nothing() {
        let actions: [&[(&str, &str)]; 6] = [
            &[("action", "save"), ("private_key", GOOD_KEY)],
            &[("action", "disconnect")],
            &[("action", "rerun_import")],
            &[("action", "test_event")],
            &[("action", "crm_save"), ("crm_preset", "a")],
            &[("action", "points_save"), ("points_percent", "3")],
        ];
        for (lang, words) in [("en", "removed"), ("ar", "أُزيل")] {
            for fields in actions {
                let (deps, keys, calls) = deps_counting();
                // A settings event after the uninstall may leave a key on the marker.
                let mut marker = keyed(GOOD_KEY);
                let now = adapters::clock::now_unix();
                marker.mark_uninstalled(now - 60, now);
                marker.klaviyo = keyed(GOOD_KEY).klaviyo;
                keys.put(&marker).await.unwrap();
                let held = keys.get(STORE).await.unwrap();

                let token = session_token(STORE, 0);
                let mut all = fields.to_vec();
                all.push(("lang", lang));
                let resp = handle(&deps, form(&token, &all)).await;
                assert_eq!(resp.status(), StatusCode::GONE, "{fields:?}");
                assert!(text(&resp).contains(words), "{lang} {fields:?}");
                assert_eq!(keys.get(STORE).await.unwrap(), held, "{fields:?}");
                assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
            }
        }
    }

    /// Opening the page of an uninstalled store shows why nothing can be done there, not
    /// the signed-in forms.
    #[tokio::test]
    async fn the_page_of_an_uninstalled_store_says_the_app_was_removed() {
        let (deps, keys) = deps();
        let mut marker = keyed(GOOD_KEY);
        let now = adapters::clock::now_unix();
        marker.mark_uninstalled(now - 60, now);
        keys.put(&marker).await.unwrap();
        let token = session_token(STORE, 0);
        for (lang, words) in [("en", "removed"), ("ar", "أُزيل")] {
            let get = crate::test_support::request(
                lambda_http::http::Method::GET,
                &format!("/onboarding?lang={lang}"),
                Some(&token),
                "",
            );
            let resp = handle(&deps, get).await;
            assert_eq!(resp.status(), StatusCode::GONE, "{lang}");
            let html = text(&resp);
            assert!(html.contains(words), "{lang}");
            assert!(
                !html.contains("id=\"save-form\""),
                "{lang}: signed-in forms shown"
            );
        }
    }

    /// Easy Mode: a key saved on the page before `app.store.authorize` reaches us creates
    /// the store's record.
    #[tokio::test]
    async fn a_key_saved_before_the_install_event_creates_the_record() {
        let (deps, keys) = deps();
        let token = session_token(STORE, 0);
        let resp = handle(
            &deps,
            form(&token, &[("action", "save"), ("private_key", GOOD_KEY)]),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let created = keys.get(STORE).await.unwrap().unwrap();
        assert_eq!(created.klaviyo.unwrap().private_key.expose(), GOOD_KEY);
        assert_eq!(created.ttl, None);
    }
}
