//! Input rules for accounts and groups, shared by the server (which enforces
//! them) and the forms (which can check early). Each returns the cleaned value.

use crate::error::AppError;

pub const PASSWORD_MIN: usize = 8;
/// Long passwords only cost hashing time; cap them well above any real one.
pub const PASSWORD_MAX: usize = 1024;

pub fn email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    let bad = || AppError::validation("email", "enter a valid email address");
    // An address alone: none of the characters of a display name or a
    // comment ("Name <a@b>", "a@b (work)"), so what is stored is where
    // mail goes.
    let special = |c: char| "<>()[]\\,;:\"".contains(c);
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control() || special(c)) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    // Dot-separated parts, none empty (".a@x.org", "a..b@x.org", "a@x..org"
    // are no addresses a mail server takes).
    let dotted = |part: &str| part.split('.').all(|piece| !piece.is_empty());
    let domain_ok = !domain.contains('@') && domain.contains('.') && dotted(domain);
    if local.is_empty() || !dotted(local) || !domain_ok {
        return Err(bad());
    }
    Ok(email)
}

pub fn password(raw: &str) -> Result<&str, AppError> {
    if raw.contains('\0') {
        return Err(AppError::validation("password", "a password may not contain NUL characters"));
    }
    let chars = raw.chars().count();
    if chars < PASSWORD_MIN {
        return Err(AppError::validation("password", format!("use at least {PASSWORD_MIN} characters")));
    }
    if chars > PASSWORD_MAX {
        return Err(AppError::validation("password", format!("use at most {PASSWORD_MAX} characters")));
    }
    Ok(raw)
}

/// A person's or a group's name: trimmed, 1 to 100 characters.
pub fn name(field: &str, raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(AppError::validation(field, "enter a name"));
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::validation(field, "use at most 100 characters, no control characters"));
    }
    Ok(name.to_owned())
}

/// A group's address: `[a-z0-9-]{3,40}`.
pub fn slug(raw: &str) -> Result<String, AppError> {
    let slug = raw.trim();
    let ok = (3..=40).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(AppError::validation("slug", "use 3 to 40 lowercase letters, digits or dashes"));
    }
    Ok(slug.to_owned())
}

pub const TITLE_MAX: usize = 200;
pub const TEXT_MAX: usize = 10_000;
pub const UNIT_MAX: usize = 50;
/// The longest a booking may last.
pub const BOOKING_MAX_DAYS: i64 = 14;
/// How far in the past a booking may start (clock skew between devices).
pub const BOOKING_GRACE_SECONDS: i64 = 60;

/// A title: trimmed, 1 to 200 characters, one line.
pub fn title(raw: &str) -> Result<String, AppError> {
    line("title", raw)
}

/// One line of text (a title, a poll's question): trimmed, 1 to 200 characters.
pub fn line(field: &str, raw: &str) -> Result<String, AppError> {
    let line = raw.trim();
    if line.is_empty() {
        return Err(AppError::validation(field, format!("enter a {}", field.replace('_', " "))));
    }
    if line.chars().count() > TITLE_MAX {
        return Err(AppError::validation(field, format!("use at most {TITLE_MAX} characters")));
    }
    printable(field, line, false)?;
    Ok(line.to_owned())
}

/// Free text (a body, a description, a comment): at most 10 000 characters;
/// `required` texts must not be blank.
pub fn text(field: &str, raw: &str, required: bool) -> Result<String, AppError> {
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(AppError::validation(field, "write something first"));
    }
    if text.chars().count() > TEXT_MAX {
        return Err(AppError::validation(field, format!("use at most {TEXT_MAX} characters")));
    }
    printable(field, text, true)?;
    Ok(text.to_owned())
}

/// A flat or house number: optional, at most 50 characters; blank is none.
pub fn unit(raw: Option<&str>) -> Result<Option<String>, AppError> {
    let unit = raw.map(str::trim).filter(|u| !u.is_empty());
    match unit {
        Some(unit) if unit.chars().count() > UNIT_MAX => {
            Err(AppError::validation("unit", format!("use at most {UNIT_MAX} characters")))
        }
        Some(unit) => printable("unit", unit, false).map(|()| Some(unit.to_owned())),
        None => Ok(None),
    }
}

/// No control characters (Postgres cannot store NUL at all); a multi-line
/// text may have line breaks and tabs.
fn printable(field: &str, text: &str, multiline: bool) -> Result<(), AppError> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        let what = if multiline { "control characters other than line breaks and tabs" } else { "control characters" };
        return Err(AppError::validation(field, format!("use no {what}")));
    }
    Ok(())
}

