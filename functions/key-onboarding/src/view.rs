//! `GET` of the page: trade a handoff token for a session, or show the store's page; and the
//! responses the form post shares with it.

use std::time::Instant;

use adapters::keystore::KlaviyoConnection;
use adapters::web;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::Deps;
use crate::error::OnboardingError;
use crate::i18n::{Lang, Notice, Problem, Theme};
use crate::metric_mapping::{self, MappingView};
use crate::outcome::{self, Action, Outcome};
use crate::page;
use crate::session::{self, Carrier, Session};

pub async fn get(deps: &Deps, req: &Request) -> Response<Body> {
    let started = Instant::now();
    let query = web::query_pairs(req);
    let explicit_lang = web::param(&query, "lang");
    let lang = Lang::negotiate(
        explicit_lang,
        web::header(req.headers(), header::ACCEPT_LANGUAGE),
    );
    let theme = Theme::parse(web::param(&query, "theme"));
    let now = adapters::clock::now_unix();

    // Arriving from the OAuth callback: trade the handoff token for our own cookie, then
    // reload without the token so it leaves the address bar and history.
    if let Some(handoff) = web::param(&query, "handoff") {
        let (resp, store_id, name) = match session::from_handoff(deps, handoff, now).await {
            Ok((store_id, cookie)) => {
                let location = location(req, explicit_lang.and_then(Lang::parse), theme, None);
                let resp = web::redirect(StatusCode::SEE_OTHER, &location, Some(&cookie));
                (resp, Some(store_id), Outcome::SignedIn.name())
            }
            Err(e) => (signed_out(lang, theme, &e), None, e.code()),
        };
        outcome::log(
            Action::Handoff,
            store_id.as_deref(),
            name,
            resp.status(),
            started,
        );
        return resp;
    }

    // Opened inside Salla's dashboard: the frame's URL carries Salla's token. The page is
    // answered at once (no redirect): in a third-party frame the cookie may not come back.
    if let Some(token) = web::param(&query, "token") {
        let (resp, store_id, name) = match session::from_embedded(deps, token, now).await {
            Ok((session, cookie)) => match page_for(deps, lang, theme, &session, None).await {
                Ok(mut resp) => {
                    web::set_cookie(&mut resp, &cookie);
                    (resp, Some(session.store_id), Outcome::SignedIn.name())
                }
                Err(e) => (
                    signed_out(lang, theme, &e),
                    Some(session.store_id),
                    e.code(),
                ),
            },
            Err(e) => (signed_out(lang, theme, &e), None, e.code()),
        };
        outcome::log(
            Action::Embedded,
            store_id.as_deref(),
            name,
            resp.status(),
            started,
        );
        return resp;
    }

    let notice = web::param(&query, "notice").and_then(Notice::parse);
    let (resp, store_id, name) = match show(deps, req, lang, theme, notice, now).await {
        Ok((resp, store_id)) => (resp, Some(store_id), Outcome::Shown.name()),
        Err((e, store_id)) => (signed_out(lang, theme, &e), store_id, e.code()),
    };
    outcome::log(
        Action::View,
        store_id.as_deref(),
        name,
        resp.status(),
        started,
    );
    resp
}

async fn show(
    deps: &Deps,
    req: &Request,
    lang: Lang,
    theme: Theme,
    notice: Option<Notice>,
    now: i64,
) -> Result<(Response<Body>, String), (OnboardingError, Option<String>)> {
    let session = session::current(deps, req, now).map_err(|e| (e, None))?;
    let resp = page_for(deps, lang, theme, &session, notice)
        .await
        .map_err(|e| (e, Some(session.store_id.clone())))?;
    Ok((resp, session.store_id))
}

/// The signed-in page for a session, with the store's current state.
pub async fn page_for(
    deps: &Deps,
    lang: Lang,
    theme: Theme,
    session: &Session,
    notice: Option<Notice>,
) -> Result<Response<Body>, OnboardingError> {
    page_with(deps, lang, theme, StatusCode::OK, session, notice, None).await
}

/// The signed-in page with the store's state re-read, answering `status` with `notice` or
/// `problem` shown above it (a form's outcome).
async fn page_with(
    deps: &Deps,
    lang: Lang,
    theme: Theme,
    status: StatusCode,
    session: &Session,
    notice: Option<Notice>,
    problem: Option<Problem>,
) -> Result<Response<Body>, OnboardingError> {
    let record = deps.keys.get(&session.store_id).await.map_err(|e| {
        tracing::error!(event = "onboarding_read", store_id = %session.store_id, error = %e);
        OnboardingError::StorageDown(e)
    })?;
    // A session can outlive an uninstall: the page says so instead of offering forms that
    // would be refused.
    if record.as_ref().is_some_and(|r| r.is_marker()) {
        return Err(OnboardingError::AppRemoved);
    }
    let klaviyo = record.as_ref().and_then(|r| r.klaviyo.as_ref());
    // The page still shows when the counts cannot be read: they are a view, not the state.
    // Both reads go out together, so the page waits for the slower one only.
    let now = adapters::clock::now_unix();
    let health = async {
        klaviyo?;
        adapters::health::read(deps.health.as_ref(), &session.store_id, now)
            .await
            .inspect_err(|e| {
                tracing::warn!(event = "onboarding_health_read", store_id = %session.store_id, error = %e);
            })
            .ok()
    };
    // A key Klaviyo refused is not sent again from here: the page asks for a new one.
    let mapping = async {
        match klaviyo {
            Some(k) if !k.needs_reconnect => Some(
                metric_mapping::ensure_cached(
                    &deps.mapping_cache,
                    deps.klaviyo.as_ref(),
                    &session.store_id,
                    k,
                )
                .await,
            ),
            _ => None,
        }
    };
    let (health, mapping) = futures::join!(health, mapping);
    Ok(signed_in(
        deps,
        (lang, theme),
        status,
        session,
        Parts {
            klaviyo,
            mapping: mapping.as_ref(),
            health: health.as_ref().map(|h| (h, now)),
            record: record.as_ref(),
        },
        notice,
        problem,
    ))
}

