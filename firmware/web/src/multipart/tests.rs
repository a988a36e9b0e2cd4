use super::*;

const TYPE: &str = "multipart/form-data; boundary=----WebKitFormBoundaryAbC123";

/// A body as chromium sends a form with a checkbox and a file.
fn body(file: &[u8]) -> Vec<u8> {
    let mut b = b"------WebKitFormBoundaryAbC123\r\n\
Content-Disposition: form-data; name=\"note\"\r\n\r\n\
on\r\n\
------WebKitFormBoundaryAbC123\r\n\
Content-Disposition: form-data; name=\"update\"; filename=\"lvsfw.update\"\r\n\
Content-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    b.extend_from_slice(file);
    b.extend_from_slice(b"\r\n------WebKitFormBoundaryAbC123--\r\n");
    b
}

/// Feeds `body` in pieces of `sizes` (cycled) and returns the file's bytes.
fn read(body: &[u8], sizes: &[usize]) -> Result<Vec<u8>, String> {
    let mut m = Multipart::new(TYPE, "update")?;
    let mut got = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        m.push(&rest[..n], &mut |_, b| {
            got.extend_from_slice(b);
            Ok(())
        })?;
        rest = &rest[n..];
        i += 1;
    }
    m.finish()?;
    Ok(got)
}

/// A file full of near-delimiters: CRLFs, dashes and most of the boundary.
fn tricky_file() -> Vec<u8> {
    let mut f = Vec::new();
    for i in 0..300u32 {
        f.extend_from_slice(b"\r\n--");
        f.extend_from_slice(&b"----WebKitFormBoundaryAbC12"[..(i as usize % 27)]);
        f.extend_from_slice(&i.to_le_bytes());
        f.push(b'\r');
    }
    f
}

#[test]
fn the_file_comes_out_whole_however_the_body_is_cut() {
    let file = tricky_file();
    let b = body(&file);
    for sizes in [
        &[1][..],
        &[2],
        &[3, 7],
        &[37],
        &[41, 1, 1],
        &[16384],
        &[b.len()],
    ] {
        assert_eq!(read(&b, sizes).unwrap(), file, "pieces of {sizes:?}");
    }
}

#[test]
fn an_empty_file_and_a_file_without_other_fields() {
    assert_eq!(read(&body(b""), &[5]).unwrap(), b"");
    let only = b"--xyz\r\nContent-Disposition: form-data; name=\"update\"; filename=\"u\"\r\n\r\nDATA\r\n--xyz--";
    let mut m = Multipart::new("multipart/form-data; boundary=\"xyz\"", "update").unwrap();
    let mut got = Vec::new();
    m.push(only, &mut |_, b| {
        got.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    m.finish().unwrap();
    assert_eq!(got, b"DATA");
}

#[test]
fn a_cut_body_a_missing_file_and_two_files_are_refused() {
    let b = body(b"payload");
    let cut = &b[..b.len() - 10];
    let e = read(cut, &[9]).unwrap_err();
    assert!(e.contains("ended before its last part"), "{e}");

    let no_file = b"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--B--\r\n";
    let mut m = Multipart::new("multipart/form-data; boundary=B", "update").unwrap();
    m.push(no_file, &mut |_, _| Ok(())).unwrap();
    assert!(m.finish().unwrap_err().contains("no \"update\" file"));

    let two = b"--B\r\nContent-Disposition: form-data; name=\"update\"\r\n\r\n1\r\n--B\r\nContent-Disposition: form-data; name=\"update\"\r\n\r\n2\r\n--B--\r\n";
    let mut m = Multipart::new("multipart/form-data; boundary=B", "update").unwrap();
    let e = m.push(two, &mut |_, _| Ok(())).unwrap_err();
    assert!(e.contains("more than one"), "{e}");
}

#[test]
fn bounds_hold_for_part_heads_fields_and_boundaries() {
    let mut m = Multipart::new("multipart/form-data; boundary=B", "update").unwrap();
    let mut head = b"--B\r\nContent-Disposition: form-data; name=\"update\"\r\nX: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 3000));
    let e = m.push(&head, &mut |_, _| Ok(())).unwrap_err();
    assert!(e.contains("header lines exceed"), "{e}");

    let mut m = Multipart::new("multipart/form-data; boundary=B", "update").unwrap();
    let mut field = b"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n".to_vec();
    field.extend(std::iter::repeat_n(b'a', 5000));
    let e = m.push(&field, &mut |_, _| Ok(())).unwrap_err();
    assert!(e.contains("form field larger"), "{e}");

    for bad in [
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        &format!("multipart/form-data; boundary={}", "b".repeat(71)),
    ] {
        assert!(Multipart::new(bad, "update").is_err(), "{bad}");
    }
}

#[test]
fn the_sinks_error_stops_the_reading() {
    let mut m = Multipart::new(TYPE, "update").unwrap();
    let e = m
        .push(&body(b"0123456789"), &mut |_, _| Err("disk full".into()))
        .unwrap_err();
    assert_eq!(e, "disk full");
}

#[test]
fn the_fields_before_the_file_are_known_at_its_first_byte() {
    let b = body(b"0123456789");
    // Cut so that the field's value and the file arrive in separate pieces.
    for sizes in [&[1][..], &[7], &[b.len()]] {
        let mut m = Multipart::new(TYPE, "update").unwrap();
        let mut seen = Vec::new();
        let mut rest = &b[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            m.push(&rest[..n], &mut |fields, _| {
                seen.push(fields.get("note"));
                Ok(())
            })
            .unwrap();
            rest = &rest[n..];
            i += 1;
        }
        m.finish().unwrap();
        assert!(!seen.is_empty());
        assert!(seen.iter().all(|v| v.as_deref() == Some("on")), "{seen:?}");
        assert_eq!(m.fields().get("note").as_deref(), Some("on"));
        assert_eq!(m.fields().get("other"), None);
    }
}

#[test]
fn more_than_sixteen_fields_are_refused() {
    let mut many = Vec::new();
    for i in 0..17 {
        many.extend_from_slice(
            format!("--B\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n").as_bytes(),
        );
    }
    let mut m = Multipart::new("multipart/form-data; boundary=B", "update").unwrap();
    let e = m.push(&many, &mut |_, _| Ok(())).unwrap_err();
    assert!(e.contains("more than 16 form fields"), "{e}");
}
