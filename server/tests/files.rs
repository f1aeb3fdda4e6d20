//! Files: resumable uploads keyed by their SHA-256, checked and re-encoded
//! (photos lose their EXIF), named by `file.attach`, read back by members
//! only, removed by their uploader or an admin, their bytes swept once no
//! file has named them for the log's retention.

mod common;

use common::files::*;
use common::TestApp;
use reqwest::{header, StatusCode};
use serde_json::json;
use std::{path::PathBuf, time::Duration};
use uuid::Uuid;

/// Where the store keeps a group's object (`blobs` or `thumbs`).
async fn object(app: &TestApp, slug: &str, kind: &str, sha256: &str) -> PathBuf {
    let group: Uuid =
        sqlx::query_scalar("SELECT id FROM groups WHERE slug = $1").bind(slug).fetch_one(&app.db).await.unwrap();
    common::files_dir(&app.database_url).join(format!("groups/{group}/{kind}/{sha256}"))
}

async fn blob_rows(app: &TestApp, slug: &str, sha256: &str) -> i64 {
    let schema = app.schema_of(slug).await;
    sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".blobs WHERE sha256 = $1"))
        .bind(sha256)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_photo_sent_in_chunks_and_resumed_is_read_back_by_another_member_without_its_exif() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let request = new_request(&app, &bob, &slug).await;
    let sent = jpeg_with_exif(640, 320);
    assert!(sent.windows(4).any(|w| w == b"Exif") && sent.len() > 3 * 1024, "{}", sent.len());
    let sha256 = sha(&sent);
    let chunk = sent.len().div_ceil(3);
    let (status, _) = app.get(&bob, &format!("/api/groups/{slug}/uploads/{sha256}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing of it yet");

    // The first chunk; then the connection drops and the browser asks where
    // the server is, and goes on from there (a chunk sent again is 409).
    let (status, body) = put_chunk(&app, &bob, &slug, &sha256, &sent, 0..chunk).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"received": chunk, "total": sent.len(), "complete": false})));
    let (status, state) = app.get(&bob, &format!("/api/groups/{slug}/uploads/{sha256}")).await;
    assert_eq!((status, state), (StatusCode::OK, json!({"received": chunk, "total": sent.len(), "complete": false})));
    let (status, _) = put_chunk(&app, &bob, &slug, &sha256, &sent, 0..chunk).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, done) = send_from(&app, &bob, &slug, &sha256, &sent, chunk, chunk).await;
    assert_eq!((status, &done["complete"]), (StatusCode::OK, &json!(true)), "{done}");
    let (status, state) = app.get(&bob, &format!("/api/groups/{slug}/uploads/{sha256}")).await;
    assert_eq!((status, &state["complete"]), (StatusCode::OK, &json!(true)), "{state}");

    let id = Uuid::new_v4();
    let args = json!({"id": id, "sha256": sha256, "name": "leak.jpg", "request_id": request});
    applied(&app, &bob, &slug, "file.attach", args).await;
    let files = app.table_rows(&app.schema_of(&slug).await, "files").await;
    let row = &files[&id.to_string()];
    assert_eq!(
        (&row["content_type"], &row["thumb"], &row["name"]),
        (&json!("image/jpeg"), &json!("t"), &json!("leak.jpg"))
    );

    // Ann sees it: a JPEG without EXIF, turned upright, private, inline.
    let response = get_file(&app, &ann, &slug, id, false, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CONTENT_TYPE), "image/jpeg");
    assert_eq!(header_of(&response, header::CACHE_CONTROL), "private, no-cache");
    assert_eq!(header_of(&response, header::CONTENT_SECURITY_POLICY), "default-src 'none'; sandbox");
    assert_eq!(header_of(&response, header::ETAG), format!("\"{sha256}\""));
    assert_eq!(header_of(&response, header::CONTENT_DISPOSITION), "inline; filename*=UTF-8''leak.jpg");
    let got = response.bytes().await.unwrap();
    assert_eq!(row["size"], json!(got.len().to_string()));
    assert!(got.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert!(!got.windows(4).any(|w| w == b"Exif") && !got.windows(3).any(|w| w == b"GPS"), "no EXIF left");
    let stored = image::load_from_memory(&got).unwrap();
    assert_eq!((stored.width(), stored.height()), (320, 640), "turned as its orientation said");

    let thumb = get_file(&app, &ann, &slug, id, true, None).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(header_of(&thumb, header::CONTENT_TYPE), "image/jpeg");
    assert_eq!(header_of(&thumb, header::CACHE_CONTROL), "private, no-cache");
    let thumb_tag = header_of(&thumb, header::ETAG).to_owned();
    assert_ne!(thumb_tag, format!("\"{sha256}\""), "the thumbnail is another variant");
    let small = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((small.width(), small.height()), (240, 480));

    // Revalidation: 304 for the tag the browser has, the bytes otherwise.
    let tag = format!("\"{sha256}\"");
    let again = get_file(&app, &ann, &slug, id, false, Some(&tag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_of(&again, header::CACHE_CONTROL), "private, no-cache");
    assert!(again.bytes().await.unwrap().is_empty());
    assert_eq!(get_file(&app, &ann, &slug, id, true, Some(&thumb_tag)).await.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(get_file(&app, &ann, &slug, id, true, Some(&tag)).await.status(), StatusCode::OK);
    assert_eq!(get_file(&app, &ann, &slug, id, false, Some("\"other\"")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_finished_upload_sent_again_is_complete_at_once_and_an_attach_sent_twice_is_a_duplicate() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let request = new_request(&app, &bob, &slug).await;
    let sent = jpeg_with_exif(64, 32);
    let sha256 = upload(&app, &bob, &slug, &sent).await;
    let (_, stored) = app.get(&bob, &format!("/api/groups/{slug}/uploads/{sha256}")).await;
    // Any chunk by its uploader: complete, nothing stored twice.
    for range in [0..10, 10..sent.len(), 0..sent.len()] {
        let (status, body) = put_chunk(&app, &bob, &slug, &sha256, &sent, range).await;
        assert_eq!((status, &body), (StatusCode::OK, &stored), "{body}");
        assert_eq!(body["complete"], json!(true));
    }
    // Not yet named in the group: someone else who knows only its checksum
    // is told nothing of it (their own upload starts at 0).
    let (status, _) = put_chunk(&app, &ann, &slug, &sha256, &sent, 10..sent.len()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app.get(&ann, &format!("/api/groups/{slug}/uploads/{sha256}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(blob_rows(&app, &slug, &sha256).await, 1);

    let (mutation, id) = (Uuid::new_v4(), Uuid::new_v4());
    let args = json!({"id": id, "sha256": sha256, "name": "tap.jpg", "request_id": request});
    assert_eq!(mutate_as(&app, &bob, &slug, mutation, "file.attach", args.clone()).await["status"], "applied");
    // Named now: anyone in the group gets "complete" at once.
    let (status, body) = put_chunk(&app, &ann, &slug, &sha256, &sent, 0..10).await;
    assert_eq!((status, &body), (StatusCode::OK, &stored), "{body}");
    assert_eq!(mutate_as(&app, &bob, &slug, mutation, "file.attach", args.clone()).await["status"], "duplicate");
    // A new mutation with the same file id is another file: refused.
    rejected(&app, &bob, &slug, "file.attach", args).await;
    assert_eq!(app.table_rows(&app.schema_of(&slug).await, "files").await.len(), 1);
}

#[tokio::test]
async fn a_wrong_checksum_is_422_and_the_upload_starts_over() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let sent = pdf("checksum", 3000);
    let claimed = sha(b"other bytes");
    let (status, body) = send_from(&app, &ann, &slug, &claimed, &sent, 0, 1000).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("checksum"), "{body}");
    let (status, _) = app.get(&ann, &format!("/api/groups/{slug}/uploads/{claimed}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing kept of it");
    assert_eq!(blob_rows(&app, &slug, &claimed).await, 0);
}

#[tokio::test]
async fn another_members_upload_of_the_same_bytes_cannot_spoil_ones_own() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let sent = pdf("shared", 3000);
    let sha256 = sha(&sent);
    // Bob knows the checksum (a widely shared file) and sends junk of its length.
    let junk = vec![0u8; sent.len()];
    let (status, _) = put_chunk(&app, &bob, &slug, &sha256, &junk, 0..1000).await;
    assert_eq!(status, StatusCode::OK);
    // Ann's upload is her own: it starts at 0 and completes.
    assert_eq!(upload(&app, &ann, &slug, &sent).await, sha256);
    // Bob's junk does not pass the checksum.
    let (status, _) = send_from(&app, &bob, &slug, &sha256, &junk, 1000, 1000).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(blob_rows(&app, &slug, &sha256).await, 1);
    // Bob sends the real bytes too before Ann names them: both sent them,
    // and Ann's write still names them.
    assert_eq!(upload(&app, &bob, &slug, &sent).await, sha256);
    let args = json!({"id": Uuid::new_v4(), "sha256": sha256, "name": "shared.pdf"});
    applied(&app, &ann, &slug, "file.attach", args).await;
}

#[tokio::test]
async fn a_member_with_many_uploads_moving_is_told_to_wait_not_refused() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    for n in 0..8 {
        let half = pdf(&format!("half {n}"), 2000);
        let (status, _) = put_chunk(&app, &ann, &slug, &sha(&half), &half, 0..1000).await;
        assert_eq!(status, StatusCode::OK);
    }
    let ninth = pdf("ninth", 2000);
    let (status, body) = put_chunk(&app, &ann, &slug, &sha(&ninth), &ninth, 0..1000).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn gif_and_html_are_refused_as_unsupported_types_whatever_their_name() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>".to_vec();
    for sent in [gif, html] {
        let sha256 = sha(&sent);
        let (status, body) = send_from(&app, &ann, &slug, &sha256, &sent, 0, 1024).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        assert!(body["error"].as_str().unwrap().contains("not taken"), "{body}");
        assert_eq!(blob_rows(&app, &slug, &sha256).await, 0);
        let args = json!({"id": Uuid::new_v4(), "sha256": sha256, "name": "photo.jpg"});
        assert!(rejected(&app, &ann, &slug, "file.attach", args).await.contains("uploaded"));
    }
}

#[tokio::test]
async fn files_over_the_file_limit_or_the_groups_room_are_413_with_a_reason() {
    let app = TestApp::spawn_with(&[
        ("COURTYARD_FILES_MAX_FILE_BYTES", "4096"),
        ("COURTYARD_FILES_MAX_GROUP_BYTES", "10000"),
    ])
    .await;
    let (ann, slug) = app.admin_of_new_group().await;
    let big = pdf("big", 5000);
    let (status, body) = put_chunk(&app, &ann, &slug, &sha(&big), &big, 0..1000).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("at most"), "{body}");

    upload(&app, &ann, &slug, &pdf("one", 4000)).await;
    upload(&app, &ann, &slug, &pdf("two", 4000)).await;
    let third = pdf("three", 4000);
    let (status, body) = put_chunk(&app, &ann, &slug, &sha(&third), &third, 0..4000).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("group's files"), "{body}");
    // What fits still goes in.
    upload(&app, &ann, &slug, &pdf("small", 1500)).await;
}

#[tokio::test]
async fn uploads_left_unsent_hold_the_groups_room_for_an_hour_only() {
    let app = TestApp::spawn_with(&[
        ("COURTYARD_FILES_MAX_FILE_BYTES", "4096"),
        ("COURTYARD_FILES_MAX_GROUP_BYTES", "10000"),
    ])
    .await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    // Bob declares two files and sends a little of each.
    for n in 0..2 {
        let held = pdf(&format!("held {n}"), 4000);
        let (status, _) = put_chunk(&app, &bob, &slug, &sha(&held), &held, 0..100).await;
        assert_eq!(status, StatusCode::OK);
    }
    let ann_file = pdf("ann", 4000);
    let (status, body) = put_chunk(&app, &ann, &slug, &sha(&ann_file), &ann_file, 0..4000).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // An hour untouched: they hold no room, and Ann's file goes in.
    let schema = app.schema_of(&slug).await;
    sqlx::query(&format!("UPDATE \"{schema}\".uploads SET updated_at = now() - interval '2 hours'"))
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(upload(&app, &ann, &slug, &ann_file).await, sha(&ann_file));
}

#[tokio::test]
async fn a_chunk_at_the_wrong_offset_is_409() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let sent = pdf("offsets", 3000);
    let sha256 = sha(&sent);
    let (status, _) = put_chunk(&app, &ann, &slug, &sha256, &sent, 500..1000).await;
    assert_eq!(status, StatusCode::CONFLICT, "an upload starts at 0");
    assert_eq!(put_chunk(&app, &ann, &slug, &sha256, &sent, 0..1000).await.0, StatusCode::OK);
    for skewed in [2000..3000, 500..1500, 0..1000] {
        let (status, body) = put_chunk(&app, &ann, &slug, &sha256, &sent, skewed).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    let (status, state) = app.get(&ann, &format!("/api/groups/{slug}/uploads/{sha256}")).await;
    assert_eq!((status, &state["received"]), (StatusCode::OK, &json!(1000)), "{state}");
    let (status, done) = send_from(&app, &ann, &slug, &sha256, &sent, 1000, 1000).await;
    assert_eq!((status, &done["complete"]), (StatusCode::OK, &json!(true)), "{done}");
}

#[tokio::test]
async fn only_admins_add_library_documents_and_a_pdf_is_served_as_an_attachment() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let sent = pdf("rules", 2000);
    let args = |id: Uuid, sha256: &str| json!({"id": id, "sha256": sha256, "name": "House rules.pdf"});
    // Named before its bytes are here: refused.
    assert!(rejected(&app, &ann, &slug, "file.attach", args(Uuid::new_v4(), &sha(&sent))).await.contains("uploaded"));
    let sha256 = upload(&app, &bob, &slug, &sent).await;
    let refused = rejected(&app, &bob, &slug, "file.attach", args(Uuid::new_v4(), &sha256)).await;
    assert!(refused.contains("only admins"), "{refused}");
    // A request's photos are images.
    let request = new_request(&app, &bob, &slug).await;
    let mut on_request = args(Uuid::new_v4(), &sha256);
    on_request["request_id"] = json!(request);
    rejected(&app, &bob, &slug, "file.attach", on_request).await;
    assert!(app.table_rows(&app.schema_of(&slug).await, "files").await.is_empty());

    // Content no file names is not Ann's to name until she sends it too.
    let id = Uuid::new_v4();
    assert!(rejected(&app, &ann, &slug, "file.attach", args(id, &sha256)).await.contains("uploaded"));
    assert_eq!(upload(&app, &ann, &slug, &sent).await, sha256);
    assert_eq!(blob_rows(&app, &slug, &sha256).await, 1);
    applied(&app, &ann, &slug, "file.attach", args(id, &sha256)).await;
    let response = get_file(&app, &bob, &slug, id, false, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CONTENT_TYPE), "application/pdf");
    assert_eq!(header_of(&response, header::CONTENT_DISPOSITION), "attachment; filename*=UTF-8''House%20rules.pdf");
    assert_eq!(header_of(&response, header::CONTENT_SECURITY_POLICY), "default-src 'none'; sandbox");
    assert_eq!(response.bytes().await.unwrap().as_ref(), sent.as_slice(), "documents are kept as sent");
    // No thumbnail: the file itself.
    assert_eq!(get_file(&app, &bob, &slug, id, true, None).await.bytes().await.unwrap().as_ref(), sent.as_slice());
}

