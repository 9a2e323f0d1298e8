//! Every word the merchant reads, in Arabic (the default: Salla's dashboard is Arabic-first)
//! and English. Texts are constants; nothing from a request is ever part of a message.

use adapters::klaviyo::REQUIRED_SCOPES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ar,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            Lang::En => "ltr",
        }
    }

    pub fn parse(value: &str) -> Option<Lang> {
        match value.trim().to_ascii_lowercase().get(..2)? {
            "ar" => Some(Lang::Ar),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// An explicit `lang` parameter wins; otherwise the highest-weighted of Arabic/English in
    /// `Accept-Language`; otherwise Arabic.
    pub fn negotiate(explicit: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = explicit.and_then(Lang::parse) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for entry in accept_language.unwrap_or("").split(',').take(20) {
            let mut parts = entry.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Ar)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Ar => &AR,
            Lang::En => &EN,
        }
    }
}

/// Salla's dashboard theme, appended to the page's URL as `theme=light|dark` and carried
/// like `lang` (forms' hidden field, redirects). Anything else is light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl Theme {
    pub fn parse(value: Option<&str>) -> Theme {
        match value.map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "dark" => Theme::Dark,
            _ => Theme::Light,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The root element's class: none for light, the default.
    pub fn class(self) -> Option<&'static str> {
        (self == Theme::Dark).then_some("dark")
    }

    /// What a link back to the page appends to keep the theme (`&theme=dark`, or nothing).
    pub fn query_suffix(self) -> &'static str {
        match self {
            Theme::Light => "",
            Theme::Dark => "&theme=dark",
        }
    }
}

/// Something that went wrong that the merchant can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    EmptyKey,
    NotPrivateKey,
    InvalidKey,
    MissingScopes,
    KlaviyoDown,
    StorageDown,
    /// Salla could not confirm the dashboard sign-in just now.
    SallaDown,
    /// The settings form came for a store that has not (yet) installed the app.
    NotInstalled,
    /// A page action for a store that uninstalled the app (a session that outlived it).
    AppRemoved,
    SessionExpired,
    FormExpired,
    BadRequest,
    /// A key posted without confirming the store.
    ConfirmStore,
    /// A re-run asked for while an import is running (and saving).
    ImportRunning,
    /// A re-run asked for by a store that is not connected.
    ImportNotConnected,
    /// The re-run could not be claimed or queued just now.
    ImportFailed,
    /// The test event: Klaviyo refused the saved key (401).
    TestKeyRevoked,
    /// The test event: the key lacks `events:write` (403).
    TestScope,
    /// The test event: Klaviyo refused the event itself (4xx).
    TestRejected,
}

impl Problem {
    /// The name the log line carries.
    pub fn code(self) -> &'static str {
        match self {
            Problem::EmptyKey => "empty_key",
            Problem::NotPrivateKey => "not_private_key",
            Problem::InvalidKey => "invalid_key",
            Problem::MissingScopes => "missing_scopes",
            Problem::KlaviyoDown => "klaviyo_down",
            Problem::StorageDown => "storage_down",
            Problem::SallaDown => "salla_down",
            Problem::NotInstalled => "not_installed",
            Problem::AppRemoved => "app_removed",
            Problem::SessionExpired => "session_expired",
            Problem::FormExpired => "csrf_failed",
            Problem::BadRequest => "bad_request",
            Problem::ConfirmStore => "store_not_confirmed",
            Problem::ImportRunning => "import_running",
            Problem::ImportNotConnected => "import_not_connected",
            Problem::ImportFailed => "import_failed",
            Problem::TestKeyRevoked => "test_key_revoked",
            Problem::TestScope => "test_missing_scope",
            Problem::TestRejected => "test_rejected",
        }
    }
}

/// Something that went right, shown once after a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Saved,
    Disconnected,
    /// A new history import was queued.
    ImportQueued,
    /// Klaviyo accepted the test event (202).
    TestSent,
}

