//! Lambda entry point: the shared start-up around this function's dependencies.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    adapters::startup::run::<cod_confirm::Deps>().await
}
