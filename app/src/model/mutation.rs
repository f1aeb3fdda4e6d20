//! Named mutations: every write, online or queued offline, is one of these,
//! sent to `POST /api/mutate` with a client-generated id that makes replays
//! harmless.

use super::RequestStatus;
use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Most mutations one request may carry (413 beyond).
pub const MAX_BATCH: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", content = "args")]
pub enum Mutation {
    #[serde(rename = "announcement.create")]
    AnnouncementCreate(AnnouncementCreate),
    #[serde(rename = "announcement.update")]
    AnnouncementUpdate(AnnouncementUpdate),
    #[serde(rename = "announcement.pin")]
    AnnouncementPin(AnnouncementPin),
    #[serde(rename = "announcement.delete")]
    AnnouncementDelete(ById),
    #[serde(rename = "request.create")]
    RequestCreate(RequestCreate),
    #[serde(rename = "request.set_status")]
    RequestSetStatus(RequestSetStatus),
    #[serde(rename = "request.comment")]
    RequestComment(CommentCreate),
    #[serde(rename = "resource.create")]
    ResourceCreate(ResourceCreate),
    #[serde(rename = "resource.delete")]
    ResourceDelete(ById),
    #[serde(rename = "booking.create")]
    BookingCreate(BookingCreate),
    #[serde(rename = "booking.cancel")]
    BookingCancel(ById),
    #[serde(rename = "member.update_profile")]
    MemberUpdateProfile(ProfileUpdate),
    #[serde(rename = "poll.create")]
    PollCreate(PollCreate),
    #[serde(rename = "poll.vote")]
    PollVote(PollVote),
    #[serde(rename = "poll.close")]
    PollClose(ById),
    #[serde(rename = "poll.delete")]
    PollDelete(ById),
    #[serde(rename = "read.mark")]
    ReadMark(MarkRead),
    #[serde(rename = "file.attach")]
    FileAttach(FileAttach),
    #[serde(rename = "file.remove")]
    FileRemove(ById),
}

impl Mutation {
    pub const NAMES: [&'static str; 19] = [
        "announcement.create",
        "announcement.update",
        "announcement.pin",
        "announcement.delete",
        "request.create",
        "request.set_status",
        "request.comment",
        "resource.create",
        "resource.delete",
        "booking.create",
        "booking.cancel",
        "member.update_profile",
        "poll.create",
        "poll.vote",
        "poll.close",
        "poll.delete",
        "read.mark",
        "file.attach",
        "file.remove",
    ];

    /// What the resident was doing, for messages ("Your booking was refused").
    pub fn what(&self) -> &'static str {
        match self {
            Mutation::AnnouncementCreate(_) => "new notice",
            Mutation::AnnouncementUpdate(_) => "notice edit",
            Mutation::AnnouncementPin(_) => "pin change",
            Mutation::AnnouncementDelete(_) => "notice deletion",
            Mutation::RequestCreate(_) => "new request",
            Mutation::RequestSetStatus(_) => "status change",
            Mutation::RequestComment(_) => "comment",
            Mutation::ResourceCreate(_) => "new room",
            Mutation::ResourceDelete(_) => "room removal",
            Mutation::BookingCreate(_) => "booking",
            Mutation::BookingCancel(_) => "cancellation",
            Mutation::MemberUpdateProfile(_) => "profile change",
            Mutation::PollCreate(_) => "new poll",
            Mutation::PollVote(_) => "vote",
            Mutation::PollClose(_) => "poll closing",
            Mutation::PollDelete(_) => "poll deletion",
            Mutation::ReadMark(_) => "read mark",
            Mutation::FileAttach(f) if f.request_id.is_some() => "photo",
            Mutation::FileAttach(_) => "document",
            Mutation::FileRemove(_) => "file removal",
        }
    }
}

