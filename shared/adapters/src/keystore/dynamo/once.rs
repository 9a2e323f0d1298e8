//! Handoff spent-marks ([`crate::once::SpentMarks`]) in the store table: it is already there,
//! the onboarding function may already put items in it, and one item per handoff is tiny.
//!
//! The item is `{store_id: "handoff#<id>", ttl: <unix seconds>}` and nothing else. The key
//! starts with a letter, so it never collides with a store id (Salla's are decimal) and a
//! walk over store records skips it; DynamoDB's TTL on `ttl` removes it some time after it
//! is no longer needed. A conditional put (`attribute_not_exists`) decides the one winner of
//! concurrent claims.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::OnceCell;

use super::errors::{is_condition_failed, sdk_error};
use super::item::KEY;
use crate::once::{CLOCK_MARGIN_SECS, Claim, HANDOFF_KEY_PREFIX, SpentMarks, check_id};
use crate::{AdapterError, Service};

/// The TTL attribute the table's `TimeToLiveSpecification` names.
pub const TTL_ATTRIBUTE: &str = "ttl";

#[derive(Debug)]
pub struct DynamoSpentMarks {
    table: String,
    client: OnceCell<aws_sdk_dynamodb::Client>,
}

impl DynamoSpentMarks {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            client: OnceCell::new_with(Some(client)),
        }
    }

    /// Marks over a client built from the standard AWS chain on first use, once per process:
    /// the functions' start-up is synchronous after the key store is built, and only the
    /// onboarding page's handoff ever claims.
    pub fn from_env(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.client
            .get_or_init(|| async {
                let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                aws_sdk_dynamodb::Client::new(&aws)
            })
            .await
    }
}

#[async_trait]
impl SpentMarks for DynamoSpentMarks {
    async fn claim(&self, id: &str, expires_at: i64) -> Result<Claim, AdapterError> {
        check_id(id, Service::DynamoDb)?;
        let keep_until = expires_at.saturating_add(CLOCK_MARGIN_SECS);
        let result = self
            .client()
            .await
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(format!("{HANDOFF_KEY_PREFIX}{id}")))
            .item(TTL_ATTRIBUTE, AttributeValue::N(keep_until.to_string()))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::First),
            Err(e) if is_condition_failed(&e) => Ok(Claim::Spent),
            Err(e) => Err(sdk_error(Service::DynamoDb, &e)),
        }
    }
}
