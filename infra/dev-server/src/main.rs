//! `cargo run --release -p dev-server`: all three functions on 127.0.0.1:${PORT:-3000}.

use std::sync::Arc;

use adapters::config::{Config, Profile};
use dev_server::{App, serve};

// The same allocator as the webhook-intake Lambda, so local figures match production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    adapters::logging::init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let (config, defaulted) = Config::from_env(Profile::Dev { port }).unwrap_or_else(|e| {
        eprintln!("dev-server: {e}");
        std::process::exit(1)
    });
    for name in &defaulted {
        tracing::warn!(
            setting = name,
            "using a development default; never use it in production"
        );
    }
    if let Err(e) = adapters::keystore::dynamo::dev::prepare_local_table(&config).await {
        eprintln!("dev-server: {e}");
        std::process::exit(1)
    }
    let app = App::from_config(&config).await.unwrap_or_else(|e| {
        eprintln!("dev-server: {e}");
        std::process::exit(1)
    });
    // The history import, in-process: starts by itself for each newly connected store.
    if let Err(e) = dev_server::history::spawn(&config).await {
        eprintln!("dev-server: {e}");
        std::process::exit(1)
    }
    // Loopback only: this is a development server with public default secrets.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("dev-server: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        });
    tracing::info!(url = %format!("http://127.0.0.1:{port}"), "dev server listening");
    // Only the public development secret's token is printed: a secret set by hand keeps its
    // Validation URL out of the log (`infra/scripts/validation-url.sh --derive` prints it).
    if defaulted.contains(&"SESSION_SECRET") {
        tracing::info!(
            url = %format!(
                "http://127.0.0.1:{port}/onboarding/validate/{}",
                app.onboarding.validation_token()
            ),
            "dev Validation URL (from the development session secret)"
        );
    }
    let app = Arc::new(app);
    tokio::select! {
        _ = serve(listener, app.clone()) => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("dev server stopping"),
    }
    // The sync-health counts of the last minute, which a next webhook would have written.
    adapters::health::flush_all(app.intake.health.as_ref(), &app.intake.tally).await;
}