impl Mutation {
    /// The mutation as it will be stored: texts trimmed and checked, times
    /// to Postgres' microseconds. The server applies exactly this, and the
    /// browser shows a queued write as this (one rule, both sides); an
    /// error is the server's rejection (the browser then shows nothing
    /// until the server says so).
    pub fn normalized(&self) -> Result<Mutation, AppError> {
        use super::validate;
        Ok(match self {
            Mutation::AnnouncementCreate(a) => Mutation::AnnouncementCreate(AnnouncementCreate {
                id: a.id,
                title: validate::title(&a.title)?,
                body: validate::text("body", &a.body, false)?,
            }),
            Mutation::AnnouncementUpdate(a) => {
                let title = a.title.as_deref().map(validate::title).transpose()?;
                let body = a.body.as_deref().map(|b| validate::text("body", b, false)).transpose()?;
                if title.is_none() && body.is_none() {
                    return Err(AppError::validation("title", "nothing to change: give a title or a body"));
                }
                Mutation::AnnouncementUpdate(AnnouncementUpdate { id: a.id, title, body })
            }
            Mutation::RequestCreate(r) => Mutation::RequestCreate(RequestCreate {
                id: r.id,
                title: validate::title(&r.title)?,
                description: validate::text("description", &r.description, false)?,
            }),
            Mutation::RequestComment(c) => Mutation::RequestComment(CommentCreate {
                id: c.id,
                request_id: c.request_id,
                body: validate::text("body", &c.body, true)?,
            }),
            Mutation::ResourceCreate(r) => {
                Mutation::ResourceCreate(ResourceCreate { id: r.id, name: validate::name("name", &r.name)? })
            }
            Mutation::BookingCreate(b) => Mutation::BookingCreate(BookingCreate {
                starts_at: to_micros(b.starts_at),
                ends_at: to_micros(b.ends_at),
                ..b.clone()
            }),
            Mutation::MemberUpdateProfile(p) => Mutation::MemberUpdateProfile(ProfileUpdate {
                display_name: validate::name("display_name", &p.display_name)?,
                unit: validate::unit(p.unit.as_deref())?,
            }),
            Mutation::PollCreate(p) => {
                let options = p
                    .options
                    .iter()
                    .map(|o| Ok(PollChoice { id: o.id, label: validate::name("options", &o.label)? }))
                    .collect::<Result<Vec<_>, AppError>>()?;
                let count = options.len();
                if !(validate::POLL_OPTIONS_MIN..=validate::POLL_OPTIONS_MAX).contains(&count) {
                    return Err(AppError::validation(
                        "options",
                        format!("offer {} to {} options", validate::POLL_OPTIONS_MIN, validate::POLL_OPTIONS_MAX),
                    ));
                }
                let distinct = |key: fn(&PollChoice) -> String| {
                    options.iter().map(key).collect::<std::collections::BTreeSet<_>>().len() == count
                };
                if !distinct(|o| o.id.to_string()) || !distinct(|o| o.label.to_lowercase()) {
                    return Err(AppError::validation("options", "each option must differ from the others"));
                }
                Mutation::PollCreate(PollCreate {
                    id: p.id,
                    question: validate::line("question", &p.question)?,
                    options,
                    multiple: p.multiple,
                    anonymous: p.anonymous,
                    live_results: p.live_results,
                    closes_at: to_micros(p.closes_at),
                })
            }
            Mutation::PollVote(v) => {
                let mut option_ids = v.option_ids.clone();
                option_ids.sort();
                option_ids.dedup();
                if option_ids.is_empty() {
                    return Err(AppError::validation("option_ids", "choose an option"));
                }
                if option_ids.len() > validate::POLL_OPTIONS_MAX {
                    return Err(AppError::validation("option_ids", "that is more options than a poll has"));
                }
                Mutation::PollVote(PollVote { poll_id: v.poll_id, option_ids })
            }
            Mutation::ReadMark(r) => {
                // Postgres stores times from 4713 BC; marks are of this era.
                if r.seen_at.timestamp() < 0 {
                    return Err(AppError::validation("seen_at", "a time from 1970 on"));
                }
                Mutation::ReadMark(MarkRead { subject_id: r.subject_id, seen_at: to_micros(r.seen_at) })
            }
            Mutation::FileAttach(f) => {
                if f.comment_id.is_some() && f.request_id.is_none() {
                    return Err(AppError::validation("comment_id", "a comment's photo names its request too"));
                }
                Mutation::FileAttach(FileAttach {
                    sha256: validate::sha256(&f.sha256)?,
                    name: validate::file_name(&f.name)?,
                    ..f.clone()
                })
            }
            Mutation::AnnouncementPin(_)
            | Mutation::FileRemove(_)
            | Mutation::PollClose(_)
            | Mutation::PollDelete(_)
            | Mutation::AnnouncementDelete(_)
            | Mutation::RequestSetStatus(_)
            | Mutation::ResourceDelete(_)
            | Mutation::BookingCancel(_) => self.clone(),
        })
    }
}

