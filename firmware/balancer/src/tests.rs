use super::*;

#[test]
fn arguments_name_what_is_wrong() {
    let args = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let o = args(&["--board", "/b", "--config", "/c"]).unwrap();
    assert_eq!(o.board.as_deref(), Some(Path::new("/b")));
    assert_eq!(o.config, Path::new("/c"));
    assert_eq!(args(&["--board"]).err().unwrap(), "--board needs a file");
    assert_eq!(
        args(&["--bored", "x"]).err().unwrap(),
        "unknown argument \"--bored\""
    );
}
