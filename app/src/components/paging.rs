//! Long lists show a page of rows and grow on request: a board of thousands
//! of notices renders (and hydrates) fifty, not all of them.

use crate::model::PAGE;
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

    /// The rows to show (tracks the page count).
    pub fn take<T>(self, rows: impl IntoIterator<Item = T>) -> impl Iterator<Item = T> {
        rows.into_iter().take(self.shown.get())
    }

    /// How many rows the list wants to show (tracked).
    pub fn shown(self) -> usize {
        self.shown.get()
    }
}

impl Default for Paging {
    fn default() -> Self {
        Self::new()
    }
}

/// The button under a paged list while rows are hidden; `total` is the
/// list's length.
#[component]
pub fn ShowMore(paging: Paging, #[prop(into)] total: Signal<usize>) -> impl IntoView {
    let hidden = move || total.get().saturating_sub(paging.shown.get());
    move || {
        (hidden() > 0).then(|| {
            view! {
                <button type="button" class="link show-more" on:click=move |_| paging.shown.update(|n| *n += PAGE)>
                    {move || format!("Show more ({} not shown)", hidden())}
                </button>
            }
        })
    }
}