impl Notice {
    pub fn param(self) -> &'static str {
        match self {
            Notice::Saved => "saved",
            Notice::Disconnected => "disconnected",
            Notice::ImportQueued => "import_queued",
            Notice::TestSent => "test_sent",
        }
    }

    pub fn parse(value: &str) -> Option<Notice> {
        match value {
            "saved" => Some(Notice::Saved),
            "disconnected" => Some(Notice::Disconnected),
            "import_queued" => Some(Notice::ImportQueued),
            "test_sent" => Some(Notice::TestSent),
            _ => None,
        }
    }
}

pub struct Texts {
    pub title: &'static str,
    pub other_lang_label: &'static str,
    pub store: &'static str,
    pub store_name: &'static str,
    pub store_domain: &'static str,
    pub confirm_store: &'static str,
    pub status_heading: &'static str,
    pub connected: &'static str,
    pub not_connected: &'static str,
    pub account: &'static str,
    pub key_ending: &'static str,
    pub last_checked: &'static str,
    pub reconnect_needed: &'static str,
    pub form_heading_new: &'static str,
    pub form_heading_replace: &'static str,
    pub key_label: &'static str,
    pub key_hint: &'static str,
    pub save: &'static str,
    pub disconnect_heading: &'static str,
    pub disconnect_text: &'static str,
    pub disconnect: &'static str,
    pub help_heading: &'static str,
    pub help_steps: [&'static str; 3],
    pub help_scopes: &'static str,
    pub help_last: &'static str,
    pub scope_read: &'static str,
    pub scope_full: &'static str,
    pub privacy: &'static str,
    pub notice_saved: &'static str,
    pub notice_disconnected: &'static str,
    pub notice_import_queued: &'static str,
    pub notice_test_sent: &'static str,
    pub rerun: &'static str,
    pub test_heading: &'static str,
    pub test_text: &'static str,
    pub test_send: &'static str,
    import_running: &'static str,
    import_not_connected: &'static str,
    import_failed: &'static str,
    test_key_revoked: &'static str,
    test_scope: &'static str,
    test_rejected: &'static str,
    empty_key: &'static str,
    not_private_key: &'static str,
    invalid_key: &'static str,
    missing_scopes: &'static str,
    klaviyo_down: &'static str,
    storage_down: &'static str,
    salla_down: &'static str,
    not_installed: &'static str,
    app_removed: &'static str,
    session_expired: &'static str,
    form_expired: &'static str,
    bad_request: &'static str,
    confirm_store_first: &'static str,
}

impl Texts {
    /// The message for a problem; the missing-scopes one names every scope to tick.
    pub fn problem(&self, problem: Problem) -> String {
        match problem {
            Problem::EmptyKey => self.empty_key.into(),
            Problem::NotPrivateKey => self.not_private_key.into(),
            Problem::InvalidKey => self.invalid_key.into(),
            Problem::MissingScopes => {
                let sep = if std::ptr::eq(self, &AR) { "، " } else { ", " };
                format!("{} {}.", self.missing_scopes, REQUIRED_SCOPES.join(sep))
            }
            Problem::KlaviyoDown => self.klaviyo_down.into(),
            Problem::StorageDown => self.storage_down.into(),
            Problem::SallaDown => self.salla_down.into(),
            Problem::NotInstalled => self.not_installed.into(),
            Problem::AppRemoved => self.app_removed.into(),
            Problem::SessionExpired => self.session_expired.into(),
            Problem::FormExpired => self.form_expired.into(),
            Problem::BadRequest => self.bad_request.into(),
            Problem::ConfirmStore => self.confirm_store_first.into(),
            Problem::ImportRunning => self.import_running.into(),
            Problem::ImportNotConnected => self.import_not_connected.into(),
            Problem::ImportFailed => self.import_failed.into(),
            Problem::TestKeyRevoked => self.test_key_revoked.into(),
            Problem::TestScope => self.test_scope.into(),
            Problem::TestRejected => self.test_rejected.into(),
        }
    }

