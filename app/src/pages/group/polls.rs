//! `/g/{slug}/polls`: the group's polls, voting (offline too: a vote is a
//! queued mutation like any other write), results, and opening a poll.

use super::use_group;
use crate::{
    components::{
        action_error, reset_on_success, use_hydrated, use_mutation, use_now, use_zone, with_view, Paging, PendingBadge,
        ShowMore, Time,
    },
    error::AppError,
    model::{
        mutation::{ById, PollChoice, PollCreate, PollVote},
        validate::POLL_OPTIONS_MAX,
        views::{PollCard, PollList},
        Ballot, Mutation, PollOption, PAGE,
    },
};
use chrono::{Duration, NaiveDateTime};
use leptos::{html, prelude::*};
use std::collections::BTreeSet;
use uuid::Uuid;

const INPUT_FORMAT: &str = "%Y-%m-%dT%H:%M";

#[component]
pub fn PollsPage() -> impl IntoView {
    let group = use_group();
    let first = use_group().first::<PollList>(|| PAGE);
    view! {
        <Show when=move || group.may_open_polls() && !group.is_closed()>
            <NewPoll />
        </Show>
        <section class="card" aria-labelledby="polls-heading">
            <h2 id="polls-heading">"Polls"</h2>
            {with_view(first, |first| view! { <Polls first /> })}
        </section>
    }
}

/// The polls, a page at a time. Each is keyed by its id and follows its
/// own card, so another member's vote (a live count) leaves a half-filled
/// ballot, an opened list of voters and the focus where they were.
#[component]
fn Polls(first: PollList) -> impl IntoView {
    let group = use_group();
    let paging = Paging::new();
    let list = group.follow(first, move || paging.shown());
    let entries =
        move || list.with(|l| l.polls.iter().map(|c| (c.clone(), l.names.of(c.poll.author_id))).collect::<Vec<_>>());
    let more = Signal::derive(move || list.with(|l| l.more));
    view! {
        <ul class="list" data-empty="No polls yet.">
            <For each=entries key=|(card, _)| card.poll.id children=move |(card, author)| {
                let id = card.poll.id;
                let current = Signal::derive(move || {
                    list.with(|l| l.polls.iter().find(|c| c.poll.id == id).cloned()).unwrap_or_else(|| card.clone())
                });
                view! { <PollItem current author /> }
            } />
        </ul>
        <ShowMore paging more />
    }
}

#[component]
fn PollItem(current: Signal<PollCard>, author: String) -> impl IntoView {
    let group = use_group();
    let now = use_now();
    // What never changes: the question, its rules, its options' labels.
    let PollCard { poll, options, .. } = current.get_untracked();
    let id = poll.id;
    let closes_at = Memo::new(move |_| current.with(|c| c.poll.closes_at));
    let open = Memo::new(move |_| now.get() < closes_at.get());
    let counts = Memo::new(move |_| current.with(|c| c.options.iter().map(|o| o.votes).collect::<Option<Vec<i32>>>()));
    let chosen = Memo::new(move |_| {
        current
            .with(|c| c.ballot.as_ref().map(Ballot::chosen).unwrap_or_default().into_iter().collect::<BTreeSet<Uuid>>())
    });
    let may_manage = group.is_admin() || poll.author_id == group.me();
    let manage = use_mutation();
    let (heading_id, labelled_by) = (format!("poll-{id}"), format!("poll-{id}"));
    let kind = match (poll.multiple, poll.anonymous) {
        (true, true) => "Several choices · anonymous",
        (true, false) => "Several choices · named",
        (false, true) => "One choice · anonymous",
        (false, false) => "One choice · named",
    };
    let results = {
        let options = options.clone();
        move || match counts.get() {
            Some(counts) => {
                let total: i32 = counts.iter().sum();
                let shown = options
                    .iter()
                    .zip(counts)
                    .map(|(o, votes)| {
                        let share = if total > 0 { votes * 100 / total } else { 0 };
                        view! {
                            <li>
                                <span class="option-label">{o.label.clone()}</span> " "
                                <meter min="0" max=total.max(1) value=votes aria-hidden="true"></meter> " "
                                <span>{format!("{votes} {} ({share}%)", if votes == 1 { "vote" } else { "votes" })}</span>
                            </li>
                        }
                    })
                    .collect_view();
                view! {
                    <h4>{if open.get() { "Results so far" } else { "Results" }}</h4>
                    <ul class="results">{shown}</ul>
                }
                .into_any()
            }
            None if open.get() => view! { <p class="muted">"Results show when the poll closes."</p> }.into_any(),
            None => view! { <p class="muted">"Counting the votes…"</p> }.into_any(),
        }
    };
    let shows = Signal::derive(move || counts.with(Option::is_some));
    let voters = (!poll.anonymous).then(|| view! { <Voters poll=id options=options.clone() shows /> });
    let mine = {
        let options = options.clone();
        move || {
            chosen.with(|chosen| {
                (!chosen.is_empty()).then(|| {
                    let labels: Vec<String> =
                        options.iter().filter(|o| chosen.contains(&o.id)).map(|o| o.label.clone()).collect();
                    view! { <p>"Your vote: " {labels.join(", ")} " " <PendingBadge id=Ballot::key_of(id, group.me()) /></p> }
                })
            })
        }
    };
    let multiple = poll.multiple;
    let question = poll.question.clone();
    let ballot_form = move || {
        (open.get() && !group.is_closed()).then(|| {
            view! { <Vote poll=id question=question.clone() multiple options=options.clone() chosen /> }
        })
    };
    let manage_error = action_error(manage);
    let (close_label, delete_label) = (format!("Close now: {}", poll.question), format!("Delete: {}", poll.question));
    view! {
        <li class="poll" aria-labelledby=labelled_by>
            <h3 id=heading_id>{poll.question.clone()}</h3>
            <p class="muted">
                {author} " · " {kind} " · "
                {move || if open.get() { "closes " } else { "closed " }} {move || view! { <Time at=closes_at.get() /> }}
            </p>
            {ballot_form}
            {mine}
            {results}
            {voters}
            {(may_manage && !group.is_closed()).then(|| view! {
                <div class="row-actions">
                    <Show when=move || open.get()>
                        <button type="button" class="link" aria-label=close_label.clone()
                            on:click=move |_| { manage.dispatch(Mutation::PollClose(ById { id })); }>
                            "Close now"
                        </button>
                    </Show>
                    <button type="button" class="link danger" aria-label=delete_label
                        on:click=move |_| { manage.dispatch(Mutation::PollDelete(ById { id })); }>
                        "Delete"
                    </button>
                </div>
                <p class="form-error" role="alert">{move || manage_error.get().map(|e| e.to_string())}</p>
            })}
        </li>
    }
}

