//! What an uploaded file is, by its content (never its name): the kinds
//! taken, and images decoded and written anew, which drops their metadata
//! (EXIF, with the place a photo was taken), with a thumbnail.

use crate::error::AppError;
use bytes::Bytes;
use image::{
    codecs::{
        jpeg::JpegEncoder,
        png::{CompressionType, FilterType as PngFilter, PngEncoder},
    },
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits,
};
use std::io::Cursor;

/// Largest image decoded, in pixels (about 40 megapixels: phones' photos
/// are 12 to 50).
pub const MAX_PIXELS: u64 = 40_000_000;
/// A thumbnail's longest side.
pub const THUMB_SIZE: u32 = 480;
/// A stored image's longest side (larger ones are scaled down: a phone's
/// 4032 × 3024 photo is kept whole).
pub const MAX_SIDE: u32 = 4096;
/// Thumbnails are JPEG.
pub(super) const THUMB_TYPE: &str = "image/jpeg";
const JPEG_QUALITY: u8 = 85;

/// What is stored for an upload.
#[derive(Debug)]
pub struct Checked {
    pub content_type: &'static str,
    pub bytes: Bytes,
    /// A JPEG thumbnail (images only).
    pub thumb: Option<Bytes>,
}

/// The kinds taken, by their sniffed MIME type: images (re-encoded) and
/// documents (kept as sent).
const DOCUMENTS: &[&str] = &[
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
];

/// Checks `bytes` and makes what is stored of them, at most `limit` bytes:
/// 415 for a kind not taken, 422 for an image that does not decode, 413
/// for one too large to decode or to store.
pub fn check(bytes: Bytes, limit: usize) -> Result<Checked, AppError> {
    let sniffed = infer::get(&bytes).map(|kind| kind.mime_type());
    let checked = match sniffed {
        Some("image/jpeg") => image(&bytes, ImageFormat::Jpeg)?,
        Some("image/png") => image(&bytes, ImageFormat::Png)?,
        Some("image/webp") => image(&bytes, ImageFormat::WebP)?,
        Some(kind) if DOCUMENTS.contains(&kind) => {
            let content_type = DOCUMENTS.iter().find(|d| **d == kind).copied().unwrap_or("application/pdf");
            Checked { content_type, bytes, thumb: None }
        }
        Some("image/heif" | "image/heic") => {
            return Err(AppError::UnsupportedType(
                "HEIC photos are not taken: choose JPEG (most phones can save photos as JPEG)".into(),
            ))
        }
        Some(other) => {
            return Err(AppError::UnsupportedType(format!(
                "files of type {other} are not taken: photos (JPEG, PNG, WebP), PDFs and office documents are"
            )))
        }
        None => {
            return Err(AppError::UnsupportedType(
                "this kind of file is not taken: photos (JPEG, PNG, WebP), PDFs and office documents are".into(),
            ))
        }
    };
    // A small PNG of noise can take far more once written anew.
    if checked.bytes.len() > limit {
        return Err(AppError::TooLarge(format!(
            "the image would take {} once its metadata is taken out: send it as a JPEG",
            super::upload::mb(checked.bytes.len() as i64)
        )));
    }
    Ok(checked)
}

fn undecodable(error: image::ImageError) -> AppError {
    match error {
        image::ImageError::Limits(_) => AppError::TooLarge(format!(
            "the image is too large: at most {} megapixels, 16384 pixels a side",
            MAX_PIXELS / 1_000_000
        )),
        other => AppError::validation("file", format!("the image cannot be read: {other}")),
    }
}

/// Decodes (within limits), turns it upright as its EXIF says, and writes
/// it anew without any metadata: JPEG stays JPEG; PNG stays PNG; WebP
/// becomes PNG where it has transparency, else JPEG.
fn image(bytes: &[u8], format: ImageFormat) -> Result<Checked, AppError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(AppError::TooLarge(format!(
            "the image is {width}×{height} pixels: at most {} megapixels are taken",
            MAX_PIXELS / 1_000_000
        )));
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    picture.apply_orientation(orientation);
    if picture.width().max(picture.height()) > MAX_SIDE {
        picture = picture.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle);
    }
    let keeps_png = format == ImageFormat::Png || (format == ImageFormat::WebP && picture.has_alpha());
    let (content_type, bytes) = if keeps_png { ("image/png", png(&picture)?) } else { ("image/jpeg", jpeg(&picture)?) };
    // Shrunk, never enlarged.
    let small = if picture.width().max(picture.height()) > THUMB_SIZE {
        picture.thumbnail(THUMB_SIZE, THUMB_SIZE)
    } else {
        picture.clone()
    };
    Ok(Checked { content_type, bytes, thumb: Some(jpeg(&small)?) })
}

fn jpeg(picture: &DynamicImage) -> Result<Bytes, AppError> {
    let mut out = Vec::new();
    // JPEG has no transparency: flattened (as viewers show it).
    let rgb = DynamicImage::ImageRgb8(picture.to_rgb8());
    rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)).map_err(undecodable)?;
    Ok(out.into())
}

