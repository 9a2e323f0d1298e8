//! Table creation for local runs against moto (the dev server, the tests). On AWS the table
//! comes from the SAM template, so this is compiled only with the `dev` feature and the
//! Lambda binaries do not carry it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use super::DynamoKeyStore;
use super::errors::sdk_error;
use super::item::KEY;
use crate::config::{Config, KeyStoreKind};
use crate::{AdapterError, Service};

/// Creates the store's table (on-demand billing, `store_id` key) if it does not exist.
pub async fn create_table_if_missing(store: &DynamoKeyStore) -> Result<(), AdapterError> {
    let dynamo = &store.dynamo;
    match dynamo
        .describe_table()
        .table_name(store.table())
        .send()
        .await
    {
        Ok(_) => return Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => return Err(sdk_error(Service::DynamoDb, &e)),
    }
    let key_attribute = AttributeDefinition::builder()
        .attribute_name(KEY)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|_| table_bug("attribute definition"))?;
    let key_schema = KeySchemaElement::builder()
        .attribute_name(KEY)
        .key_type(KeyType::Hash)
        .build()
        .map_err(|_| table_bug("key schema"))?;
    match dynamo
        .create_table()
        .table_name(store.table())
        .attribute_definitions(key_attribute)
        .key_schema(key_schema)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Another process created it between our describe and create.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error(Service::DynamoDb, &e)),
    }
}

/// For the dev server: creates the configured table when `KEY_STORE=dynamodb`. No-op for the
/// embedded store.
pub async fn prepare_local_table(config: &Config) -> Result<(), AdapterError> {
    let KeyStoreKind::DynamoDb { table, kms_key_id } = &config.key_store else {
        return Ok(());
    };
    create_table_if_missing(&DynamoKeyStore::from_env(table.clone(), kms_key_id.clone()).await)
        .await
}

fn table_bug(what: &str) -> AdapterError {
    AdapterError::Config(format!("could not build the table's {what}"))
}
