//! The end-to-end tests as one test binary: every module links the whole stack (handlers, AWS
//! SDK, stubs), so one binary is linked instead of one per file.

mod bad_input;
mod browser;
mod faults_aws;
mod history_starts;
mod intake;
mod lifecycle;
mod onboarding;
mod privacy;
mod relay_limits;
mod settings_confirm;
mod token_refresh;
