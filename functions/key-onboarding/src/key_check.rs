//! Checking a pasted Klaviyo private key: its shape locally, then with Klaviyo
//! (`GET /api/accounts`). Shared by the page's save action and Salla's Validation URL.

use adapters::klaviyo::{AccountInfo, KlaviyoApi};
use adapters::{AdapterError, Secret};

use crate::i18n::Problem;

/// The trimmed key, or the problem a merchant can fix without asking Klaviyo.
pub fn shape(raw: Option<&str>) -> Result<Secret, Problem> {
    let key = raw.map(str::trim).unwrap_or("");
    if key.is_empty() {
        return Err(Problem::EmptyKey);
    }
    if !adapters::klaviyo::is_private_key_shape(key) {
        return Err(Problem::NotPrivateKey);
    }
    Ok(Secret::new(key))
}

/// Asks Klaviyo which account the key belongs to.
pub async fn with_klaviyo(klaviyo: &dyn KlaviyoApi, key: &Secret) -> Result<AccountInfo, Problem> {
    klaviyo.get_account(key).await.map_err(|e| {
        let problem = klaviyo_problem(&e);
        tracing::info!(event = "klaviyo_key_check", outcome = ?problem, error = %e);
        problem
    })
}

/// 401 (and Klaviyo's documented 400) → invalid key; 403 → the key lacks a scope; anything
/// else → Klaviyo is not answering usefully right now.
pub fn klaviyo_problem(e: &AdapterError) -> Problem {
    match e {
        AdapterError::Unauthorized { status: 403, .. } => Problem::MissingScopes,
        AdapterError::Unauthorized { .. } => Problem::InvalidKey,
        AdapterError::Rejected {
            status: 400 | 404, ..
        } => Problem::InvalidKey,
        _ => Problem::KlaviyoDown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_rejects_what_cannot_be_a_private_key() {
        assert_eq!(shape(None), Err(Problem::EmptyKey));
        assert_eq!(shape(Some("   ")), Err(Problem::EmptyKey));
        assert_eq!(shape(Some("AbC123")), Err(Problem::NotPrivateKey));
        assert_eq!(shape(Some("pk_a b")), Err(Problem::NotPrivateKey));
        assert_eq!(
            shape(Some(&format!("pk_{}", "a".repeat(300)))),
            Err(Problem::NotPrivateKey)
        );
        assert_eq!(shape(Some(" pk_abc \n")).unwrap().expose(), "pk_abc");
    }

    #[test]
    fn klaviyo_errors_become_merchant_problems() {
        let unauthorized = |status| AdapterError::Unauthorized {
            service: adapters::Service::Klaviyo,
            status,
            code: None,
        };
        assert_eq!(klaviyo_problem(&unauthorized(401)), Problem::InvalidKey);
        assert_eq!(klaviyo_problem(&unauthorized(403)), Problem::MissingScopes);
        let down = AdapterError::Unavailable {
            service: adapters::Service::Klaviyo,
            detail: "x".into(),
        };
        assert_eq!(klaviyo_problem(&down), Problem::KlaviyoDown);
    }
}
