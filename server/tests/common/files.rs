//! Uploading and reading files as the browser does, for the tests of the
//! file store (the local directory in files.rs, S3 in s3.rs): photos with
//! EXIF, PDFs, chunks, `file.attach` and reading back.

use super::TestApp;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::{io::Cursor, ops::Range};
use uuid::Uuid;

pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A `width`×`height` JPEG (noise, so it takes some bytes) with an APP1 EXIF
/// segment after its SOI marker: orientation 6 (turn 90° clockwise) and a
/// string standing for the place it was taken.
pub fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let picture = RgbImage::from_fn(width, height, |_, _| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let [r, g, b, _] = seed.to_be_bytes();
        Rgb([r, g, b])
    });
    let mut plain = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(picture).write_to(&mut plain, ImageFormat::Jpeg).unwrap();
    let plain = plain.into_inner();
    let mut tiff =
        vec![b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
    tiff.extend_from_slice(b"GPS 48.8584N 2.2945E");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A PDF of `size` bytes, its content told apart by `tag`.
pub fn pdf(tag: &str, size: usize) -> Vec<u8> {
    let mut out = format!("%PDF-1.4\n% {tag}\n1 0 obj << >> endobj\ntrailer << >>\n").into_bytes();
    out.resize(size - 6, b' ');
    out.extend_from_slice(b"%%EOF\n");
    out
}

pub fn upload_url(app: &TestApp, slug: &str, sha256: &str) -> String {
    app.url(&format!("/api/groups/{slug}/uploads/{sha256}"))
}

/// Sends `bytes[range]` as a chunk of the upload `sha256` of all `bytes`.
pub async fn put_chunk(
    app: &TestApp,
    client: &Client,
    slug: &str,
    sha256: &str,
    bytes: &[u8],
    range: Range<usize>,
) -> (StatusCode, Value) {
    let content_range = format!("bytes {}-{}/{}", range.start, range.end - 1, bytes.len());
    let response = client
        .put(upload_url(app, slug, sha256))
        .header(header::CONTENT_RANGE, content_range)
        .body(bytes[range].to_vec())
        .send()
        .await
        .unwrap();
    super::read(response).await
}

/// Sends `bytes` from `from` on in chunks of `chunk` bytes: the last answer,
/// or the first that is not 200.
pub async fn send_from(
    app: &TestApp,
    client: &Client,
    slug: &str,
    sha256: &str,
    bytes: &[u8],
    from: usize,
    chunk: usize,
) -> (StatusCode, Value) {
    let mut first = from;
    loop {
        let last = (first + chunk).min(bytes.len());
        let (status, body) = put_chunk(app, client, slug, sha256, bytes, first..last).await;
        if status != StatusCode::OK || last == bytes.len() {
            return (status, body);
        }
        assert_eq!(body, json!({"received": last, "total": bytes.len(), "complete": false}));
        first = last;
    }
}

/// Uploads all of `bytes` (in 64 KiB chunks); returns their checksum.
pub async fn upload(app: &TestApp, client: &Client, slug: &str, bytes: &[u8]) -> String {
    let sha256 = sha(bytes);
    let (status, body) = send_from(app, client, slug, &sha256, bytes, 0, 64 * 1024).await;
    assert_eq!((status, &body["complete"]), (StatusCode::OK, &json!(true)), "{body}");
    sha256
}

/// Sends one mutation with the envelope id `id`; returns its result.
pub async fn mutate_as(app: &TestApp, client: &Client, slug: &str, id: Uuid, name: &str, args: Value) -> Value {
    let (status, body) = app.mutate(client, slug, json!([{"id": id, "name": name, "args": args}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"][0].clone()
}

pub async fn mutate(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) -> Value {
    mutate_as(app, client, slug, Uuid::new_v4(), name, args).await
}

pub async fn applied(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) {
    let result = mutate(app, client, slug, name, args).await;
    assert_eq!(result["status"], "applied", "{result}");
}

/// The rejection's message.
pub async fn rejected(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) -> String {
    let result = mutate(app, client, slug, name, args).await;
    assert_eq!(result["status"], "rejected", "{result}");
    result["error"].as_str().unwrap().to_owned()
}

/// A new request in `slug`, by `client`.
pub async fn new_request(app: &TestApp, client: &Client, slug: &str) -> Uuid {
    let id = Uuid::new_v4();
    applied(app, client, slug, "request.create", json!({"id": id, "title": "Leak", "description": "Under the sink"}))
        .await;
    id
}

/// `GET` of a file (`?thumb=true` if `thumb`), with `If-None-Match` if given.
pub async fn get_file(
    app: &TestApp,
    client: &Client,
    slug: &str,
    id: Uuid,
    thumb: bool,
    if_none_match: Option<&str>,
) -> reqwest::Response {
    let query = if thumb { "?thumb=true" } else { "" };
    let mut request = client.get(app.url(&format!("/api/groups/{slug}/files/{id}{query}")));
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    request.send().await.unwrap()
}

pub fn header_of(response: &reqwest::Response, name: header::HeaderName) -> &str {
    response.headers().get(&name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap()
}
