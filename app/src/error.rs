//! The one error type of the app: returned by server functions, turned into
//! JSON HTTP responses by the server, and shown by the pages.

use serde::{Deserialize, Serialize};

/// On the wire (server functions) an error is `{"kind": "not_found"}`, or
/// with its detail: `{"kind": "forbidden", "detail": "only admins can …"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first")]
    Unauthorized,
    #[error("wrong email or password")]
    WrongCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("{0}")]
    TooLarge(String),
    /// A file of a kind not taken (by its content, not its name).
    #[error("{0}")]
    UnsupportedType(String),
    #[error("too many attempts; try again in {} minute(s)", retry_after_secs.div_ceil(60))]
    RateLimited { retry_after_secs: u64 },
    /// The database cannot be reached for now (a restart, a lost
    /// connection): try again shortly.
    #[error("the service is briefly unavailable; try again")]
    Unavailable,
    /// The detail is logged where the error is made; the wire only says this.
    #[error("something went wrong on our side")]
    Internal,
}

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation { field: field.to_owned(), message: message.into() }
    }

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized | Self::WrongCredentials => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound => 404,
            Self::Conflict(_) => 409,
            Self::TooLarge(_) => 413,
            Self::UnsupportedType(_) => 415,
            Self::RateLimited { .. } => 429,
            Self::Validation { .. } => 422,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// Seconds a client should wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Self::Unavailable => Some(1),
            _ => None,
        }
    }

    /// The field a validation error is about, for showing it inline.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Validation { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(message) | E::Deserialization(message) | E::MissingArg(message) => Self::BadRequest(message),
            E::Request(_) | E::Response(_) => {
                Self::BadRequest("could not reach the server; check your connection".into())
            }
            _ => Self::Internal,
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;
    use axum::{
        http::StatusCode,
        response::{IntoResponse, Response},
        Json,
    };

    impl From<sqlx::Error> for AppError {
        fn from(error: sqlx::Error) -> Self {
            if let sqlx::Error::RowNotFound = error {
                return Self::NotFound;
            }
            if matches!(
                error,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_)
            ) {
                tracing::warn!(%error, "database unreachable");
                return Self::Unavailable;
            }
            if let Some(db) = error.as_database_error() {
                // Connection exceptions, and the server shutting down or starting.
                let code = db.code().unwrap_or_default();
                match code.as_ref() {
                    code if code.starts_with("08") || code.starts_with("57P") => {
                        tracing::warn!(%error, "database unavailable");
                        return Self::Unavailable;
                    }
                    // deadlock_detected, serialization_failure: try again.
                    "40P01" | "40001" => {
                        tracing::warn!(%error, "transaction rolled back by the database");
                        return Self::Unavailable;
                    }
                    // The group moved to another group database meanwhile
                    // (tenant migration 0008): the next try goes there.
                    "CY001" => {
                        tracing::info!(%error, "a write reached a group's old copy after its move");
                        return Self::Unavailable;
                    }
                    // unique_violation
                    "23505" => return Self::Conflict("that already exists".into()),
                    // exclusion_violation
                    "23P01" => return Self::Conflict("that conflicts with another entry".into()),
                    // A value Postgres refuses is the input's fault, wherever
                    // it slipped past the checks in Rust: a 4xx, not a 500.
                    code => {
                        if let Some(message) = refused_value(code) {
                            tracing::warn!(%error, "the database refused a value");
                            return Self::validation("", message);
                        }
                    }
                }
            }
            tracing::error!(%error, "database error");
            Self::Internal
        }
    }

    /// What to tell the client for a data exception (SQLSTATE class 22) or
    /// an integrity violation the input caused; `None` for other codes.
    pub(super) fn refused_value(code: &str) -> Option<&'static str> {
        Some(match code {
            // character_not_in_repertoire, untranslatable_character, invalid Unicode escapes
            "22021" | "22P05" | "22P06" => "text may not contain NUL characters",
            // datetime_field_overflow, invalid_datetime_format, invalid_time_zone_displacement_value
            "22008" | "22007" | "22009" => "a date or time is out of range",
            // string_data_right_truncation
            "22001" => "a value is too long",
            // foreign_key_violation: what it refers to is gone (deleted meanwhile)
            "23503" => "it refers to something that no longer exists",
            // not_null_violation, check_violation
            "23502" | "23514" => "a value is missing or not allowed",
            code if code.starts_with("22") => "a value is malformed or out of range",
            _ => return None,
        })
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = match &self {
                Self::Validation { field, message } => {
                    serde_json::json!({ "error": message, "field": field })
                }
                other => serde_json::json!({ "error": other.to_string() }),
            };
            let mut response = (status, Json(body)).into_response();
            if let Some(seconds) = self.retry_after() {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AppError;

    #[test]
    fn each_error_kind_has_its_status() {
        assert_eq!(AppError::BadRequest("x".into()).status(), 400);
        assert_eq!(AppError::Unauthorized.status(), 401);
        assert_eq!(AppError::WrongCredentials.status(), 401);
        assert_eq!(AppError::Forbidden("x".into()).status(), 403);
        assert_eq!(AppError::NotFound.status(), 404);
        assert_eq!(AppError::Conflict("x".into()).status(), 409);
        assert_eq!(AppError::TooLarge("x".into()).status(), 413);
        assert_eq!(AppError::UnsupportedType("x".into()).status(), 415);
        assert_eq!(AppError::validation("email", "bad").status(), 422);
        assert_eq!(AppError::RateLimited { retry_after_secs: 60 }.status(), 429);
        assert_eq!(AppError::Unavailable.status(), 503);
        assert_eq!(AppError::Internal.status(), 500);
    }

    #[test]
    fn internal_error_says_nothing_of_its_cause() {
        assert_eq!(AppError::Internal.to_string(), "something went wrong on our side");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn missing_row_maps_to_not_found() {
        assert_eq!(AppError::from(sqlx::Error::RowNotFound), AppError::NotFound);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn values_postgres_refuses_are_the_clients_fault() {
        use super::ssr::refused_value;
        for code in ["22021", "22P02", "22007", "22008", "22003", "22P05", "23503", "23514"] {
            assert!(refused_value(code).is_some(), "{code}");
        }
        for code in ["42P01", "40P01", "XX000", "53300"] {
            assert!(refused_value(code).is_none(), "{code}");
        }
    }

    #[test]
    fn every_error_crosses_the_wire_and_back() {
        for error in [
            AppError::BadRequest("x".into()),
            AppError::Unauthorized,
            AppError::Forbidden("only admins can invite residents".into()),
            AppError::NotFound,
            AppError::Conflict("taken".into()),
            AppError::validation("title", "enter a title"),
            AppError::TooLarge("big".into()),
            AppError::RateLimited { retry_after_secs: 60 },
            AppError::Unavailable,
            AppError::Internal,
        ] {
            let text = serde_json::to_string(&error).expect("serializes");
            assert_eq!(serde_json::from_str::<AppError>(&text).unwrap(), error, "{text}");
        }
        assert_eq!(serde_json::to_string(&AppError::NotFound).unwrap(), r#"{"kind":"not_found"}"#);
    }
}
