//! The page: Arabic first (right to left), English by `lang=en`. No scripts, no external
//! assets; one form whose POST carries the link's token.

use adapters::cod::link::Action;
use adapters::salla::order_status::OrderSummary;
use maud::{DOCTYPE, Markup, html};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ar,
    En,
}

impl Lang {
    pub fn parse(value: Option<&str>) -> Lang {
        match value {
            Some(v)
                if v.eq_ignore_ascii_case("en") || v.to_ascii_lowercase().starts_with("en-") =>
            {
                Lang::En
            }
            _ => Lang::Ar,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            Lang::En => "ltr",
        }
    }
}

/// What the page says.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    /// Asks for the button press.
    Ask {
        action: Action,
        order: OrderSummary,
    },
    /// The button was pressed and the order moved.
    Done {
        action: Action,
        order: OrderSummary,
    },
    /// The order already is where the link would take it.
    AlreadyDone {
        action: Action,
        order: OrderSummary,
    },
    /// The order has moved on without this link (or is not a COD order).
    Settled {
        order: OrderSummary,
    },
    /// A cancel link of a store that does not let shoppers cancel from a message.
    CancelNotAllowed {
        order: OrderSummary,
    },
    /// Another answer for this order is being recorded right now.
    Busy,
    Expired,
    /// Forged, altered, foreign or unknown.
    Invalid,
    /// Salla or the store's connection cannot answer now.
    Unavailable,
}

impl Page {
    pub fn status(&self) -> u16 {
        match self {
            Page::Invalid => 404,
            Page::Expired => 410,
            Page::Unavailable => 503,
            Page::Busy => 409,
            _ => 200,
        }
    }
}

struct Text {
    title: &'static str,
    order: &'static str,
    total: &'static str,
    ask_confirm: &'static str,
    ask_cancel: &'static str,
    button_confirm: &'static str,
    button_cancel: &'static str,
    done_confirm: &'static str,
    done_cancel: &'static str,
    settled: &'static str,
    cancel_not_allowed: &'static str,
    busy: &'static str,
    expired: &'static str,
    invalid: &'static str,
    unavailable: &'static str,
}

const AR: Text = Text {
    title: "تأكيد الطلب",
    order: "رقم الطلب",
    total: "الإجمالي",
    ask_confirm: "هل تؤكد طلبك؟ الدفع عند الاستلام.",
    ask_cancel: "هل تريد إلغاء طلبك؟",
    button_confirm: "تأكيد الطلب",
    button_cancel: "إلغاء الطلب",
    done_confirm: "تم تأكيد طلبك. شكراً لك!",
    done_cancel: "تم إلغاء طلبك.",
    settled: "لم يعد بالإمكان تغيير هذا الطلب من هنا. حالته الآن:",
    cancel_not_allowed: "لإلغاء هذا الطلب، يرجى التواصل مع المتجر.",
    busy: "جارٍ تسجيل ردك على هذا الطلب. أعد تحميل الصفحة بعد لحظات.",
    expired: "انتهت صلاحية هذا الرابط. تواصل مع المتجر لتأكيد طلبك.",
    invalid: "هذا الرابط غير صالح.",
    unavailable: "تعذر الوصول إلى المتجر الآن. حاول مرة أخرى بعد قليل.",
};

const EN: Text = Text {
    title: "Order confirmation",
    order: "Order number",
    total: "Total",
    ask_confirm: "Do you confirm your order? You pay on delivery.",
    ask_cancel: "Do you want to cancel your order?",
    button_confirm: "Confirm order",
    button_cancel: "Cancel order",
    done_confirm: "Your order is confirmed. Thank you!",
    done_cancel: "Your order is cancelled.",
    settled: "This order can no longer be changed here. Its status now:",
    cancel_not_allowed: "To cancel this order, please contact the store.",
    busy: "Your answer for this order is being recorded. Reload this page in a moment.",
    expired: "This link has expired. Please contact the store to confirm your order.",
    invalid: "This link is not valid.",
    unavailable: "The store cannot be reached right now. Please try again shortly.",
};

