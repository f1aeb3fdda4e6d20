//! A JSON body extractor whose rejections are our JSON errors (axum's own
//! are plain text).

use app::error::AppError;
use axum::{
    extract::{rejection::JsonRejection, FromRequest, Request},
    http::StatusCode,
    Json,
};
use serde::de::DeserializeOwned;

pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

/// A JSON body that may be left out (no `Content-Type`): then `T::default()`.
pub struct JsonOrNothing<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for JsonOrNothing<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        if request.headers().contains_key(axum::http::header::CONTENT_TYPE) {
            JsonBody::from_request(request, state).await.map(|JsonBody(value)| Self(value))
        } else {
            Ok(Self(T::default()))
        }
    }
}

fn rejected(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            AppError::Validation { field: String::new(), message: error.body_text() }
        }
        JsonRejection::MissingJsonContentType(_) => {
            AppError::BadRequest("send a JSON body with Content-Type: application/json".into())
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::TooLarge("the request body is too large".into())
        }
        other => AppError::BadRequest(other.body_text()),
    }
}
