//! The real template passes every rule, and each rule fires on a template mutated to break it.

use serde_json::{Value as Json, json};
use template_check::rules::{alarms, functions, iam, kms, logging, outputs, secrets, storage};
use template_check::{Violation, check_all, load_default, parse};

fn template() -> Json {
    load_default()
}

/// Violations after `mutate` changed a fresh copy of the real template.
fn after(mutate: impl FnOnce(&mut Json)) -> Vec<Violation> {
    let mut t = template();
    mutate(&mut t);
    check_all(&t)
}

fn assert_fires(rule: &str, violations: &[Violation]) {
    assert!(
        violations.iter().any(|v| v.rule == rule),
        "expected rule {rule} to fire; got: {violations:#?}"
    );
}

fn res<'a>(t: &'a mut Json, id: &str) -> &'a mut Json {
    t.pointer_mut(&format!("/Resources/{id}"))
        .unwrap_or_else(|| panic!("template has no resource {id}"))
}

fn props<'a>(t: &'a mut Json, id: &str) -> &'a mut Json {
    res(t, id)
        .get_mut("Properties")
        .unwrap_or_else(|| panic!("{id} has no Properties"))
}

/// The statements of a role policy resource.
fn statements<'a>(t: &'a mut Json, policy_id: &str) -> &'a mut Vec<Json> {
    props(t, policy_id)
        .pointer_mut("/PolicyDocument/Statement")
        .and_then(Json::as_array_mut)
        .unwrap_or_else(|| panic!("{policy_id} has no statements"))
}

fn statement_with_sid<'a>(t: &'a mut Json, policy_id: &str, sid: &str) -> &'a mut Json {
    statements(t, policy_id)
        .iter_mut()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("{policy_id} has no statement {sid}"))
}

fn key_statement<'a>(t: &'a mut Json, sid: &str) -> &'a mut Json {
    props(t, "StoreSecretsKey")
        .pointer_mut("/KeyPolicy/Statement")
        .and_then(Json::as_array_mut)
        .and_then(|v| v.iter_mut().find(|s| s["Sid"] == sid))
        .unwrap_or_else(|| panic!("key policy has no statement {sid}"))
}

// ------------------------------------------------------------------ the real template

#[test]
fn real_template_passes_every_rule() {
    let violations = check_all(&template());
    assert!(
        violations.is_empty(),
        "template.yaml violates policy:\n{violations:#?}"
    );
}

