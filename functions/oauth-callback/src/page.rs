//! What the merchant sees when the callback cannot finish: one short bilingual page per
//! failure (Arabic first). Fixed text only: nothing from the request reaches the page.

use maud::{Markup, PreEscaped, html};

use crate::error::CallbackError;

const STYLE: &str = "\
body{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Tahoma,sans-serif;background:#f6f7f9;color:#1d2330;line-height:1.6}\
main{max-width:560px;margin:0 auto;padding:24px 16px}\
section{background:#fff;border:1px solid #e3e6eb;border-radius:12px;padding:16px 20px;margin-bottom:16px}\
h1{font-size:1.25rem;margin:0 0 8px}\
p{margin:0}";

/// One language's title and explanation.
struct Text {
    title: &'static str,
    body: &'static str,
}

pub fn failure(error: &CallbackError) -> String {
    let [ar, en] = text(error);
    let page: Markup = html! {
        (PreEscaped("<!doctype html>\n"))
        html lang="ar" dir="rtl" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (ar.title) " · " (en.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    section { h1 { (ar.title) } p { (ar.body) } }
                    section lang="en" dir="ltr" { h1 { (en.title) } p { (en.body) } }
                }
            }
        }
    };
    let mut html = page.into_string();
    html.push('\n');
    html
}

/// (Arabic, English).
fn text(error: &CallbackError) -> [Text; 2] {
    let pair = |ar: (&'static str, &'static str), en: (&'static str, &'static str)| {
        [
            Text {
                title: ar.0,
                body: ar.1,
            },
            Text {
                title: en.0,
                body: en.1,
            },
        ]
    };
    match error {
        CallbackError::Denied => pair(
            (
                "لم يتم الربط",
                "لقد ألغيت منح الصلاحية في سلة. لربط Klaviyo افتح التطبيق من لوحة تحكم متجرك ووافق على الصلاحيات.",
            ),
            (
                "Not connected",
                "You cancelled the authorization in Salla. To connect Klaviyo, open the app from your store dashboard and approve the permissions.",
            ),
        ),
        CallbackError::MissingCode => pair(
            (
                "رابط غير مكتمل",
                "هذه الصفحة تُفتح تلقائيًا من سلة. افتح التطبيق من لوحة تحكم متجرك.",
            ),
            (
                "Incomplete link",
                "This page is opened by Salla. Please open the app from your store dashboard.",
            ),
        ),
        CallbackError::CodeUsed => pair(
            (
                "انتهت صلاحية الرابط",
                "رمز الدخول هذا استُخدم من قبل أو انتهت صلاحيته. افتح التطبيق من لوحة تحكم سلة مرة أخرى.",
            ),
            (
                "This link has expired",
                "This sign-in code was already used or has expired. Open the app again from your Salla dashboard.",
            ),
        ),
        CallbackError::SallaRefused(_) => pair(
            (
                "رفضت سلة الطلب",
                "لم تقبل سلة طلب الربط. حاول مرة أخرى، وإن تكرر الأمر تواصل مع الدعم.",
            ),
            (
                "Salla refused the request",
                "Salla did not accept the connection request. Try again; if it keeps happening, contact support.",
            ),
        ),
        CallbackError::SallaDown(_) => pair(
            (
                "سلة غير متاحة الآن",
                "تعذر الوصول إلى خدمة سلة. انتظر دقيقة ثم افتح التطبيق من لوحة التحكم مرة أخرى.",
            ),
            (
                "Salla is not reachable",
                "We couldn't reach Salla right now. Wait a minute, then open the app from your dashboard again.",
            ),
        ),
        CallbackError::StorageDown(_) => pair(
            (
                "تعذر الحفظ",
                "لم نتمكن من حفظ الربط الآن. انتظر دقيقة ثم حاول مرة أخرى.",
            ),
            (
                "Couldn't save",
                "We couldn't save the connection right now. Wait a minute and try again.",
            ),
        ),
        CallbackError::NotFound => pair(
            ("الصفحة غير موجودة", "لا توجد صفحة بهذا العنوان."),
            ("Page not found", "There is no page at this address."),
        ),
        CallbackError::MethodNotAllowed => pair(
            ("طلب غير مدعوم", "هذه الصفحة تقبل طلبات GET فقط."),
            (
                "Unsupported request",
                "This page only accepts GET requests.",
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::AdapterError;

    /// Error details (which may quote Salla's answer) never reach the page, and the fixed
    /// text is escaped like anything else.
    #[test]
    fn page_is_fixed_text_and_never_shows_error_details() {
        let e = CallbackError::SallaDown(AdapterError::Unavailable {
            service: adapters::error::Service::Salla,
            detail: "<script>alert(1)</script>".into(),
        });
        let page = failure(&e);
        assert!(page.starts_with("<!doctype html>\n<html lang=\"ar\" dir=\"rtl\"><head>"));
        assert!(!page.contains("<script>"));
        assert!(!page.contains("alert(1)"));
        assert!(page.contains("Salla is not reachable"));
        assert!(page.contains("<section lang=\"en\" dir=\"ltr\">"));
        assert!(page.contains("We couldn't reach Salla right now."));
    }
}
