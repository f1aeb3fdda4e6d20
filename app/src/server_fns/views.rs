//! Each screen's view of a group (`model::views`), read by the server for
//! the page it renders and for a browser without a whole local copy.

use crate::{
    error::AppError,
    model::{
        views::{
            Board, Directory, GroupHeader, Library, PollList, PollVoters, RequestList, RequestThread, RoomsWeek,
            Summary,
        },
        RequestStatus,
    },
};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::member_of;

#[server(prefix = "/fn", endpoint = "group_header")]
pub async fn get_group_header(slug: String) -> Result<GroupHeader, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::views::header(&member).await
}

#[server(prefix = "/fn", endpoint = "board")]
pub async fn board_view(slug: String, limit: usize) -> Result<Board, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::views::board(&member, limit).await
}

#[server(prefix = "/fn", endpoint = "polls")]
pub async fn polls_view(slug: String, limit: usize) -> Result<PollList, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::views::polls(&member, limit).await
}

/// Who chose what in a named poll whose results show.
#[server(prefix = "/fn", endpoint = "who_voted")]
pub async fn who_voted(slug: String, poll: Uuid) -> Result<PollVoters, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::polls::voters(&member, poll).await
}

#[server(prefix = "/fn", endpoint = "requests")]
pub async fn requests_view(slug: String, status: RequestStatus, limit: usize) -> Result<RequestList, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::views::requests(&member, status, limit).await
}

/// One request's thread; `None` if the group has no such request.
#[server(prefix = "/fn", endpoint = "request_thread")]
pub async fn thread_view(slug: String, id: Uuid, limit: usize) -> Result<Option<RequestThread>, AppError> {
    let (_, member) = member_of(&slug).await?;
    match crate::backend::views::thread(&member, id, limit).await {
        Err(AppError::NotFound) => Ok(None),
        other => other.map(Some),
    }
}

#[server(prefix = "/fn", endpoint = "rooms")]
pub async fn rooms_view(slug: String, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<RoomsWeek, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::views::rooms_between(&member, from, to).await
}

#[server(prefix = "/fn", endpoint = "library")]
pub async fn library_view(slug: String, limit: usize) -> Result<Library, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::views::library(&member, limit).await
}

#[server(prefix = "/fn", endpoint = "directory")]
pub async fn directory_view(slug: String, limit: usize) -> Result<Directory, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::views::directory(&member, limit).await
}

#[server(prefix = "/fn", endpoint = "summary")]
pub async fn summary_view(slug: String, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Summary, AppError> {
    let (_, member) = member_of(&slug).await?;
    crate::backend::views::summary(&member, from, to).await
}