#[test]
fn real_template_has_the_functions_with_urls_on_arm64() {
    let t = template();
    let mut binaries: Vec<&str> = t["Resources"]
        .as_object()
        .map(|m| m.values().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .filter_map(|r| {
            r.pointer("/Metadata/BuildProperties/Binary")
                .and_then(Json::as_str)
        })
        .collect();
    binaries.sort();
    assert_eq!(
        binaries,
        [
            "cod-confirm",
            "history-worker",
            "key-onboarding",
            "oauth-callback",
            "token-refresh",
            "webhook-intake"
        ]
    );
    assert_eq!(t["Globals"]["Function"]["Architectures"], json!(["arm64"]));
    for id in [
        "WebhookIntakeFunction",
        "KeyOnboardingFunction",
        "OAuthCallbackFunction",
        "CodConfirmFunction",
    ] {
        assert_eq!(
            t["Resources"][id]["Properties"]["FunctionUrlConfig"]["AuthType"], "NONE",
            "{id}"
        );
    }
    assert_eq!(
        t["Resources"]["WebhookIntakeFunction"]["Properties"]["Timeout"],
        25
    );
}

// ------------------------------------------------------------------ loader

#[test]
fn short_form_tags_become_long_form_intrinsics() {
    let t = parse(
        "A: !Ref X\nB: !GetAtt T.Arn\nC: !GetAtt D.Endpoint.Address\nE: !Sub 'x-${Y}'\n\
         F: !If [C1, [!Ref P], !Ref AWS::NoValue]\nG: !FindInMap [M, !Ref K, L]\n",
    )
    .expect("parses");
    assert_eq!(t["A"], json!({"Ref": "X"}));
    assert_eq!(t["B"], json!({"Fn::GetAtt": ["T", "Arn"]}));
    assert_eq!(t["C"], json!({"Fn::GetAtt": ["D", "Endpoint.Address"]}));
    assert_eq!(t["E"], json!({"Fn::Sub": "x-${Y}"}));
    assert_eq!(
        t["F"],
        json!({"Fn::If": ["C1", [{"Ref": "P"}], {"Ref": "AWS::NoValue"}]})
    );
    assert_eq!(t["G"], json!({"Fn::FindInMap": ["M", {"Ref": "K"}, "L"]}));
}

#[test]
fn bad_yaml_and_unknown_tags_are_errors_not_panics() {
    assert!(parse("a: [unclosed").is_err());
    assert!(parse("a: !Bogus x").is_err());
    assert!(parse("a: !GetAtt NoAttribute").is_err());
}

// ------------------------------------------------------------------ IAM

#[test]
fn data_action_on_any_resource_is_caught() {
    let v = after(|t| {
        statement_with_sid(t, "WebhookIntakePolicy", "StoreRecords")["Resource"] = json!("*")
    });
    assert_fires(iam::ANY_RESOURCE, &v);
    let v = after(|t| {
        statement_with_sid(t, "OAuthCallbackPolicy", "OwnLogGroup")["Resource"] =
            json!({"Fn::Sub": "arn:${AWS::Partition}:logs:*:*:*"})
    });
    assert_fires(iam::ANY_RESOURCE, &v);
}

#[test]
fn wildcard_data_actions_are_caught() {
    let v = after(|t| {
        statement_with_sid(t, "KeyOnboardingPolicy", "StoreRecords")["Action"] = json!("dynamodb:*")
    });
    assert_fires(iam::WILDCARD_ACTION, &v);
    let v = after(|t| {
        statement_with_sid(t, "KeyOnboardingPolicy", "StoreSecrets")["Action"] = json!(["kms:*"])
    });
    assert_fires(iam::WILDCARD_ACTION, &v);
    // The key policy is checked too.
    let v = after(|t| key_statement(t, "AccountAdministersTheKey")["Action"] = json!("kms:*"));
    assert_fires(iam::WILDCARD_ACTION, &v);
}

#[test]
fn managed_policies_and_sam_policy_templates_are_caught() {
    let v = after(|t| {
        props(t, "WebhookIntakeRole")["ManagedPolicyArns"] =
            json!(["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"])
    });
    assert_fires(iam::UNINSPECTABLE, &v);
    let v = after(|t| {
        props(t, "OAuthCallbackFunction")["Policies"] =
            json!([{"DynamoDBCrudPolicy": {"TableName": {"Ref": "StoreTable"}}}])
    });
    assert_fires(iam::UNINSPECTABLE, &v);
}

#[test]
fn extra_table_action_for_a_function_is_caught() {
    let v = after(|t| {
        statement_with_sid(t, "OAuthCallbackPolicy", "StoreRecords")["Action"]
            .as_array_mut()
            .expect("action list")
            .push(json!("dynamodb:DeleteItem"))
    });
    assert_fires(iam::FUNCTION_ACCESS, &v);
    let v = after(|t| {
        statement_with_sid(t, "WebhookIntakePolicy", "StoreRecords")["Action"]
            .as_array_mut()
            .expect("action list")
            .push(json!("dynamodb:Scan"))
    });
    assert_fires(iam::FUNCTION_ACCESS, &v);
}

#[test]
fn missing_table_action_and_foreign_resource_are_caught() {
    let v = after(|t| {
        statement_with_sid(t, "WebhookIntakePolicy", "StoreRecords")["Action"] =
            json!(["dynamodb:GetItem"])
    });
    assert_fires(iam::FUNCTION_ACCESS, &v);
    let v = after(|t| {
        statement_with_sid(t, "KeyOnboardingPolicy", "StoreRecords")["Resource"] =
            json!("arn:aws:dynamodb:us-east-1:123456789012:table/other")
    });
    assert_fires(iam::FUNCTION_ACCESS, &v);
}

#[test]
fn statements_attached_through_an_extra_policy_resource_are_seen() {
    let v = after(|t| {
        t["Resources"]["Sneaky"] = json!({
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "sneaky",
                "Roles": [{"Ref": "KeyOnboardingRole"}],
                "PolicyDocument": {"Statement": [{
                    "Effect": "Allow", "Action": "dynamodb:Query",
                    "Resource": {"Fn::GetAtt": ["StoreTable", "Arn"]}
                }]}
            }
        })
    });
    assert_fires(iam::FUNCTION_ACCESS, &v);
}

