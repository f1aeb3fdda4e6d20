//! The group every page under `/g/{slug}` shows, shared through the
//! context (the group layout provides it; pages and widgets read it).

use crate::{model::GroupData, server_fns::get_group_data, sync::ui::SyncUi};
use leptos::prelude::*;

/// The current group's data, shared by its pages.
#[derive(Clone, Copy)]
pub struct GroupContext {
    pub slug: Memo<String>,
    pub data: RwSignal<GroupData>,
    /// The browser's sync of this group (idle on the server).
    pub sync: SyncUi,
}

impl GroupContext {
    /// Fetches all of the group's data again (after a write, or for the
    /// notices a page render left out), unless the pages already show the
    /// browser's local copy.
    pub async fn reload(self) {
        let fresh = get_group_data(self.slug.get_untracked(), true).await;
        if self.sync.local.get_untracked() {
            return;
        }
        match fresh {
            Ok(fresh) => self.data.set(fresh),
            Err(error) => leptos::logging::warn!("reloading the group failed: {error}"),
        }
    }

    /// `/g/{slug}{rest}`.
    pub fn href(&self, rest: &str) -> String {
        format!("/g/{}{rest}", self.slug.get_untracked())
    }
}

pub fn use_group() -> GroupContext {
    expect_context::<GroupContext>()
}
