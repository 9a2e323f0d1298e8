use thiserror::Error;

/// Why a template could not be turned into the JSON model the rules check.
#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("template is not valid YAML: {0}")]
    Yaml(String),
    #[error("unsupported YAML at {at}: {reason}")]
    Unsupported { at: String, reason: String },
}
