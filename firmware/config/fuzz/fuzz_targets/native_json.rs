//! Any text into the native JSON reader: no panic, and whatever reads must write back to
//! JSON that reads to the same configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = config::native::from_json(text) else {
        return;
    };
    let json = config::native::to_json(&config);
    match config::native::from_json(&json) {
        Ok(again) => assert_eq!(again, config, "{json}"),
        Err(issues) => panic!("the JSON written does not read back:\n{json}\n---\n{issues}"),
    }
});
