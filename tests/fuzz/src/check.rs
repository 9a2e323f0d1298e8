//! What the intake does with one body, minus the I/O: verify the credential, parse the
//! envelope, plan, and build every request (primary, fallback, phone-less resend) as the relay
//! would. Returns what happened; a panic propagates to the caller's `catch_unwind`.

use adapters::salla::signature;
use mapping::{Action, Enrichment, MappingError, ProductDetails};

use crate::generate::{Input, SECRET};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// `verify` disagreed with how the credential was made: a defect.
    SignatureMismatch,
    /// The credential did not verify (the intake answers 401 before parsing). The body is still
    /// parsed and planned below so that every input reaches the parser.
    Unauthenticated(Parsed),
    Authenticated(Parsed),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Parsed {
    NotJson,
    NotObject,
    MissingField,
    WrongType,
    Send,
    Ignore,
    Authorize,
    SettingsUpdated,
    Uninstalled,
}

impl Parsed {
    pub fn name(self) -> &'static str {
        match self {
            Parsed::NotJson => "not_json",
            Parsed::NotObject => "not_object",
            Parsed::MissingField => "missing_field",
            Parsed::WrongType => "wrong_type",
            Parsed::Send => "send",
            Parsed::Ignore => "ignore",
            Parsed::Authorize => "authorize",
            Parsed::SettingsUpdated => "settings_updated",
            Parsed::Uninstalled => "uninstalled",
        }
    }

    fn from_error(e: &MappingError) -> Parsed {
        match e {
            MappingError::NotJson => Parsed::NotJson,
            MappingError::NotObject => Parsed::NotObject,
            MappingError::MissingField(_) => Parsed::MissingField,
            MappingError::WrongType { .. } => Parsed::WrongType,
        }
    }
}

impl Outcome {
    pub fn name(self) -> String {
        match self {
            Outcome::SignatureMismatch => "signature_mismatch".into(),
            Outcome::Unauthenticated(p) => format!("401/{}", p.name()),
            Outcome::Authenticated(p) => format!("{}/{}", self.intake_status(), p.name()),
        }
    }

    /// The status the intake's edge gives this outcome (before any Klaviyo call): never 5xx.
    pub fn intake_status(self) -> u16 {
        match self {
            Outcome::SignatureMismatch => 0,
            Outcome::Unauthenticated(_) => 401,
            Outcome::Authenticated(
                Parsed::NotJson | Parsed::NotObject | Parsed::MissingField | Parsed::WrongType,
            ) => 400,
            Outcome::Authenticated(_) => 200,
        }
    }
}

pub fn check(input: &Input) -> Outcome {
    let verified = signature::verify(
        input.auth,
        SECRET,
        &input.bytes,
        input.signature_header.as_deref(),
        input.authorization_header.as_deref(),
    );
    if verified != input.credential_valid {
        return Outcome::SignatureMismatch;
    }
    let parsed = parse_and_plan(&input.bytes);
    if verified {
        Outcome::Authenticated(parsed)
    } else {
        Outcome::Unauthenticated(parsed)
    }
}

fn parse_and_plan(bytes: &[u8]) -> Parsed {
    let envelope = match mapping::parse_envelope(bytes) {
        Ok(e) => e,
        Err(e) => return Parsed::from_error(&e),
    };
    let first = mapping::plan(&envelope, &Enrichment::default());
    // The intake plans a second time with product details when the event asks for them.
    let wanted = mapping::products_to_enrich(&envelope);
    let action = if wanted.is_empty() {
        first
    } else {
        let mut enrichment = Enrichment::default();
        for (i, id) in wanted.iter().enumerate() {
            enrichment.products.insert(
                id.clone(),
                ProductDetails {
                    name: Some(format!("منتج {i}")),
                    sku: (i % 2 == 0).then(|| format!("SKU-{i}")),
                    price: Some(i as f64 * 1.5),
                    url: Some(format!("https://salla.sa/p/{id}")),
                    image_url: (i % 3 == 0).then(|| format!("https://cdn.salla.sa/{id}.png")),
                    categories: vec!["ملابس".into()],
                    brand: None,
                },
            );
        }
        mapping::plan(&envelope, &enrichment)
    };
    match action {
        Err(e) => Parsed::from_error(&e),
        Ok(Action::Send(requests)) => {
            for r in &requests {
                build(r);
                if let Some(fallback) = r.fallback(409) {
                    std::hint::black_box(serde_json::to_vec(&fallback.2).ok());
                }
                if let Some(resend) = r.without_phone() {
                    build(&resend);
                }
            }
            Parsed::Send
        }
        Ok(Action::Ignore { .. }) => Parsed::Ignore,
        Ok(Action::Authorize(_)) => Parsed::Authorize,
        Ok(Action::SettingsUpdated { .. }) => Parsed::SettingsUpdated,
        Ok(Action::Uninstalled) => Parsed::Uninstalled,
    }
}

/// Everything the relay computes from a request before sending it.
fn build(r: &mapping::KlaviyoRequest) {
    std::hint::black_box((r.method(), r.path(), r.label(), r.unique_id()));
    if let Some(body) = r.body() {
        std::hint::black_box(serde_json::to_vec(&body).ok());
    }
}
