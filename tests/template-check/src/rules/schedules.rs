//! Scheduled functions: each is invoked by exactly one EventBridge Scheduler schedule, at a
//! fixed time (no flexible window), through a role that may invoke that function and nothing
//! else; and a schedule targets nothing but a scheduled function.

use serde_json::Value as Json;

use super::{Violation, is_scheduled};
use crate::model::{
    actions, as_list, function_binary, functions, identity_statements, is_allow, props, ref_target,
    resource, resource_type, resources_of_type,
};

pub const SCHEDULE: &str = "function-schedule";

const SCHEDULE_TYPE: &str = "AWS::Scheduler::Schedule";

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    let schedules = resources_of_type(doc, SCHEDULE_TYPE);
    for (id, res) in functions(doc) {
        if !function_binary(res).is_some_and(is_scheduled) {
            continue;
        }
        let targeting = schedules
            .iter()
            .filter(|(_, s)| target_function(s) == Some(id))
            .count();
        if targeting != 1 {
            out.push(Violation::new(
                SCHEDULE,
                id,
                format!("a scheduled function needs exactly one {SCHEDULE_TYPE} targeting it (!GetAtt {id}.Arn), found {targeting}"),
            ));
        }
    }
    for (id, schedule) in &schedules {
        // A schedule sending to a queue is checked by the queue rules (`queues`).
        let to_queue = props(schedule)
            .pointer("/Target/Arn")
            .and_then(ref_target)
            .and_then(|t| resource(doc, t))
            .is_some_and(|r| resource_type(r) == "AWS::SQS::Queue");
        if !to_queue {
            check_schedule(doc, id, schedule, out);
        }
    }
}

/// The function a schedule's `Target.Arn` names with `!GetAtt F.Arn`.
fn target_function(schedule: &Json) -> Option<&str> {
    let arn = props(schedule).get("Target")?.get("Arn")?;
    arn.get("Fn::GetAtt")?;
    ref_target(arn)
}

fn check_schedule(doc: &Json, id: &str, schedule: &Json, out: &mut Vec<Violation>) {
    let mut fail = |detail: String| out.push(Violation::new(SCHEDULE, id, detail));
    let p = props(schedule);
    let function = target_function(schedule)
        .filter(|f| resource(doc, f).is_some_and(|r| function_binary(r).is_some_and(is_scheduled)));
    let Some(function) = function else {
        fail("Target.Arn must be !GetAtt <scheduled function>.Arn".into());
        return;
    };
    let mode = p
        .get("FlexibleTimeWindow")
        .and_then(|w| w.get("Mode"))
        .and_then(Json::as_str);
    if mode != Some("OFF") {
        fail("FlexibleTimeWindow.Mode must be OFF".into());
    }
    let expression = p.get("ScheduleExpression").and_then(Json::as_str);
    if !expression.is_some_and(|e| e.starts_with("rate(") || e.starts_with("cron(")) {
        fail("ScheduleExpression must be a rate(...) or cron(...) literal".into());
    }
    let role = p
        .get("Target")
        .and_then(|t| t.get("RoleArn"))
        .and_then(ref_target)
        .filter(|r| resource(doc, r).is_some_and(|r| resource_type(r) == "AWS::IAM::Role"));
    let Some(role) = role else {
        fail("Target.RoleArn must be !GetAtt <role of this template>.Arn".into());
        return;
    };
    let role_res = resource(doc, role).unwrap_or(&Json::Null);
    let trusted: Vec<&str> = as_list(
        props(role_res)
            .pointer("/AssumeRolePolicyDocument/Statement")
            .unwrap_or(&Json::Null),
    )
    .into_iter()
    .flat_map(|s| as_list(s.pointer("/Principal/Service").unwrap_or(&Json::Null)))
    .filter_map(Json::as_str)
    .collect();
    if trusted != ["scheduler.amazonaws.com"] {
        fail(format!(
            "{role} must be assumable by scheduler.amazonaws.com alone, got {trusted:?}"
        ));
    }
    if props(role_res).get("ManagedPolicyArns").is_some() {
        fail(format!("{role} must not carry managed policies"));
    }
    let mut invokes = false;
    for stmt in identity_statements(doc) {
        if !stmt.owners.iter().any(|o| o == role) {
            continue;
        }
        let only_invoke = actions(stmt.json) == ["lambda:InvokeFunction"];
        let resources = as_list(stmt.json.get("Resource").unwrap_or(&Json::Null));
        let only_target = !resources.is_empty()
            && resources
                .iter()
                .all(|r| r.get("Fn::GetAtt").is_some() && ref_target(r) == Some(function));
        if !is_allow(stmt.json) || !only_invoke || !only_target {
            fail(format!(
                "{}: the schedule role may only allow lambda:InvokeFunction on !GetAtt {function}.Arn",
                stmt.location
            ));
        } else {
            invokes = true;
        }
    }
    if !invokes {
        fail(format!("{role} has no permission to invoke {function}"));
    }
}
