//! `/g/{slug}/documents`: the group's documents library (house rules,
//! minutes, PDFs). Admins add and remove documents; everyone opens them,
//! offline too once opened here.

use super::use_group;
use crate::{
    components::{
        action_error, human_size, use_mutation, with_view, AttachFiles, FormError, OpenDocument, Paging, PendingBadge,
        ShowMore, Time, DOCUMENT_TYPES,
    },
    model::{mutation::ById, views::Library, FileInfo, Mutation, PAGE},
};
use leptos::prelude::*;

#[component]
pub fn DocumentsPage() -> impl IntoView {
    let group = use_group();
    let first = group.first::<Library>(|| PAGE);
    view! {
        <section class="card" aria-labelledby="documents-heading">
            <h1 id="documents-heading">"Documents"</h1>
            {with_view(first, |first| view! { <Documents first /> })}
        </section>
        <Show when=move || group.is_admin() && !group.is_closed()>
            <section class="card" aria-labelledby="add-document-heading">
                <h2 id="add-document-heading">"Add a document"</h2>
                <AttachFiles id="document-file" label="PDF, photo or office document" button="Add to the library"
                    accept=DOCUMENT_TYPES request_id=None />
            </section>
        </Show>
    }
}

#[component]
fn Documents(first: Library) -> impl IntoView {
    let group = use_group();
    let paging = Paging::new();
    let list = group.follow(first, move || paging.shown());
    let entries =
        move || list.with(|l| l.documents.iter().map(|d| (d.clone(), l.names.of(d.uploader_id))).collect::<Vec<_>>());
    let more = Signal::derive(move || list.with(|l| l.more));
    view! {
        <ul class="list" data-empty="No documents yet.">
            <For each=entries key=|(d, _)| (d.id, d.size) children=|(file, uploader)| view! { <Document file uploader /> } />
        </ul>
        <ShowMore paging more />
    }
}

#[component]
fn Document(file: FileInfo, uploader: String) -> impl IntoView {
    let group = use_group();
    let remove = use_mutation();
    let id = file.id;
    let may_remove = group.is_admin() && !group.is_closed();
    let label = format!("Remove {}", file.name);
    view! {
        <li>
            <p><OpenDocument file=file.clone() /> " " <PendingBadge id /></p>
            <p class="muted">{human_size(file.size)} " · " {uploader} " · " <Time at=file.created_at /></p>
            {may_remove.then(|| view! {
                <button type="button" class="link" aria-label=label.clone()
                    on:click=move |_| { remove.dispatch(Mutation::FileRemove(ById { id })); }>"Remove"</button>
                <FormError error=action_error(remove) />
            })}
        </li>
    }
}
