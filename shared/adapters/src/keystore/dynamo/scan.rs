//! The key store's [`TokenScan`] on DynamoDB: a paged Scan projecting the store id, the
//! token expiry and the blocked flag. No ciphertext is read and no KMS call is made.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoKeyStore;
use super::errors::sdk_error;
use super::item::KEY;
use crate::keystore::scan::{ScanPage, TokenScan, TokenState};
use crate::{AdapterError, Service};

const EXPIRES_AT: &str = "salla_expires_at";
const BLOCKED_AT: &str = "salla_refresh_blocked_at";

#[async_trait]
impl TokenScan for DynamoKeyStore {
    async fn scan_tokens(&self, start: Option<&str>, limit: u32) -> Result<ScanPage, AdapterError> {
        let request = self
            .dynamo
            .scan()
            .table_name(&self.table)
            .projection_expression("#k, #e, #b")
            // Stores without Salla tokens have no expiry: leave them out of the answer.
            .filter_expression("attribute_exists(#e)")
            .expression_attribute_names("#k", KEY)
            .expression_attribute_names("#e", EXPIRES_AT)
            .expression_attribute_names("#b", BLOCKED_AT)
            .limit(limit.clamp(1, i32::MAX as u32) as i32);
        let request = match start {
            Some(start) => request.exclusive_start_key(KEY, AttributeValue::S(start.to_string())),
            None => request,
        };
        let out = request
            .send()
            .await
            .map_err(|e| sdk_error(Service::DynamoDb, &e))?;
        let stores = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| token_state(&item))
            .collect();
        let next = out.last_evaluated_key.and_then(|key| match key.get(KEY) {
            Some(AttributeValue::S(id)) => Some(id.clone()),
            _ => None,
        });
        Ok(ScanPage { stores, next })
    }
}

/// The state a projected item holds. An item whose key is not a string cannot be ours and is
/// skipped; an unreadable expiry or flag reads as absent (the full read before a refresh
/// decides again).
fn token_state(item: &HashMap<String, AttributeValue>) -> Option<TokenState> {
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
        _ => None,
    };
    let store_id = match item.get(KEY) {
        Some(AttributeValue::S(id)) => id.clone(),
        _ => return None,
    };
    Some(TokenState {
        store_id,
        expires_at: number(EXPIRES_AT),
        refresh_blocked_at: number(BLOCKED_AT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projected_attributes() {
        let item = HashMap::from([
            (KEY.to_string(), AttributeValue::S("42".into())),
            (
                EXPIRES_AT.to_string(),
                AttributeValue::N("1800000000".into()),
            ),
            (
                BLOCKED_AT.to_string(),
                AttributeValue::N("1700000000".into()),
            ),
        ]);
        assert_eq!(
            token_state(&item),
            Some(TokenState {
                store_id: "42".into(),
                expires_at: Some(1_800_000_000),
                refresh_blocked_at: Some(1_700_000_000),
            })
        );
        let odd = HashMap::from([
            (KEY.to_string(), AttributeValue::S("42".into())),
            (EXPIRES_AT.to_string(), AttributeValue::S("soon".into())),
        ]);
        assert_eq!(token_state(&odd).unwrap().expires_at, None);
        let keyless = HashMap::from([(KEY.to_string(), AttributeValue::N("42".into()))]);
        assert_eq!(token_state(&keyless), None);
    }

    #[test]
    fn attribute_names_are_the_items() {
        // The item module's field names are the attribute names.
        let item = super::super::item::Item {
            salla_expires_at: Some(1),
            salla_refresh_blocked_at: Some(2),
            ..Default::default()
        }
        .encode()
        .unwrap();
        assert!(item.contains_key(EXPIRES_AT));
        assert!(item.contains_key(BLOCKED_AT));
    }
}
