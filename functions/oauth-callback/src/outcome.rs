//! A finished callback: which store connected and where the merchant goes next.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub store_id: String,
    /// The onboarding page with the handoff token.
    pub location: String,
}
