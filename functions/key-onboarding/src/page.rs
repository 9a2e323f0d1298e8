//! The onboarding page's HTML: status, key form, disconnect, how-to. One self-contained
//! document (inline CSS, no scripts, no external assets) that reads well on a phone and inside
//! Salla's dashboard frame. Every interpolated value goes through [`escape`].

use std::fmt::Write;

use adapters::keystore::KlaviyoConnection;
use adapters::klaviyo::REQUIRED_SCOPES;

use crate::i18n::{Lang, Notice, Problem};
use crate::web::escape;

/// What a signed-in page shows.
pub struct Signed<'a> {
    pub store_id: &'a str,
    pub klaviyo: Option<&'a KlaviyoConnection>,
    /// CSRF token for this session's forms.
    pub csrf: &'a str,
}

pub struct View<'a> {
    pub lang: Lang,
    /// `None`: no valid session, so no status and no forms.
    pub signed: Option<Signed<'a>>,
    pub notice: Option<Notice>,
    pub problem: Option<Problem>,
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Tahoma,\"Noto Sans Arabic\",sans-serif;background:#f6f7f9;color:#1d2330;line-height:1.6;font-size:16px}\
main{max-width:640px;margin:0 auto;padding:16px}\
header{display:flex;justify-content:space-between;align-items:center;gap:12px;margin:8px 0 16px}\
h1{font-size:1.3rem;margin:0}\
h2{font-size:1.05rem;margin:0 0 10px}\
section{background:#fff;border:1px solid #e3e6eb;border-radius:12px;padding:16px;margin-bottom:14px}\
.alert{border-radius:10px;padding:12px 14px;margin-bottom:14px;font-weight:500}\
.error{background:#fdecec;border:1px solid #f3b9b9;color:#8a1c1c}\
.notice{background:#e8f6ee;border:1px solid #a8dcbc;color:#135c32}\
.warn{background:#fff6e0;border:1px solid #f0d48a;color:#6b4b00}\
.badge{display:inline-block;background:#e8f6ee;color:#135c32;border-radius:999px;padding:2px 10px;font-size:.85rem;font-weight:600}\
dl{margin:8px 0 0;display:grid;grid-template-columns:max-content 1fr;gap:4px 12px}\
dt{color:#5b6472}dd{margin:0;overflow-wrap:anywhere}\
label{display:block;font-weight:600;margin-bottom:6px}\
input[type=password]{width:100%;font-size:1rem;padding:10px 12px;border:1px solid #c5cbd3;border-radius:8px;direction:ltr;text-align:left}\
.hint{color:#5b6472;font-size:.9rem;margin:6px 0 12px}\
button{font-size:1rem;padding:10px 18px;border-radius:8px;border:0;cursor:pointer;min-height:44px}\
.primary{background:#1d2330;color:#fff}\
.danger{background:#fff;color:#a11c1c;border:1px solid #e0a3a3}\
ol{padding-inline-start:20px;margin:0}li{margin-bottom:6px}\
ul.scopes{list-style:none;padding:0;margin:8px 0}\
ul.scopes li{display:flex;justify-content:space-between;gap:8px;border-bottom:1px dashed #e3e6eb;padding:4px 0}\
code{font-family:ui-monospace,Menlo,Consolas,monospace;direction:ltr;unicode-bidi:isolate}\
footer{color:#5b6472;font-size:.85rem;text-align:center;padding:8px 0 16px}\
a{color:#1849a9}";

pub fn render(view: &View<'_>) -> String {
    let t = view.lang.texts();
    let other = match view.lang {
        Lang::Ar => "en",
        Lang::En => "ar",
    };
    let mut h = String::with_capacity(8 * 1024);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>\
         <header><h1>{title}</h1><a href=\"?lang={other}\" hreflang=\"{other}\">{other_label}</a></header>",
        lang = view.lang.code(),
        dir = view.lang.dir(),
        title = escape(t.title),
        other_label = escape(t.other_lang_label),
    );
    if let Some(problem) = view.problem {
        let _ = write!(
            h,
            "<div class=\"alert error\" id=\"error\" role=\"alert\">{}</div>",
            escape(&t.problem(problem))
        );
    }
    if let Some(notice) = view.notice {
        let _ = write!(
            h,
            "<div class=\"alert notice\" id=\"notice\" role=\"status\">{}</div>",
            escape(t.notice(notice))
        );
    }
    if let Some(signed) = &view.signed {
        status(&mut h, view.lang, signed);
        key_form(&mut h, view.lang, signed);
        if signed.klaviyo.is_some() {
            disconnect_form(&mut h, view.lang, signed);
        }
    }
    help(&mut h, view.lang);
    let _ = writeln!(
        h,
        "<footer>{}</footer></main></body></html>",
        escape(t.privacy)
    );
    h
}