/// A time as Postgres stores it (microseconds).
fn to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(time, 6)
}

// Args. Server-owned fields (author, member, timestamps) are not accepted:
// an unknown field is an error, not silently ignored.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ById {
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementCreate {
    pub id: Uuid,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementUpdate {
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementPin {
    pub id: Uuid,
    pub pinned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestCreate {
    pub id: Uuid,
    pub title: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSetStatus {
    pub id: Uuid,
    pub status: RequestStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentCreate {
    pub id: Uuid,
    pub request_id: Uuid,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceCreate {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingCreate {
    pub id: Uuid,
    pub resource_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    pub display_name: String,
    #[serde(default)]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollCreate {
    pub id: Uuid,
    pub question: String,
    /// In the order they are shown.
    pub options: Vec<PollChoice>,
    pub multiple: bool,
    pub anonymous: bool,
    pub live_results: bool,
    pub closes_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollChoice {
    pub id: Uuid,
    pub label: String,
}

/// The member's whole ballot: it replaces any earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollVote {
    pub poll_id: Uuid,
    pub option_ids: Vec<Uuid>,
}

/// The member has seen a notice or a request up to `seen_at` (its last
/// change they saw): what changed after shows as new to them again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    pub subject_id: Uuid,
    pub seen_at: DateTime<Utc>,
}

/// A file whose bytes were uploaded (`PUT /api/groups/{slug}/uploads/{sha256}`)
/// named in the group: a photo on a request (or on one of its comments,
/// naming both), or a document in the library (neither).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAttach {
    pub id: Uuid,
    /// The SHA-256 of the bytes sent, hex.
    pub sha256: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<Uuid>,
}

/// One mutation on the wire: `{"id", "name", "args"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MutationEnvelope {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub args: Value,
}

impl MutationEnvelope {
    pub fn new(id: Uuid, mutation: &Mutation) -> Self {
        let mut value = serde_json::to_value(mutation).unwrap_or_default();
        let name = value["name"].as_str().unwrap_or_default().to_owned();
        let args = value.get_mut("args").map(Value::take).unwrap_or_default();
        Self { id, name, args }
    }

    pub fn is_known(&self) -> bool {
        Mutation::NAMES.contains(&self.name.as_str())
    }

    /// The typed mutation, or what is wrong with the args.
    pub fn parse(&self) -> Result<Mutation, String> {
        let tagged = serde_json::json!({ "name": self.name, "args": self.args });
        serde_json::from_value(tagged).map_err(|error| format!("invalid args for {}: {error}", self.name))
    }
}

/// `POST /api/mutate` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MutateRequest {
    pub group: String,
    pub mutations: Vec<MutationEnvelope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MutationStatus {
    Applied,
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutationOutcome {
    pub id: Uuid,
    pub status: MutationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /api/mutate` answer: one outcome per mutation, in order, and the
/// id of the transaction that committed them (a decimal string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutateResponse {
    pub results: Vec<MutationOutcome>,
    pub txid: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_mutation_name_round_trips_through_the_envelope() {
        let id = Uuid::new_v4();
        let mutation = Mutation::AnnouncementPin(AnnouncementPin { id, pinned: true });
        let envelope = MutationEnvelope::new(Uuid::new_v4(), &mutation);
        assert_eq!(envelope.name, "announcement.pin");
        assert_eq!(envelope.args, json!({"id": id, "pinned": true}));
        assert!(envelope.is_known());
        assert_eq!(envelope.parse().unwrap(), mutation);
    }

    #[test]
    fn the_names_list_matches_the_enum() {
        for name in Mutation::NAMES {
            let envelope = MutationEnvelope { id: Uuid::new_v4(), name: name.into(), args: json!({}) };
            let error = envelope.parse().unwrap_err();
            assert!(!error.contains("unknown variant"), "{name}: {error}");
        }
    }

    #[test]
    fn server_owned_fields_are_refused() {
        let envelope = MutationEnvelope {
            id: Uuid::new_v4(),
            name: "announcement.create".into(),
            args: json!({"id": Uuid::new_v4(), "title": "t", "body": "b", "author_id": Uuid::new_v4()}),
        };
        assert!(envelope.parse().unwrap_err().contains("author_id"));
    }
}