fn png(picture: &DynamicImage) -> Result<Bytes, AppError> {
    let mut out = Vec::new();
    let encoder = PngEncoder::new_with_quality(&mut out, CompressionType::Default, PngFilter::Adaptive);
    picture.write_with_encoder(encoder).map_err(undecodable)?;
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    const LIMIT: usize = 10 * 1024 * 1024;

    fn encoded(picture: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// A JPEG with an APP1 EXIF segment (a GPS tag's worth of bytes) and an
    /// orientation of 6 (rotate 90° clockwise) put after its SOI marker.
    fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
        let plain = encoded(
            DynamicImage::ImageRgb8(RgbImage::from_pixel(width, height, Rgb([200, 10, 10]))),
            ImageFormat::Jpeg,
        );
        // TIFF header (big-endian), one IFD entry: Orientation (0x0112) = 6,
        // and a marker string standing for the location.
        let mut tiff =
            vec![b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
        tiff.extend_from_slice(b"GPS 48.8584N 2.2945E");
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let length = (app1.len() + 2) as u16;
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn a_photo_loses_its_exif_and_is_turned_upright() {
        let sent = jpeg_with_exif(64, 32);
        assert!(sent.windows(3).any(|w| w == b"GPS"));
        let checked = check(sent.into(), LIMIT).unwrap();
        assert_eq!(checked.content_type, "image/jpeg");
        assert!(!checked.bytes.windows(4).any(|w| w == b"Exif"), "no EXIF left");
        assert!(!checked.bytes.windows(3).any(|w| w == b"GPS"));
        let stored = image::load_from_memory(&checked.bytes).unwrap();
        assert_eq!((stored.width(), stored.height()), (32, 64), "rotated as the orientation says");
        let thumb = image::load_from_memory(checked.thumb.as_ref().unwrap()).unwrap();
        assert!(thumb.width() <= THUMB_SIZE && thumb.height() <= THUMB_SIZE);
    }

    #[test]
    fn a_large_photo_gets_a_small_thumbnail_and_png_stays_png() {
        let big = RgbaImage::from_pixel(1200, 600, Rgba([0, 0, 255, 128]));
        let checked = check(encoded(DynamicImage::ImageRgba8(big), ImageFormat::Png).into(), LIMIT).unwrap();
        assert_eq!(checked.content_type, "image/png");
        let thumb = image::load_from_memory(checked.thumb.as_ref().unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (THUMB_SIZE, THUMB_SIZE / 2));
    }

    #[test]
    fn a_small_image_keeps_its_size_in_its_thumbnail() {
        let tiny = RgbImage::from_pixel(8, 8, Rgb([1, 2, 3]));
        let checked = check(encoded(DynamicImage::ImageRgb8(tiny), ImageFormat::Png).into(), LIMIT).unwrap();
        let thumb = image::load_from_memory(checked.thumb.as_ref().unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (8, 8));
    }

    #[test]
    fn kinds_are_told_by_content_not_name() {
        let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
        let checked = check(pdf.clone().into(), LIMIT).unwrap();
        assert_eq!(checked.content_type, "application/pdf");
        assert_eq!(checked.bytes.as_ref(), pdf.as_slice(), "documents are kept as sent");
        assert!(checked.thumb.is_none());
        let script = b"<script>alert(1)</script>".to_vec();
        assert_eq!(check(script.into(), LIMIT).unwrap_err().status(), 415);
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
        assert_eq!(check(gif.into(), LIMIT).unwrap_err().status(), 415);
    }

    #[test]
    fn an_image_that_grows_past_the_limit_once_written_anew_is_refused() {
        // Noise: PNG cannot pack it, so it grows to width × height × 3.
        let mut noise = RgbImage::new(600, 600);
        let mut state = 1u32;
        for pixel in noise.pixels_mut() {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *pixel = Rgb([(state >> 24) as u8, (state >> 16) as u8, (state >> 8) as u8]);
        }
        let sent = encoded(DynamicImage::ImageRgb8(noise), ImageFormat::Png);
        let error = check(sent.into(), 100_000).unwrap_err();
        assert_eq!(error.status(), 413, "{error}");
    }

    #[test]
    fn a_huge_image_is_scaled_down() {
        let wide = RgbImage::from_pixel(5000, 100, Rgb([9, 9, 9]));
        let checked = check(encoded(DynamicImage::ImageRgb8(wide), ImageFormat::Jpeg).into(), LIMIT).unwrap();
        let stored = image::load_from_memory(&checked.bytes).unwrap();
        assert_eq!(stored.width(), MAX_SIDE);
    }

    #[test]
    fn a_broken_image_is_refused_with_a_reason() {
        let mut truncated = encoded(DynamicImage::ImageRgb8(RgbImage::new(40, 40)), ImageFormat::Png);
        truncated.truncate(60);
        let error = check(truncated.into(), LIMIT).unwrap_err();
        assert_eq!(error.status(), 422, "{error}");
    }
}
