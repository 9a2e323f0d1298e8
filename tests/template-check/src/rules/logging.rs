//! Logs: structured JSON, in log groups the template owns, with a retention period.
//! (Without an explicit log group Lambda creates one that keeps logs forever.)

use serde_json::Value as Json;

use super::Violation;
use crate::model::{
    function_property, functions, props, ref_target, resource, resource_type, resources_of_type,
};

pub const RETENTION: &str = "log-retention";
pub const FUNCTION_LOGGING: &str = "function-logging";

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    for (id, res) in resources_of_type(doc, "AWS::Logs::LogGroup") {
        if props(res).get("RetentionInDays").is_none() {
            out.push(Violation::new(
                RETENTION,
                id,
                "log group without RetentionInDays",
            ));
        }
    }
    for (id, res) in functions(doc) {
        let cfg = function_property(doc, res, "LoggingConfig");
        let format = cfg.and_then(|c| c.get("LogFormat")).and_then(Json::as_str);
        if format != Some("JSON") {
            out.push(Violation::new(
                FUNCTION_LOGGING,
                id,
                "LoggingConfig.LogFormat must be JSON",
            ));
        }
        let group = cfg
            .and_then(|c| c.get("LogGroup"))
            .and_then(ref_target)
            .and_then(|t| resource(doc, t));
        if group.is_none_or(|g| resource_type(g) != "AWS::Logs::LogGroup") {
            out.push(Violation::new(
                FUNCTION_LOGGING,
                id,
                "LoggingConfig.LogGroup must !Ref a log group of this template (with retention)",
            ));
        }
    }
}
