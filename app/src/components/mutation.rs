//! Sending a mutation from a page. In the browser, once the group's sync
//! runs, a write goes into its outbox (stored, shown at once as pending,
//! sent when online; a refusal shows later as a notice). Before that (and
//! where IndexedDB is unavailable) it goes straight to the server.

use super::GroupContext;
use crate::{
    error::AppError,
    model::{MutateRequest, Mutation, MutationEnvelope, MutationStatus},
    server_fns::mutate,
};
use leptos::prelude::*;

/// An action that applies one mutation to the current group: queued in the
/// outbox when the sync runs, else sent, and the pages' views read again
/// (a rejection then comes back as an error with the server's reason).
pub fn use_mutation() -> Action<Mutation, Result<(), AppError>> {
    let group = expect_context::<GroupContext>();
    Action::new(move |mutation: &Mutation| send(group, mutation.clone()))
}

/// Applies one mutation to `group`: queued in the outbox when the sync
/// runs, else sent (a rejection is then an error with the server's reason).
pub async fn send(group: GroupContext, mutation: Mutation) -> Result<(), AppError> {
    let queue = group.sync.queue.get_value();
    let slug = group.slug.get_untracked();
    if let Some(queue) = queue {
        return queue.send(mutation).await.map_err(AppError::BadRequest);
    }
    let request =
        MutateRequest { group: slug, mutations: vec![MutationEnvelope::new(uuid::Uuid::new_v4(), &mutation)] };
    let response = mutate(request).await?;
    group.version.update(|v| *v += 1);
    match response.results.into_iter().next() {
        Some(outcome) if outcome.status == MutationStatus::Rejected => {
            Err(AppError::Conflict(outcome.error.unwrap_or_else(|| "refused".into())))
        }
        _ => Ok(()),
    }
}

/// The error of an action's last run (for `FormError`).
pub fn action_error<I: 'static>(action: Action<I, Result<(), AppError>>) -> Signal<Option<AppError>> {
    super::last_error(action.value())
}

/// True once the WASM runs: forms are disabled before (their handlers are
/// not attached yet).
pub fn use_hydrated() -> Signal<bool> {
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    ready.into()
}

/// Clears `form` each time `action` succeeds.
pub fn reset_on_success<I: 'static>(action: Action<I, Result<(), AppError>>, form: NodeRef<leptos::html::Form>) {
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(()))) {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
}
