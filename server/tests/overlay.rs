//! The browser shows a queued write (its overlay) as the server will store
//! it: random sequences of mutations go through the overlay, laid over the
//! group's rows as the browser holds them (after a random prefix of writes
//! already synced), and through the server; the rows the pages would show
//! must be the same. Times the server stamps (`now()` of each write)
//! compare by which write stamped them. Writes the server refuses for their
//! input (a blank title) show nothing. Poll counts are the server's to
//! make (a queued vote shows the voter's ballot, not a guessed count).

mod common;

use app::{
    model::{mutation::*, registry, views::MAX_VIEW_ROWS, Mutation, MutationEnvelope, RequestStatus},
    sync::local::{LocalRows, Overlay, Shown},
};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::TestApp;
use proptest::{prelude::*, test_runner::TestRunner};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// A step, resolved against the rows that exist when it runs (so every
/// mutation but `Blank` is one the server accepts: an admin's, on rows that
/// exist).
#[derive(Debug, Clone)]
enum Step {
    /// A notice with a blank title: refused.
    Blank(String),
    Notice(String, String),
    EditNotice(usize, Option<String>, Option<String>),
    Pin(usize, bool),
    DeleteNotice(usize),
    Request(String, String),
    SetStatus(usize, usize),
    Comment(usize, String),
    Room(String),
    DeleteRoom(usize),
    Book(usize, u32),
    Cancel(usize),
    Profile(String, Option<String>),
    Poll(String, bool, bool),
    Vote(usize, u8),
    ClosePoll(usize),
    DeletePoll(usize),
    /// A read mark on a notice.
    Read(usize),
}

/// One line, with spaces around it (trimmed by both sides).
fn line() -> impl Strategy<Value = String> {
    "[ ]{0,2}[a-zA-Zé]{1,8}( [a-z]{1,5})?[ ]{0,2}"
}

/// Free text: lines, tabs and spaces around them.
fn text() -> impl Strategy<Value = String> {
    "[ \n]{0,2}[a-z]{0,6}(\n\t[a-z]{1,4})?[ \n\t]{0,2}"
}

fn step() -> impl Strategy<Value = Step> {
    let index = 0usize..8;
    prop_oneof![
        "[ \t]{0,3}".prop_map(Step::Blank),
        (line(), text()).prop_map(|(t, b)| Step::Notice(t, b)),
        (index.clone(), proptest::option::of(line()), proptest::option::of(text()))
            .prop_map(|(i, t, b)| Step::EditNotice(i, t, b)),
        (index.clone(), any::<bool>()).prop_map(|(i, p)| Step::Pin(i, p)),
        index.clone().prop_map(Step::DeleteNotice),
        (line(), text()).prop_map(|(t, d)| Step::Request(t, d)),
        (index.clone(), 0usize..3).prop_map(|(i, s)| Step::SetStatus(i, s)),
        (index.clone(), "[ ]{0,2}[a-z]{1,6}[ \n]{0,2}").prop_map(|(i, b)| Step::Comment(i, b)),
        line().prop_map(Step::Room),
        index.clone().prop_map(Step::DeleteRoom),
        (index.clone(), 1u32..72).prop_map(|(i, h)| Step::Book(i, h)),
        index.clone().prop_map(Step::Cancel),
        (line(), proptest::option::of("[ ]{0,2}[0-9A-Z]{0,3}[ ]{0,2}")).prop_map(|(n, u)| Step::Profile(n, u)),
        (line(), any::<bool>(), any::<bool>()).prop_map(|(q, m, l)| Step::Poll(q, m, l)),
        (index.clone(), 1u8..8).prop_map(|(i, picks)| Step::Vote(i, picks)),
        index.clone().prop_map(Step::ClosePoll),
        index.clone().prop_map(Step::DeletePoll),
        index.prop_map(Step::Read),
    ]
}

