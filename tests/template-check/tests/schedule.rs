//! The scheduled token refresh is wired to exactly one fixed-time schedule whose role may
//! invoke that function alone; each rule fires on a template mutated to break it.

use serde_json::{Value as Json, json};
use template_check::rules::{functions, schedules};
use template_check::{Violation, check_all, load_default};

fn after(mutate: impl FnOnce(&mut Json)) -> Vec<Violation> {
    let mut t = load_default();
    mutate(&mut t);
    check_all(&t)
}

fn props<'a>(t: &'a mut Json, id: &str) -> &'a mut Json {
    t.pointer_mut(&format!("/Resources/{id}/Properties"))
        .unwrap_or_else(|| panic!("template has no resource {id}"))
}

fn fires(rule: &str, v: &[Violation]) -> bool {
    v.iter().any(|v| v.rule == rule)
}

#[test]
fn the_real_schedule_passes() {
    let v = after(|_| {});
    assert!(
        !fires(schedules::SCHEDULE, &v),
        "schedule rule fired on the real template: {v:#?}"
    );
    let t = load_default();
    let s = &t["Resources"]["TokenRefreshSchedule"]["Properties"];
    assert_eq!(s["ScheduleExpression"], "rate(6 hours)");
    assert_eq!(
        t["Resources"]["TokenRefreshFunction"]["Properties"]["ReservedConcurrentExecutions"],
        1
    );
}

#[test]
fn a_missing_or_retargeted_schedule_is_caught() {
    let v = after(|t| {
        if let Some(r) = t["Resources"].as_object_mut() {
            r.remove("TokenRefreshSchedule");
        }
    });
    assert!(fires(schedules::SCHEDULE, &v));
    // Aimed at a URL function: that function is not scheduled, and the refresh has no schedule.
    let v = after(|t| {
        props(t, "TokenRefreshSchedule")["Target"]["Arn"] =
            json!({"Fn::GetAtt": ["WebhookIntakeFunction", "Arn"]})
    });
    assert!(fires(schedules::SCHEDULE, &v));
    // A second schedule on the same function.
    let v = after(|t| {
        let copy = t["Resources"]["TokenRefreshSchedule"].clone();
        t["Resources"]["TokenRefreshScheduleTwo"] = copy;
    });
    assert!(fires(schedules::SCHEDULE, &v));
}

#[test]
fn a_flexible_window_or_bad_expression_is_caught() {
    let v = after(|t| {
        props(t, "TokenRefreshSchedule")["FlexibleTimeWindow"] =
            json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 60})
    });
    assert!(fires(schedules::SCHEDULE, &v));
    let v = after(|t| props(t, "TokenRefreshSchedule")["ScheduleExpression"] = json!("6 hours"));
    assert!(fires(schedules::SCHEDULE, &v));
}

#[test]
fn a_schedule_role_that_can_do_more_is_caught() {
    // Invoking every function.
    let v = after(|t| {
        props(t, "TokenRefreshSchedulePolicy")["PolicyDocument"]["Statement"][0]["Resource"] =
            json!("*")
    });
    assert!(fires(schedules::SCHEDULE, &v));
    // Invoking another function.
    let v = after(|t| {
        props(t, "TokenRefreshSchedulePolicy")["PolicyDocument"]["Statement"][0]["Resource"] =
            json!({"Fn::GetAtt": ["KeyOnboardingFunction", "Arn"]})
    });
    assert!(fires(schedules::SCHEDULE, &v));
    // Another action.
    let v = after(|t| {
        props(t, "TokenRefreshSchedulePolicy")["PolicyDocument"]["Statement"][0]["Action"] =
            json!(["lambda:InvokeFunction", "lambda:UpdateFunctionCode"])
    });
    assert!(fires(schedules::SCHEDULE, &v));
    // Trusted by Lambda as well as the scheduler.
    let v = after(|t| {
        props(t, "TokenRefreshScheduleRole")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            ["Service"] = json!(["scheduler.amazonaws.com", "lambda.amazonaws.com"])
    });
    assert!(fires(schedules::SCHEDULE, &v));
    // The function's own role used to invoke it.
    let v = after(|t| {
        props(t, "TokenRefreshSchedule")["Target"]["RoleArn"] =
            json!({"Fn::GetAtt": ["TokenRefreshRole", "Arn"]})
    });
    assert!(fires(schedules::SCHEDULE, &v));
    // No permission at all.
    let v = after(|t| {
        if let Some(r) = t["Resources"].as_object_mut() {
            r.remove("TokenRefreshSchedulePolicy");
        }
    });
    assert!(fires(schedules::SCHEDULE, &v));
}

#[test]
fn a_scheduled_function_with_a_url_more_concurrency_or_a_long_timeout_is_caught() {
    let v = after(|t| {
        props(t, "TokenRefreshFunction")["FunctionUrlConfig"] = json!({"AuthType": "NONE"})
    });
    assert!(fires(functions::SHAPE, &v));
    let v = after(|t| props(t, "TokenRefreshFunction")["ReservedConcurrentExecutions"] = json!(2));
    assert!(fires(functions::CONCURRENCY, &v));
    let v = after(|t| {
        if let Some(p) = props(t, "TokenRefreshFunction").as_object_mut() {
            p.remove("ReservedConcurrentExecutions");
        }
    });
    assert!(fires(functions::CONCURRENCY, &v));
    let v = after(|t| props(t, "TokenRefreshFunction")["Timeout"] = json!(901));
    assert!(fires(functions::TIMEOUT, &v));
}