/// Shopper-facing names of Salla's original statuses.
fn status_name(slug: &str, lang: Lang) -> &str {
    let (ar, en) = match slug {
        "under_review" => ("بإنتظار المراجعة", "Awaiting review"),
        "payment_pending" => ("بإنتظار الدفع", "Awaiting payment"),
        "in_progress" => ("قيد التنفيذ", "Confirmed, in progress"),
        "completed" => ("تم التنفيذ", "Completed"),
        "shipped" => ("تم الشحن", "Shipped"),
        "delivering" => ("جاري التوصيل", "Out for delivery"),
        "delivered" => ("تم التوصيل", "Delivered"),
        "canceled" => ("ملغي", "Cancelled"),
        "restored" | "restoring" => ("مسترجع", "Returned"),
        _ => ("تم تحديثه من قبل المتجر", "Updated by the store"),
    };
    match lang {
        Lang::Ar => ar,
        Lang::En => en,
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Tahoma,sans-serif;\
background:#f6f6f4;color:#1d1d1b;margin:0;padding:24px}main{max-width:420px;margin:40px auto;\
background:#fff;border-radius:12px;padding:28px;box-shadow:0 1px 4px rgba(0,0,0,.08)}\
h1{font-size:1.3rem;margin:0 0 16px}dl{display:grid;grid-template-columns:auto 1fr;gap:6px 12px}\
dt{color:#666}dd{margin:0;font-weight:600}button{width:100%;padding:14px;font-size:1.05rem;\
border:0;border-radius:8px;background:#1d6b4f;color:#fff;cursor:pointer}\
button.cancel{background:#9b2c2c}p{line-height:1.6}";

/// The whole page. `token` and `lang` go into the form so the POST acts on the same link.
pub fn render(page: &Page, lang: Lang, token: &str) -> String {
    let t = match lang {
        Lang::Ar => &AR,
        Lang::En => &EN,
    };
    let body: Markup = match page {
        Page::Ask { action, order } => html! {
            (summary(t, order))
            p { (match action { Action::Confirm => t.ask_confirm, Action::Cancel => t.ask_cancel }) }
            form method="post" {
                input type="hidden" name="t" value=(token);
                input type="hidden" name="lang" value=(lang.code());
                @match action {
                    Action::Confirm => button type="submit" { (t.button_confirm) },
                    Action::Cancel => button type="submit" class="cancel" { (t.button_cancel) },
                }
            }
        },
        Page::Done { action, order } | Page::AlreadyDone { action, order } => html! {
            (summary(t, order))
            p { (match action { Action::Confirm => t.done_confirm, Action::Cancel => t.done_cancel }) }
        },
        Page::Settled { order } => html! {
            (summary(t, order))
            p { (t.settled) " " strong { (status_name(&order.status, lang)) } }
        },
        Page::CancelNotAllowed { order } => html! {
            (summary(t, order))
            p { (t.cancel_not_allowed) }
        },
        Page::Busy => html! { p { (t.busy) } },
        Page::Expired => html! { p { (t.expired) } },
        Page::Invalid => html! { p { (t.invalid) } },
        Page::Unavailable => html! { p { (t.unavailable) } },
    };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) dir=(lang.dir()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                title { (t.title) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { main { h1 { (t.title) } (body) } }
        }
    }
    .into_string()
}

fn summary(t: &Text, order: &OrderSummary) -> Markup {
    html! {
        dl {
            dt { (t.order) } dd { (order.number) }
            @if let Some((amount, currency)) = &order.total {
                dt { (t.total) } dd { (amount) " " (currency) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderSummary {
        OrderSummary {
            id: 5,
            number: "<b>71234</b>".into(),
            status: "shipped".into(),
            total: Some(("120.50".into(), "SAR".into())),
            ..OrderSummary::default()
        }
    }

    /// A page holds the order's customer (for the event): formatting it, as a log line or a
    /// panic message would, names none of them.
    #[test]
    fn a_page_s_debug_names_no_customer() {
        let mut order = order();
        order.customer = adapters::salla::order_status::Customer {
            id: Some("77".into()),
            email: Some("sara@example.com".into()),
            phone: Some("+966500000001".into()),
            first_name: Some("Sara".into()),
            last_name: Some("Alqahtani".into()),
        };
        let shown = format!(
            "{:?}",
            Page::Done {
                action: Action::Confirm,
                order
            }
        );
        assert!(shown.contains("Done"), "{shown}");
        for private in [
            "sara@example.com",
            "500000001",
            "Sara",
            "Alqahtani",
            "71234",
            "120.50",
        ] {
            assert!(!shown.contains(private), "{private} in {shown}");
        }
    }

    #[test]
    fn the_ask_page_has_one_button_posting_the_same_token() {
        let html = render(
            &Page::Ask {
                action: Action::Confirm,
                order: order(),
            },
            Lang::Ar,
            "TOKEN123",
        );
        assert!(html.contains(r#"dir="rtl""#));
        assert_eq!(html.matches("<button").count(), 1);
        assert!(html.contains(r#"<form method="post">"#));
        assert!(html.contains(r#"name="t" value="TOKEN123""#));
        assert!(html.contains("120.50 SAR"));
        // Salla's text is escaped; nothing loads from anywhere.
        assert!(html.contains("&lt;b&gt;71234"));
        assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
    }

    #[test]
    fn english_by_lang_and_states_without_a_button() {
        assert_eq!(Lang::parse(Some("en-GB")), Lang::En);
        assert_eq!(Lang::parse(Some("fr")), Lang::Ar);
        let html = render(&Page::Settled { order: order() }, Lang::En, "x");
        assert!(html.contains(r#"dir="ltr""#) && html.contains("Shipped"));
        for page in [
            Page::Expired,
            Page::Invalid,
            Page::Unavailable,
            Page::Busy,
            Page::Settled { order: order() },
            Page::CancelNotAllowed { order: order() },
        ] {
            assert!(!render(&page, Lang::En, "x").contains("<button"));
        }
    }
}