/// Options a poll offers: at least this many…
/// Longest file name kept (in characters).
pub const FILE_NAME_MAX: usize = 200;

/// A file's name as shown and offered for download: its last path part
/// (a browser may send a whole path), trimmed, without control characters
/// or quotes, at most `FILE_NAME_MAX` characters (the extension kept).
pub fn file_name(raw: &str) -> Result<String, AppError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    // No control characters, quotes, or the invisible ones that reorder or
    // hide text ("photo\u{202e}gpj.exe" shows as "photoexe.jpg").
    let invisible = |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{feff}');
    let cleaned: String = last.chars().filter(|c| !c.is_control() && *c != '"' && !invisible(*c)).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return Err(AppError::validation("name", "give the file a name"));
    }
    if cleaned.chars().count() <= FILE_NAME_MAX {
        return Ok(cleaned.to_owned());
    }
    let (stem, extension) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().count() <= 10 => (stem, format!(".{ext}")),
        _ => (cleaned, String::new()),
    };
    let keep = FILE_NAME_MAX - extension.chars().count();
    Ok(stem.chars().take(keep).collect::<String>().trim_end().to_owned() + &extension)
}

/// A SHA-256 as 64 lowercase hex digits (the upload's key).
pub fn sha256(raw: &str) -> Result<String, AppError> {
    let sha = raw.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::validation("sha256", "a SHA-256 is 64 hex digits"));
    }
    Ok(sha)
}

pub const POLL_OPTIONS_MIN: usize = 2;
/// …and at most this many.
pub const POLL_OPTIONS_MAX: usize = 20;
/// How long a poll may stay open.
pub const POLL_MAX_DAYS: i64 = 366;

