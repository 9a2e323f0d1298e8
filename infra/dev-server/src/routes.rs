//! Routing for the dev server: one path prefix per Lambda function.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use adapters::AdapterError;
use adapters::config::Config;
use adapters::keystore::KeyStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::convert;

/// A request body larger than this is refused here, before any handler runs; each handler
/// enforces its own smaller cap as on Lambda (whose payload limit is 6 MB).
const MAX_BODY: usize = 6 * 1024 * 1024;

/// The three functions' dependencies, sharing one key store as the Lambdas share one table.
pub struct App {
    pub intake: webhook_intake::Deps,
    pub onboarding: key_onboarding::Deps,
    pub callback: oauth_callback::Deps,
    pub cod: cod_confirm::Deps,
    pub store: Arc<dyn KeyStore>,
    pub started: Instant,
}

impl App {
    pub fn new(config: &Config, store: Arc<dyn KeyStore>) -> Result<App, AdapterError> {
        Ok(App {
            intake: webhook_intake::Deps::new(config, store.clone()),
            onboarding: key_onboarding::Deps::from_config(config, store.clone())?,
            callback: oauth_callback::Deps::from_config(config, store.clone())?,
            cod: cod_confirm::Deps::from_config(config, store.clone())?,
            store,
            started: Instant::now(),
        })
    }

    pub async fn from_config(config: &Config) -> Result<App, AdapterError> {
        let store = adapters::keystore::build(config).await?;
        App::new(config, store)
    }

    /// Routes one request. Paths are passed through unchanged: handlers match on their last
    /// segment, so they work under a function URL (`/`) and under these prefixes alike.
    pub async fn route(
        &self,
        req: lambda_http::Request,
    ) -> lambda_http::Response<lambda_http::Body> {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        match (method.as_str(), path.as_str()) {
            (_, "/webhook") => webhook_intake::handle(&self.intake, req).await,
            (_, "/onboarding" | "/onboarding/" | "/onboarding/validate") => {
                key_onboarding::handle(&self.onboarding, req).await
            }
            // Salla's Validation URL with its token; the function answers a wrong one 404.
            (_, p) if p.starts_with("/onboarding/validate/") => {
                key_onboarding::handle(&self.onboarding, req).await
            }
            (_, "/oauth/callback") => oauth_callback::handle(&self.callback, req).await,
            (_, p) if p == "/cod" || p.starts_with("/cod/") => {
                cod_confirm::handle(&self.cod, req).await
            }
            ("GET", "/health") => text(200, "application/json", r#"{"status":"ok"}"#),
            _ => text(404, "application/json", r#"{"error":"not_found"}"#),
        }
    }
}

fn text(status: u16, content_type: &str, body: &str) -> lambda_http::Response<lambda_http::Body> {
    lambda_http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(lambda_http::Body::Text(body.to_string()))
        .unwrap_or_default()
}

/// Serves until the listener's task is dropped. Each connection gets its own task.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(&app, req).await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(app: &App, req: hyper::Request<Incoming>) -> http::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return convert::from_lambda(text(413, "application/json", r#"{"error":"too_large"}"#));
        }
    };
    let req = convert::to_lambda(parts, bytes);
    convert::from_lambda(app.route(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::config::Profile;

    /// Salla's tokened Validation URL reaches the onboarding function under `/onboarding`.
    #[tokio::test]
    async fn the_tokened_validation_url_is_served_under_onboarding() {
        let (config, _) = Config::from_lookup(|_| None, Profile::Dev { port: 3000 }).unwrap();
        let store = Arc::new(adapters::keystore::memory::MemoryKeyStore::new());
        let app = App::new(&config, store).unwrap();
        let post = |path: String| {
            lambda_http::http::Request::builder()
                .method("POST")
                .uri(path)
                .header("content-type", "application/json")
                .body(lambda_http::Body::Text(
                    r#"{"merchant_id":1,"settings":{"klaviyo_private_key":"pk_x"}}"#.into(),
                ))
                .unwrap()
        };
        let token = app.onboarding.validation_token();
        let resp = app
            .route(post(format!("/onboarding/validate/{token}")))
            .await;
        assert_eq!(resp.status(), 200);
        let lambda_http::Body::Text(body) = resp.body() else {
            panic!("a JSON answer")
        };
        // Store 1 did not install the app: refused without asking Klaviyo.
        assert!(body.contains(r#""success":false"#), "{body}");
        let resp = app.route(post("/onboarding/validate/wrong".into())).await;
        assert_eq!(resp.status(), 404);
    }

    #[tokio::test]
    async fn the_cod_page_is_served_under_cod() {
        let (config, _) = Config::from_lookup(|_| None, Profile::Dev { port: 3000 }).unwrap();
        let store = Arc::new(adapters::keystore::memory::MemoryKeyStore::new());
        let app = App::new(&config, store).unwrap();
        let req = lambda_http::http::Request::builder()
            .uri("/cod/not-a-link")
            .body(lambda_http::Body::Empty)
            .unwrap();
        let resp = app.route(req).await;
        assert_eq!(resp.status(), 404);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
}
