//! The shape request's query parameters and offsets on any text. Input: a
//! query string, split on `&` and each pair's first `=` (not
//! percent-decoded: the parsers see decoded text anyway). No panic, and an
//! offset parses only from the text it prints.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shape_query::{offset::Offset, request::ShapeParams};

fuzz_target!(|data: &[u8]| {
    // The server's query decoder is lossy too.
    let text = String::from_utf8_lossy(data);

    if let Some(offset) = Offset::parse(&text) {
        assert_eq!(offset.to_string(), text, "{offset:?}");
    }

    let pairs: Vec<(String, String)> = text
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect();
    match ShapeParams::parse(&pairs, ["announcements", "bookings", "requests"]) {
        Ok(params) => {
            assert_eq!(Offset::parse(&params.offset.to_string()), Some(params.offset));
            assert!(params.params.len() <= shape_query::request::MAX_PARAMS);
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
});
