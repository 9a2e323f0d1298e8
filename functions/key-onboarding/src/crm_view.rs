//! The page's "CRM in your Klaviyo" section. Shown for a connected store: a short section
//! with the optional key scopes and a button that opens the tier settings; after any CRM
//! action (see `crm_form`) the same section comes back expanded with the merchant's tier
//! choice, the three actions (preview, create/update, remove) and what the last one did.
//! Its texts live here, in both languages, beside the markup that uses them.

use adapters::crm::{CRM_SCOPES, Report};
use mapping::crm::{CrmSettings, MAX_TIERS, NAME_PREFIX, OrderWindow, TierThreshold};
use maud::{Markup, html};

use crate::i18n::{Lang, Theme};
use crate::page::Signed;

/// The fields every form of the page carries (see `page::hidden_fields`): the CSRF token,
/// the store the form was rendered for, the language and, inside Salla's frame, the session.
pub struct Hidden<'a> {
    pub theme: Theme,
    pub csrf: &'a str,
    pub store_id: &'a str,
    pub session: Option<&'a str>,
}

/// What one provisioning pass found or did, segments and flows apart.
#[derive(Debug, Default)]
pub struct Run {
    pub segments: Report,
    pub flows: Report,
    /// Flows not built yet, by what they wait for (a metric's first event, a segment).
    pub waiting: Vec<String>,
}

/// What the last CRM action did.
#[derive(Debug)]
pub enum Done {
    Saved,
    Preview(Run),
    Applied(Run),
    Removed(Run),
}

/// Why a CRM action did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmProblem {
    /// No usable Klaviyo key for the store.
    NotConnected,
    /// A tier setting out of bounds, by its field.
    Field(&'static str),
    /// Klaviyo answered 403: the key lacks the segments/flows/metrics scopes.
    MissingScopes,
    /// Klaviyo answered 401: the key was revoked.
    KeyRefused,
    /// No Placed Order has reached the account: the segments have nothing to count.
    NoOrders,
    /// The run stopped part-way (the time ran out or Klaviyo was busy); a re-run continues.
    Partial,
    KlaviyoDown,
    StorageDown,
    UnknownAction,
}

impl CrmProblem {
    /// The log's outcome code.
    pub fn code(self) -> &'static str {
        match self {
            CrmProblem::NotConnected => "crm_not_connected",
            CrmProblem::Field(_) => "crm_bad_settings",
            CrmProblem::MissingScopes => "crm_missing_scopes",
            CrmProblem::KeyRefused => "crm_key_refused",
            CrmProblem::NoOrders => "crm_no_orders",
            CrmProblem::Partial => "crm_partial",
            CrmProblem::KlaviyoDown => "crm_klaviyo_down",
            CrmProblem::StorageDown => "crm_storage_down",
            CrmProblem::UnknownAction => "crm_unknown_action",
        }
    }
}

/// The expanded section's state.
pub struct Panel {
    pub values: Values,
    pub done: Option<Done>,
    pub problem: Option<CrmProblem>,
}

/// What the settings form shows: a stored choice, or what the merchant typed when it was
/// refused (so a typo costs one field, not the whole form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    preset: String,
    margin: String,
    window: String,
    /// Orders and total spent, per tier row.
    rows: Vec<(String, String)>,
}

