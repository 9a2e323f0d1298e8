//! The URLs the operator pastes into the Salla Partner Portal.

use serde_json::Value as Json;

use super::Violation;

pub const OUTPUTS: &str = "outputs";

pub const PORTAL_OUTPUTS: &[&str] = &[
    "WebhookUrl",
    "OAuthCallbackUrl",
    "OnboardingUrl",
    "ValidationUrl",
];

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    for name in PORTAL_OUTPUTS {
        let has_value = doc
            .get("Outputs")
            .and_then(|o| o.get(*name))
            .and_then(|o| o.get("Value"))
            .is_some();
        if !has_value {
            out.push(Violation::new(
                OUTPUTS,
                "Outputs",
                format!("missing {name}"),
            ));
        }
    }
}
