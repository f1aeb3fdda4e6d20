//! Accessible form fields with inline errors from a server function.

use crate::error::AppError;
use leptos::prelude::*;

/// The error of an action's last run, if it failed.
pub fn last_error<T>(
    value: impl With<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> Signal<Option<AppError>>
where
    T: 'static,
{
    Signal::derive(move || value.with(|last| last.as_ref().and_then(|r| r.as_ref().err()).cloned()))
}

/// The message of `error` if it is about `field`.
pub fn field_error(error: Signal<Option<AppError>>, field: &'static str) -> Signal<Option<String>> {
    Signal::derive(move || {
        error.with(|error| error.as_ref().filter(|e| e.field() == Some(field)).map(ToString::to_string))
    })
}

/// A labelled input with its error (announced to screen readers) below it.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] autofocus: bool,
    #[prop(optional)] value: String,
    #[prop(into)] error: Signal<Option<String>>,
    /// The input's id when a page has two fields of one name (default
    /// `field-{name}`).
    #[prop(optional)]
    id: &'static str,
) -> impl IntoView {
    let id = if id.is_empty() { format!("field-{name}") } else { id.to_owned() };
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = if hint.is_empty() { error_id.clone() } else { format!("{hint_id} {error_id}") };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                type=kind
                name=name
                value=value
                required=true
                autofocus=autofocus
                autocomplete=(!autocomplete.is_empty()).then_some(autocomplete)
                aria-invalid=move || error.with(Option::is_some).then_some("true")
                aria-describedby=described_by
            />
            {(!hint.is_empty()).then(|| view! { <p class="hint" id=hint_id>{hint}</p> })}
            <p class="error" id=error_id role="alert">{move || error.get()}</p>
        </div>
    }
}

/// An error of the whole form (not of one field).
#[component]
pub fn FormError(error: Signal<Option<AppError>>) -> impl IntoView {
    let message = move || error.with(|e| e.as_ref().filter(|e| e.field().is_none()).map(ToString::to_string));
    view! { <p class="form-error" role="alert">{message}</p> }
}