    pub fn notice(&self, notice: Notice) -> &'static str {
        match notice {
            Notice::Saved => self.notice_saved,
            Notice::Disconnected => self.notice_disconnected,
            Notice::ImportQueued => self.notice_import_queued,
            Notice::TestSent => self.notice_test_sent,
        }
    }
}

pub static AR: Texts = Texts {
    title: "ربط Klaviyo بمتجرك في سلة",
    other_lang_label: "English",
    store: "المتجر",
    store_name: "اسم المتجر",
    store_domain: "النطاق",
    confirm_store: "أؤكد أن هذا متجري وأريد ربطه بحساب Klaviyo هذا.",
    status_heading: "حالة الربط",
    connected: "متصل",
    not_connected: "لم يتم ربط حساب Klaviyo بعد.",
    account: "حساب Klaviyo",
    key_ending: "المفتاح الخاص ينتهي بـ",
    last_checked: "آخر تحقق",
    reconnect_needed: "يلزم إعادة الربط: رفض Klaviyo المفتاح المحفوظ، لذلك توقف إرسال البيانات. الصق مفتاحًا خاصًا جديدًا أدناه.",
    form_heading_new: "أضف المفتاح الخاص (Private API Key)",
    form_heading_replace: "استبدال المفتاح الخاص",
    key_label: "المفتاح الخاص من Klaviyo",
    key_hint: "يبدأ المفتاح بـ pk_ ونتحقق منه مع Klaviyo قبل الحفظ، ولا نعرضه مرة أخرى.",
    save: "تحقق واحفظ",
    disconnect_heading: "فصل Klaviyo",
    disconnect_text: "يحذف المفتاح نهائيًا ويوقف إرسال أحداث متجرك إلى Klaviyo.",
    disconnect: "فصل وحذف المفتاح",
    help_heading: "كيف أنشئ المفتاح الخاص؟",
    help_steps: [
        "سجّل الدخول إلى Klaviyo، ثم افتح Settings ثم API keys.",
        "اضغط Create Private API Key وسمِّ المفتاح «سلة».",
        "اختر Custom Key وامنح الصلاحيات التالية:",
    ],
    help_scopes: "الصلاحيات المطلوبة",
    help_last: "اضغط Create، ثم انسخ المفتاح كاملًا (يبدأ بـ pk_) والصقه هنا.",
    scope_read: "Read Access (قراءة)",
    scope_full: "Full Access (كامل)",
    privacy: "لا نخزّن بيانات عملائك أو طلباتك. نحفظ المفتاح الخاص فقط، مشفّرًا.",
    notice_saved: "تم الربط بنجاح. ستصل أحداث متجرك إلى Klaviyo خلال ثوانٍ.",
    notice_disconnected: "تم فصل Klaviyo وحذف المفتاح. لن نرسل أي بيانات بعد الآن.",
    notice_import_queued: "بدأ استيراد السجل من جديد. تابع التقدم في قسم «استيراد السجل السابق».",
    notice_test_sent: "استلم Klaviyo الحدث التجريبي. تجده خلال دقيقة في Klaviyo: Analytics ← Metrics ← «Salla Test Event».",
    rerun: "أعد تشغيل الاستيراد",
    test_heading: "إرسال حدث تجريبي",
    test_text: "يرسل حدثًا واحدًا باسم «Salla Test Event» إلى Klaviyo دون أي بيانات لعملائك، لتتأكد أن الربط يعمل.",
    test_send: "أرسل حدثًا تجريبيًا",
    import_running: "الاستيراد قيد التنفيذ بالفعل، وسيكتمل تلقائيًا. يمكنك إعادة تشغيله بعد انتهائه.",
    import_not_connected: "لا يمكن بدء الاستيراد قبل ربط مفتاح Klaviyo صالح واكتمال تثبيت التطبيق.",
    import_failed: "تعذر بدء الاستيراد الآن. حاول مرة أخرى بعد دقيقة.",
    test_key_revoked: "رفض Klaviyo المفتاح المحفوظ (ربما حُذف). الصق مفتاحًا خاصًا جديدًا أدناه.",
    test_scope: "تنقص المفتاحَ صلاحية events:write، فلا يمكنه إرسال الأحداث. عدّل المفتاح في Klaviyo وفعّلها.",
    test_rejected: "رفض Klaviyo الحدث التجريبي. حاول لاحقًا، وإن تكرر فتواصل مع الدعم.",
    empty_key: "الصق المفتاح الخاص أولًا.",
    not_private_key: "هذا ليس مفتاحًا خاصًا. المفتاح الخاص يبدأ بـ pk_ (المفتاح العام المكوّن من 6 أحرف لا يكفي).",
    invalid_key: "لم يقبل Klaviyo هذا المفتاح. تأكد أنك نسخت المفتاح الخاص كاملًا وأنه لم يُحذف من حسابك.",
    missing_scopes: "المفتاح صحيح لكن تنقصه صلاحيات. عدّل المفتاح في Klaviyo وفعّل:",
    klaviyo_down: "تعذر الوصول إلى Klaviyo الآن. حاول مرة أخرى بعد دقيقة.",
    storage_down: "تعذر حفظ التغيير الآن. حاول مرة أخرى بعد دقيقة.",
    salla_down: "تعذر التحقق من دخولك مع سلة الآن. أعد تحميل الصفحة بعد قليل.",
    not_installed: "لم يكتمل تثبيت التطبيق على هذا المتجر بعد. انتظر دقيقة ثم احفظ مرة أخرى، أو أعد تثبيت التطبيق.",
    app_removed: "أُزيل التطبيق من هذا المتجر، فلم يُحفظ شيء. ثبّت التطبيق مرة أخرى من متجر تطبيقات سلة، ثم افتحه من لوحة التحكم.",
    session_expired: "انتهت الجلسة. افتح التطبيق من لوحة تحكم متجرك في سلة مرة أخرى.",
    form_expired: "انتهت صلاحية النموذج. أعد المحاولة من هذه الصفحة.",
    bad_request: "طلب غير صالح.",
    confirm_store_first: "تأكد أولًا أن المتجر المعروض هو متجرك، ثم ضع علامة في مربع التأكيد.",
};

