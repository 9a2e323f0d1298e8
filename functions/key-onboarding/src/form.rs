//! `POST` of the page's forms: save a key (checked with Klaviyo first), disconnect, run the
//! history import again, or send a test event.

use std::time::Instant;

use adapters::keystore::{self, KlaviyoConnection};
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
    let csrf_ok = session::csrf_ok(deps, &session, field("csrf"));

    let (action, result) = match field("action") {
        _ if !csrf_ok => (Action::Post, Err(OnboardingError::CsrfFailed)),
        Some(crm) if crate::crm_form::handles(crm) => {
            return crate::crm_form::post(deps, (lang, theme), &session, &form, started).await;
        }
        Some(points) if crate::points_page::handles(points) => {
            return crate::points_page::post(deps, (lang, theme), &session, &form, started).await;
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
    let saved = keystore::update(deps.keys.as_ref(), store_id, |record| {
        record.klaviyo = Some(connection.clone())
    })
    .await
    .map_err(storage_down(store_id))?;
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

/// Deletes the Klaviyo key only: the Salla tokens stay so the merchant can reconnect without
/// reinstalling. A record left with nothing in it is deleted outright.
async fn disconnect(deps: &Deps, store_id: &str) -> Result<Outcome, OnboardingError> {
    let existing = deps
        .keys
        .get(store_id)
        .await
        .map_err(storage_down(store_id))?;
    match existing {
        Some(record) if record.salla.is_none() => deps
            .keys
            .delete(store_id)
            .await
            .map_err(storage_down(store_id))?,
        Some(record) if record.klaviyo.is_some() => {
            keystore::update(deps.keys.as_ref(), store_id, |r| r.klaviyo = None)
                .await
                .map_err(storage_down(store_id))?;
            // Salla's form empties too, so its next settings event says "disconnected".
            if let Some(sync) = &deps.settings_sync {
                sync.mirror(&record, "", "").await;
            }
        }
        _ => {}
    }
    Ok(Outcome::Disconnected)
}

fn storage_down(store_id: &str) -> impl Fn(adapters::AdapterError) -> OnboardingError + '_ {
    move |e| {
        tracing::error!(event = "onboarding_write", store_id = %store_id, error = %e);
        OnboardingError::StorageDown(e)
    }
}