/// A poll's closing time: after `now`, within a year.
pub fn poll_end(closes_at: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> Result<(), AppError> {
    if closes_at <= now {
        return Err(AppError::validation("closes_at", "the poll must close in the future"));
    }
    if closes_at - now > chrono::Duration::days(POLL_MAX_DAYS) {
        return Err(AppError::validation("closes_at", format!("a poll stays open at most {POLL_MAX_DAYS} days")));
    }
    Ok(())
}

/// A booking's time: ends after it starts, lasts at most 14 days, and does
/// not start in the past.
pub fn booking_window(
    starts_at: chrono::DateTime<chrono::Utc>,
    ends_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    if starts_at >= ends_at {
        return Err(AppError::validation("ends_at", "the booking must end after it starts"));
    }
    if ends_at - starts_at > chrono::Duration::days(BOOKING_MAX_DAYS) {
        return Err(AppError::validation("ends_at", format!("a booking lasts at most {BOOKING_MAX_DAYS} days")));
    }
    if starts_at < now - chrono::Duration::seconds(BOOKING_GRACE_SECONDS) {
        return Err(AppError::validation("starts_at", "that time has already passed"));
    }
    Ok(())
}

/// Where to go after signing in: a path on this site (`/` if none is
/// given), never another origin; anything else is refused (422 on `next`),
/// before anyone is signed in. Only a plain absolute path passes: it starts with one `/` not followed
/// by another `/` or a `\` (browsers read `/\host` as `//host`), and holds
/// no control character, whitespace or backslash (browsers drop tabs and
/// line breaks from URLs, so `/\t/host` becomes `//host`; a CR/LF would
/// also split the `Location` header). Percent-escapes stay as they are: a
/// browser does not decode `%2F` into a path separator for the origin.
pub fn next_path(raw: Option<&str>) -> Result<String, AppError> {
    match raw {
        None | Some("") => Ok("/".to_owned()),
        Some(path) if is_local_path(path) => Ok(path.to_owned()),
        Some(_) => Err(AppError::validation("next", "that return address is not a page of this site")),
    }
}

fn is_local_path(path: &str) -> bool {
    let mut chars = path.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && path.len() <= 2048
        && !path.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_their_last_part_without_hidden_characters() {
        assert_eq!(file_name("C:\\Users\\ann\\leak.jpg").unwrap(), "leak.jpg");
        assert_eq!(file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(file_name("photo\u{202e}gpj.exe").unwrap(), "photogpj.exe");
        assert_eq!(file_name("a\"b\nc.pdf").unwrap(), "abc.pdf");
        assert!(file_name("  ").is_err());
        assert!(file_name("dir/").is_err());
        let long = format!("{}.pdf", "x".repeat(300));
        let kept = file_name(&long).unwrap();
        assert_eq!(kept.chars().count(), FILE_NAME_MAX);
        assert!(kept.ends_with(".pdf"));
    }

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(email("  Ann@Example.ORG ").unwrap(), "ann@example.org");
    }

    #[test]
    fn malformed_emails_are_rejected_on_the_email_field() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.org",
            "a@b",
            "a b@x.org",
            "a@x.org.",
            "a@@x.org",
            ".a@x.org",
            "a..b@x.org",
            "a@x..org",
            "x<someone@else.org>",
            "\"a\"@x.org",
            "a@x.org(work)",
        ] {
            let err = email(bad).unwrap_err();
            assert_eq!(err.field(), Some("email"), "{bad:?}");
        }
    }

    #[test]
    fn password_needs_eight_characters() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"x".repeat(PASSWORD_MAX + 1)).is_err());
    }

    #[test]
    fn empty_or_blank_names_are_rejected() {
        assert!(name("name", "   ").is_err());
        assert_eq!(name("name", " Ann ").unwrap(), "Ann");
        assert!(name("name", &"x".repeat(101)).is_err());
    }

    #[test]
    fn slug_allows_only_lowercase_digits_and_dashes() {
        assert!(slug("elm-street-12").is_ok());
        for bad in ["ab", "Elm", "elm street", "elm_street", "a;drop", &"a".repeat(41)] {
            assert!(slug(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn next_path_stays_on_this_site() {
        for good in ["/", "/g/elm", "/g/elm/requests?status=open", "/join/abc#x", "/g/elm%2F%2Fevil"] {
            assert_eq!(next_path(Some(good)).unwrap(), good);
        }
        assert_eq!(next_path(None).unwrap(), "/");
        assert_eq!(next_path(Some("")).unwrap(), "/");
        // Known open-redirect bypasses: each is refused.
        let bypasses = [
            "g/elm",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "data:text/html,x",
            "//evil.example",
            "///evil.example",
            "////evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "\t//evil.example",
            " //evil.example",
            "/ /evil.example",
            "/g/elm\r\nSet-Cookie: x=1",
            "/g/elm\nLocation: https://evil.example",
            "/\u{0}/evil.example",
            "/\u{a0}/evil.example",
            "/\u{2028}/evil.example",
            "/\u{3000}/evil.example",
            "/\u{7f}/evil.example",
            "/g/\\evil",
        ];
        for bad in bypasses {
            assert_eq!(next_path(Some(bad)).unwrap_err().field(), Some("next"), "{bad:?}");
        }
        assert!(next_path(Some(&format!("/{}", "a".repeat(3000)))).is_err());
    }

    #[test]
    fn texts_refuse_nul_and_control_characters() {
        assert!(title("a\0b").is_err());
        assert!(title("two\nlines").is_err());
        assert!(text("body", "a\0b", false).is_err());
        assert!(text("body", "two\nlines\tand a tab", false).is_ok());
        assert!(unit(Some("4\0B")).is_err());
        assert!(name("name", "A\0nn").is_err());
        assert!(email("ann\0@example.org").is_err());
        assert!(password("correct\0horse").is_err());
    }

    #[test]
    fn titles_and_texts_have_their_limits() {
        assert!(title("  ").is_err());
        assert!(title(&"t".repeat(TITLE_MAX)).is_ok());
        assert!(title(&"t".repeat(TITLE_MAX + 1)).is_err());
        assert_eq!(text("body", "", false).unwrap(), "");
        assert!(text("body", " ", true).is_err());
        assert!(text("body", &"b".repeat(TEXT_MAX + 1), false).is_err());
    }

    #[test]
    fn a_blank_unit_is_none() {
        assert_eq!(unit(Some("  ")).unwrap(), None);
        assert_eq!(unit(Some(" 4B ")).unwrap().as_deref(), Some("4B"));
        assert!(unit(Some(&"u".repeat(UNIT_MAX + 1))).is_err());
    }

    #[test]
    fn booking_windows_are_checked() {
        use chrono::{Duration, TimeZone, Utc};
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
        let hour = Duration::hours(1);
        assert!(booking_window(now + hour, now + hour * 2, now).is_ok());
        assert!(booking_window(now + hour, now + hour, now).is_err());
        assert!(booking_window(now + hour * 2, now + hour, now).is_err());
        assert!(booking_window(now - hour, now, now).is_err());
        assert!(booking_window(now, now + Duration::days(14), now).is_ok());
        assert!(booking_window(now, now + Duration::days(14) + Duration::seconds(1), now).is_err());
    }
}
