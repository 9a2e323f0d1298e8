//! The end-to-end tests as one test binary: every module links the whole stack (handlers, AWS
//! SDK, stubs), so one binary is linked instead of one per file.

mod bad_input;
mod browser;
mod catalog_variants;
mod cod_page;
mod crm;
mod crm_page;
mod faults_aws;
mod health_counts;
mod history_starts;
mod intake;
mod lifecycle;
mod metric_mapping;
mod onboarding;
mod one_profile;
mod page_states;
mod points;
mod privacy;
mod relay_limits;
mod settings_confirm;
mod shipment_order;
mod storefront;
mod token_refresh;