impl Values {
    pub fn of(settings: &CrmSettings) -> Values {
        let margin = match settings {
            CrmSettings::A { margin_bp } => *margin_bp,
            _ => mapping::crm::DEFAULT_MARGIN_BP,
        };
        let (window, tiers): (OrderWindow, &[TierThreshold]) = match settings {
            CrmSettings::Custom { window, tiers } => (*window, tiers),
            _ => (OrderWindow::AllTime, &[]),
        };
        Values {
            preset: match settings {
                CrmSettings::A { .. } => "a",
                CrmSettings::B => "b",
                CrmSettings::Custom { .. } => "custom",
            }
            .to_owned(),
            margin: percent(margin),
            window: match window {
                OrderWindow::AllTime => "all_time",
                OrderWindow::Last365Days => "last_365_days",
            }
            .to_owned(),
            rows: tiers
                .iter()
                .map(|t| {
                    (
                        t.min_orders.to_string(),
                        t.min_spent_minor.map(amount).unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }

    /// The form's fields as posted (`field` reads one by name).
    pub fn typed<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Values {
        let get = |name: &str| field(name).unwrap_or_default().to_owned();
        Values {
            preset: get("preset"),
            margin: get("margin"),
            window: get("window"),
            rows: (1..=MAX_TIERS)
                .map(|i| {
                    (
                        get(&format!("tier{i}_orders")),
                        get(&format!("tier{i}_spent")),
                    )
                })
                .collect(),
        }
    }
}

struct Texts {
    heading: &'static str,
    intro: &'static str,
    scopes_note: &'static str,
    scopes_hint: &'static str,
    open: &'static str,
    rule: &'static str,
    preset_a: &'static str,
    margin: &'static str,
    preset_b: &'static str,
    custom: &'static str,
    window: &'static str,
    window_all: &'static str,
    window_year: &'static str,
    tier: &'static str,
    min_orders: &'static str,
    min_spent: &'static str,
    custom_hint: &'static str,
    save: &'static str,
    preview: &'static str,
    apply: &'static str,
    duration: &'static str,
    remove: &'static str,
    remove_hint: &'static str,
    saved: &'static str,
    preview_title: &'static str,
    applied_title: &'static str,
    removed_title: &'static str,
    segments: &'static str,
    flows: &'static str,
    created: &'static str,
    would_create: &'static str,
    updated: &'static str,
    would_update: &'static str,
    unchanged: &'static str,
    removed: &'static str,
    would_remove: &'static str,
    waiting: &'static str,
    drafts: &'static str,
    nothing: &'static str,
    not_connected: &'static str,
    missing_scopes: &'static str,
    key_refused: &'static str,
    no_orders: &'static str,
    partial: &'static str,
    klaviyo_down: &'static str,
    storage_down: &'static str,
    unknown_action: &'static str,
    bad_preset: &'static str,
    bad_margin: &'static str,
    bad_tiers: &'static str,
    bad_orders: &'static str,
    bad_spent: &'static str,
}

static EN: Texts = Texts {
    heading: "CRM in your Klaviyo",
    intro: "Customer tiers from new to VIP, churn-risk segments (30, 60 and 90 days without an order) and ready-made draft flows, built inside your own Klaviyo account from the orders this app sends. The app keeps no customer data: Klaviyo computes who is in which segment.",
    scopes_note: "Optional: these features need extra permissions on your private key. Relaying orders and customers works without them.",
    scopes_hint: "With a key that lacks them, the segments and flows cannot be created; create a new key with these scopes and save it above.",
    open: "Set up tiers, segments and flows",
    rule: "How customers are tiered",
    preset_a: "Preset A: lifetime value (total spent × your average margin) and number of orders, all time. Bronze 100 and 1 order, Silver 500 and 3, Gold 1,000 and 5, Platinum 2,000 and 10, VIP 5,000 and 20.",
    margin: "Average margin (%)",
    preset_b: "Preset B: orders in the last 12 months. Bronze below 6, Silver 6, Gold 15, Platinum 30.",
    custom: "My own thresholds",
    window: "Count orders",
    window_all: "all time",
    window_year: "in the last 12 months",
    tier: "Tier",
    min_orders: "At least this many orders",
    min_spent: "And at least this total spent (store currency, optional)",
    custom_hint: "Fill tiers from the lowest and leave the rest empty. Each tier must ask for more than the one below; set the amount on every tier or on none.",
    save: "Save",
    preview: "Preview",
    apply: "Create / update segments and flows",
    duration: "Creating everything takes about half a minute: Klaviyo accepts about one new segment or flow per second. Running it again changes only what differs.",
    remove: "Remove what the app created",
    remove_hint: "Deletes every segment and flow whose name starts with “Salla app ·”. Your own segments and flows are not touched.",
    saved: "Tier settings saved.",
    preview_title: "Preview: nothing has been changed in Klaviyo",
    applied_title: "Done in your Klaviyo",
    removed_title: "Removed from your Klaviyo",
    segments: "Segments",
    flows: "Flows",
    created: "Created",
    would_create: "Would be created",
    updated: "Updated",
    would_update: "Would be updated",
    unchanged: "Already up to date",
    removed: "Removed",
    would_remove: "Would be removed",
    waiting: "Waiting (built on a later run, once this exists in Klaviyo)",
    drafts: "Flows are created as drafts: review them in Klaviyo and turn them on.",
    nothing: "Nothing.",
    not_connected: "Connect a working Klaviyo key first.",
    missing_scopes: "Your key lacks the segments/flows scopes. Create a private key in Klaviyo with these scopes and save it above:",
    key_refused: "Klaviyo no longer accepts this key. Save a new private key above.",
    no_orders: "No order has reached your Klaviyo yet. The segments count the Placed Order events this app sends: run this again after your first order arrives.",
    partial: "Partly done: the time ran out or Klaviyo was busy. Run it again: it continues where it stopped and creates nothing twice.",
    klaviyo_down: "We couldn't reach Klaviyo right now. Try again in a minute.",
    storage_down: "We couldn't read or save your settings right now. Try again in a minute.",
    unknown_action: "That action is not available.",
    bad_preset: "Choose one of the tier rules.",
    bad_margin: "Average margin: enter a percentage from 1 to 100.",
    bad_tiers: "Tiers: fill from 1 to 5 tiers, each asking for more than the one below.",
    bad_orders: "Orders: each tier needs a whole number of orders from 1 to 10000.",
    bad_spent: "Total spent: an amount above 0 and at most 100000000, on every tier or on none.",
};

static AR: Texts = Texts {
    heading: "إدارة العملاء (CRM) في حسابك على Klaviyo",
    intro: "فئات العملاء من جديد إلى كبار العملاء، وشرائح خطر الانقطاع (30 و60 و90 يومًا بلا طلب)، وتدفقات جاهزة كمسودات، تُبنى داخل حسابك في Klaviyo من الطلبات التي يرسلها التطبيق. لا يحفظ التطبيق أي بيانات للعملاء: Klaviyo هو من يحسب من ينتمي لكل شريحة.",
    scopes_note: "اختياري: تحتاج هذه الميزات صلاحيات إضافية في مفتاحك الخاص. ترحيل الطلبات والعملاء يعمل بدونها.",
    scopes_hint: "بمفتاح تنقصه هذه الصلاحيات لا يمكن إنشاء الشرائح والتدفقات؛ أنشئ مفتاحًا جديدًا بهذه الصلاحيات واحفظه أعلاه.",
    open: "إعداد الفئات والشرائح والتدفقات",
    rule: "طريقة تصنيف العملاء",
    preset_a: "النموذج أ: القيمة مدى الحياة (إجمالي الإنفاق × متوسط هامش الربح) وعدد الطلبات، طوال الوقت. برونزي 100 وطلب واحد، فضي 500 و3، ذهبي 1,000 و5، بلاتيني 2,000 و10، كبار العملاء 5,000 و20.",
    margin: "متوسط هامش الربح (%)",
    preset_b: "النموذج ب: عدد الطلبات في آخر 12 شهرًا. برونزي أقل من 6، فضي 6، ذهبي 15، بلاتيني 30.",
    custom: "حدود أحددها بنفسي",
    window: "احتساب الطلبات",
    window_all: "طوال الوقت",
    window_year: "في آخر 12 شهرًا",
    tier: "الفئة",
    min_orders: "عدد الطلبات على الأقل",
    min_spent: "وإجمالي الإنفاق على الأقل (بعملة المتجر، اختياري)",
    custom_hint: "املأ الفئات بدءًا من الأدنى واترك الباقي فارغًا. يجب أن تطلب كل فئة أكثر من التي تحتها، وأن يُحدد المبلغ في كل الفئات أو في لا شيء منها.",
    save: "حفظ",
    preview: "معاينة",
    apply: "إنشاء / تحديث الشرائح والتدفقات",
    duration: "يستغرق إنشاء كل شيء نحو نصف دقيقة: يقبل Klaviyo نحو شريحة أو تدفق جديد كل ثانية. إعادة التشغيل لا تغيّر إلا ما اختلف.",
    remove: "إزالة ما أنشأه التطبيق",
    remove_hint: "يحذف كل شريحة وتدفق يبدأ اسمه بـ “Salla app ·”. لا تُمس شرائحك وتدفقاتك الخاصة.",
    saved: "حُفظت إعدادات الفئات.",
    preview_title: "معاينة: لم يتغير شيء في Klaviyo",
    applied_title: "تم في حسابك على Klaviyo",
    removed_title: "أُزيل من حسابك على Klaviyo",
    segments: "الشرائح",
    flows: "التدفقات",
    created: "أُنشئ",
    would_create: "سيُنشأ",
    updated: "حُدّث",
    would_update: "سيُحدّث",
    unchanged: "محدّث أصلًا",
    removed: "أُزيل",
    would_remove: "سيُزال",
    waiting: "بالانتظار (يُبنى في تشغيل لاحق بعد أن يوجد هذا في Klaviyo)",
    drafts: "تُنشأ التدفقات كمسودات: راجعها في Klaviyo ثم فعّلها.",
    nothing: "لا شيء.",
    not_connected: "اربط مفتاح Klaviyo صالحًا أولًا.",
    missing_scopes: "تنقص مفتاحك صلاحيات الشرائح والتدفقات. أنشئ مفتاحًا خاصًا في Klaviyo بهذه الصلاحيات واحفظه أعلاه:",
    key_refused: "لم يعد Klaviyo يقبل هذا المفتاح. احفظ مفتاحًا خاصًا جديدًا أعلاه.",
    no_orders: "لم يصل أي طلب إلى حسابك في Klaviyo بعد. تحسب الشرائح أحداث Placed Order التي يرسلها التطبيق: أعد التشغيل بعد وصول أول طلب.",
    partial: "تم جزئيًا: انتهى الوقت أو كان Klaviyo مشغولًا. أعد التشغيل: يكمل من حيث توقف ولا ينشئ شيئًا مرتين.",
    klaviyo_down: "تعذر الوصول إلى Klaviyo الآن. حاول مرة أخرى بعد دقيقة.",
    storage_down: "تعذر قراءة إعداداتك أو حفظها الآن. حاول مرة أخرى بعد دقيقة.",
    unknown_action: "هذا الإجراء غير متاح.",
    bad_preset: "اختر إحدى طرق التصنيف.",
    bad_margin: "متوسط هامش الربح: أدخل نسبة من 1 إلى 100.",
    bad_tiers: "الفئات: املأ من فئة إلى 5 فئات، تطلب كل منها أكثر من التي تحتها.",
    bad_orders: "الطلبات: تحتاج كل فئة عددًا صحيحًا من الطلبات من 1 إلى 10000.",
    bad_spent: "إجمالي الإنفاق: مبلغ أكبر من 0 وحتى 100000000، في كل الفئات أو في لا شيء منها.",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Ar => &AR,
        Lang::En => &EN,
    }
}

/// Tier names by position, as the ladders name them (mapping's custom ladder order).
const TIER_NAMES: [(&str, &str); MAX_TIERS] = [
    ("Bronze", "برونزي"),
    ("Silver", "فضي"),
    ("Gold", "ذهبي"),
    ("Platinum", "بلاتيني"),
    ("VIP", "كبار العملاء"),
];

/// The expanded section's own layout (the page's stylesheet has no form controls beyond the
/// key box), scoped to the section.
const STYLE: &str = "\
#crm fieldset{border:0;padding:0;margin:0 0 12px;min-width:0}\
#crm legend{font-weight:600;margin-bottom:6px;padding:0}\
#crm label.choice{display:flex;gap:8px;align-items:flex-start;font-weight:500;margin:12px 0 6px}\
#crm label.choice input{margin-top:6px;flex:none}\
#crm .sub{margin-inline-start:26px}\
#crm input[type=text],#crm select{width:100%;font-size:1rem;padding:8px 10px;border:1px solid #c5cbd3;border-radius:8px;background:#fff}\
#crm table{table-layout:fixed}\
#crm td input[type=text]{padding:6px 8px}\
#crm .actions{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}\
#crm h3{font-size:.95rem;margin:10px 0 4px}\
#crm ul.names{margin:0;padding-inline-start:18px;font-weight:400}\
#crm .secondary{background:#fff;color:#1d2330;border:1px solid #c5cbd3}\
#crm form{margin-top:12px}";

/// The section as the page first shows it, for a connected store (nothing otherwise).
pub fn section(lang: Lang, theme: Theme, signed: &Signed<'_>) -> Markup {
    if signed.klaviyo.is_none() {
        return html! {};
    }
    let t = texts(lang);
    let hidden = Hidden {
        theme,
        csrf: signed.csrf,
        store_id: signed.store_id,
        session: signed.session,
    };
    html! {
        section id="crm" {
            h2 { (t.heading) }
            p class="hint" { (t.intro) }
            (scopes(t))
            form method="post" id="crm-open-form" {
                (hidden_fields(lang, &hidden))
                button type="submit" class="primary" name="action" value="crm_open" id="crm-open" { (t.open) }
            }
        }
    }
}

/// The expanded section: the tier choice, the actions, and what the last action did.
pub fn panel(lang: Lang, hidden: &Hidden<'_>, panel: &Panel) -> Markup {
    let t = texts(lang);
    html! {
        section id="crm" {
            style { (maud::PreEscaped(STYLE)) }
            h2 { (t.heading) }
            @if let Some(problem) = panel.problem {
                div class="alert error" id="crm-error" role="alert" {
                    (problem_text(t, problem))
                    @if problem == CrmProblem::MissingScopes {
                        (scope_list())
                    }
                }
            }
            @if let Some(done) = &panel.done {
                (report(t, done))
            }
            p class="hint" { (t.intro) }
            (settings_form(lang, t, hidden, &panel.values))
            form method="post" id="crm-remove-form" {
                (hidden_fields(lang, hidden))
                p class="hint" { (t.remove_hint) }
                button type="submit" class="danger" name="action" value="crm_remove" id="crm-remove" { (t.remove) }
            }
            (scopes(t))
        }
    }
}

fn scopes(t: &Texts) -> Markup {
    html! {
        div id="crm-scopes" {
            p class="hint" { (t.scopes_note) }
            (scope_list())
            p class="hint" { (t.scopes_hint) }
        }
    }
}

fn scope_list() -> Markup {
    html! {
        ul class="scopes" {
            @for scope in CRM_SCOPES {
                li { code { (scope) } }
            }
        }
    }
}

fn hidden_fields(lang: Lang, hidden: &Hidden<'_>) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(hidden.csrf);
        input type="hidden" name="store_id" value=(hidden.store_id);
        input type="hidden" name="lang" value=(lang.code());
        input type="hidden" name="theme" value=(hidden.theme.code());
        @if let Some(session) = hidden.session {
            input type="hidden" name="session" value=(session);
        }
    }
}

fn settings_form(lang: Lang, t: &Texts, hidden: &Hidden<'_>, values: &Values) -> Markup {
    let is = |preset: &str| values.preset == preset;
    let margin = &values.margin;
    let year = values.window == "last_365_days";
    html! {
        form method="post" id="crm-form" {
            (hidden_fields(lang, hidden))
            fieldset {
                legend { (t.rule) }
                label class="choice" {
                    input type="radio" name="preset" value="a" id="crm-preset-a" checked[is("a")];
                    " " (t.preset_a)
                }
                div class="sub" {
                    label for="crm-margin" { (t.margin) }
                    input type="text" inputmode="decimal" id="crm-margin" name="margin" value=(margin) maxlength="6";
                }
                label class="choice" {
                    input type="radio" name="preset" value="b" id="crm-preset-b" checked[is("b")];
                    " " (t.preset_b)
                }
                label class="choice" {
                    input type="radio" name="preset" value="custom" id="crm-preset-custom" checked[is("custom")];
                    " " (t.custom)
                }
                div class="sub" {
                label for="crm-window" { (t.window) }
                select id="crm-window" name="window" {
                    option value="all_time" selected[!year] { (t.window_all) }
                    option value="last_365_days" selected[year] { (t.window_year) }
                }
                table id="crm-tiers" {
                    tr { th { (t.tier) } th { (t.min_orders) } th { (t.min_spent) } }
                    @for (i, (en, ar)) in TIER_NAMES.iter().enumerate() {
                        @let row = values.rows.get(i);
                        tr {
                            td { (match lang { Lang::Ar => *ar, Lang::En => *en }) }
                            td {
                                input type="text" inputmode="numeric" name={ "tier" (i + 1) "_orders" }
                                    value=(row.map_or("", |r| r.0.as_str())) maxlength="5";
                            }
                            td {
                                input type="text" inputmode="decimal" name={ "tier" (i + 1) "_spent" }
                                    value=(row.map_or("", |r| r.1.as_str())) maxlength="12";
                            }
                        }
                    }
                }
                p class="hint" { (t.custom_hint) }
                }
            }
            p class="hint" { (t.duration) }
            div class="actions" {
                // Enter in a field submits the first button: saving, never a run.
                button type="submit" class="secondary" name="action" value="crm_save" id="crm-save" { (t.save) }
                button type="submit" class="secondary" name="action" value="crm_preview" id="crm-preview" { (t.preview) }
                button type="submit" class="primary" name="action" value="crm_apply" id="crm-apply" { (t.apply) }
            }
        }
    }
}

fn report(t: &Texts, done: &Done) -> Markup {
    let (title, run, preview) = match done {
        Done::Saved => {
            return html! { div class="alert notice" id="crm-notice" role="status" { (t.saved) } };
        }
        Done::Preview(run) => (t.preview_title, run, true),
        Done::Applied(run) => (t.applied_title, run, false),
        Done::Removed(run) => (t.removed_title, run, false),
    };
    let (created, updated, removed) = if preview {
        (t.would_create, t.would_update, t.would_remove)
    } else {
        (t.created, t.updated, t.removed)
    };
    html! {
        div class="alert notice" id="crm-result" role="status" {
            strong { (title) }
            @for (heading, id, r) in [(t.segments, "crm-segments", &run.segments), (t.flows, "crm-flows", &run.flows)] {
                h3 { (heading) }
                dl id=(id) {
                    (names(created, "created", &r.created, t))
                    (names(updated, "updated", &r.updated, t))
                    (names(t.unchanged, "unchanged", &r.unchanged, t))
                    (names(removed, "removed", &r.removed, t))
                }
            }
            @if !run.waiting.is_empty() {
                p { (t.waiting) }
                ul id="crm-waiting" {
                    @for w in &run.waiting { li { bdi { (w) } } }
                }
            }
            @if matches!(done, Done::Applied(_)) && !run.flows.created.is_empty() {
                p { (t.drafts) }
            }
        }
    }
}

/// One row of the report: the names without the app's prefix (every one has it).
fn names(label: &str, class: &str, list: &[String], t: &Texts) -> Markup {
    html! {
        dt { (label) " (" (list.len()) ")" }
        dd class=(class) {
            @if list.is_empty() {
                (t.nothing)
            } @else {
                ul class="names" {
                    @for name in list {
                        li { bdi { (name.strip_prefix(NAME_PREFIX).unwrap_or(name)) } }
                    }
                }
            }
        }
    }
}

fn problem_text(t: &Texts, problem: CrmProblem) -> &'static str {
    match problem {
        CrmProblem::NotConnected => t.not_connected,
        CrmProblem::Field("margin") => t.bad_margin,
        CrmProblem::Field("tiers.min_orders") => t.bad_orders,
        CrmProblem::Field("tiers.min_spent") => t.bad_spent,
        CrmProblem::Field("preset") => t.bad_preset,
        CrmProblem::Field(_) => t.bad_tiers,
        CrmProblem::MissingScopes => t.missing_scopes,
        CrmProblem::KeyRefused => t.key_refused,
        CrmProblem::NoOrders => t.no_orders,
        CrmProblem::Partial => t.partial,
        CrmProblem::KlaviyoDown => t.klaviyo_down,
        CrmProblem::StorageDown => t.storage_down,
        CrmProblem::UnknownAction => t.unknown_action,
    }
}

/// Basis points as the percentage the merchant typed: `2500` → `25`, `2750` → `27.5`.
fn percent(bp: u32) -> String {
    trim_decimals(format!("{}.{:02}", bp / 100, bp % 100))
}

/// Minor units as an amount: `50000` → `500`, `33334` → `333.34`.
fn amount(minor: u64) -> String {
    trim_decimals(format!("{}.{:02}", minor / 100, minor % 100))
}

fn trim_decimals(s: String) -> String {
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_show_as_typed() {
        assert_eq!(percent(2_500), "25");
        assert_eq!(percent(2_750), "27.5");
        assert_eq!(percent(105), "1.05");
        assert_eq!(amount(33_334), "333.34");
        assert_eq!(amount(50_000), "500");
        assert_eq!(amount(10), "0.1");
    }

    #[test]
    fn every_problem_has_a_text_in_both_languages() {
        let all = [
            CrmProblem::NotConnected,
            CrmProblem::Field("margin"),
            CrmProblem::Field("tiers"),
            CrmProblem::Field("tiers.min_orders"),
            CrmProblem::Field("tiers.min_spent"),
            CrmProblem::Field("preset"),
            CrmProblem::MissingScopes,
            CrmProblem::KeyRefused,
            CrmProblem::NoOrders,
            CrmProblem::Partial,
            CrmProblem::KlaviyoDown,
            CrmProblem::StorageDown,
            CrmProblem::UnknownAction,
        ];
        for t in [&AR, &EN] {
            let mut seen: Vec<&str> = all.iter().map(|p| problem_text(t, *p)).collect();
            assert!(seen.iter().all(|s| !s.is_empty()));
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), all.len(), "each problem says something else");
        }
    }
}
