//! Any string either parses as a template or is refused with an error; a parsed template
//! renders fields it names, and the rendered text holds every field's value.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use prompt_data::Template;

fuzz_target!(|source: &str| {
    let Ok(template) = Template::parse(source) else {
        return;
    };
    let fields: BTreeMap<String, String> = template
        .fields()
        .map(|f| (f.to_string(), "VALUE".to_string()))
        .collect();
    let rendered = template
        .render(&fields, "<mask>")
        .expect("every named field is given");
    assert!(fields.is_empty() || rendered.text.contains("VALUE"));
});