/// The ids that exist as the sequence runs.
#[derive(Default)]
struct Existing {
    notices: Vec<Uuid>,
    requests: Vec<Uuid>,
    rooms: Vec<Uuid>,
    bookings: Vec<(Uuid, Uuid)>,
    /// Hours from the run's start already booked (bookings never overlap).
    booked_until: u32,
    /// Open polls: id, options, whether several may be chosen.
    polls: Vec<(Uuid, [Uuid; 3], bool)>,
    closed_polls: Vec<Uuid>,
}

fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()])
}

impl Existing {
    /// The step as a mutation on rows that exist (a create where none do).
    fn resolve(&mut self, step: &Step, start: DateTime<Utc>) -> Mutation {
        let id = Uuid::new_v4();
        let notice = |me: &mut Self, title: &str| {
            me.notices.push(id);
            Mutation::AnnouncementCreate(AnnouncementCreate { id, title: title.into(), body: " b ".into() })
        };
        match step {
            Step::Blank(title) => {
                Mutation::AnnouncementCreate(AnnouncementCreate { id, title: title.clone(), body: "b".into() })
            }
            Step::Notice(title, body) => {
                self.notices.push(id);
                Mutation::AnnouncementCreate(AnnouncementCreate { id, title: title.clone(), body: body.clone() })
            }
            Step::EditNotice(i, title, body) => match pick(&self.notices, *i) {
                Some(id) if title.is_some() || body.is_some() => {
                    Mutation::AnnouncementUpdate(AnnouncementUpdate { id, title: title.clone(), body: body.clone() })
                }
                _ => notice(self, " edited "),
            },
            Step::Pin(i, pinned) => match pick(&self.notices, *i) {
                Some(id) => Mutation::AnnouncementPin(AnnouncementPin { id, pinned: *pinned }),
                None => notice(self, "pin"),
            },
            Step::DeleteNotice(i) => match pick(&self.notices, *i) {
                Some(id) => {
                    self.notices.retain(|n| *n != id);
                    Mutation::AnnouncementDelete(ById { id })
                }
                None => notice(self, "gone"),
            },
            Step::Request(title, description) => {
                self.requests.push(id);
                Mutation::RequestCreate(RequestCreate { id, title: title.clone(), description: description.clone() })
            }
            Step::SetStatus(i, status) => match pick(&self.requests, *i) {
                Some(id) => Mutation::RequestSetStatus(RequestSetStatus { id, status: RequestStatus::ALL[*status] }),
                None => {
                    self.requests.push(id);
                    Mutation::RequestCreate(RequestCreate { id, title: "leak".into(), description: String::new() })
                }
            },
            Step::Comment(i, body) => match pick(&self.requests, *i) {
                Some(request_id) => Mutation::RequestComment(CommentCreate { id, request_id, body: body.clone() }),
                None => {
                    self.requests.push(id);
                    Mutation::RequestCreate(RequestCreate { id, title: " tap ".into(), description: "x".into() })
                }
            },
            Step::Room(name) => {
                self.rooms.push(id);
                Mutation::ResourceCreate(ResourceCreate { id, name: name.clone() })
            }
            Step::DeleteRoom(i) => match pick(&self.rooms, *i) {
                Some(room) => {
                    self.rooms.retain(|r| *r != room);
                    self.bookings.retain(|(_, r)| *r != room);
                    Mutation::ResourceDelete(ById { id: room })
                }
                None => {
                    self.rooms.push(id);
                    Mutation::ResourceCreate(ResourceCreate { id, name: "Laundry".into() })
                }
            },
            Step::Book(i, hours) => match pick(&self.rooms, *i) {
                Some(room) => {
                    let from = self.booked_until + 1;
                    self.booked_until = from + hours;
                    self.bookings.push((id, room));
                    // Sub-microsecond times: stored (and shown) to the microsecond.
                    let starts_at = start + Duration::hours(from.into()) + Duration::nanoseconds(123_456_789);
                    Mutation::BookingCreate(BookingCreate {
                        id,
                        resource_id: room,
                        starts_at,
                        ends_at: starts_at + Duration::hours((*hours).into()),
                    })
                }
                None => {
                    self.rooms.push(id);
                    Mutation::ResourceCreate(ResourceCreate { id, name: " Garden ".into() })
                }
            },
            Step::Cancel(i) => match pick(&self.bookings, *i) {
                Some((booking, _)) => {
                    self.bookings.retain(|(b, _)| *b != booking);
                    Mutation::BookingCancel(ById { id: booking })
                }
                None => notice(self, "cancel"),
            },
            Step::Profile(name, unit) => {
                Mutation::MemberUpdateProfile(ProfileUpdate { display_name: name.clone(), unit: unit.clone() })
            }
            Step::Poll(question, multiple, live) => self.poll(id, question, *multiple, *live, start),
            Step::Vote(i, picks) => match pick(&self.polls, *i) {
                Some((poll_id, options, multiple)) => {
                    let chosen = options.iter().enumerate().filter(|(n, _)| picks & (1 << n) != 0).map(|(_, o)| *o);
                    let option_ids = if multiple { chosen.collect() } else { chosen.take(1).collect() };
                    Mutation::PollVote(PollVote { poll_id, option_ids })
                }
                None => self.poll(id, "vote?", false, true, start),
            },
            Step::ClosePoll(i) => match pick(&self.polls, *i) {
                Some((poll, ..)) => {
                    self.polls.retain(|p| p.0 != poll);
                    self.closed_polls.push(poll);
                    Mutation::PollClose(ById { id: poll })
                }
                None => self.poll(id, " close? ", true, false, start),
            },
            Step::DeletePoll(i) => match pick(&self.closed_polls, *i).or_else(|| pick(&self.polls, *i).map(|p| p.0)) {
                Some(poll) => {
                    self.polls.retain(|p| p.0 != poll);
                    self.closed_polls.retain(|p| *p != poll);
                    Mutation::PollDelete(ById { id: poll })
                }
                None => self.poll(id, "delete?", false, false, start),
            },
            // Seen up to before the run (before any change the run makes,
            // so the server keeps it as sent), with nanoseconds (stored, and
            // shown, to the microsecond). (A mark's forward-only rule and its
            // cap at the subject's change are the server's: a page marks
            // only later changes, as they show.)
            Step::Read(i) => match pick(&self.notices, *i) {
                Some(subject) => {
                    Mutation::ReadMark(MarkRead { subject_id: subject, seen_at: start - Duration::days(2) })
                }
                None => notice(self, "read?"),
            },
        }
    }

