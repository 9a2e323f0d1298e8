//! Alarms: every function watched for errors, throttles and running close to its timeout; the
//! store table and the store key watched for failures; every alarm notifying the stack's own
//! alarm topic, so an alarm is never silent because no topic was configured.

use serde_json::Value as Json;

use super::{FUNCTIONS, Violation};
use crate::model::{
    as_list, function_property, functions, props, ref_target, resource, resource_type,
    resources_of_type,
};

pub const FUNCTION_ALARMS: &str = "alarm-function";
pub const DEPENDENCY_ALARMS: &str = "alarm-dependency";
pub const ALARM_TOPIC: &str = "alarm-topic";

pub const ALARM: &str = "AWS::CloudWatch::Alarm";
pub const TOPIC: &str = "AWS::SNS::Topic";
pub const METRIC_FILTER: &str = "AWS::Logs::MetricFilter";

/// A duration alarm fires when the slowest invocation took more than this share of the
/// function's timeout: late enough not to fire on normal Klaviyo latency, early enough to warn
/// before invocations are cut off.
pub const DURATION_SHARE: std::ops::RangeInclusive<f64> = 0.5..=0.9;

/// The field every function's structured log line carries a failure in (`error = %e`), under
/// the JSON formatter's `fields` object.
pub const ERROR_FIELD: &str = "$.fields.error";

/// One metric an alarm watches, in either the simple form or a `Metrics` entry's `MetricStat`.
struct Watched<'a> {
    namespace: Option<&'a Json>,
    name: Option<&'a str>,
    dimensions: Vec<(&'a str, &'a Json)>,
}

impl Watched<'_> {
    fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace.and_then(Json::as_str) == Some(namespace) && self.name == Some(name)
    }

    /// The dimension `key` is `!Ref`/`!GetAtt` of the resource `id`.
    fn refers(&self, key: &str, id: &str) -> bool {
        self.dimension(key).and_then(ref_target) == Some(id)
    }

    fn dimension(&self, key: &str) -> Option<&Json> {
        self.dimensions
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

fn dimensions(v: Option<&Json>) -> Vec<(&str, &Json)> {
    as_list(v.unwrap_or(&Json::Null))
        .into_iter()
        .filter_map(|d| Some((d.get("Name")?.as_str()?, d.get("Value")?)))
        .collect()
}

/// The metric of a simple-form alarm (no metric math).
fn simple_metric(alarm: &Json) -> Option<Watched<'_>> {
    let p = props(alarm);
    let name = p.get("MetricName")?.as_str();
    Some(Watched {
        namespace: p.get("Namespace"),
        name,
        dimensions: dimensions(p.get("Dimensions")),
    })
}

/// Every metric an alarm reads: its simple-form metric or each `MetricStat` of its `Metrics`.
fn watched(alarm: &Json) -> Vec<Watched<'_>> {
    let mut out: Vec<Watched<'_>> = simple_metric(alarm).into_iter().collect();
    for m in as_list(props(alarm).get("Metrics").unwrap_or(&Json::Null)) {
        if let Some(metric) = m.get("MetricStat").and_then(|s| s.get("Metric")) {
            out.push(Watched {
                namespace: metric.get("Namespace"),
                name: metric.get("MetricName").and_then(Json::as_str),
                dimensions: dimensions(metric.get("Dimensions")),
            });
        }
    }
    out
}

