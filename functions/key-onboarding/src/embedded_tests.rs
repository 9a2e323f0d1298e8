//! Sign-in from Salla's dashboard: the embedded page's `?token=` is verified with Salla and
//! the page works inside the dashboard's frame without our cookie.

use std::sync::atomic::Ordering;

use adapters::keystore::KeyStore;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Response};

use crate::handler::handle;
use crate::test_support::*;

/// The session token the page's forms carry.
fn page_session(resp: &Response<Body>) -> String {
    let html = text(resp);
    let start = html
        .find("name=\"session\" value=\"")
        .map(|i| i + "name=\"session\" value=\"".len())
        .unwrap_or_else(|| panic!("no session field in {html}"));
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_string()
}

#[tokio::test]
async fn salla_s_token_opens_the_store_s_page_in_the_frame() {
    let (deps, _) = deps();
    let resp = handle(
        &deps,
        request(Method::GET, "/?token=em_good&theme=dark&lang=en", None, ""),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(&resp));
    // Answered in place: a redirect's GET might come back without the cookie.
    assert!(resp.headers().get(header::LOCATION).is_none());
    let html = text(&resp);
    assert!(html.contains("id=\"save-form\""), "{html}");
    assert!(html.contains("name=\"store_id\" value=\"42\""));
    let session = page_session(&resp);
    assert!(!session.is_empty());
    // The cookie is set too, for browsers that keep a partitioned third-party cookie.
    let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("__Host-kfs_session="), "{cookie}");
    assert!(cookie.contains("SameSite=None; Partitioned"));
    // Framed only by Salla's dashboard.
    let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors https://s.salla.sa"), "{csp}");
}

#[tokio::test]
async fn a_refused_expired_or_junk_token_signs_nobody_in() {
    let (deps, _) = deps();
    for token in ["em_forged", "em_expired", "a%20b", "%0A"] {
        let resp = handle(
            &deps,
            request(Method::GET, &format!("/?lang=en&token={token}"), None, ""),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert!(resp.headers().get(header::SET_COOKIE).is_none());
        let html = text(&resp);
        assert!(html.contains("Open the app again from your Salla store dashboard"));
        assert!(!html.contains("<form"), "{token}");
    }
}

#[tokio::test]
async fn junk_never_reaches_salla() {
    let keys = std::sync::Arc::new(adapters::keystore::memory::MemoryKeyStore::new());
    let fake = FakeEmbedded::default();
    let calls = fake.calls.clone();
    let (mut deps, _) = deps();
    deps.keys = keys;
    deps.embedded = Some(std::sync::Arc::new(fake));
    for token in ["a%20b", "%0A", &"x".repeat(5000)] {
        let uri = format!("/?token={token}");
        handle(&deps, request(Method::GET, &uri, None, "")).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    handle(&deps, request(Method::GET, "/?token=em_good", None, "")).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn salla_down_says_so_and_signs_nobody_in() {
    let (deps, _) = deps();
    let resp = handle(
        &deps,
        request(Method::GET, "/?lang=en&token=em_down", None, ""),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(&resp).contains("check your sign-in with Salla"));
    assert!(resp.headers().get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn without_an_app_id_only_the_oauth_handoff_signs_in() {
    let (mut deps, _) = deps();
    deps.embedded = None;
    let resp = handle(&deps, request(Method::GET, "/?token=em_good", None, "")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_framed_page_s_forms_work_without_the_cookie() {
    let (deps, keys) = deps();
    let page = handle(
        &deps,
        request(Method::GET, "/?token=em_good&lang=en", None, ""),
    )
    .await;
    let session = page_session(&page);

    let mut save = form(&session, &[("action", "save"), ("private_key", GOOD_KEY)]);
    save.headers_mut().remove(header::COOKIE);
    let mut body = match save.body() {
        Body::Text(t) => t.clone(),
        _ => unreachable!(),
    };
    body.push_str(&format!("&session={session}"));
    *save.body_mut() = Body::Text(body);
    let resp = handle(&deps, save).await;
    // Answered in place, with the notice and the forms still carrying the session.
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(&resp));
    assert!(text(&resp).contains("id=\"connected\""));
    assert_eq!(page_session(&resp), session);
    let saved = keys.get(STORE).await.unwrap().unwrap().klaviyo.unwrap();
    assert_eq!(saved.private_key.expose(), GOOD_KEY);
}

#[tokio::test]
async fn a_page_session_is_checked_like_the_cookie() {
    let (deps, keys) = deps();
    // Another store's session cannot post for this store's form.
    let other = handle(&deps, request(Method::GET, "/?token=em_other", None, "")).await;
    let other_session = page_session(&other);
    let forged = session_token(STORE, 0);
    for (session, csrf_of) in [
        (other_session.as_str(), other_session.as_str()),
        ("not-a-token", forged.as_str()),
    ] {
        let mut post = form(csrf_of, &[("action", "save"), ("private_key", GOOD_KEY)]);
        post.headers_mut().remove(header::COOKIE);
        let mut body = match post.body() {
            Body::Text(t) => t.clone(),
            _ => unreachable!(),
        };
        body.push_str(&format!("&session={session}"));
        *post.body_mut() = Body::Text(body);
        let resp = handle(&deps, post).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{session}");
    }
    assert!(keys.is_empty());
}