pub static EN: Texts = Texts {
    title: "Connect Klaviyo to your Salla store",
    other_lang_label: "العربية",
    store: "Store",
    store_name: "Store name",
    store_domain: "Domain",
    confirm_store: "I confirm this is my store and I want to connect it to this Klaviyo account.",
    status_heading: "Connection status",
    connected: "Connected",
    not_connected: "No Klaviyo account is connected yet.",
    account: "Klaviyo account",
    key_ending: "Private key ending in",
    last_checked: "Last checked",
    reconnect_needed: "Reconnection needed: Klaviyo rejected the saved key, so sending has stopped. Paste a new private key below.",
    form_heading_new: "Add your private API key",
    form_heading_replace: "Replace the private key",
    key_label: "Klaviyo private API key",
    key_hint: "Starts with pk_. We check it with Klaviyo before saving and never show it again.",
    save: "Check and save",
    disconnect_heading: "Disconnect Klaviyo",
    disconnect_text: "Deletes the key for good and stops sending your store's events to Klaviyo.",
    disconnect: "Disconnect and delete key",
    help_heading: "How do I create a private key?",
    help_steps: [
        "Sign in to Klaviyo and open Settings → API keys.",
        "Click Create Private API Key and name it \u{201c}Salla\u{201d}.",
        "Choose Custom Key and grant these scopes:",
    ],
    help_scopes: "Required scopes",
    help_last: "Click Create, then copy the whole key (it starts with pk_) and paste it here.",
    scope_read: "Read Access",
    scope_full: "Full Access",
    privacy: "We never store your customers or orders. We keep only the private key, encrypted.",
    notice_saved: "Connected. Your store's events will reach Klaviyo within seconds.",
    notice_disconnected: "Klaviyo disconnected and the key deleted. We won't send any more data.",
    notice_import_queued: "The history import started again. Follow it in the History import section.",
    notice_test_sent: "Klaviyo accepted the test event. Within a minute you'll find it in Klaviyo under Analytics → Metrics → \u{201c}Salla Test Event\u{201d}.",
    rerun: "Run the import again",
    test_heading: "Send a test event",
    test_text: "Sends one \u{201c}Salla Test Event\u{201d} to Klaviyo, with none of your customers' data, to check the connection end to end.",
    test_send: "Send a test event",
    import_running: "An import is already running and will finish by itself. You can run it again once it is done.",
    import_not_connected: "The import can't start before a valid Klaviyo key is connected and the app's installation is complete.",
    import_failed: "We couldn't start the import right now. Please try again in a minute.",
    test_key_revoked: "Klaviyo rejected the saved key (it may have been deleted). Paste a new private key below.",
    test_scope: "The key is missing the events:write scope, so it can't send events. Edit the key in Klaviyo and tick it.",
    test_rejected: "Klaviyo refused the test event. Try again later; if it keeps happening, contact support.",
    empty_key: "Paste your private key first.",
    not_private_key: "That isn't a private key. Private keys start with pk_ (the 6-character public key won't work).",
    invalid_key: "Klaviyo did not accept this key. Check that you copied the whole private key and that it hasn't been revoked.",
    missing_scopes: "The key is valid but is missing permissions. Edit it in Klaviyo and tick:",
    klaviyo_down: "We couldn't reach Klaviyo right now. Please try again in a minute.",
    storage_down: "We couldn't save the change right now. Please try again in a minute.",
    salla_down: "We couldn't check your sign-in with Salla just now. Please reload the page in a moment.",
    not_installed: "The app's installation on this store is not complete yet. Wait a minute and save again, or install the app again.",
    app_removed: "The app was removed from this store, so nothing was saved. Install the app again from the Salla App Store, then open it from your dashboard.",
    session_expired: "Your session has expired. Open the app again from your Salla store dashboard.",
    form_expired: "This form has expired. Please try again from this page.",
    bad_request: "Invalid request.",
    confirm_store_first: "First check that the store shown is yours, then tick the confirmation box.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_explicit_then_weights_then_arabic() {
        assert_eq!(Lang::negotiate(Some("en"), Some("ar")), Lang::En);
        assert_eq!(
            Lang::negotiate(Some("xx"), Some("en-US,en;q=0.9")),
            Lang::En
        );
        assert_eq!(
            Lang::negotiate(None, Some("fr, ar;q=0.5, en;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::negotiate(None, Some("ar-SA,en;q=0.9")), Lang::Ar);
        assert_eq!(Lang::negotiate(None, Some("fr")), Lang::Ar);
        assert_eq!(Lang::negotiate(None, None), Lang::Ar);
    }

    #[test]
    fn only_dark_is_dark() {
        assert_eq!(Theme::parse(Some("dark")), Theme::Dark);
        assert_eq!(Theme::parse(Some(" DARK ")), Theme::Dark);
        for other in [Some("light"), Some("darkest"), Some(""), Some("<x>"), None] {
            assert_eq!(Theme::parse(other), Theme::Light, "{other:?}");
        }
    }

    #[test]
    fn missing_scopes_names_every_scope_in_both_languages() {
        for texts in [&AR, &EN] {
            let m = texts.problem(Problem::MissingScopes);
            for scope in REQUIRED_SCOPES {
                assert!(m.contains(scope), "{m}");
            }
        }
    }
}