/// The page without status or forms, for a request that has no usable session (or whose
/// store could not be read), with the error's status and message.
pub fn signed_out(lang: Lang, theme: Theme, error: &OnboardingError) -> Response<Body> {
    web::html(
        error.status(),
        page::render(&page::View {
            lang,
            theme,
            signed: None,
            notice: None,
            problem: Some(error.problem()),
        }),
    )
}

/// What the signed-in page shows of the store.
#[derive(Default)]
pub struct Parts<'a> {
    pub klaviyo: Option<&'a KlaviyoConnection>,
    pub mapping: Option<&'a MappingView>,
    /// The store's sync health and the time it was read.
    pub health: Option<(&'a adapters::health::Health, i64)>,
    pub record: Option<&'a adapters::keystore::StoreRecord>,
}

/// The store's page: status, sections, forms.
pub fn signed_in(
    deps: &Deps,
    (lang, theme): (Lang, Theme),
    status: StatusCode,
    session: &Session,
    parts: Parts<'_>,
    notice: Option<Notice>,
    problem: Option<Problem>,
) -> Response<Body> {
    let csrf = session::csrf(deps, session);
    web::html(
        status,
        page::render(&page::View {
            lang,
            theme,
            signed: Some(signed(session, parts, &csrf)),
            notice,
            problem,
        }),
    )
}

/// [`signed_in`] with its section `id` drawn by `section` from the same page state: a form's
/// answer shows its own section as the form left it (a message, the values typed).
pub fn signed_in_with_section(
    deps: &Deps,
    (lang, theme): (Lang, Theme),
    status: StatusCode,
    session: &Session,
    parts: Parts<'_>,
    id: &str,
    section: impl FnOnce(&page::Signed<'_>) -> maud::Markup,
) -> Response<Body> {
    let csrf = session::csrf(deps, session);
    let signed = signed(session, parts, &csrf);
    let drawn = section(&signed);
    let html = page::render(&page::View {
        lang,
        theme,
        signed: Some(signed),
        notice: None,
        problem: None,
    });
    web::html(status, replace_section(&html, id, &drawn))
}

fn signed<'a>(session: &'a Session, parts: Parts<'a>, csrf: &'a str) -> page::Signed<'a> {
    page::Signed {
        store_id: &session.store_id,
        store: &session.store,
        klaviyo: parts.klaviyo,
        csrf,
        session: (session.carrier == Carrier::Page).then_some(session.token.as_str()),
        health: parts.health,
        mapping: parts.mapping,
        record: parts.record,
        now: adapters::clock::now_unix(),
    }
}

/// The page's own fixed path with only our own parameters: relative to this host, so it works
/// behind any function URL. Never the request's path: a function URL passes the raw path as
/// sent, and `//evil.example/onboarding` copied into `Location` is a protocol-relative URL
/// to another host.
pub fn location(req: &Request, lang: Option<Lang>, theme: Theme, notice: Option<Notice>) -> String {
    let mut params = Vec::new();
    if let Some(lang) = lang {
        params.push(format!("lang={}", lang.code()));
    }
    if theme == Theme::Dark {
        params.push("theme=dark".to_string());
    }
    if let Some(notice) = notice {
        params.push(format!("notice={}", notice.param()));
    }
    let path = page_path(req);
    if params.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", params.join("&"))
    }
}

/// `/onboarding` under the dev server's prefix, `/` on the function URL: one of two constants,
/// chosen by the route (the last path segment), never copied from the request.
fn page_path(req: &Request) -> &'static str {
    if web::last_segment(req.uri().path()) == "onboarding" {
        "/onboarding"
    } else {
        "/"
    }
}

/// `page` with its `<section id="{id}">` replaced by `section` (or `section` added before
/// `</main>` when the page has none): a form's answer shows its section as the form left it.
/// The sections hold no nested `<section>`.
pub fn replace_section(page: &str, id: &str, section: &maud::Markup) -> String {
    const CLOSE: &str = "</section>";
    let open = format!("<section id=\"{id}\">");
    if let Some(start) = page.find(&open)
        && let Some(len) = page[start..].find(CLOSE)
    {
        let end = start + len + CLOSE.len();
        return format!("{}{}{}", &page[..start], section.0, &page[end..]);
    }
    match page.rfind("</main>") {
        Some(at) => format!("{}{}{}", &page[..at], section.0, &page[at..]),
        None => format!("{page}{}", section.0),
    }
}

#[cfg(test)]
mod tests {
    use maud::html;

    #[test]
    fn replace_section_replaces_the_short_section_or_appends() {
        let panel = html! { section id="crm" { "big" } };
        let page = "<main><section id=\"a\">x</section><section id=\"crm\"><h2>t</h2></section><section id=\"help\"></section></main>";
        assert_eq!(
            super::replace_section(page, "crm", &panel),
            "<main><section id=\"a\">x</section><section id=\"crm\">big</section><section id=\"help\"></section></main>"
        );
        assert_eq!(
            super::replace_section("<main><p>x</p></main>", "crm", &panel),
            "<main><p>x</p><section id=\"crm\">big</section></main>"
        );
    }
}
