//! The file store on S3 (`files.store = "s3://bucket/prefix"`), against a
//! real S3-compatible server (moto): chunks kept as objects under the
//! prefix, the checked photo and its thumbnail stored, read back by another
//! member, the bytes deleted once no file names them, and the rest with the
//! group when it is closed and deleted.
//!
//! One test in this binary: it sets the `AWS_*` variables the store reads
//! from the environment before any server starts (`S3::take_environment`).

mod common;

use common::files::*;
use common::{s3::S3, TestApp};
use reqwest::{header, StatusCode};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn files_are_uploaded_read_back_and_swept_through_an_s3_compatible_store() {
    let s3 = S3::start("courtyard-files").await;
    s3.take_environment();
    let app = TestApp::spawn_with(&[
        ("COURTYARD_FILES_STORE", "s3://courtyard-files/site/a"),
        ("COURTYARD_FILES_SWEEP_INTERVAL", "200ms"),
        // Long enough for a finished upload to be named before it is swept.
        ("COURTYARD_SYNC_LOG_RETENTION", "5s"),
        ("COURTYARD_GROUPS_CLOSE_GRACE", "1s"),
    ])
    .await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let request = new_request(&app, &bob, &slug).await;
    let group: Uuid =
        sqlx::query_scalar("SELECT id FROM groups WHERE slug = $1").bind(&slug).fetch_one(&app.db).await.unwrap();
    let ours = format!("site/a/groups/{group}/");

    // Half of it: the chunks are objects under the prefix, in the group's
    // folder of uploads.
    let sent = jpeg_with_exif(640, 320);
    let sha256 = sha(&sent);
    let half = sent.len() / 2;
    let (status, _) = put_chunk(&app, &bob, &slug, &sha256, &sent, 0..half).await;
    assert_eq!(status, StatusCode::OK);
    let keys = s3.keys(&ours).await;
    assert!(!keys.is_empty() && keys.iter().all(|k| k.starts_with(&format!("{ours}uploads/"))), "{keys:?}");
    assert!(s3.keys("").await.iter().all(|k| k.starts_with(&ours)), "nothing outside the group's folder");

    // The rest: assembled, checked and stored; the chunks are gone.
    let (status, done) = send_from(&app, &bob, &slug, &sha256, &sent, half, half).await;
    assert_eq!((status, &done["complete"]), (StatusCode::OK, &json!(true)), "{done}");
    assert_eq!(
        s3.keys(&ours).await,
        [format!("{ours}blobs/{sha256}"), format!("{ours}thumbs/{sha256}")],
        "the photo and its thumbnail, and no chunk left"
    );

    let id = Uuid::new_v4();
    applied(
        &app,
        &bob,
        &slug,
        "file.attach",
        json!({"id": id, "sha256": sha256, "name": "leak.jpg", "request_id": request}),
    )
    .await;
    let response = get_file(&app, &ann, &slug, id, false, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CONTENT_TYPE), "image/jpeg");
    let got = response.bytes().await.unwrap();
    assert!(!got.windows(4).any(|w| w == b"Exif"), "no EXIF left");
    assert_eq!(image::load_from_memory(&got).unwrap().height(), 640, "turned upright");
    let thumb = get_file(&app, &ann, &slug, id, true, None).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let small = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((small.width(), small.height()), (240, 480));

    // A library document, served as it was sent.
    let rules = pdf("house rules", 3000);
    let rules_sha = upload(&app, &ann, &slug, &rules).await;
    let document = Uuid::new_v4();
    applied(&app, &ann, &slug, "file.attach", json!({"id": document, "sha256": rules_sha, "name": "rules.pdf"})).await;
    let response = get_file(&app, &bob, &slug, document, false, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), rules);

    // The photo removed, and past the retention: the sweep deletes its
    // objects, and only those.
    applied(&app, &bob, &slug, "file.remove", json!({"id": id})).await;
    wait_for_keys(&s3, &ours, &[format!("{ours}blobs/{rules_sha}")]).await;
    assert_eq!(get_file(&app, &ann, &slug, id, false, None).await.status(), StatusCode::NOT_FOUND);

    // The group closed and, after its grace, deleted: its objects go too.
    let (status, _) = app.post(&ann, &format!("/api/groups/{slug}/close"), json!({"name": "Elm"})).await;
    assert_eq!(status, StatusCode::OK);
    wait_for_keys(&s3, &ours, &[]).await;
}

/// Waits (up to 20 s) until the keys under `prefix` are `want`.
async fn wait_for_keys(s3: &S3, prefix: &str, want: &[String]) {
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let keys = s3.keys(prefix).await;
        if keys == want {
            return;
        }
        assert!(tokio::time::Instant::now() < until, "the store still holds {keys:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