// ------------------------------------------------------------------ KMS

#[test]
fn kms_statement_without_encryption_context_is_caught() {
    let v = after(|t| {
        if let Some(s) =
            statement_with_sid(t, "KeyOnboardingPolicy", "StoreSecrets").as_object_mut()
        {
            s.remove("Condition");
        }
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    // EncryptionContextKeys alone is satisfied by an empty context: also needs store_id.
    let v = after(|t| {
        if let Some(c) = statement_with_sid(t, "WebhookIntakePolicy", "StoreSecrets")["Condition"]
            .as_object_mut()
        {
            c.remove("Null");
        }
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    let v = after(|t| {
        if let Some(s) = key_statement(t, "FunctionRolesUseTheKeyPerStore").as_object_mut() {
            s.remove("Condition");
        }
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
}

/// The code encrypts under `{store_id, secret}`: every KMS grant must demand both parts.
#[test]
fn kms_statement_not_requiring_the_secret_part_of_the_context_is_caught() {
    let remove_secret_null = |stmt: &mut Json| {
        if let Some(n) = stmt["Condition"]["Null"].as_object_mut() {
            n.remove("kms:EncryptionContext:secret");
        }
    };
    for policy in [
        "WebhookIntakePolicy",
        "KeyOnboardingPolicy",
        "OAuthCallbackPolicy",
    ] {
        let v = after(|t| remove_secret_null(statement_with_sid(t, policy, "StoreSecrets")));
        assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    }
    let v = after(|t| remove_secret_null(key_statement(t, "FunctionRolesUseTheKeyPerStore")));
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    // `secret: "true"` would require the key to be absent.
    let v = after(|t| {
        statement_with_sid(t, "WebhookIntakePolicy", "StoreSecrets")["Condition"]["Null"]["kms:EncryptionContext:secret"] =
            json!("true")
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
}

#[test]
fn kms_statement_allowing_other_context_keys_is_caught() {
    let v = after(|t| {
        statement_with_sid(t, "KeyOnboardingPolicy", "StoreSecrets")["Condition"]["ForAllValues:StringEquals"]
            ["kms:EncryptionContextKeys"] = json!(["store_id", "secret", "purpose"])
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    let v = after(|t| {
        key_statement(t, "FunctionRolesUseTheKeyPerStore")["Condition"]["ForAllValues:StringEquals"]
            ["kms:EncryptionContextKeys"] = json!(["store_id"])
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
}

/// CloudWatch may use the store key for the alarm topic's messages, and for nothing else.
#[test]
fn alarm_topic_use_of_the_key_beyond_that_topic_is_caught() {
    let sid = "AlarmsPublishToTheAlarmTopic";
    let v = after(|t| {
        if let Some(s) = key_statement(t, sid).as_object_mut() {
            s.remove("Condition");
        }
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    let v = after(|t| {
        key_statement(t, sid)["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"] = json!({"Fn::Sub":
                "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:other-topic"})
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    let v = after(|t| {
        key_statement(t, sid)["Action"]
            .as_array_mut()
            .expect("action list")
            .push(json!("kms:Encrypt"))
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    let v =
        after(|t| key_statement(t, sid)["Principal"] = json!({"Service": "lambda.amazonaws.com"}));
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    // The topic must be the one the condition names.
    let v = after(|t| {
        props(t, "AlarmTopic")["TopicName"] = json!({"Fn::Sub": "${AWS::StackName}-renamed"})
    });
    assert_fires(kms::ENCRYPTION_CONTEXT, &v);
    // Under the AWS managed SNS key CloudWatch cannot publish at all.
    let v = after(|t| props(t, "AlarmTopic")["KmsMasterKeyId"] = json!("alias/aws/sns"));
    assert_fires(alarms::ALARM_TOPIC, &v);
}

#[test]
fn key_policy_opened_to_everyone_or_the_whole_account_is_caught() {
    let v = after(|t| {
        key_statement(t, "FunctionRolesUseTheKeyPerStore")["Principal"] = json!({"AWS": "*"})
    });
    assert_fires(kms::KEY_POLICY, &v);
    let v = after(|t| {
        if let Some(c) =
            key_statement(t, "FunctionRolesUseTheKeyPerStore")["Condition"].as_object_mut()
        {
            c.remove("ArnEquals");
        }
    });
    assert_fires(kms::KEY_POLICY, &v);
    let v = after(|t| {
        key_statement(t, "AccountAdministersTheKey")["Action"]
            .as_array_mut()
            .expect("action list")
            .push(json!("kms:CreateGrant"))
    });
    assert_fires(kms::KEY_POLICY, &v);
}

#[test]
fn key_without_rotation_is_caught() {
    let v = after(|t| props(t, "StoreSecretsKey")["EnableKeyRotation"] = json!(false));
    assert_fires(kms::KEY_SETTINGS, &v);
    let v = after(|t| res(t, "StoreSecretsKey")["DeletionPolicy"] = json!("Delete"));
    assert_fires(kms::KEY_SETTINGS, &v);
}

// ------------------------------------------------------------------ functions

#[test]
fn function_shape_changes_are_caught() {
    let v = after(|t| props(t, "WebhookIntakeFunction")["Architectures"] = json!(["x86_64"]));
    assert_fires(functions::SHAPE, &v);
    let v = after(|t| t["Globals"]["Function"]["Runtime"] = json!("provided.al2"));
    assert_fires(functions::SHAPE, &v);
    let v = after(|t| {
        if let Some(p) = props(t, "KeyOnboardingFunction").as_object_mut() {
            p.remove("FunctionUrlConfig");
        }
    });
    assert_fires(functions::SHAPE, &v);
    let v =
        after(|t| res(t, "OAuthCallbackFunction")["Metadata"]["BuildMethod"] = json!("makefile"));
    assert_fires(functions::SHAPE, &v);
    let v = after(|t| {
        res(t, "OAuthCallbackFunction")["Metadata"]["BuildProperties"]["Binary"] = json!("other")
    });
    assert_fires(functions::SHAPE, &v);
}

#[test]
fn timeout_beyond_salla_wait_is_caught() {
    let v = after(|t| props(t, "WebhookIntakeFunction")["Timeout"] = json!(30));
    assert_fires(functions::TIMEOUT, &v);
}

#[test]
fn missing_configuration_is_caught() {
    let v = after(|t| {
        if let Some(vars) =
            props(t, "WebhookIntakeFunction")["Environment"]["Variables"].as_object_mut()
        {
            vars.remove("SALLA_WEBHOOK_STRATEGY");
        }
    });
    assert_fires(functions::CONFIG, &v);
    let v = after(|t| {
        t["Globals"]["Function"]["Environment"]["Variables"]["KEY_STORE"] = json!("embedded")
    });
    assert_fires(functions::CONFIG, &v);
}

#[test]
fn dead_letter_queue_on_a_function_is_caught() {
    let v = after(|t| {
        props(t, "WebhookIntakeFunction")["DeadLetterQueue"] =
            json!({"Type": "SQS", "TargetArn": "arn:aws:sqs:us-east-1:1:q"})
    });
    assert_fires(functions::NO_PAYLOAD_SINK, &v);
}

// ------------------------------------------------------------------ storage

#[test]
fn table_without_pitr_or_sse_is_caught() {
    let v = after(|t| {
        props(t, "StoreTable")["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] =
            json!(false)
    });
    assert_fires(storage::TABLE, &v);
    let v = after(|t| {
        if let Some(p) = props(t, "StoreTable").as_object_mut() {
            p.remove("SSESpecification");
        }
    });
    assert_fires(storage::TABLE, &v);
    let v = after(|t| props(t, "StoreTable")["BillingMode"] = json!("PROVISIONED"));
    assert_fires(storage::TABLE, &v);
}

#[test]
fn queue_bucket_or_second_table_is_caught() {
    let v =
        after(|t| t["Resources"]["Parking"] = json!({"Type": "AWS::SQS::Queue", "Properties": {}}));
    assert_fires(storage::NO_PAYLOAD_STORE, &v);
    let v = after(|t| t["Resources"]["Archive"] = json!({"Type": "AWS::S3::Bucket"}));
    assert_fires(storage::NO_PAYLOAD_STORE, &v);
    let v = after(|t| {
        let copy = t["Resources"]["StoreTable"].clone();
        t["Resources"]["EventsTable"] = copy;
    });
    assert_fires(storage::NO_PAYLOAD_STORE, &v);
}

// ------------------------------------------------------------------ secrets

#[test]
fn secret_parameter_with_default_or_echo_is_caught() {
    let v = after(|t| {
        t["Parameters"]["SallaWebhookSecret"] =
            json!({"Type": "String", "NoEcho": true, "Default": "changeme"})
    });
    assert_fires(secrets::PARAMETER, &v);
    let v = after(|t| t["Parameters"]["SessionSecretValue"] = json!({"Type": "String"}));
    assert_fires(secrets::PARAMETER, &v);
}

#[test]
fn secret_env_from_a_literal_or_plain_parameter_is_caught() {
    let v = after(|t| {
        props(t, "KeyOnboardingFunction")["Environment"]["Variables"]["SESSION_SECRET"] =
            json!("hunter2")
    });
    assert_fires(secrets::ENV, &v);
    let v = after(|t| {
        props(t, "WebhookIntakeFunction")["Environment"]["Variables"]["SALLA_WEBHOOK_SECRET"] =
            json!({"Ref": "SallaClientId"})
    });
    assert_fires(secrets::ENV, &v);
    // A dynamic reference with literal text around it is a partly-literal secret.
    let v = after(
        |t| props(t, "OAuthCallbackFunction")["Environment"]["Variables"]["SESSION_SECRET"] = json!({"Fn::Sub": "pre-{{resolve:secretsmanager:${SecretsName}:SecretString:session_secret}}"}),
    );
    assert_fires(secrets::ENV, &v);
}

#[test]
fn a_conditional_secret_env_must_come_from_a_secret_store_in_every_branch() {
    fn previous(t: &mut Json) -> &mut Json {
        &mut props(t, "WebhookIntakeFunction")["Environment"]["Variables"]["SALLA_WEBHOOK_SECRET_PREVIOUS"]
    }
    let v = after(|t| {
        *previous(t) = json!({"Fn::If": ["RotatingWebhookSecret", "", {"Ref": "SallaClientId"}]})
    });
    assert_fires(secrets::ENV, &v);
}

#[test]
fn a_previous_secret_without_the_end_of_its_overlap_is_caught() {
    for (function, previous, ends) in [
        (
            "CodConfirmFunction",
            "COD_LINK_SECRET_PREVIOUS",
            "COD_LINK_ROTATION_ENDS_AT",
        ),
        (
            "WebhookIntakeFunction",
            "SALLA_WEBHOOK_SECRET_PREVIOUS",
            "SALLA_WEBHOOK_ROTATION_ENDS_AT",
        ),
    ] {
        let v = after(|t| {
            let vars = &mut props(t, function)["Environment"]["Variables"];
            vars.as_object_mut().unwrap().remove(ends);
        });
        assert!(
            v.iter()
                .any(|x| x.rule == secrets::ROTATION && x.location.ends_with(previous)),
            "{v:#?}"
        );
        let v = after(|t| {
            props(t, function)["Environment"]["Variables"][ends] = json!("2026-12-03T12:00:00Z")
        });
        assert_fires(secrets::ROTATION, &v);
    }
}

#[test]
fn the_cod_page_gets_no_secret_it_does_not_need() {
    let v = after(|t| {
        props(t, "CodConfirmFunction")["Environment"]["Variables"]["SESSION_SECRET"] = json!({"Fn::Sub": "{{resolve:secretsmanager:${SecretsName}:SecretString:session_secret}}"})
    });
    assert_fires(secrets::ENV, &v);
    let v = after(|t| {
        props(t, "CodConfirmFunction")["Environment"]["Variables"]["COD_LINK_SECRET"] =
            json!("a-literal-secret")
    });
    assert_fires(secrets::ENV, &v);
}

#[test]
fn secret_given_to_a_function_that_does_not_need_it_is_caught() {
    let v = after(
        |t| props(t, "KeyOnboardingFunction")["Environment"]["Variables"]["SALLA_WEBHOOK_SECRET"] = json!({"Fn::Sub": "{{resolve:secretsmanager:${SecretsName}:SecretString:salla_webhook_secret}}"}),
    );
    assert_fires(secrets::ENV, &v);
}

#[test]
fn a_noecho_parameter_without_default_is_an_accepted_secret_source() {
    let v = after(|t| {
        t["Parameters"]["SessionSecret"] = json!({"Type": "String", "NoEcho": true});
        props(t, "KeyOnboardingFunction")["Environment"]["Variables"]["SESSION_SECRET"] =
            json!({"Ref": "SessionSecret"});
    });
    assert!(v.is_empty(), "{v:#?}");
}

// ------------------------------------------------------------------ logs and outputs

#[test]
fn log_group_without_retention_is_caught() {
    let v = after(|t| {
        if let Some(p) = props(t, "WebhookIntakeLogGroup").as_object_mut() {
            p.remove("RetentionInDays");
        }
    });
    assert_fires(logging::RETENTION, &v);
}

#[test]
fn function_without_json_logs_in_its_own_group_is_caught() {
    let v =
        after(|t| props(t, "KeyOnboardingFunction")["LoggingConfig"]["LogFormat"] = json!("Text"));
    assert_fires(logging::FUNCTION_LOGGING, &v);
    let v = after(|t| {
        if let Some(c) = props(t, "OAuthCallbackFunction")["LoggingConfig"].as_object_mut() {
            c.remove("LogGroup");
        }
    });
    assert_fires(logging::FUNCTION_LOGGING, &v);
}

#[test]
fn missing_portal_output_is_caught() {
    let v = after(|t| {
        if let Some(o) = t["Outputs"].as_object_mut() {
            o.remove("ValidationUrl");
        }
    });
    assert_fires(outputs::OUTPUTS, &v);
}

#[test]
fn intake_without_a_guaranteed_concurrency_floor_is_caught() {
    // A conditional reservation can be switched off, leaving the intake to share the pool.
    let v = after(|t| {
        props(t, "WebhookIntakeFunction")["ReservedConcurrentExecutions"] = json!({
            "Fn::If": ["SomeCondition", {"Ref": "IntakeReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
        })
    });
    assert_fires(functions::CONCURRENCY, &v);
    let v = after(|t| {
        if let Some(p) = props(t, "WebhookIntakeFunction").as_object_mut() {
            p.remove("ReservedConcurrentExecutions");
        }
    });
    assert_fires(functions::CONCURRENCY, &v);
    // A parameter that may be set to 0 reserves nothing (and 0 would stop the intake).
    let v = after(|t| t["Parameters"]["IntakeReservedConcurrency"]["MinValue"] = json!(0));
    assert_fires(functions::CONCURRENCY, &v);
}

#[test]
fn public_function_without_a_concurrency_cap_is_caught() {
    for id in ["KeyOnboardingFunction", "OAuthCallbackFunction"] {
        let v = after(|t| {
            if let Some(p) = props(t, id).as_object_mut() {
                p.remove("ReservedConcurrentExecutions");
            }
        });
        assert_fires(functions::CONCURRENCY, &v);
        let v = after(|t| props(t, id)["ReservedConcurrentExecutions"] = json!(500));
        assert_fires(functions::CONCURRENCY, &v);
    }
    // A cap parameter without an upper bound lets a deploy lift the cap to anything.
    let v = after(|t| {
        if let Some(p) = t["Parameters"]["PublicReservedConcurrency"].as_object_mut() {
            p.remove("MaxValue");
        }
    });
    assert_fires(functions::CONCURRENCY, &v);
}

// ------------------------------------------------------------------ alarms

const FUNCTION_IDS: [&str; 4] = [
    "WebhookIntakeFunction",
    "KeyOnboardingFunction",
    "OAuthCallbackFunction",
    "TokenRefreshFunction",
];

/// Logical ids of the simple-form alarms on `metric` whose dimensions refer to `target`.
fn alarms_on(t: &Json, metric: &str, target: &str) -> Vec<String> {
    let refers = |d: &Json| d["Value"]["Ref"] == target || d["Value"]["Fn::GetAtt"][0] == target;
    t["Resources"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
                .filter(|(_, r)| r["Properties"]["MetricName"] == metric)
                .filter(|(_, r)| {
                    r["Properties"]["Dimensions"]
                        .as_array()
                        .is_some_and(|ds| ds.iter().any(refers))
                })
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn remove_resources(t: &mut Json, ids: &[String]) {
    let all = t["Resources"].as_object_mut().expect("resources");
    for id in ids {
        all.remove(id);
    }
}

fn all_alarm_ids(t: &Json) -> Vec<String> {
    t["Resources"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn real_template_watches_each_function_table_and_key() {
    let t = template();
    for id in FUNCTION_IDS {
        for metric in ["Errors", "Throttles", "Duration"] {
            assert_eq!(alarms_on(&t, metric, id).len(), 1, "{id} {metric}");
        }
    }
    // Intake: 25 s timeout, alarm above 80 % of it.
    let duration = &alarms_on(&t, "Duration", "WebhookIntakeFunction")[0];
    assert_eq!(t["Resources"][duration]["Properties"]["Threshold"], 20000);
    assert!(all_alarm_ids(&t).len() >= 13, "{:?}", all_alarm_ids(&t));
}

#[test]
fn function_missing_an_errors_throttles_or_duration_alarm_is_caught() {
    for id in FUNCTION_IDS {
        for metric in ["Errors", "Throttles", "Duration"] {
            let v = after(|t| {
                let ids = alarms_on(t, metric, id);
                assert!(!ids.is_empty(), "{id} has no {metric} alarm to remove");
                remove_resources(t, &ids);
            });
            assert_fires(alarms::FUNCTION_ALARMS, &v);
        }
    }
}

#[test]
fn duration_alarm_not_near_the_timeout_is_caught() {
    let mutate = |change: fn(&mut Json)| {
        after(|t| {
            let id = alarms_on(t, "Duration", "KeyOnboardingFunction")[0].clone();
            change(props(t, &id));
        })
    };
    // 29 s timeout: 28.5 s is too late to warn, 1 s fires on normal latency.
    assert_fires(
        alarms::FUNCTION_ALARMS,
        &mutate(|p| p["Threshold"] = json!(28500)),
    );
    assert_fires(
        alarms::FUNCTION_ALARMS,
        &mutate(|p| p["Threshold"] = json!(1000)),
    );
    // The average hides the one invocation that ran into the timeout.
    assert_fires(
        alarms::FUNCTION_ALARMS,
        &mutate(|p| p["Statistic"] = json!("Average")),
    );
    // A longer timeout without a matching threshold is caught too.
    let v = after(|t| t["Globals"]["Function"]["Timeout"] = json!(28));
    assert_fires(alarms::FUNCTION_ALARMS, &v);
}

#[test]
fn alarm_not_notifying_the_alarm_topic_is_caught() {
    for id in all_alarm_ids(&template()) {
        let v = after(|t| {
            if let Some(p) = props(t, &id).as_object_mut() {
                p.remove("AlarmActions");
            }
        });
        assert_fires(alarms::ALARM_TOPIC, &v);
    }
    // A topic behind a condition can be switched off.
    let id = alarms_on(&template(), "Errors", "WebhookIntakeFunction")[0].clone();
    let v = after(|t| {
        props(t, &id)["AlarmActions"] =
            json!({"Fn::If": ["SomeCondition", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]})
    });
    assert_fires(alarms::ALARM_TOPIC, &v);
    let v = after(|t| remove_resources(t, &["AlarmTopic".to_string()]));
    assert_fires(alarms::ALARM_TOPIC, &v);
    // A topic that exists only under a condition (say, when an e-mail is given).
    let v = after(|t| t["Resources"]["AlarmTopic"]["Condition"] = json!("HasAlarmEmail"));
    assert_fires(alarms::ALARM_TOPIC, &v);
    let v = after(|t| {
        if let Some(o) = t["Outputs"].as_object_mut() {
            o.remove("AlarmTopicArn");
        }
    });
    assert_fires(alarms::ALARM_TOPIC, &v);
}

/// The alarm topic exists in every deployment, whatever the parameters: behind a condition
/// (say, only when `AlarmEmail` is given) a stack deployed without an e-mail would have
/// alarms that notify nothing, and no topic for the operator to subscribe to later.
#[test]
fn the_alarm_topic_exists_without_a_condition() {
    let t = template();
    let topics: Vec<_> = t["Resources"]
        .as_object()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::SNS::Topic")
        .collect();
    assert_eq!(topics.len(), 1, "one alarm topic");
    for (id, topic) in topics {
        assert!(
            topic.get("Condition").is_none(),
            "{id} exists only under the condition {}",
            topic["Condition"]
        );
    }
}

#[test]
fn table_without_error_and_throttle_alarms_is_caught() {
    // SystemErrors exists only per operation: dropping one operation's metric is a gap.
    let v = after(|t| {
        let metrics = props(t, "StoreTableSystemErrorsAlarm")["Metrics"]
            .as_array_mut()
            .expect("metric math alarm");
        metrics.retain(|m| m["MetricStat"]["Metric"]["Dimensions"][1]["Value"] != "PutItem");
    });
    assert_fires(alarms::DEPENDENCY_ALARMS, &v);
    let v = after(|t| remove_resources(t, &["StoreTableSystemErrorsAlarm".to_string()]));
    assert_fires(alarms::DEPENDENCY_ALARMS, &v);
    let v = after(|t| remove_resources(t, &["StoreTableThrottlesAlarm".to_string()]));
    assert_fires(alarms::DEPENDENCY_ALARMS, &v);
}

#[test]
fn log_group_without_an_alarmed_kms_error_filter_is_caught() {
    for filter in [
        "WebhookIntakeKmsErrorsFilter",
        "KeyOnboardingKmsErrorsFilter",
        "OAuthCallbackKmsErrorsFilter",
    ] {
        let v = after(|t| remove_resources(t, &[filter.to_string()]));
        assert_fires(alarms::DEPENDENCY_ALARMS, &v);
    }
    let v = after(|t| props(t, "KeyOnboardingKmsErrorsFilter")["FilterPattern"] = json!("ERROR"));
    assert_fires(alarms::DEPENDENCY_ALARMS, &v);
    let v = after(|t| remove_resources(t, &["KmsErrorsAlarm".to_string()]));
    assert_fires(alarms::DEPENDENCY_ALARMS, &v);
}

#[test]
fn alarm_topic_is_the_only_sns_allowed() {
    let v = after(|t| {
        t["Resources"]["PayloadTopic"] = json!({"Type": "AWS::SNS::Topic", "Properties": {}})
    });
    assert_fires(storage::NO_PAYLOAD_STORE, &v);
    let v = after(|t| {
        t["Resources"]["Parking"] = json!({
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "sqs",
                           "Endpoint": "arn:aws:sqs:us-east-1:1:q"}
        })
    });
    assert_fires(storage::NO_PAYLOAD_STORE, &v);
    let v =
        after(|t| props(t, "AlarmTopic")["ArchivePolicy"] = json!({"MessageRetentionPeriod": 30}));
    assert_fires(storage::NO_PAYLOAD_STORE, &v);
    let v = after(|t| {
        statements(t, "WebhookIntakePolicy").push(json!({
            "Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "AlarmTopic"}
        }))
    });
    assert_fires(storage::NO_PAYLOAD_STORE, &v);
    // The topic and its e-mail subscription themselves pass.
    let v = check_all(&template());
    assert!(
        !v.iter().any(|v| v.rule == storage::NO_PAYLOAD_STORE),
        "{v:#?}"
    );
}
