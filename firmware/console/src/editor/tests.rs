use super::*;

fn none(_: &str) -> Vec<String> {
    Vec::new()
}

/// Types `keys` and returns every finished input.
fn typed(editor: &mut Editor, keys: &[u8]) -> Vec<Input> {
    keys.iter()
        .filter_map(|&k| editor.feed(k, &none).0)
        .collect()
}

fn line(s: &str) -> Input {
    Input::Line(s.to_string())
}

#[test]
fn plain_typing_echoes_each_character_and_enter_ends_the_line() {
    let mut e = Editor::new("lvsfw> ");
    assert_eq!(e.feed(b's', &none), (None, "s".into()));
    assert_eq!(typed(&mut e, b"how status\r"), vec![line("show status")]);
    // CR LF counts once; a bare LF ends a line too.
    assert_eq!(
        typed(&mut e, b"help\r\nhelp\n"),
        vec![line("help"), line("help")]
    );
}

#[test]
fn backspace_ctrl_u_ctrl_k_and_ctrl_w_edit_the_line() {
    let mut e = Editor::new("> ");
    assert_eq!(typed(&mut e, b"shwo\x7f\x7fow\r"), vec![line("show")]);
    assert_eq!(typed(&mut e, b"garbage\x15help\r"), vec![line("help")]);
    assert_eq!(
        typed(&mut e, b"show ipvs --stats\x17\x17vrrp\r"),
        vec![line("show vrrp")]
    );
    // ctrl-a, then ctrl-k cuts everything after the cursor.
    assert_eq!(typed(&mut e, b"reboot\x01\x0bhelp\r"), vec![line("help")]);
}

#[test]
fn arrows_home_end_and_delete_move_within_the_line() {
    let mut e = Editor::new("> ");
    // "sow", left twice, insert 'h' -> "show"
    assert_eq!(typed(&mut e, b"sow\x1b[D\x1b[Dh\r"), vec![line("show")]);
    // Home, Delete, End, append.
    assert_eq!(
        typed(&mut e, b"xhelp\x1b[H\x1b[3~\x1b[F!\r"),
        vec![line("help!")]
    );
    // VT220 home/end (ESC [ 1 ~ / ESC [ 4 ~) and right arrow past the end stays put.
    assert_eq!(
        typed(&mut e, b"bc\x1b[1~a\x1b[4~\x1b[Cd\r"),
        vec![line("abcd")]
    );
}

#[test]
fn the_redraw_puts_the_cursor_back_where_it_was() {
    let mut e = Editor::new("> ");
    typed(&mut e, b"abc\x1b[D\x1b[D");
    assert_eq!(e.redraw(), "\r\x1b[K> abc\x1b[2D");
}

#[test]
fn a_fresh_prompt_has_no_escape_sequence() {
    let mut e = Editor::new("lvsfw> ");
    assert_eq!(e.fresh(), "\rlvsfw> ");
    typed(&mut e, b"ab\x1b[D");
    assert_eq!(e.fresh(), "\rlvsfw> ab\x1b[1D");
}

#[test]
fn history_walks_back_and_forth_and_keeps_the_draft() {
    let mut e = Editor::new("> ");
    typed(&mut e, b"one\rtwo\rtwo\rthree\r");
    typed(&mut e, b"dra");
    typed(&mut e, b"\x1b[A\x1b[A");
    assert_eq!(e.text(), "two", "repeated lines are stored once");
    typed(&mut e, b"\x1b[A\x1b[A");
    assert_eq!(e.text(), "one", "stops at the oldest");
    typed(&mut e, b"\x1b[B\x1b[B\x1b[B");
    assert_eq!(e.text(), "dra", "back to the line being typed");
    assert_eq!(typed(&mut e, b"\x1b[A\r"), vec![line("three")]);
}

#[test]
fn history_is_bounded() {
    let mut e = Editor::new("> ");
    for n in 0..HISTORY + 20 {
        typed(&mut e, format!("cmd {n}\r").as_bytes());
    }
    assert_eq!(e.history.len(), HISTORY);
    assert_eq!(e.history.front().map(String::as_str), Some("cmd 20"));
}

