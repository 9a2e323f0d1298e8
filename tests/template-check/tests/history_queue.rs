//! The history import's queue, dead-letter queue, worker and daily sweep schedule; each
//! rule fires on a template mutated to break it.

use serde_json::{Value as Json, json};
use template_check::rules::queues;
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
fn the_real_template_passes_every_rule() {
    let v = after(|_| {});
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn an_unencrypted_queue_is_caught() {
    for q in ["HistoryQueue", "HistoryDeadLetterQueue"] {
        let v = after(|t| {
            props(t, q)
                .as_object_mut()
                .unwrap()
                .remove("SqsManagedSseEnabled");
        });
        assert!(fires(queues::ENCRYPTION, &v), "{q}");
    }
}

#[test]
fn a_queue_without_dead_letter_queue_or_its_alarm_is_caught() {
    let v = after(|t| {
        props(t, "HistoryQueue")
            .as_object_mut()
            .unwrap()
            .remove("RedrivePolicy");
    });
    assert!(fires(queues::DEAD_LETTER, &v));
    let v = after(|t| props(t, "HistoryQueue")["RedrivePolicy"]["maxReceiveCount"] = json!(50));
    assert!(fires(queues::DEAD_LETTER, &v));
    let v = after(|t| {
        t["Resources"]
            .as_object_mut()
            .unwrap()
            .remove("HistoryDeadLetterAlarm");
    });
    assert!(fires(queues::DEAD_LETTER, &v));
    let v = after(|t| props(t, "HistoryDeadLetterAlarm")["Threshold"] = json!(10));
    assert!(fires(queues::DEAD_LETTER, &v));
}

#[test]
fn a_visibility_timeout_under_six_worker_timeouts_is_caught() {
    let v = after(|t| props(t, "HistoryQueue")["VisibilityTimeout"] = json!(600));
    assert!(fires(queues::VISIBILITY, &v));
    let v = after(|t| props(t, "HistoryWorkerFunction")["Timeout"] = json!(600));
    assert!(fires(queues::VISIBILITY, &v));
}

#[test]
fn a_batch_mapping_without_partial_failures_or_reserved_concurrency_is_caught() {
    let v = after(|t| props(t, "HistoryWorkerEventSource")["BatchSize"] = json!(10));
    assert!(fires(queues::MAPPING, &v));
    let v = after(|t| {
        props(t, "HistoryWorkerEventSource")
            .as_object_mut()
            .unwrap()
            .remove("FunctionResponseTypes");
    });
    assert!(fires(queues::MAPPING, &v));
    let v = after(|t| {
        props(t, "HistoryWorkerFunction")
            .as_object_mut()
            .unwrap()
            .remove("ReservedConcurrentExecutions");
    });
    assert!(fires(queues::MAPPING, &v));
}

#[test]
fn wider_sqs_access_is_caught() {
    // The schedule role may only send, to its own queue.
    let v = after(|t| {
        props(t, "HistorySweepSchedulePolicy")["PolicyDocument"]["Statement"][0]["Action"] =
            json!(["sqs:SendMessage", "sqs:PurgeQueue"])
    });
    assert!(fires(queues::SQS_ACCESS, &v));
    let v = after(|t| {
        props(t, "HistorySweepSchedulePolicy")["PolicyDocument"]["Statement"][0]["Resource"] =
            json!("*")
    });
    assert!(fires(queues::SQS_ACCESS, &v));
    // The worker: its four actions on its own queue, nothing else.
    let v = after(|t| {
        props(t, "HistoryWorkerPolicy")["PolicyDocument"]["Statement"][2]["Resource"] =
            json!({"Fn::GetAtt": ["HistoryDeadLetterQueue", "Arn"]})
    });
    assert!(fires(queues::SQS_ACCESS, &v));
    let v = after(|t| {
        props(t, "HistoryWorkerPolicy")["PolicyDocument"]["Statement"][2]["Action"] = json!("sqs:*")
    });
    assert!(fires(queues::SQS_ACCESS, &v));
    // Another function's role may not touch the queue.
    let v = after(|t| {
        let stmt = t["Resources"]["HistorySweepSchedulePolicy"]["Properties"]["PolicyDocument"]
            ["Statement"][0]
            .clone();
        let statements = props(t, "TokenRefreshPolicy")["PolicyDocument"]["Statement"]
            .as_array_mut()
            .unwrap();
        statements.push(stmt);
    });
    assert!(fires(queues::SQS_ACCESS, &v));
    // The worker keeps the store table's least privilege (no DeleteItem).
    let v = after(|t| {
        props(t, "HistoryWorkerPolicy")["PolicyDocument"]["Statement"][0]["Action"] = json!([
            "dynamodb:Scan",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem"
        ])
    });
    assert!(!v.is_empty());
}

#[test]
fn the_sweep_schedule_sends_the_fan_out_message_to_the_queue() {
    let t = load_default();
    let s = &t["Resources"]["HistorySweepSchedule"]["Properties"];
    assert_eq!(
        s["Target"]["Arn"],
        json!({"Fn::GetAtt": ["HistoryQueue", "Arn"]})
    );
    assert_eq!(s["Target"]["Input"], r#"{"v":1,"job":"sweep_all"}"#);
    assert_eq!(s["FlexibleTimeWindow"]["Mode"], "OFF");
}

#[test]
fn the_functions_that_start_history_may_only_send_to_the_queue_they_name() {
    for policy in [
        "WebhookIntakePolicy",
        "KeyOnboardingPolicy",
        "OAuthCallbackPolicy",
    ] {
        let sid = |t: &mut Json| -> usize {
            props(t, policy)["PolicyDocument"]["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .position(|s| s["Sid"] == "HistoryStarts")
                .unwrap_or_else(|| panic!("{policy} has no HistoryStarts statement"))
        };
        // Receiving (or deleting) is the worker's alone.
        let v = after(|t| {
            let i = sid(t);
            props(t, policy)["PolicyDocument"]["Statement"][i]["Action"] =
                json!(["sqs:SendMessage", "sqs:ReceiveMessage"])
        });
        assert!(fires(queues::SQS_ACCESS, &v), "{policy}");
        // Another queue than the one it names.
        let v = after(|t| {
            let i = sid(t);
            props(t, policy)["PolicyDocument"]["Statement"][i]["Resource"] =
                json!({"Fn::GetAtt": ["HistoryDeadLetterQueue", "Arn"]})
        });
        assert!(fires(queues::SQS_ACCESS, &v), "{policy}");
    }
    // A function that names no queue may not send to it.
    let v = after(|t| {
        props(t, "WebhookIntakeFunction")["Environment"]["Variables"]
            .as_object_mut()
            .unwrap()
            .remove(queues::QUEUE_URL_VAR);
    });
    assert!(fires(queues::SQS_ACCESS, &v));
}
