//! `GET /g/{slug}/v1/shape`: who asks (member or not), what they ask for
//! (params checked), then an answer from the database or the live tail.

use super::{
    access::Access,
    fetch::{self, Fetched},
    live::{deadline, Outcome, Wait},
    offset::Offset,
    request::ShapeParams,
    response::{self, Kind},
    shape::Shape,
    sse,
    subscribers::Kind as Held,
    Shapes,
};
use crate::ops::metrics;
use app::{
    backend::{auth, groups, groups::Member},
    error::AppError,
    model::registry,
};
use axum::{
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::Response,
};

pub async fn shape(
    State(shapes): State<Shapes>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    // Who asks comes first: a stranger learns nothing from parameter errors.
    // Live requests (the fan-out's hot path) may use the access cache.
    let live = pairs.iter().any(|(k, v)| k == "live" && v == "true");
    let token = auth::session::token_from_headers(&headers);
    let access = match member(&shapes, &headers, token.as_deref(), &slug, live).await {
        Ok(access) => access,
        Err(error) => return response::error(error),
    };
    let params = match ShapeParams::parse(&pairs, registry::table_names()) {
        Ok(params) => params,
        Err(errors) => return response::invalid(errors),
    };
    match answer(&shapes, &access, &params, token.as_deref()).await {
        Ok(response) => response,
        Err(error) => response::error(error),
    }
}

pub async fn preflight() -> Response {
    response::preflight()
}

/// The asking member of the group at `slug` (401/404 otherwise); with
/// `cached`, possibly from the access cache. `token` is the request's
/// session token (from `headers`). A request naming the user it follows
/// for (`courtyard-user`, as the app's own sync does) gets 401 if the
/// session is someone else's: a tab left open by one person never fetches
/// the next person's data into the first one's local copy.
pub(super) async fn member(
    shapes: &Shapes,
    headers: &HeaderMap,
    token: Option<&str>,
    slug: &str,
    cached: bool,
) -> Result<Access, AppError> {
    let cached = match (cached, token) {
        (true, Some(token)) => shapes.hub.access.get(token, slug),
        _ => None,
    };
    let access = match cached {
        Some(access) => access,
        None => {
            let generation = shapes.hub.access.generation();
            let (user, session_ends) = auth::current_session(&shapes.app, headers).await?;
            tracing::Span::current().record("user.id", tracing::field::display(user.id));
            let member = groups::resolve(&shapes.app, user.id, slug).await?;
            tracing::Span::current().record("group.slug", slug);
            let access = Access { member, session_ends };
            if let Some(token) = token {
                shapes.hub.access.put(token, slug, access.clone(), generation);
            }
            access
        }
    };
    auth::check_expected_user(headers, access.member.user_id)?;
    Ok(access)
}

async fn answer(
    shapes: &Shapes,
    access: &Access,
    params: &ShapeParams,
    token: Option<&str>,
) -> Result<Response, AppError> {
    let member = &access.member;
    let schema = &member.group.schema;
    let shape = match build(shapes, member, params).await? {
        Ok(shape) => shape,
        Err(response) => return Ok(response),
    };
    let resuming = !matches!(params.offset, Offset::Start | Offset::Now);
    if resuming && params.handle.as_deref() != Some(shape.handle()) {
        return Ok(response::must_refetch(shape.handle()));
    }
    let offset = match params.offset {
        Offset::Start if params.changes_only => Offset::Now,
        offset => offset,
    };
    if !params.live {
        let kind = match offset {
            Offset::Start => Kind::Start { schema: shape.electric_schema() },
            _ => Kind::CatchUp { schema: shape.electric_schema() },
        };
        return Ok(match fetch::fetch(&member.group.db.pool, schema, &shape, offset, shapes.limits).await? {
            Fetched::Answer(answer) => response::answer(shape.handle(), kind, answer),
            Fetched::Unknown => response::must_refetch(shape.handle()),
        });
    }
    let from = offset.position().unwrap_or(0);
    if params.sse {
        let who = token.map(str::to_owned);
        return sse::open(shapes.clone(), access.clone(), who, shape, from, params.cursor.as_deref()).await;
    }
    let wait = Wait {
        hub: &shapes.hub,
        who: (token, &member.group.slug),
        group: &member.group,
        shape: &shape,
        limits: shapes.limits,
    };
    let live = |answer| {
        let cursor =
            response::live_cursor(chrono::Utc::now(), shapes.long_poll_timeout.as_secs(), params.cursor.as_deref());
        response::answer(shape.handle(), Kind::Live { cursor: &cursor }, answer)
    };
    let held = shapes.subscribers.hold(Held::ShapeLongPoll);
    let outcome = tokio::select! {
        outcome = wait.run(from, deadline(shapes.long_poll_timeout, access.session_ends)) => outcome?,
        // The server is shutting down: up to date as it stands, at once.
        () = shapes.closing() => Outcome::Idle(from),
    };
    drop(held);
    Ok(match outcome {
        Outcome::Answer(answer) => {
            metrics::delivered(Held::ShapeLongPoll.label());
            live(answer)
        }
        Outcome::Idle(position) | Outcome::AccessEnded(position) => live(Outcome::idle_answer(position)),
        Outcome::Unknown => response::must_refetch(shape.handle()),
        Outcome::SchemaChanged => match build(shapes, member, params).await? {
            Ok(rebuilt) if rebuilt.handle() == shape.handle() => {
                // Same definition after all (e.g. a reconnect): the client retries.
                let cursor = response::live_cursor(chrono::Utc::now(), 1, params.cursor.as_deref());
                response::answer(shape.handle(), Kind::Live { cursor: &cursor }, Outcome::idle_answer(from))
            }
            Ok(rebuilt) => response::must_refetch(rebuilt.handle()),
            Err(response) => response,
        },
    })
}

/// The shape against the group's current catalogue, or the 400 to answer.
async fn build(shapes: &Shapes, member: &Member, params: &ShapeParams) -> Result<Result<Shape, Response>, AppError> {
    let catalog = shapes.hub.catalog(&member.group).await?;
    Ok(Shape::new(catalog, member.group.id, member.user_id, params).map_err(response::invalid))
}