#[tokio::test]
async fn non_member_gets_404_for_a_file() {
    let app = TestApp::spawn().await;
    let (ann, elm) = app.admin_of_new_group().await;
    let request = new_request(&app, &ann, &elm).await;
    let sent = jpeg_with_exif(64, 32);
    let sha256 = upload(&app, &ann, &elm, &sent).await;
    let id = Uuid::new_v4();
    applied(
        &app,
        &ann,
        &elm,
        "file.attach",
        json!({"id": id, "sha256": sha256, "name": "a.jpg", "request_id": request}),
    )
    .await;

    // Dan runs another group: neither its slug nor Elm's opens Elm's file.
    let dan = app.client();
    app.sign_up(&dan, "Dan").await;
    let oak = app.create_group(&dan, "Oak").await;
    for slug in [&oak, &elm] {
        assert_eq!(get_file(&app, &dan, slug, id, false, None).await.status(), StatusCode::NOT_FOUND, "{slug}");
        assert_eq!(get_file(&app, &dan, slug, id, true, None).await.status(), StatusCode::NOT_FOUND, "{slug}");
        let (status, _) = app.get(&dan, &format!("/api/groups/{slug}/uploads/{sha256}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{slug}");
    }
    assert_eq!(put_chunk(&app, &dan, &elm, &sha256, &sent, 0..10).await.0, StatusCode::NOT_FOUND);
    // Knowing the checksum is not having the bytes: Oak has none.
    let theirs = new_request(&app, &dan, &oak).await;
    let args = json!({"id": Uuid::new_v4(), "sha256": sha256, "name": "a.jpg", "request_id": theirs});
    assert!(rejected(&app, &dan, &oak, "file.attach", args).await.contains("uploaded"));
    let args = json!({"id": Uuid::new_v4(), "sha256": sha256, "name": "a.jpg"});
    assert!(rejected(&app, &dan, &oak, "file.attach", args).await.contains("uploaded"));
    assert!(app.table_rows(&app.schema_of(&oak).await, "files").await.is_empty());
    assert_eq!(get_file(&app, &ann, &elm, id, false, None).await.status(), StatusCode::OK, "Elm's members still do");
}

#[tokio::test]
async fn removed_files_bytes_are_swept_after_retention_unless_another_file_still_names_them() {
    let app =
        TestApp::spawn_with(&[("COURTYARD_FILES_SWEEP_INTERVAL", "200ms"), ("COURTYARD_SYNC_LOG_RETENTION", "1s")])
            .await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let cat = app.resident(&ann, &slug, "Cat").await;
    let request = new_request(&app, &bob, &slug).await;
    let sha256 = upload(&app, &bob, &slug, &jpeg_with_exif(64, 32)).await;
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    for (client, id) in [(&bob, first), (&cat, second)] {
        let args = json!({"id": id, "sha256": sha256, "name": "leak.jpg", "request_id": request});
        applied(&app, client, &slug, "file.attach", args).await;
    }
    let (blob, thumb) = (object(&app, &slug, "blobs", &sha256).await, object(&app, &slug, "thumbs", &sha256).await);
    assert!(blob.is_file() && thumb.is_file(), "{blob:?}");

    assert!(rejected(&app, &cat, &slug, "file.remove", json!({"id": first})).await.contains("remove a file"));
    applied(&app, &bob, &slug, "file.remove", json!({"id": first})).await;
    assert_eq!(get_file(&app, &bob, &slug, first, false, None).await.status(), StatusCode::NOT_FOUND);
    // Past the retention and many sweeps: Cat's file still names the bytes.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(blob.is_file() && thumb.is_file());
    assert_eq!(blob_rows(&app, &slug, &sha256).await, 1);
    assert_eq!(get_file(&app, &ann, &slug, second, false, None).await.status(), StatusCode::OK);

    // An admin removes anyone's; then the bytes go, once retention is past.
    applied(&app, &ann, &slug, "file.remove", json!({"id": second})).await;
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    while blob.exists() || thumb.exists() || blob_rows(&app, &slug, &sha256).await > 0 {
        assert!(tokio::time::Instant::now() < until, "the sweep left {blob:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get_file(&app, &cat, &slug, second, false, None).await.status(), StatusCode::NOT_FOUND);
    let (status, _) = app.get(&bob, &format!("/api/groups/{slug}/uploads/{sha256}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "sent again, it is uploaded anew");
}

#[tokio::test]
async fn a_304_names_the_etag_it_answers_for() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let sha256 = upload(&app, &ann, &slug, &pdf("etag", 2000)).await;
    let id = Uuid::new_v4();
    applied(&app, &ann, &slug, "file.attach", json!({"id": id, "sha256": sha256, "name": "a.pdf"})).await;
    let tag = format!("\"{sha256}\"");
    let response = get_file(&app, &ann, &slug, id, false, Some(&tag)).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    // RFC 9110 §15.4.5: a 304 MUST carry the ETag a 200 would have.
    assert_eq!(response.headers().get(header::ETAG).map(|v| v.to_str().unwrap()), Some(tag.as_str()));
}