fn number(v: Option<&Json>) -> Option<f64> {
    match v? {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    let alarms = resources_of_type(doc, ALARM);
    topic(doc, &alarms, out);
    function_alarms(doc, &alarms, out);
    table_alarms(doc, &alarms, out);
    key_alarms(doc, &alarms, out);
}

/// Exactly one alarm topic in the stack, named in every alarm's `AlarmActions` directly (not
/// behind a condition), and in the outputs so the operator can subscribe more endpoints.
fn topic(doc: &Json, alarms: &[(&str, &Json)], out: &mut Vec<Violation>) {
    let topics = resources_of_type(doc, TOPIC);
    let [(topic_id, topic)] = topics.as_slice() else {
        out.push(Violation::new(
            ALARM_TOPIC,
            "Resources",
            format!(
                "expected exactly one {TOPIC} (the alarm topic), found {}",
                topics.len()
            ),
        ));
        return;
    };
    // A topic behind a condition is absent from some deployments, and its alarms notify
    // nothing there.
    if let Some(condition) = topic.get("Condition") {
        out.push(Violation::new(
            ALARM_TOPIC,
            *topic_id,
            format!("the alarm topic must exist in every deployment, not only under {condition}"),
        ));
    }
    // CloudWatch cannot publish to a topic under the AWS managed SNS key, so alarms would be
    // silently undelivered; the template's own key (whose policy lets CloudWatch use it for
    // this topic) is the one that works.
    let own_key = props(topic)
        .get("KmsMasterKeyId")
        .and_then(ref_target)
        .and_then(|k| resource(doc, k))
        .is_some_and(|k| resource_type(k) == "AWS::KMS::Key");
    if !own_key {
        out.push(Violation::new(
            ALARM_TOPIC,
            *topic_id,
            "KmsMasterKeyId must be the template's KMS key (CloudWatch cannot use the AWS managed SNS key)",
        ));
    }
    for (id, alarm) in alarms {
        let actions = as_list(props(alarm).get("AlarmActions").unwrap_or(&Json::Null));
        let notifies = actions
            .iter()
            .any(|a| a.get("Ref").and_then(Json::as_str) == Some(topic_id));
        if !notifies {
            out.push(Violation::new(
                ALARM_TOPIC,
                *id,
                format!("AlarmActions must include !Ref {topic_id} unconditionally"),
            ));
        }
    }
    let output = doc
        .get("Outputs")
        .and_then(Json::as_object)
        .is_some_and(|o| {
            o.values().any(|v| {
                v.get("Value")
                    .and_then(|v| v.get("Ref"))
                    .and_then(Json::as_str)
                    == Some(topic_id)
            })
        });
    if !output {
        out.push(Violation::new(
            ALARM_TOPIC,
            "Outputs",
            format!("no output gives the alarm topic's ARN (!Ref {topic_id})"),
        ));
    }
}

/// Simple-form alarms on one `AWS/Lambda` metric of one function.
fn lambda_alarms<'a>(
    alarms: &[(&'a str, &'a Json)],
    function_id: &str,
    metric: &str,
) -> Vec<(&'a str, &'a Json)> {
    alarms
        .iter()
        .filter(|(_, a)| {
            simple_metric(a).is_some_and(|m| {
                m.is("AWS/Lambda", metric) && m.refers("FunctionName", function_id)
            })
        })
        .copied()
        .collect()
}

fn function_alarms(doc: &Json, alarms: &[(&str, &Json)], out: &mut Vec<Violation>) {
    for (id, res) in functions(doc) {
        for metric in ["Errors", "Throttles"] {
            if lambda_alarms(alarms, id, metric).is_empty() {
                out.push(Violation::new(
                    FUNCTION_ALARMS,
                    id,
                    format!("no alarm on AWS/Lambda {metric} for this function"),
                ));
            }
        }
        let Some(timeout_ms) = number(function_property(doc, res, "Timeout")).map(|s| s * 1000.0)
        else {
            continue; // reported by the function-timeout rule
        };
        let near_timeout = lambda_alarms(alarms, id, "Duration").iter().any(|(_, a)| {
            let p = props(a);
            let share = number(p.get("Threshold")).map(|t| t / timeout_ms);
            p.get("Statistic").and_then(Json::as_str) == Some("Maximum")
                && share.is_some_and(|s| DURATION_SHARE.contains(&s))
                && matches!(
                    p.get("ComparisonOperator").and_then(Json::as_str),
                    Some("GreaterThanThreshold" | "GreaterThanOrEqualToThreshold")
                )
        });
        if !near_timeout {
            out.push(Violation::new(
                FUNCTION_ALARMS,
                id,
                format!(
                    "no alarm on AWS/Lambda Duration (Maximum, greater than {:.0}-{:.0} % of the \
                     {timeout_ms} ms timeout)",
                    DURATION_SHARE.start() * 100.0,
                    DURATION_SHARE.end() * 100.0
                ),
            ));
        }
    }
}

