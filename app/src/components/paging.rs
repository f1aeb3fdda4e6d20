//! Long lists show a page of rows and grow on request: a board of thousands
//! of notices reads, renders and hydrates fifty, not all of them.

use crate::model::{views::MAX_VIEW_ROWS, PAGE};
use leptos::prelude::*;

/// How many rows of one list are shown.
#[derive(Clone, Copy)]
pub struct Paging {
    shown: RwSignal<usize>,
}

impl Paging {
    pub fn new() -> Self {
        Self { shown: RwSignal::new(PAGE) }
    }

    /// How many rows the list wants to show (tracked): its view's limit.
    pub fn shown(self) -> usize {
        self.shown.get()
    }
}

impl Default for Paging {
    fn default() -> Self {
        Self::new()
    }
}

/// The button under a paged list while its view says more rows follow (up
/// to the most one view reads).
#[component]
pub fn ShowMore(paging: Paging, #[prop(into)] more: Signal<bool>) -> impl IntoView {
    move || {
        (more.get() && paging.shown.get() < MAX_VIEW_ROWS).then(|| {
            view! {
                <button type="button" class="link show-more" on:click=move |_| paging.shown.update(|n| *n += PAGE)>
                    "Show more"
                </button>
            }
        })
    }
}