#[test]
fn an_overlong_line_is_refused_whole() {
    let mut e = Editor::new("> ");
    let long = vec![b'x'; 100 * 1024];
    assert_eq!(typed(&mut e, &long), vec![]);
    assert_eq!(typed(&mut e, b"\r"), vec![Input::TooLong]);
    assert_eq!(typed(&mut e, b"help\r"), vec![line("help")]);
}

#[test]
fn control_keys_and_binary_garbage_do_no_harm() {
    let mut e = Editor::new("> ");
    let garbage: Vec<u8> = (0u8..=255)
        .filter(|b| ![b'\r', b'\n', 0x03, 0x04, 0x1b].contains(b))
        .collect();
    assert_eq!(typed(&mut e, &garbage), vec![]);
    assert!(e.text().len() <= MAX_LINE);
    assert_eq!(typed(&mut e, b"\x03"), vec![Input::Interrupt]);
    assert_eq!(e.text(), "");
    assert_eq!(typed(&mut e, b"\x04"), vec![Input::Eof]);
    // An unknown escape sequence is swallowed, not typed.
    assert_eq!(typed(&mut e, b"\x1b[99Zok\r"), vec![line("ok")]);
}

#[test]
fn secret_input_echoes_nothing_and_is_not_remembered() {
    let mut e = Editor::new("Password: ");
    e.secret = true;
    let (_, echo) = e.feed(b'p', &none);
    assert_eq!(echo, "");
    assert_eq!(typed(&mut e, b"ass\r"), vec![line("pass")]);
    assert!(e.history.is_empty());
    assert_eq!(e.redraw(), "\r\x1b[KPassword: ");
}

#[test]
fn tab_completes_one_candidate_and_lists_several() {
    let words = |before: &str| -> Vec<String> {
        ["show", "set", "shutdown"]
            .iter()
            .filter(|w| w.starts_with(before))
            .map(|w| w.to_string())
            .collect()
    };
    let mut e = Editor::new("> ");
    e.feed(b's', &words);
    e.feed(b'h', &words);
    let (_, out) = e.feed(b'\t', &words);
    assert!(out.contains("show  shutdown"), "{out:?}");
    assert_eq!(e.text(), "sh");
    e.feed(b'o', &words);
    e.feed(b'\t', &words);
    assert_eq!(e.text(), "show ");
    let (_, bell) = e.feed(b'\t', &|_| Vec::new());
    assert_eq!(bell, "\x07");
}

#[test]
fn the_prompt_text_and_later_echo_are_one_run_of_bytes() {
    let mut e = Editor::new("lvsfw> ");
    let mut out = String::new();
    for &k in b"ipvs li" {
        out.push_str(&e.feed(k, &none).1);
    }
    // A log line is printed: the line is cleared, then redrawn.
    out.push_str(e.clear());
    out.push_str("[ 1.0] balancer: something\r\n");
    out.push_str(&e.redraw());
    for &k in b"st" {
        out.push_str(&e.feed(k, &none).1);
    }
    assert!(out.ends_with("lvsfw> ipvs list"), "{out:?}");
}

#[test]
fn lines_can_be_kept_out_of_the_history() {
    let mut e = Editor::new("");
    e.no_history = true;
    assert_eq!(
        typed(&mut e, b"virtual_server 1.2.3.4 80 {\r"),
        vec![line("virtual_server 1.2.3.4 80 {")]
    );
    assert!(e.history.is_empty());
    assert_eq!(typed(&mut e, b"\x1b[A"), vec![]);
    assert_eq!(e.text(), "");
}

#[test]
fn is_empty_and_reset() {
    let mut e = Editor::new("> ");
    assert!(e.is_empty());
    typed(&mut e, b"abc\x1b[");
    assert!(!e.is_empty());
    e.reset();
    assert!(e.is_empty());
    // The half-read escape sequence is gone too: 'D' is typed, not a cursor move.
    assert_eq!(typed(&mut e, b"D\r"), vec![line("D")]);
}