/// DynamoDB publishes `SystemErrors` per table and operation only, so the alarm must read it
/// for every operation a function uses; throttling per table.
fn table_alarms(doc: &Json, alarms: &[(&str, &Json)], out: &mut Vec<Violation>) {
    let tables = resources_of_type(doc, "AWS::DynamoDB::Table");
    let Some((table, _)) = tables.first() else {
        return; // reported by the no-payload-store rule
    };
    let mut operations: Vec<&str> = FUNCTIONS
        .iter()
        .flat_map(|f| f.dynamodb.iter())
        .filter_map(|a| a.strip_prefix("dynamodb:"))
        .collect();
    operations.sort_unstable();
    operations.dedup();
    let covers = |metric: &str, operation: Option<&str>| {
        alarms.iter().any(|(_, a)| {
            watched(a).iter().any(|m| {
                m.is("AWS/DynamoDB", metric)
                    && m.refers("TableName", table)
                    && operation.is_none_or(|op| {
                        m.dimension("Operation").and_then(Json::as_str) == Some(op)
                    })
            })
        })
    };
    for op in &operations {
        if !covers("SystemErrors", Some(op)) {
            out.push(Violation::new(
                DEPENDENCY_ALARMS,
                *table,
                format!("no alarm reads AWS/DynamoDB SystemErrors for operation {op}"),
            ));
        }
    }
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        if !covers(metric, None) {
            out.push(Violation::new(
                DEPENDENCY_ALARMS,
                *table,
                format!("no alarm reads AWS/DynamoDB {metric}"),
            ));
        }
    }
}

/// KMS publishes no per-key metric for failed calls, so each function's log group needs a
/// metric filter counting the KMS failures it logs, and that metric needs an alarm.
fn key_alarms(doc: &Json, alarms: &[(&str, &Json)], out: &mut Vec<Violation>) {
    let filters = resources_of_type(doc, METRIC_FILTER);
    for (id, res) in functions(doc) {
        let Some(group) = function_property(doc, res, "LoggingConfig")
            .and_then(|c| c.get("LogGroup"))
            .and_then(ref_target)
            .filter(|g| {
                resource(doc, g).is_some_and(|r| resource_type(r) == "AWS::Logs::LogGroup")
            })
        else {
            continue; // reported by the function-logging rule
        };
        let alarmed = filters.iter().any(|(_, f)| {
            let p = props(f);
            let pattern = p.get("FilterPattern").and_then(Json::as_str).unwrap_or("");
            p.get("LogGroupName").and_then(ref_target) == Some(group)
                && pattern.contains(ERROR_FIELD)
                && pattern.contains("kms")
                && as_list(p.get("MetricTransformations").unwrap_or(&Json::Null))
                    .into_iter()
                    .any(|t| metric_alarmed(alarms, t))
        });
        if !alarmed {
            out.push(Violation::new(
                DEPENDENCY_ALARMS,
                id,
                format!(
                    "no alarmed metric filter on {group} counting KMS failures ({ERROR_FIELD} \
                     matching kms)"
                ),
            ));
        }
    }
}

/// Some alarm watches the metric a metric filter's transformation publishes.
fn metric_alarmed(alarms: &[(&str, &Json)], transformation: &Json) -> bool {
    let namespace = transformation.get("MetricNamespace");
    let name = transformation.get("MetricName").and_then(Json::as_str);
    alarms.iter().any(|(_, a)| {
        watched(a)
            .iter()
            .any(|m| m.namespace.is_some() && m.namespace == namespace && m.name == name)
    })
}
