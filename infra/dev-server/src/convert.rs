//! hyper ⇄ lambda_http conversions, so handlers see what a Lambda function URL gives them.

use std::str::FromStr;

use bytes::Bytes;
use http_body_util::Full;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::{Body, Request, RequestExt, Response};

/// Builds the request a function URL would hand the handler: the body as raw bytes (already
/// base64-decoded, as lambda_http does on AWS) and the query string parsed into the extension
/// handlers read with `query_string_parameters()`.
pub fn to_lambda(parts: http::request::Parts, body: Bytes) -> Request {
    let query = parts
        .uri
        .query()
        .and_then(|q| QueryMap::from_str(q).ok())
        .unwrap_or_default();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(body.to_vec())
    };
    Request::from_parts(parts, body).with_query_string_parameters(query)
}

pub fn from_lambda(resp: Response<Body>) -> http::Response<Full<Bytes>> {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    http::Response::from_parts(parts, Full::new(bytes))
}