fn status(h: &mut String, lang: Lang, signed: &Signed<'_>) {
    let t = lang.texts();
    let _ = write!(
        h,
        "<section id=\"status\"><h2>{}</h2>",
        escape(t.status_heading)
    );
    match signed.klaviyo {
        Some(k) => {
            if k.needs_reconnect {
                let _ = write!(
                    h,
                    "<div class=\"alert warn\" id=\"reconnect\">{}</div>",
                    escape(t.reconnect_needed)
                );
            } else {
                let _ = write!(
                    h,
                    "<span class=\"badge\" id=\"connected\">{}</span>",
                    escape(t.connected)
                );
            }
            let account = k
                .account_name
                .as_deref()
                .or(k.account_id.as_deref())
                .unwrap_or("—");
            let _ = write!(
                h,
                "<dl><dt>{}</dt><dd id=\"account\">{}</dd>\
                 <dt>{}</dt><dd><code id=\"last4\">••••{}</code></dd>\
                 <dt>{}</dt><dd><bdi dir=\"ltr\">{}</bdi></dd><dt>{}</dt><dd><code>{}</code></dd></dl>",
                escape(t.account),
                escape(account),
                escape(t.key_ending),
                escape(&k.private_key.last4()),
                escape(t.last_checked),
                escape(&format_time(k.validated_at)),
                escape(t.store),
                escape(signed.store_id),
            );
        }
        None => {
            let _ = write!(
                h,
                "<p id=\"not-connected\">{}</p><dl><dt>{}</dt><dd><code>{}</code></dd></dl>",
                escape(t.not_connected),
                escape(t.store),
                escape(signed.store_id),
            );
        }
    }
    h.push_str("</section>");
}

/// The key input is always empty: the stored key never travels back to the browser.
fn key_form(h: &mut String, lang: Lang, signed: &Signed<'_>) {
    let t = lang.texts();
    let heading = if signed.klaviyo.is_some() {
        t.form_heading_replace
    } else {
        t.form_heading_new
    };
    let _ = write!(
        h,
        "<section><h2>{heading}</h2><form method=\"post\" id=\"save-form\">{hidden}\
         <input type=\"hidden\" name=\"action\" value=\"save\">\
         <label for=\"private_key\">{label}</label>\
         <input type=\"password\" id=\"private_key\" name=\"private_key\" autocomplete=\"off\" \
         spellcheck=\"false\" autocapitalize=\"off\" placeholder=\"pk_…\" maxlength=\"200\" required>\
         <p class=\"hint\">{hint}</p><button type=\"submit\" class=\"primary\" id=\"save\">{save}</button>\
         </form></section>",
        heading = escape(heading),
        hidden = hidden_fields(lang, signed),
        label = escape(t.key_label),
        hint = escape(t.key_hint),
        save = escape(t.save),
    );
}

fn disconnect_form(h: &mut String, lang: Lang, signed: &Signed<'_>) {
    let t = lang.texts();
    let _ = write!(
        h,
        "<section><h2>{heading}</h2><p class=\"hint\">{text}</p>\
         <form method=\"post\" id=\"disconnect-form\">{hidden}\
         <input type=\"hidden\" name=\"action\" value=\"disconnect\">\
         <button type=\"submit\" class=\"danger\" id=\"disconnect\">{button}</button></form></section>",
        heading = escape(t.disconnect_heading),
        text = escape(t.disconnect_text),
        hidden = hidden_fields(lang, signed),
        button = escape(t.disconnect),
    );
}

/// The store id ties the form to the store it was rendered for (two stores open in two tabs
/// share one cookie); the CSRF token ties it to the session.
fn hidden_fields(lang: Lang, signed: &Signed<'_>) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"store_id\" value=\"{}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">",
        escape(signed.csrf),
        escape(signed.store_id),
        lang.code()
    )
}

fn help(h: &mut String, lang: Lang) {
    let t = lang.texts();
    let _ = write!(
        h,
        "<section id=\"help\"><h2>{}</h2><ol>",
        escape(t.help_heading)
    );
    for step in t.help_steps {
        let _ = write!(h, "<li>{}", escape(step));
        if std::ptr::eq(step, t.help_steps[2]) {
            let _ = write!(
                h,
                "<ul class=\"scopes\" aria-label=\"{}\">",
                escape(t.help_scopes)
            );
            for scope in REQUIRED_SCOPES {
                let level = if scope.ends_with(":read") {
                    t.scope_read
                } else {
                    t.scope_full
                };
                let _ = write!(
                    h,
                    "<li><code>{}</code><span>{}</span></li>",
                    escape(scope),
                    escape(level)
                );
            }
            h.push_str("</ul>");
        }
        h.push_str("</li>");
    }
    let _ = write!(h, "<li>{}</li></ol></section>", escape(t.help_last));
}

/// `2026-11-23 09:42 UTC`: unambiguous in both languages.
fn format_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "—".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::Secret;

    #[test]
    fn connected_page_shows_metadata_but_not_the_key_and_escapes() {
        let k = KlaviyoConnection {
            private_key: Secret::new("pk_secret_value_WXYZ"),
            account_name: Some("<script>x</script> متجر".into()),
            account_id: Some("AbC".into()),
            validated_at: 1_795_000_000,
            needs_reconnect: true,
        };
        let html = render(&View {
            lang: Lang::Ar,
            signed: Some(Signed {
                store_id: "42",
                klaviyo: Some(&k),
                csrf: "c\"srf",
            }),
            notice: None,
            problem: Some(Problem::InvalidKey),
        });
        assert!(html.contains("dir=\"rtl\""));
        assert!(html.contains("••••WXYZ"));
        assert!(!html.contains("pk_secret_value"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt; متجر"));
        assert!(html.contains("value=\"c&quot;srf\""));
        assert!(html.contains("id=\"reconnect\""));
        assert!(html.contains("2026-11-18 "));
        assert!(html.contains(&crate::i18n::AR.problem(Problem::InvalidKey)));
    }

    #[test]
    fn signed_out_page_has_no_forms() {
        let html = render(&View {
            lang: Lang::En,
            signed: None,
            notice: None,
            problem: Some(Problem::SessionExpired),
        });
        assert!(html.contains("lang=\"en\" dir=\"ltr\""));
        assert!(!html.contains("<form"));
        assert!(html.contains("subscriptions:write"));
    }
}
