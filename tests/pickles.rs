//! The pickle reader under `.pdparams` on hand-made files: numpy's array layout, refused
//! globals, sizes, nesting and shared buffers past the limits, malformed opcodes, latin-1 data
//! and files that are not pickles at all: each an error naming the fault, never a panic.
//! (tests/hostile.rs measures what hostile files allocate; fuzz/ fuzzes the reader.)

mod common;

use common::files::*;
use common::numpy_pickles::NUMPY_P2;

fn short_str(out: &mut Vec<u8>, s: &str) {
    out.push(0x8c);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn int(out: &mut Vec<u8>, v: i64) {
    match v {
        0..=255 => out.extend_from_slice(&[b'K', v as u8]),
        _ if i32::try_from(v).is_ok() => {
            out.push(b'J');
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        _ => {
            out.extend_from_slice(&[0x8a, 8]);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// One array as numpy pickles it with protocol 4 (without the memo), for hand-made variants.
fn array_p4(out: &mut Vec<u8>, shape: &[i64], code: &str, order: &str, fortran: bool, raw: &[u8]) {
    let mut data_op = vec![b'B'];
    data_op.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    data_op.extend_from_slice(raw);
    array_p4_with(out, shape, code, order, fortran, &data_op);
}

/// `array_p4` with the opcodes that push the array's data given (e.g. a memo reference).
fn array_p4_with(
    out: &mut Vec<u8>,
    shape: &[i64],
    code: &str,
    order: &str,
    fortran: bool,
    data_op: &[u8],
) {
    short_str(out, "numpy._core.multiarray");
    short_str(out, "_reconstruct");
    out.push(0x93);
    short_str(out, "numpy");
    short_str(out, "ndarray");
    out.push(0x93);
    out.extend_from_slice(&[
        b'K', 0, 0x85, b'C', 1, b'b', 0x87, b'R', b'(', b'K', 1, b'(',
    ]);
    for &d in shape {
        int(out, d);
    }
    out.push(b't');
    short_str(out, "numpy");
    short_str(out, "dtype");
    out.push(0x93);
    short_str(out, code);
    out.extend_from_slice(&[0x89, 0x88, 0x87, b'R', b'(', b'K', 3]);
    short_str(out, order);
    out.extend_from_slice(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
    out.push(if fortran { 0x88 } else { 0x89 });
    out.extend_from_slice(data_op);
    out.extend_from_slice(b"tb");
}

/// `{name: array}` pickled with protocol 4.
fn one_array_p4(
    name: &str,
    shape: &[i64],
    code: &str,
    order: &str,
    fortran: bool,
    raw: &[u8],
) -> Vec<u8> {
    let mut out = vec![0x80, 4, b'}', b'('];
    short_str(&mut out, name);
    array_p4(&mut out, shape, code, order, fortran, raw);
    out.extend_from_slice(b"u.");
    out
}

#[test]
fn hand_made_array_matches_the_numpy_layout() {
    let raw: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let c = pd(&one_array_p4("w", &[2, 3], "f4", "<", false, &raw)).unwrap();
    assert_eq!(c["w"].data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // The same buffer read as a Fortran-ordered [2, 3]: element (i, j) is at i + 2j.
    let f = pd(&one_array_p4("w", &[2, 3], "f4", "<", true, &raw)).unwrap();
    assert_eq!(f["w"].data, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
}

#[test]
fn disallowed_globals_are_refused_by_name() {
    for (module, name) in [
        ("os", "system"),
        ("builtins", "eval"),
        ("subprocess", "Popen"),
        ("posix", "system"),
    ] {
        // GLOBAL (protocol 2) ...
        let mut p2 = vec![0x80, 2, b'c'];
        p2.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
        p2.extend_from_slice(b"X\x02\x00\x00\x00ls\x85R.");
        assert_err_contains(pd(&p2), &[&format!("{module}.{name}"), "refusing"]);
        // ... and STACK_GLOBAL (protocol 4).
        let mut p4 = vec![0x80, 4];
        short_str(&mut p4, module);
        short_str(&mut p4, name);
        p4.push(0x93);
        short_str(&mut p4, "ls");
        p4.extend_from_slice(b"\x85R.");
        assert_err_contains(pd(&p4), &[&format!("{module}.{name}")]);
    }
}

#[test]
fn huge_shapes_in_a_tiny_file_fail_fast() {
    let raw = [0u8; 1000];
    let file = one_array_p4("big", &[1 << 40], "f4", "<", false, &raw);
    assert!(file.len() < 1200);
    assert_err_contains(pd(&file), &["big", "1099511627776", "bytes"]);
    let file = one_array_p4("overflow", &[1 << 40, 1 << 40], "f4", "<", false, &raw);
    assert_err_contains(pd(&file), &["overflow", "more than addressable"]);
    let file = one_array_p4("negative", &[-1, 4], "f4", "<", false, &raw);
    assert_err_contains(pd(&file), &["negative dimension"]);
    let file = one_array_p4("short", &[251], "f4", "<", false, &raw);
    assert_err_contains(pd(&file), &["short", "1004", "1000"]);
}

#[test]
fn shared_buffers_cannot_multiply_memory() {
    // One 4000-byte buffer memoized, then reused as the data of a thousand arrays: decoding
    // them all would read 4 MB of data from a 130 KB file.
    let mut file = vec![0x80, 4, b'}', b'('];
    let mut first = vec![b'B'];
    first.extend_from_slice(&4000u32.to_le_bytes());
    first.extend_from_slice(&[0; 4000]);
    first.extend_from_slice(b"r\x00\x00\x01\x00"); // LONG_BINPUT 65536
    for i in 0..1000 {
        short_str(&mut file, &format!("w{i}"));
        let data_op: &[u8] = if i == 0 { &first } else { b"j\x00\x00\x01\x00" };
        array_p4_with(&mut file, &[1000], "f4", "<", false, data_op);
    }
    file.extend_from_slice(b"u.");
    assert!(file.len() < 200_000);
    assert_err_contains(pd(&file), &["more data than the file"]);

    // One array stored under a thousand names.
    let mut file = vec![0x80, 4, b'}', b'(', 0x8c, 1, b'a'];
    array_p4(&mut file, &[1000], "f4", "<", false, &[0; 4000]);
    file.extend_from_slice(b"r\x00\x00\x01\x00");
    for i in 0..1000 {
        short_str(&mut file, &format!("alias{i}"));
        file.extend_from_slice(b"j\x00\x00\x01\x00");
    }
    file.extend_from_slice(b"u.");
    assert_err_contains(pd(&file), &["more data than the file"]);

    // Two names for one small array are fine (Python would give the same object twice).
    let mut file = vec![0x80, 4, b'}', b'(', 0x8c, 1, b'a'];
    array_p4(&mut file, &[2], "f4", "<", false, &f32_bytes(&[1.0, 2.0]));
    file.extend_from_slice(b"q\x07\x8c\x01bh\x07u.");
    let tensors = pd(&file).unwrap();
    assert_eq!(tensors["a"], tensors["b"]);
    assert_eq!(tensors["b"].data, [1.0, 2.0]);
}

#[test]
fn shared_arrays_are_charged_in_bytes_not_elements() {
    // An 8-element f32 array stored under a thousand names: 1000 x 8 elements fit the ~9 KB
    // file's budget when counted as elements, but the copies take 32 KB of f32s.
    let mut file = vec![0x80, 4, b'}', b'(', 0x8c, 1, b'a'];
    array_p4(&mut file, &[8], "f4", "<", false, &[0; 32]);
    file.extend_from_slice(b"r\x00\x00\x01\x00");
    for i in 0..1000 {
        short_str(&mut file, &format!("alias{i}"));
        file.extend_from_slice(b"j\x00\x00\x01\x00");
    }
    file.extend_from_slice(b"u.");
    assert!(
        1000 * 8 < file.len() && file.len() < 1000 * 8 * 4,
        "{}",
        file.len()
    );
    assert_err_contains(pd(&file), &["more data than the file"]);
}

#[test]
fn unsupported_dtypes_name_the_tensor() {
    for code in ["c8", "U2", "O8", "V8", "M8"] {
        let file = one_array_p4("odd", &[1], code, "<", false, &[0; 8]);
        assert_err_contains(pd(&file), &["odd", code, "not supported"]);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // 100000 nested MARK + EMPTY_TUPLE.
    let mut marks = vec![0x80, 2];
    for _ in 0..100_000 {
        marks.extend_from_slice(b"()");
    }
    marks.push(b'.');
    assert_err_contains(pd(&marks), &["nested MARKs"]);
    // 200000 values on the stack.
    let mut values = vec![0x80, 2];
    values.extend(std::iter::repeat_n(b')', 200_000));
    values.push(b'.');
    assert_err_contains(pd(&values), &["values on the stack"]);
    // A tuple nested a million deep without growing the stack: no recursion anywhere.
    let mut deep = vec![0x80, 2, b')'];
    deep.extend(std::iter::repeat_n(0x85, 1_000_000));
    deep.push(b'.');
    assert_err_contains(pd(&deep), &["expected a dict"]);
}

#[test]
fn malformed_opcodes_are_named_errors() {
    let cases: &[(&[u8], &[&str])] = &[
        (
            b"\x80\x02X\xff\xff\xff\x7fab",
            &["BINUNICODE", "2147483647", "remain"],
        ),
        (
            b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff",
            &["BINUNICODE8", "remain"],
        ),
        (
            b"\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x01\x00x",
            &["BINBYTES8", "remain"],
        ),
        (
            b"\x80\x04\x95\x00\x10\x00\x00\x00\x00\x00\x00}.",
            &["frame", "past the end"],
        ),
        (b"\x80\x02}h\x07.", &["memo index 7 was never stored"]),
        (b"\x80\x02}j\x00\x00\x01\x00.", &["memo index 65536"]),
        (b"\x80\x02}\xff.", &["0xff", "offset 3"]),
        (b"\x80\x02s.", &["underflow"]),
        (b"\x80\x02(\x85.", &["underflow"]),
        (b"\x80\x02K\x01(\x86.", &["underflow"]),
        (b"\x80\x02}(K\x01u.", &["odd number"]),
        (b"\x80\x02X\x02\x00\x00\x00\xff\xfe.", &["UTF-8"]),
        (b"\x80\x02K\x01.", &["an int", "expected a dict"]),
        (b"\x80\x02t.", &["no MARK"]),
        (b"\x80\x02cnumpy\ndtype", &["newline"]),
        (b"\x80\x09}.", &["protocol 9"]),
        (b"\x80\x02}K\x01K\x02s", &["without a STOP"]),
        (b"\x80\x02K\x01)R.", &["REDUCE calls an int"]),
    ];
    for (bytes, needles) in cases {
        assert_err_contains(pd(bytes), needles);
    }
    // A memo index far beyond the others must not allocate a memo that large.
    assert!(pd(b"\x80\x02}r\xff\xff\xff\xff.").unwrap().is_empty());
}

#[test]
fn latin1_data_with_wide_characters_is_an_error() {
    // `_codecs.encode('\u0100\u0100\u0100\u0100', 'latin1')` cannot be bytes.
    let mut file = NUMPY_P2.to_vec();
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    // b_f2's data: 6 bytes of float16 [1.5, -2.0, 65504.0] as UTF-8 of their latin-1 code points.
    let data = "\u{0}>\u{0}\u{c0}\u{ff}{".as_bytes();
    let at = find(&file, data).expect("b_f2 data in the fixture");
    // Swap the two UTF-8 bytes of U+00C0 for those of U+0100: same lengths, no longer latin-1.
    file[at + 3..at + 5].copy_from_slice("\u{100}".as_bytes());
    assert_err_contains(pd(&file), &["U+0100", "latin-1"]);
}

#[test]
fn not_a_pickle_is_said_plainly() {
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    assert_err_contains(pd(png), &["not a pickle", "PNG"]);
    assert_err_contains(pd(b""), &["not a pickle", "empty"]);
    assert_err_contains(
        pd(&safetensors_file(&[("w", "F32", &[1], vec![0; 4])])),
        &["not a pickle", "safetensors"],
    );
    assert_err_contains(pd(b"PK\x03\x04rest"), &["not a pickle", "zip"]);
}