/// The ballot form: radio buttons for one choice, checkboxes for several,
/// under the question as their legend.
#[component]
fn Vote(
    poll: Uuid,
    question: String,
    multiple: bool,
    options: Vec<PollOption>,
    chosen: Memo<BTreeSet<Uuid>>,
) -> impl IntoView {
    let vote = use_mutation();
    let ready = use_hydrated();
    let picked = RwSignal::new(chosen.get_untracked());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let option_ids: Vec<Uuid> = picked.get_untracked().into_iter().collect();
        vote.dispatch(Mutation::PollVote(PollVote { poll_id: poll, option_ids }));
    };
    let vote_error = action_error(vote);
    let kind = if multiple { "checkbox" } else { "radio" };
    let name = format!("vote-{poll}");
    let choices = options
        .into_iter()
        .map(|o| {
            let option = o.id;
            let input_id = format!("vote-{option}");
            let toggle = move |ev: leptos::ev::Event| {
                let on = event_target_checked(&ev);
                picked.update(|set| {
                    if !multiple {
                        set.clear();
                    }
                    if on {
                        set.insert(option);
                    } else {
                        set.remove(&option);
                    }
                });
            };
            view! {
                <div class="choice">
                    <input type=kind id=input_id.clone() name=name.clone() value=option.to_string()
                        prop:checked=move || picked.with(|set| set.contains(&option)) on:change=toggle />
                    <label for=input_id>{o.label}</label>
                </div>
            }
        })
        .collect_view();
    view! {
        <form class="vote" on:submit=submit>
            <fieldset>
                <legend>
                    <span class="visually-hidden">{question} " "</span>
                    {if multiple { "Choose one or more" } else { "Choose one" }}
                </legend>
                {choices}
            </fieldset>
            <p class="form-error" role="alert">{move || vote_error.get().map(|e| e.to_string())}</p>
            <button type="submit" disabled=move || !ready.get() || vote.pending().get() || picked.with(BTreeSet::is_empty)>
                {move || if chosen.with(BTreeSet::is_empty) { "Vote" } else { "Change vote" }}
            </button>
        </form>
    }
}

