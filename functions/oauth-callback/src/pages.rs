//! What the merchant sees when the callback cannot finish: one short bilingual page per
//! failure (Arabic first), with the same security headers as the onboarding page.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};

/// Why the callback stopped. Each maps to one page and one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The merchant pressed "cancel" on Salla's consent screen.
    Denied,
    /// No `code` (or an absurd one): someone opened the URL by hand.
    MissingCode,
    /// The code was already used or expired (single-use; a browser refresh reuses it).
    CodeUsed,
    /// Salla refused for another reason (our client credentials, a bad redirect URI).
    SallaRefused,
    /// Salla's accounts service is down or slow.
    SallaDown,
    /// We could not save the tokens.
    StorageDown,
    NotFound,
    MethodNotAllowed,
}

impl Failure {
    pub fn name(self) -> &'static str {
        match self {
            Failure::Denied => "denied",
            Failure::MissingCode => "missing_code",
            Failure::CodeUsed => "code_used",
            Failure::SallaRefused => "salla_refused",
            Failure::SallaDown => "salla_down",
            Failure::StorageDown => "storage_down",
            Failure::NotFound => "not_found",
            Failure::MethodNotAllowed => "method_not_allowed",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Failure::Denied | Failure::MissingCode | Failure::CodeUsed => StatusCode::BAD_REQUEST,
            Failure::SallaRefused => StatusCode::BAD_GATEWAY,
            Failure::SallaDown | Failure::StorageDown => StatusCode::SERVICE_UNAVAILABLE,
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// (Arabic, English) title and explanation. Fixed text only: nothing from the request.
    fn text(self) -> [(&'static str, &'static str); 2] {
        match self {
            Failure::Denied => [
                (
                    "لم يتم الربط",
                    "لقد ألغيت منح الصلاحية في سلة. لربط Klaviyo افتح التطبيق من لوحة تحكم متجرك ووافق على الصلاحيات.",
                ),
                (
                    "Not connected",
                    "You cancelled the authorization in Salla. To connect Klaviyo, open the app from your store dashboard and approve the permissions.",
                ),
            ],
            Failure::MissingCode => [
                (
                    "رابط غير مكتمل",
                    "هذه الصفحة تُفتح تلقائيًا من سلة. افتح التطبيق من لوحة تحكم متجرك.",
                ),
                (
                    "Incomplete link",
                    "This page is opened by Salla. Please open the app from your store dashboard.",
                ),
            ],
            Failure::CodeUsed => [
                (
                    "انتهت صلاحية الرابط",
                    "رمز الدخول هذا استُخدم من قبل أو انتهت صلاحيته. افتح التطبيق من لوحة تحكم سلة مرة أخرى.",
                ),
                (
                    "This link has expired",
                    "This sign-in code was already used or has expired. Open the app again from your Salla dashboard.",
                ),
            ],
            Failure::SallaRefused => [
                (
                    "رفضت سلة الطلب",
                    "لم تقبل سلة طلب الربط. حاول مرة أخرى، وإن تكرر الأمر تواصل مع الدعم.",
                ),
                (
                    "Salla refused the request",
                    "Salla did not accept the connection request. Try again; if it keeps happening, contact support.",
                ),
            ],
            Failure::SallaDown => [
                (
                    "سلة غير متاحة الآن",
                    "تعذر الوصول إلى خدمة سلة. انتظر دقيقة ثم افتح التطبيق من لوحة التحكم مرة أخرى.",
                ),
                (
                    "Salla is not reachable",
                    "We couldn't reach Salla right now. Wait a minute, then open the app from your dashboard again.",
                ),
            ],
            Failure::StorageDown => [
                (
                    "تعذر الحفظ",
                    "لم نتمكن من حفظ الربط الآن. انتظر دقيقة ثم حاول مرة أخرى.",
                ),
                (
                    "Couldn't save",
                    "We couldn't save the connection right now. Wait a minute and try again.",
                ),
            ],
            Failure::NotFound => [
                ("الصفحة غير موجودة", "لا توجد صفحة بهذا العنوان."),
                ("Page not found", "There is no page at this address."),
            ],
            Failure::MethodNotAllowed => [
                ("طلب غير مدعوم", "هذه الصفحة تقبل طلبات GET فقط."),
                (
                    "Unsupported request",
                    "This page only accepts GET requests.",
                ),
            ],
        }
    }
}

/// 302 to the onboarding page. The handoff token is in the URL, so no-store and no referrer.
pub fn redirect(location: &str) -> Response<Body> {
    let mut resp = with_headers(Response::new(Body::Empty));
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub fn failure(failure: Failure) -> Response<Body> {
    let [(ar_title, ar_text), (en_title, en_text)] = failure.text();
    let html = format!(
        r#"<!doctype html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{ar_title} · {en_title}</title>
<style>
body{{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Tahoma,sans-serif;background:#f6f7f9;color:#1d2330;line-height:1.6}}
main{{max-width:560px;margin:0 auto;padding:24px 16px}}
section{{background:#fff;border:1px solid #e3e6eb;border-radius:12px;padding:16px 20px;margin-bottom:16px}}
h1{{font-size:1.25rem;margin:0 0 8px}}
p{{margin:0}}
</style></head>
<body><main>
<section><h1>{ar_title}</h1><p>{ar_text}</p></section>
<section lang="en" dir="ltr"><h1>{en_title}</h1><p>{en_text}</p></section>
</main></body></html>
"#
    );
    let mut resp = with_headers(Response::new(Body::Text(html)));
    *resp.status_mut() = failure.status();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn with_headers(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; \
             frame-ancestors https://s.salla.sa https://*.salla.sa https://salla.sa",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}
