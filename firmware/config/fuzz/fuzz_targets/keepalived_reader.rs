//! Any text into the keepalived.conf reader: no panic, and whatever reads must export
//! to text that reads back to the same model.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `include` reads files from the fuzzing machine: not what is under test here.
    if text.contains("include") {
        return;
    }
    let Ok(read) = config::keepalived::read_text(text, "fuzz.conf") else {
        return;
    };
    let exported = config::keepalived::to_keepalived_conf(&read.config);
    match config::keepalived::read_text(&exported, "export.conf") {
        Ok(again) => assert_eq!(again.config, read.config, "{exported}"),
        Err(issues) => panic!("the export does not read back:\n{exported}\n---\n{issues}"),
    }
});