/// Who chose what, in a named poll whose results show (asked of the
/// server: ballots are private to their voters in every browser's copy).
#[component]
fn Voters(poll: Uuid, options: Vec<PollOption>, shows: Signal<bool>) -> impl IntoView {
    let group = use_group();
    let asked = RwSignal::new(false);
    let options = StoredValue::new(options);
    let names = Resource::new(
        move || asked.get(),
        move |asked| async move {
            match asked {
                true => Some(crate::server_fns::who_voted(group.slug.get_untracked(), poll).await),
                false => None,
            }
        },
    );
    let list = move || {
        names.get().flatten().map(|answer| match answer {
            Ok(voters) => options.with_value(|options| {
                options
                    .iter()
                    .map(|o| {
                        let who = voters.0.get(&o.id).map(|n| n.join(", ")).unwrap_or_else(|| "nobody".into());
                        view! { <li>{o.label.clone()} ": " {who}</li> }
                    })
                    .collect_view()
                    .into_any()
            }),
            Err(error) => view! { <li class="form-error" role="alert">{error.to_string()}</li> }.into_any(),
        })
    };
    view! {
        <Show when=move || shows.get()>
            <Show when=move || !asked.get()>
                <button type="button" class="link" on:click=move |_| asked.set(true)>"Show who voted"</button>
            </Show>
            <Transition fallback=|| ()>
                <ul class="voters">{list}</ul>
            </Transition>
        </Show>
    }
}

/// Opening a poll: a question, options one per line, its rules and end.
#[component]
fn NewPoll() -> impl IntoView {
    let open = use_mutation();
    let ready = use_hydrated();
    let zone = use_zone();
    let now = use_now();
    let form = NodeRef::<html::Form>::new();
    let question = NodeRef::<html::Input>::new();
    let options = NodeRef::<html::Textarea>::new();
    let multiple = NodeRef::<html::Input>::new();
    let anonymous = NodeRef::<html::Input>::new();
    let live = NodeRef::<html::Input>::new();
    let closes = NodeRef::<html::Input>::new();
    let invalid = RwSignal::new(None::<AppError>);
    let week_ahead = move || zone.get().naive(now.get() + Duration::days(7)).format(INPUT_FORMAT).to_string();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(question), Some(options), Some(multiple), Some(anonymous), Some(live), Some(closes)) =
            (question.get(), options.get(), multiple.get(), anonymous.get(), live.get(), closes.get())
        else {
            return;
        };
        let closes_at = NaiveDateTime::parse_from_str(&closes.value(), INPUT_FORMAT)
            .ok()
            .and_then(|wall| zone.get_untracked().to_utc(wall));
        let Some(closes_at) = closes_at else {
            invalid.set(Some(AppError::validation("closes_at", "enter when the poll closes")));
            return;
        };
        invalid.set(None);
        let options = options
            .value()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|label| PollChoice { id: Uuid::new_v4(), label: label.to_owned() })
            .collect();
        open.dispatch(Mutation::PollCreate(PollCreate {
            id: Uuid::new_v4(),
            question: question.value(),
            options,
            multiple: multiple.checked(),
            anonymous: anonymous.checked(),
            live_results: live.checked(),
            closes_at,
        }));
    };
    reset_on_success(open, form);
    let server_error = action_error(open);
    let error = move || invalid.get().or_else(|| server_error.get()).map(|e| e.to_string());
    view! {
        <section class="card" aria-labelledby="new-poll-heading">
            <h2 id="new-poll-heading">"Open a poll"</h2>
            <form node_ref=form on:submit=submit>
                <div class="field">
                    <label for="poll-question">"Question"</label>
                    <input id="poll-question" node_ref=question required maxlength="200" />
                </div>
                <div class="field">
                    <label for="poll-options">"Options, one per line"</label>
                    <textarea id="poll-options" node_ref=options rows="4" required
                        aria-describedby="poll-options-hint"></textarea>
                    <p class="hint" id="poll-options-hint">{format!("2 to {POLL_OPTIONS_MAX} options.")}</p>
                </div>
                <div class="choice">
                    <input type="checkbox" id="poll-multiple" node_ref=multiple />
                    <label for="poll-multiple">"Several choices allowed"</label>
                </div>
                <div class="choice">
                    <input type="checkbox" id="poll-anonymous" node_ref=anonymous checked />
                    <label for="poll-anonymous">"Anonymous (no one sees who voted for what)"</label>
                </div>
                <div class="choice">
                    <input type="checkbox" id="poll-live" node_ref=live />
                    <label for="poll-live">"Show the results while the poll is open"</label>
                </div>
                <div class="field">
                    <label for="poll-closes">"Closes"</label>
                    <input id="poll-closes" node_ref=closes type="datetime-local" required value=week_ahead />
                </div>
                <p class="form-error" role="alert">{error}</p>
                <button type="submit" disabled=move || !ready.get() || open.pending().get()>"Open poll"</button>
            </form>
        </section>
    }
}
