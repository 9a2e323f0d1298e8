//! Policy checks for the SAM template (`template.yaml` at the workspace root).
//!
//! The template is parsed into the long-form JSON CloudFormation itself works on (short tags
//! such as `!GetAtt Table.Arn` become `{"Fn::GetAtt": ["Table", "Arn"]}`), then every rule in
//! [`rules`] inspects it and reports [`Violation`]s. The tests in `tests/policy.rs` assert the
//! real template has none, and mutate it to prove each rule actually fires, so a later edit
//! cannot quietly widen access or start keeping payloads.

mod error;
pub mod load;
pub mod model;
pub mod rules;

pub use error::TemplateError;
pub use load::{load, load_default, parse, template_path};
pub use rules::{Violation, check_all};
