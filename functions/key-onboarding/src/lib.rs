//! Key onboarding: the merchant's own page to connect, replace or disconnect their Klaviyo
//! private key (reached inside Salla's dashboard as an embedded page, or through the OAuth
//! callback's handoff), and Salla's settings
//! Validation URL. Routes on the last path segment (the last two for the Validation URL's
//! `validate/<token>`), so the same handler serves the Lambda function URL (`/`,
//! `/validate/<token>`) and the dev server (`/onboarding`, `/onboarding/validate/<token>`).

mod crm_form;
mod crm_view;
pub mod deps;
pub mod error;
mod form;
mod handler;
mod health_view;
mod history_view;
mod i18n;
mod key_check;
pub mod metric_mapping;
pub mod outcome;
mod page;
mod points_page;
mod session;
pub mod settings_sync;
pub mod test_event;
mod validate;
mod view;

#[cfg(test)]
mod embedded_tests;
#[cfg(test)]
mod page_tests;
#[cfg(test)]
mod test_support;

pub use deps::Deps;
pub use error::OnboardingError;
pub use handler::handle;
pub use i18n::{Lang, Problem, Theme};
pub use session::SESSION_COOKIE;
pub use validate::{KEY_FIELD, url_token as validation_url_token};
