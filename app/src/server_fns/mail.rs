//! Email from a group: a member's choices, and unsubscribe links.

use crate::{
    error::AppError,
    model::{MailChoices, Unsubscribe},
};
use leptos::prelude::*;

/// The signed-in member's choices of mail from the group.
#[server(prefix = "/fn", endpoint = "mail_choices")]
pub async fn get_mail_choices(slug: String) -> Result<MailChoices, AppError> {
    use crate::backend::notify::choices;
    let (state, member) = super::member_of(&slug).await?;
    choices::get(&state, &member).await
}

/// Sets them (an unticked box is not sent: off).
#[server(prefix = "/fn", endpoint = "set_mail_choices")]
pub async fn set_mail_choices(
    slug: String,
    notices: Option<String>,
    requests: Option<String>,
    bookings: Option<String>,
) -> Result<(), AppError> {
    use crate::backend::notify::choices;
    let (state, member) = super::member_of(&slug).await?;
    let choices =
        MailChoices { notices: notices.is_some(), requests: requests.is_some(), bookings: bookings.is_some() };
    choices::set(&state, &member, choices).await
}

/// What an unsubscribe link stops (no session needed: the link is the credential).
#[server(prefix = "/fn", endpoint = "unsubscribe_info")]
pub async fn unsubscribe_info(token: String) -> Result<Unsubscribe, AppError> {
    use crate::backend::{notify::choices, AppState};
    choices::info(&AppState::from_context()?, &token).await
}

/// Stops the mail an unsubscribe link names.
#[server(prefix = "/fn", endpoint = "stop_mail")]
pub async fn stop_mail(token: String) -> Result<Unsubscribe, AppError> {
    use crate::backend::{notify::choices, AppState};
    choices::unsubscribe(&AppState::from_context()?, &token).await
}
