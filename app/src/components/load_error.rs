//! What a page shows when loading its data failed, and the HTTP status that
//! goes with it (the error's own, e.g. 503 while the database is away): a
//! page rendered around an error is never taken for a good one, so the
//! service worker does not keep it over the good copy it has.

use crate::error::AppError;
use leptos::prelude::*;

#[component]
pub fn LoadError(error: AppError) -> impl IntoView {
    set_status(error.status());
    view! { <p class="form-error" role="alert">{error.to_string()}</p> }
}

/// The status of the page being rendered (on the server; nothing in the
/// browser).
pub fn set_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) =
        (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(status))
    {
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}
