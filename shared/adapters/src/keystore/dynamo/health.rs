//! Sync-health day records ([`crate::health::HealthStore`]) in the store table, beside the
//! store records: `{store_id: "health#<store>#<day>", ttl, last_ok, "c|<hour>|<metric>": n,
//! "f|<code>": n, "fl|<code>": unix}`. Flat number attributes, so one `UpdateItem` with `ADD`
//! creates or adds to all of them at once (`ADD` on a nested map path needs the map to exist
//! first). The key starts with a letter: never a store id, and skipped by scans of store
//! records. DynamoDB's TTL on `ttl` removes a day 30 days after it ends.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::OnceCell;

use super::errors::sdk_error;
use super::item::KEY;
use super::once::TTL_ATTRIBUTE;
use crate::health::{DayStats, HEALTH_KEY_PREFIX, HealthStore, KEEP_DAYS};
use crate::{AdapterError, Service};

const LAST_OK: &str = "last_ok";

#[derive(Debug)]
pub struct DynamoHealth {
    table: String,
    client: OnceCell<aws_sdk_dynamodb::Client>,
}

impl DynamoHealth {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            client: OnceCell::new_with(Some(client)),
        }
    }

    /// Over a client built from the standard AWS chain on first use (the first flush).
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

pub fn key(store_id: &str, day: i64) -> String {
    format!("{HEALTH_KEY_PREFIX}{store_id}#{day}")
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[async_trait]
impl HealthStore for DynamoHealth {
    async fn add(&self, store_id: &str, day: i64, stats: &DayStats) -> Result<(), AdapterError> {
        let mut adds = Vec::new();
        let mut sets = vec!["#ttl = :ttl".to_owned()];
        let mut update = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key(store_id, day)))
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":ttl", n((day + 1 + KEEP_DAYS) * 86_400));
        let mut i = 0;
        for ((hour, metric), count) in &stats.counts {
            update = update
                .expression_attribute_names(format!("#a{i}"), format!("c|{hour:02}|{metric}"))
                .expression_attribute_values(format!(":a{i}"), n(count));
            adds.push(format!("#a{i} :a{i}"));
            i += 1;
        }
        for (code, count) in &stats.failures {
            update = update
                .expression_attribute_names(format!("#a{i}"), format!("f|{code}"))
                .expression_attribute_values(format!(":a{i}"), n(count));
            adds.push(format!("#a{i} :a{i}"));
            i += 1;
        }
        for (code, at) in &stats.failure_last {
            update = update
                .expression_attribute_names(format!("#s{i}"), format!("fl|{code}"))
                .expression_attribute_values(format!(":s{i}"), n(at));
            sets.push(format!("#s{i} = :s{i}"));
            i += 1;
        }
        if let Some(at) = stats.last_ok {
            update = update
                .expression_attribute_names("#ok", LAST_OK)
                .expression_attribute_values(":ok", n(at));
            sets.push("#ok = :ok".to_owned());
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !adds.is_empty() {
            expression.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        update
            .update_expression(expression)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(Service::DynamoDb, &e))
    }

    async fn day(&self, store_id: &str, day: i64) -> Result<DayStats, AdapterError> {
        let got = self
            .client()
            .await
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key(store_id, day)))
            .send()
            .await
            .map_err(|e| sdk_error(Service::DynamoDb, &e))?;
        let mut stats = DayStats::default();
        for (name, value) in got.item.unwrap_or_default() {
            let Some(number) = value.as_n().ok().and_then(|v| v.parse::<i64>().ok()) else {
                continue;
            };
            let count = u64::try_from(number).unwrap_or(0);
            if name == LAST_OK {
                stats.last_ok = Some(number);
            } else if let Some(rest) = name.strip_prefix("c|") {
                let Some((hour, metric)) = rest.split_once('|') else {
                    continue;
                };
                if let Ok(hour) = hour
                    .parse::<u8>()
                    .map_err(drop)
                    .and_then(|h| if h < 24 { Ok(h) } else { Err(()) })
                {
                    stats.counts.insert((hour, metric.to_owned()), count);
                }
            } else if let Some(code) = name.strip_prefix("fl|") {
                stats.failure_last.insert(code.to_owned(), number);
            } else if let Some(code) = name.strip_prefix("f|") {
                stats.failures.insert(code.to_owned(), count);
            }
        }
        Ok(stats)
    }
}
