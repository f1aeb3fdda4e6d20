//! Widgets the pages share.

mod compose;
mod files;
mod form;
mod group;
mod header;
mod load_error;
mod mutation;
mod news;
mod paging;
mod sync_status;
mod time;

pub use compose::ComposeForm;
pub use files::{file_url, human_size, AttachFiles, OpenDocument, Photo, DOCUMENT_TYPES, PHOTO_TYPES};
#[cfg(feature = "hydrate")]
pub use files::{keep_chosen, name_kept};
pub use form::{field_error, last_error, Field, FormError};
pub use group::{use_group, with_view, GroupContext, PageView};
pub use header::{Header, MeResource, VerifyBanner};
pub use load_error::{set_status, LoadError};
pub use mutation::{action_error, reset_on_success, send, use_hydrated, use_mutation};
pub use news::{see, NewBadge};
pub use paging::{Paging, ShowMore};
pub use sync_status::{PendingBadge, SyncNotices, SyncStatus};
pub use time::{provide_zone, use_now, use_zone, Time, Zone};