    fn poll(&mut self, id: Uuid, question: &str, multiple: bool, live: bool, start: DateTime<Utc>) -> Mutation {
        let options = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        self.polls.push((id, options, multiple));
        Mutation::PollCreate(PollCreate {
            id,
            question: question.into(),
            options: options
                .iter()
                .zip([" Yes ", "No", "Later"])
                .map(|(id, label)| PollChoice { id: *id, label: label.into() })
                .collect(),
            multiple,
            anonymous: !live,
            live_results: live,
            closes_at: start + Duration::nanoseconds(987_654_321),
        })
    }
}

/// The rows of every synced table, as the browser holds them.
async fn local_rows(app: &TestApp, schema: &str) -> LocalRows {
    let mut local = LocalRows::default();
    for table in registry::table_names() {
        *local.table_mut(table) = app.table_rows(schema, table).await.into_iter().collect();
    }
    local
}

/// The view as JSON, each time within a write's window named by that write.
fn stamped(view: &Shown, windows: &[(DateTime<Utc>, DateTime<Utc>)]) -> Value {
    fn walk(value: &mut Value, windows: &[(DateTime<Utc>, DateTime<Utc>)]) {
        match value {
            Value::String(text) => {
                if let Ok(time) = text.parse::<DateTime<Utc>>() {
                    if let Some(i) = windows.iter().position(|(from, to)| *from <= time && time <= *to) {
                        *value = json!(format!("written by step {i}"));
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, windows)),
            Value::Object(fields) => fields.values_mut().for_each(|v| walk(v, windows)),
            _ => {}
        }
    }
    assert!(view.unreadable.is_empty(), "{:?}", view.unreadable);
    // Every view of the group, whole: what the user can see.
    let data = &view.data;
    let requests: Vec<_> = RequestStatus::ALL.into_iter().map(|s| data.requests_view(s, MAX_VIEW_ROWS)).collect();
    let threads: Vec<_> =
        requests.iter().flat_map(|l| &l.requests).map(|r| data.thread_view(r.id, MAX_VIEW_ROWS)).collect();
    let mut value = json!({
        "board": data.board_view(MAX_VIEW_ROWS),
        "requests": requests,
        "threads": threads,
        "rooms": data.rooms_view(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
        "directory": data.directory_view(MAX_VIEW_ROWS),
        "polls": data.polls_view(MAX_VIEW_ROWS),
        // How far the viewer has seen each notice and request.
        "seen": data.board_view(MAX_VIEW_ROWS).notices.iter().map(|n| n.id)
            .chain(requests.iter().flat_map(|l| l.requests.iter().map(|r| r.id)))
            .map(|id| (id.to_string(), json!(data.seen(id))))
            .collect::<serde_json::Map<_, _>>(),
    });
    // Counts are the server's to make (a queued vote or closing does not
    // guess them): they show once synced.
    for card in value["polls"]["polls"].as_array_mut().into_iter().flatten() {
        for option in card["options"].as_array_mut().into_iter().flatten() {
            option["votes"] = Value::Null;
        }
    }
    walk(&mut value, windows);
    value
}

/// Sends one mutation; checks the server's verdict (refused only if blank).
async fn send(
    app: &TestApp,
    admin: &Client,
    slug: &str,
    step: &Step,
    mutation: &Mutation,
) -> Result<(), TestCaseError> {
    let batch = json!([MutationEnvelope::new(Uuid::new_v4(), mutation)]);
    let (status, body) = app.mutate(admin, slug, batch).await;
    prop_assert_eq!(status, StatusCode::OK, "{}", body);
    let expected = if matches!(step, Step::Blank(_)) { "rejected" } else { "applied" };
    prop_assert_eq!(&body["results"][0]["status"], expected, "{:?}: {}", mutation, body);
    Ok(())
}

async fn run(app: &TestApp, admin: &Client, me: Uuid, synced: &[Step], queued: &[Step]) -> Result<(), TestCaseError> {
    let slug = app.create_group(admin, "Elm").await;
    let schema = app.schema_of(&slug).await;
    let start = Utc::now() + Duration::days(1);
    let mut existing = Existing::default();
    // Writes the browser already holds as synced rows.
    for step in synced {
        let mutation = existing.resolve(step, start);
        send(app, admin, &slug, step, &mutation).await?;
    }
    let before = local_rows(app, &schema).await;
    let (mut pending, mut windows) = (Vec::new(), Vec::new());
    for step in queued {
        let mutation = existing.resolve(step, start);
        let from = Utc::now().trunc_subsecs(6);
        send(app, admin, &slug, step, &mutation).await?;
        let to = Utc::now().trunc_subsecs(6) + Duration::microseconds(1);
        // The overlay stamps the time the write was queued.
        pending.extend(mutation.local_changes(me, from));
        windows.push((from, to));
    }
    let shown = before.shown(&Overlay::new(&before, &pending));
    let stored = local_rows(app, &schema).await.shown(&Overlay::default());
    prop_assert_eq!(stamped(&shown, &windows), stamped(&stored, &windows));
    Ok(())
}

#[test]
fn queued_writes_show_as_the_server_stores_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, admin, me) = runtime.block_on(async {
        let app = TestApp::spawn_with(&[("COURTYARD_GROUPS_MAX_PER_USER", "1000")]).await;
        let admin = app.client();
        let user = app.sign_up(&admin, "Ann").await;
        let me: Uuid = user["id"].as_str().unwrap().parse().unwrap();
        (app, admin, me)
    });
    let config = proptest::test_runner::Config { cases: 24, max_shrink_iters: 64, ..Default::default() };
    let mut runner = TestRunner::new(config);
    let steps = || proptest::collection::vec(step(), 0..16);
    let result =
        runner.run(&(steps(), steps()), |(synced, queued)| runtime.block_on(run(&app, &admin, me, &synced, &queued)));
    if let Err(error) = result {
        panic!("{error}");
    }
}
