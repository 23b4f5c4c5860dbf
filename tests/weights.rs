//! The weight and npy readers: the golden PaddlePaddle checkpoints, small numpy-made fixtures
//! (every dtype and layout numpy pickles), and damaged or hostile files, which must give an
//! error and never a panic.
//!
//! Expected values marked "numpy" were computed once with numpy 2.4 from the same files (see
//! `checksum`); CI runs without Python.

use std::path::{Path, PathBuf};

use gpu_resnet::error::Error;
use gpu_resnet::npy::{encode_npy_f32, parse_npy_f32, read_npy_f32, write_npy_f32};
use gpu_resnet::tensor::TensorMap;
use gpu_resnet::weights::pdparams::{parse_pdparams, read_pdparams};
use gpu_resnet::weights::read_tensors;
use gpu_resnet::weights::safetensors::{parse_safetensors, read_safetensors};

fn golden(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/golden")).join(name)
}

fn read_golden(name: &str) -> Vec<u8> {
    std::fs::read(golden(name)).expect("golden file")
}

/// A per-test scratch file, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("gpu-resnet-weights-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write temp file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The checksum computed with numpy as
/// `sum(bits.astype(uint64) * (arange(n) % 65521 + 1))` (wrapping) over the f32 bit patterns.
fn checksum(data: &[f32]) -> u64 {
    data.iter().enumerate().fold(0u64, |acc, (i, v)| {
        acc.wrapping_add(u64::from(v.to_bits()).wrapping_mul(i as u64 % 65521 + 1))
    })
}

/// `sum(checksum(t) * (k + 1))` over the arrays in sorted-name order (numpy: `sorted(dict)`).
fn combined_checksum(tensors: &TensorMap) -> u64 {
    tensors.values().enumerate().fold(0u64, |acc, (k, t)| {
        acc.wrapping_add(checksum(&t.data).wrapping_mul(k as u64 + 1))
    })
}

fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_err_contains<T: std::fmt::Debug>(result: Result<T, Error>, needles: &[&str]) {
    let msg = message(result);
    for needle in needles {
        assert!(
            msg.contains(needle),
            "error `{msg}` does not mention `{needle}`"
        );
    }
}

/// SplitMix64, for reproducible damage positions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const NOWHERE: &str = "test-input";

fn pd(bytes: &[u8]) -> Result<TensorMap, Error> {
    parse_pdparams(bytes, Path::new(NOWHERE))
}

// --- golden checkpoints ---------------------------------------------------------------------

struct GoldenExpect {
    file: &'static str,
    arrays: usize,
    fc_in: usize,
    /// numpy
    fc_first_last_bits: (u32, u32),
    fc_checksum: u64,
    short_var_channels: usize,
    short_var_checksum: u64,
    combined: u64,
}

fn check_golden(expect: &GoldenExpect, tensors: &TensorMap) {
    assert_eq!(tensors.len(), expect.arrays, "{}: array count", expect.file);
    // The `StructuredToParameterName@@` entry is a dict of names, not an array.
    assert!(!tensors.keys().any(|k| k.contains('@')));

    let stem = &tensors["stem.0.conv.weight"];
    assert_eq!(stem.shape, [32, 3, 3, 3]);
    assert_eq!(stem.stored_dtype, "f4");
    // numpy: first/last values and checksum of `stem.0.conv.weight` (same seed in both files).
    assert_eq!(stem.data[0].to_bits(), 3172990510);
    assert_eq!(stem.data[stem.data.len() - 1].to_bits(), 3182826129);
    assert_eq!(checksum(&stem.data), 805010128697776);

    let fc = &tensors["fc.weight"];
    assert_eq!(
        fc.shape,
        [expect.fc_in, 1000],
        "fc.weight is stored [in, out]"
    );
    let last = fc.data[fc.data.len() - 1];
    assert_eq!(
        (fc.data[0].to_bits(), last.to_bits()),
        expect.fc_first_last_bits
    );
    assert_eq!(checksum(&fc.data), expect.fc_checksum);
    assert_eq!(tensors["fc.bias"].shape, [1000]);

    let var = &tensors["blocks.0.short.bn._variance"];
    assert_eq!(var.shape, [expect.short_var_channels]);
    assert_eq!(checksum(&var.data), expect.short_var_checksum);

    for (name, t) in tensors {
        assert_eq!(t.shape.iter().product::<usize>(), t.data.len(), "{name}");
    }
    assert_eq!(
        combined_checksum(tensors),
        expect.combined,
        "{}: all values",
        expect.file
    );
}

const RESNET18_VD: GoldenExpect = GoldenExpect {
    file: "ResNet18_vd.pdparams",
    arrays: 117,
    fc_in: 512,
    fc_first_last_bits: (3173885532, 3171885942),
    fc_checksum: 15917558683159098286,
    short_var_channels: 64,
    short_var_checksum: 2206360932146,
    combined: 13045701768562572483,
};

const RESNET50_VD: GoldenExpect = GoldenExpect {
    file: "ResNet50_vd.pdparams",
    arrays: 277,
    fc_in: 2048,
    fc_first_last_bits: (3153539568, 3163304954),
    fc_checksum: 9646188725514041393,
    short_var_channels: 256,
    short_var_checksum: 34911034785476,
    combined: 4500371514046075519,
};

#[test]
fn golden_resnet18_vd_protocol2_matches_numpy() {
    let tensors = read_tensors(&golden(RESNET18_VD.file)).unwrap();
    check_golden(&RESNET18_VD, &tensors);
}

#[test]
fn golden_resnet50_vd_protocol4_matches_numpy() {
    let tensors = read_pdparams(&golden(RESNET50_VD.file)).unwrap();
    check_golden(&RESNET50_VD, &tensors);
}

/// Cuts before `limit` bytes: every byte of the first 300, then `spaced` evenly spaced cuts.
fn cut_points(len: usize, limit: usize, spaced: usize) -> Vec<usize> {
    let limit = limit.min(len);
    let mut cuts: Vec<usize> = (0..300.min(limit)).collect();
    cuts.extend((1..=spaced).map(|i| i * (limit - 1) / spaced));
    cuts
}

#[test]
fn golden_truncated_is_an_error() {
    // A parse costs time in proportion to the bytes before the cut (protocol 2 about 6 ns a
    // byte, protocol 4 under 1), so the dense cuts cover the first megabytes (every kind of
    // opcode, the first arrays) and a few more span each file.
    for (file, dense, spaced) in [
        (RESNET18_VD.file, 1 << 20, 2),
        (RESNET50_VD.file, 4 << 20, 8),
    ] {
        let bytes = read_golden(file);
        let mut cuts = cut_points(bytes.len(), dense, 200);
        cuts.extend((1..spaced).map(|i| i * bytes.len() / spaced));
        cuts.push(bytes.len() - 1);
        for cut in cuts {
            assert!(pd(&bytes[..cut]).is_err(), "{file} cut at {cut} parsed");
        }
        assert_err_contains(pd(&bytes[..bytes.len() - 1]), &["truncated"]);
    }
}

#[test]
fn golden_with_flipped_bytes_never_panics() {
    let mut rng = Rng(0x5eed);
    for file in [RESNET18_VD.file, RESNET50_VD.file] {
        let bytes = read_golden(file);
        // Damage in the first 256 KB (opcodes, lengths, shapes of the first arrays), parsed up to
        // there: Ok is impossible for a prefix, but any panic fails the test.
        let mut prefix = bytes[..256 << 10].to_vec();
        for _ in 0..300 {
            let at = rng.below(prefix.len());
            let old = prefix[at];
            prefix[at] ^= 1 << rng.below(8);
            let _ = pd(&prefix);
            prefix[at] = old;
        }
    }
}

// --- numpy-made fixtures --------------------------------------------------------------------

fn check_numpy_fixture(tensors: &TensorMap) {
    let t = |name: &str| &tensors[name];
    let expect = |name: &str, shape: &[usize], data: &[f32], dtype: &str| {
        let tensor = t(name);
        assert_eq!(tensor.shape, shape, "{name}");
        assert_eq!(tensor.data, data, "{name}");
        assert_eq!(tensor.stored_dtype, dtype, "{name}");
    };
    // np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3) * 0.5 - 1), back in C order.
    expect(
        "a_f8_fortran",
        &[2, 3],
        &[-1.0, -0.5, 0.0, 0.5, 1.0, 1.5],
        "f8",
    );
    expect("b_f2", &[3], &[1.5, -2.0, 65504.0], "f2");
    expect("c_i8", &[3], &[7.0, -3.0, (1u64 << 40) as f32], "i8");
    expect("c_i8_scalar", &[], &[42.0], "i8");
    expect("d_u1", &[2, 2], &[0.0, 255.0, 1.0, 2.0], "u1");
    expect("e_b1", &[3], &[1.0, 0.0, 1.0], "b1");
    expect("f_be_f4", &[2, 2], &[1.25, -0.5, 3.0, 4.0], ">f4");
    expect("g_i1", &[2], &[-128.0, 127.0], "i1");
    expect("h_i2", &[2], &[-300.0, 300.0], "i2");
    expect("i_u2", &[1], &[65535.0], "u2");
    expect("j_i4", &[1], &[-70000.0], "i4");
    expect("k_u4", &[1], &[4e9], "u4");
    expect("l_u8", &[1], &[12345.0], "u8");
    let c_order: Vec<f32> = (0..24).map(|v| v as f32).collect();
    expect("m_fortran3d", &[2, 3, 4], &c_order, "f4");
    expect("n_empty", &[0, 3], &[], "f4");
    expect("o_be_f8_fortran", &[2, 2], &[1.0, 2.0, 3.0, 4.0], ">f8");
    // Non-array entries (a name dict, ints, a list, bytes) are skipped.
    assert_eq!(
        tensors.len(),
        16,
        "{:?}",
        tensors.keys().collect::<Vec<_>>()
    );
}

#[test]
fn numpy_protocol2_fixture_all_dtypes() {
    check_numpy_fixture(&pd(NUMPY_P2).unwrap());
}

#[test]
fn numpy_protocol4_ordered_dict_fixture_all_dtypes() {
    check_numpy_fixture(&pd(NUMPY_P4_ORDERED).unwrap());
}

#[test]
fn fixtures_truncated_at_every_byte_are_errors() {
    for fixture in [NUMPY_P2, NUMPY_P4_ORDERED] {
        for cut in 0..fixture.len() {
            assert!(pd(&fixture[..cut]).is_err(), "cut at {cut} parsed");
        }
    }
}

#[test]
fn fixtures_with_any_byte_damaged_never_panic() {
    for fixture in [NUMPY_P2, NUMPY_P4_ORDERED] {
        let mut bytes = fixture.to_vec();
        for at in 0..bytes.len() {
            for mask in [0x01, 0x10, 0x80, 0xff] {
                bytes[at] ^= mask;
                let _ = pd(&bytes);
                bytes[at] ^= mask;
            }
        }
    }
}

// --- hostile pickles ------------------------------------------------------------------------

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

// --- format detection -------------------------------------------------------------------------

#[test]
fn read_tensors_chooses_the_format_by_content() {
    // A safetensors file named .pdparams and a pickle named .safetensors both load.
    let st = TempFile::new(
        "content.pdparams",
        &safetensors_file(&[("w", "F32", &[2], f32_bytes(&[1.0, 2.0]))]),
    );
    assert_eq!(read_tensors(&st.0).unwrap()["w"].data, [1.0, 2.0]);
    let pk = TempFile::new("content.safetensors", NUMPY_P4_ORDERED);
    assert_eq!(read_tensors(&pk.0).unwrap().len(), 16);

    let png = TempFile::new("image.pdparams", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    assert_err_contains(
        read_tensors(&png.0),
        &["PNG", "not a PaddlePaddle", "image.pdparams"],
    );
    let empty = TempFile::new("empty.pdparams", b"");
    assert_err_contains(read_tensors(&empty.0), &["empty"]);
    let text = TempFile::new("text.pdparams", b"hello world, not weights");
    assert_err_contains(read_tensors(&text.0), &["unknown format", "safetensors"]);
    let missing = std::env::temp_dir().join("gpu-resnet-weights-no-such-file.pdparams");
    assert!(matches!(read_tensors(&missing), Err(Error::Io { .. })));
}

// --- safetensors ------------------------------------------------------------------------------

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A safetensors file written by hand: header JSON with consecutive offsets, then the data.
fn safetensors_file(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        entries.push(format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            shape.join(","),
            data.len(),
            data.len() + bytes.len()
        ));
        data.extend_from_slice(bytes);
    }
    raw_safetensors(&format!("{{{}}}", entries.join(",")), &data)
}

fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn safetensors_dtypes_convert_to_f32() {
    let f16: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let bf16: Vec<u8> = [0.5f32, 3.0]
        .iter()
        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
        .collect();
    let f64s: Vec<u8> = [0.25f64, -8.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let file = safetensors_file(&[
        ("conv.weight", "F32", &[1, 2], f32_bytes(&[0.5, -1.0])),
        ("half", "F16", &[2], f16),
        ("brain", "BF16", &[2], bf16),
        ("double", "F64", &[2], f64s),
        (
            "bn.num_batches_tracked",
            "I64",
            &[],
            7i64.to_le_bytes().to_vec(),
        ),
        ("bytes", "U8", &[2], vec![0, 200]),
        ("flags", "BOOL", &[2], vec![1, 0]),
        ("ints", "I32", &[1], (-5i32).to_le_bytes().to_vec()),
    ]);
    let path = TempFile::new("dtypes.safetensors", &file);
    let tensors = read_safetensors(&path.0).unwrap();
    let get = |name: &str| (tensors[name].shape.clone(), tensors[name].data.clone());
    assert_eq!(get("conv.weight"), (vec![1, 2], vec![0.5, -1.0]));
    assert_eq!(get("half"), (vec![2], vec![1.5, -2.0]));
    assert_eq!(get("brain"), (vec![2], vec![0.5, 3.0]));
    assert_eq!(get("double"), (vec![2], vec![0.25, -8.0]));
    assert_eq!(get("bn.num_batches_tracked"), (vec![], vec![7.0]));
    assert_eq!(get("bytes"), (vec![2], vec![0.0, 200.0]));
    assert_eq!(get("flags"), (vec![2], vec![1.0, 0.0]));
    assert_eq!(get("ints"), (vec![1], vec![-5.0]));
    assert_eq!(tensors["half"].stored_dtype, "F16");
    assert_eq!(tensors["bn.num_batches_tracked"].stored_dtype, "I64");
}

#[test]
fn safetensors_damage_is_a_format_error() {
    let st = |bytes: &[u8]| parse_safetensors(bytes, Path::new(NOWHERE));
    // Offsets past the end of the data.
    let past = raw_safetensors(
        r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
        &[0; 8],
    );
    assert!(
        matches!(st(&past), Err(Error::Format { .. })),
        "{:?}",
        st(&past)
    );
    // Offsets that do not match the shape.
    let wrong = raw_safetensors(
        r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    assert!(matches!(st(&wrong), Err(Error::Format { .. })));
    // A header length past the end of the file.
    let mut long = past.clone();
    long[..8].copy_from_slice(&1_000_000u64.to_le_bytes());
    assert!(matches!(st(&long), Err(Error::Format { .. })));
    // An absurd shape.
    let huge = raw_safetensors(
        r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    assert!(matches!(st(&huge), Err(Error::Format { .. })));
    // A dtype we do not convert names the tensor.
    let fp8 = safetensors_file(&[("w8", "F8_E4M3", &[2], vec![0, 0])]);
    assert_err_contains(st(&fp8), &["w8", "F8_E4M3"]);

    // Truncated anywhere, or with any byte flipped: an error or a value, never a panic.
    let good = safetensors_file(&[
        ("a", "F32", &[2, 2], f32_bytes(&[1.0, 2.0, 3.0, 4.0])),
        ("b", "I64", &[1], 3i64.to_le_bytes().to_vec()),
    ]);
    assert_eq!(st(&good).unwrap().len(), 2);
    for cut in 0..good.len() {
        assert!(st(&good[..cut]).is_err(), "cut at {cut} parsed");
    }
    let mut bytes = good.clone();
    for at in 0..bytes.len() {
        for mask in [0x01, 0x20, 0x80] {
            bytes[at] ^= mask;
            let _ = st(&bytes);
            bytes[at] ^= mask;
        }
    }
}

// --- npy --------------------------------------------------------------------------------------

fn npy(bytes: &[u8]) -> Result<gpu_resnet::tensor::Tensor, Error> {
    parse_npy_f32(bytes, Path::new(NOWHERE))
}

#[test]
fn npy_golden_inputs_and_logits() {
    // numpy: checksums of the golden arrays.
    let cases = [
        (
            "ResNet18_vd.input.npy",
            vec![2, 3, 224, 224],
            17276711387290284363u64,
            0.19397168f32,
        ),
        (
            "ResNet50_vd.input.npy",
            vec![2, 3, 224, 224],
            17553848828605311064,
            0.30694547,
        ),
        (
            "ResNet18_vd.logits.npy",
            vec![2, 1000],
            4305624098114860,
            -9.1757555,
        ),
        (
            "ResNet50_vd.logits.npy",
            vec![2, 1000],
            4435442599595206,
            30.12584,
        ),
    ];
    for (file, shape, sum, first) in cases {
        let t = read_npy_f32(&golden(file)).unwrap();
        assert_eq!(t.shape, shape, "{file}");
        assert_eq!(t.data[0], first, "{file}");
        assert_eq!(checksum(&t.data), sum, "{file}");
        // Writing it back gives numpy's bytes exactly (header layout and padding included).
        assert!(
            encode_npy_f32(&t.shape, &t.data).unwrap() == read_golden(file),
            "{file}"
        );
    }
}

#[test]
fn npy_round_trip() {
    for shape in [vec![], vec![0], vec![5], vec![2, 3], vec![1, 2, 3, 4]] {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 1.0).collect();
        let file = TempFile::new(&format!("round-{n}-{}.npy", shape.len()), b"");
        write_npy_f32(&file.0, &shape, &data).unwrap();
        let bytes = std::fs::read(&file.0).unwrap();
        assert_eq!((bytes.len() - 4 * n) % 64, 0, "data starts 64-byte aligned");
        let back = read_npy_f32(&file.0).unwrap();
        assert_eq!((back.shape, back.data), (shape, data));
    }
    let file = TempFile::new("mismatch.npy", b"");
    assert!(matches!(
        write_npy_f32(&file.0, &[2, 2], &[1.0]),
        Err(Error::Input(_))
    ));
}

#[test]
fn npy_numpy_fixtures() {
    // np.asfortranarray(np.arange(24, dtype='<f4').reshape(2, 3, 4)): back in C order.
    let t = npy(NPY_F4_FORTRAN).unwrap();
    assert_eq!(t.shape, [2, 3, 4]);
    assert_eq!(t.data, (0..24).map(|v| v as f32).collect::<Vec<_>>());
    // Format version 2.0, float64 (1e300 overflows f32 to infinity).
    let t = npy(NPY_F8_V2).unwrap();
    assert_eq!(
        (t.shape, t.data),
        (vec![2, 2], vec![0.5, -1.0, 2.0, f32::INFINITY])
    );
    // Format version 3.0, float16.
    let t = npy(NPY_F2_V3).unwrap();
    assert_eq!((t.shape, t.data), (vec![2], vec![1.5, -0.25]));
    // int32 is refused, naming the file and the dtype.
    let file = TempFile::new("ints.npy", NPY_I4);
    assert_err_contains(
        read_npy_f32(&file.0),
        &["ints.npy", "'<i4'", "not supported"],
    );
}

/// A `.npy` file with a hand-written header dict.
fn npy_with_header(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn npy_damage_is_an_error() {
    let ok = npy_with_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
        &[0; 8],
    );
    assert_eq!(npy(&ok).unwrap().data, [0.0, 0.0]);
    let cases: Vec<(Vec<u8>, &[&str])> = vec![
        (
            npy_with_header(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                &[0; 8],
            ),
            &["12 bytes", "holds 8"],
        ),
        (
            npy_with_header(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }",
                &[0; 8],
            ),
            &["4398046511104 bytes"],
        ),
        (
            npy_with_header(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
                &[0; 8],
            ),
            &["more than addressable"],
        ),
        (
            npy_with_header(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
                &[],
            ),
            &["bad header"],
        ),
        (
            npy_with_header("{'descr': '<f4', 'shape': (2,), }", &[0; 8]),
            &["fortran_order"],
        ),
        (
            npy_with_header(
                "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                &[0; 8],
            ),
            &["'<c8'"],
        ),
        (
            npy_with_header(
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                &[0; 4],
            ),
            &["[('a', '<f4')]"],
        ),
        (
            npy_with_header(&format!("{}{}", "(".repeat(200), ")".repeat(200)), &[]),
            &["bad header"],
        ),
        (
            b"\x93NUMPY\x01\x00\xff\xff{'descr'".to_vec(),
            &["header length 65535", "past the end"],
        ),
        (
            b"\x93NUMPY\x02\x00\xff\xff\xff\xff{".to_vec(),
            &["past the end"],
        ),
        (b"\x93NUMPY\x07\x00".to_vec(), &["version 7.0"]),
        (b"\x89PNG\r\n\x1a\n".to_vec(), &["magic"]),
        (Vec::new(), &["magic"]),
    ];
    for (bytes, needles) in &cases {
        assert_err_contains(npy(bytes), needles);
    }
    // Every truncation of a real file is an error; any damaged byte is an error or a value.
    for cut in 0..NPY_F4_FORTRAN.len() {
        assert!(npy(&NPY_F4_FORTRAN[..cut]).is_err(), "cut at {cut} parsed");
    }
    let mut bytes = NPY_F8_V2.to_vec();
    for at in 0..bytes.len() {
        for mask in [0x01, 0x08, 0x80] {
            bytes[at] ^= mask;
            let _ = npy(&bytes);
            bytes[at] ^= mask;
        }
    }
}

// --- fixtures made with numpy 2.4 (`pickle.dumps(..., protocol=N)`, `numpy.save`) ----------------
//
// NUMPY_P2 is `pickle.dumps(d, protocol=2)` and NUMPY_P4_ORDERED is
// `pickle.dumps(collections.OrderedDict(d), protocol=4)` of a dict `d` holding the arrays that
// `check_numpy_fixture` lists plus the non-array entries `StructuredToParameterName@@`
// (a dict), `meta_int` 5, `meta_big` 2**40, `meta_list` [1, 2.5, None, True, 'z'] and
// `meta_bytes` b'xy'.

const NUMPY_P2: &[u8] = b"\
    \x80\x02}q\x00(X\x0c\x00\x00\x00a_f8_fortranq\x01cnumpy._core.multiarray\x0a_reconstruct\
    \x0aq\x02cnumpy\x0andarray\x0aq\x03K\x00\x85q\x04c_codecs\x0aencode\x0aq\x05X\x01\x00\x00\
    \x00bq\x06X\x06\x00\x00\x00latin1q\x07\x86q\x08Rq\x09\x87q\x0aRq\x0b(K\x01K\x02K\x03\x86\
    q\x0ccnumpy\x0adtype\x0aq\x0dX\x02\x00\x00\x00f8q\x0e\x89\x88\x87q\x0fRq\x10(K\x03X\x01\x00\
    \x00\x00<q\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x12b\x88h\x05X7\x00\x00\x00\x00\
    \x00\x00\x00\x00\x00\xc3\xb0\xc2\xbf\x00\x00\x00\x00\x00\x00\xc3\xa0?\x00\x00\x00\x00\x00\
    \x00\xc3\xa0\xc2\xbf\x00\x00\x00\x00\x00\x00\xc3\xb0?\x00\x00\x00\x00\x00\x00\x00\x00\x00\
    \x00\x00\x00\x00\x00\xc3\xb8?q\x13h\x07\x86q\x14Rq\x15tq\x16bX\x04\x00\x00\x00b_f2q\x17h\
    \x02h\x03K\x00\x85q\x18h\x09\x87q\x19Rq\x1a(K\x01K\x03\x85q\x1bh\x0dX\x02\x00\x00\x00f2q\
    \x1c\x89\x88\x87q\x1dRq\x1e(K\x03h\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x1fb\x89\
    h\x05X\x08\x00\x00\x00\x00>\x00\xc3\x80\xc3\xbf{q\x20h\x07\x86q!Rq\x22tq#bX\x04\x00\x00\x00\
    c_i8q$h\x02h\x03K\x00\x85q%h\x09\x87q&Rq'(K\x01K\x03\x85q(h\x0dX\x02\x00\x00\x00i8q)\x89\
    \x88\x87q*Rq+(K\x03h\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq,b\x89h\x05X\x20\x00\
    \x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\xc3\xbd\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\
    \xc3\xbf\xc3\xbf\x00\x00\x00\x00\x00\x01\x00\x00q-h\x07\x86q.Rq/tq0bX\x0b\x00\x00\x00c_i\
    8_scalarq1h\x02h\x03K\x00\x85q2h\x09\x87q3Rq4(K\x01)h+\x89h\x05X\x08\x00\x00\x00*\x00\x00\
    \x00\x00\x00\x00\x00q5h\x07\x86q6Rq7tq8bX\x04\x00\x00\x00d_u1q9h\x02h\x03K\x00\x85q:h\x09\
    \x87q;Rq<(K\x01K\x02K\x02\x86q=h\x0dX\x02\x00\x00\x00u1q>\x89\x88\x87q?Rq@(K\x03X\x01\x00\
    \x00\x00|qANNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tqBb\x89h\x05X\x05\x00\x00\x00\x00\xc3\
    \xbf\x01\x02qCh\x07\x86qDRqEtqFbX\x04\x00\x00\x00e_b1qGh\x02h\x03K\x00\x85qHh\x09\x87qIR\
    qJ(K\x01K\x03\x85qKh\x0dX\x02\x00\x00\x00b1qL\x89\x88\x87qMRqN(K\x03hANNNJ\xff\xff\xff\xff\
    J\xff\xff\xff\xffK\x00tqOb\x89h\x05X\x03\x00\x00\x00\x01\x00\x01qPh\x07\x86qQRqRtqSbX\x07\
    \x00\x00\x00f_be_f4qTh\x02h\x03K\x00\x85qUh\x09\x87qVRqW(K\x01K\x02K\x02\x86qXh\x0dX\x02\
    \x00\x00\x00f4qY\x89\x88\x87qZRq[(K\x03X\x01\x00\x00\x00>q\x5cNNNJ\xff\xff\xff\xffJ\xff\xff\
    \xff\xffK\x00tq]b\x89h\x05X\x13\x00\x00\x00?\xc2\xa0\x00\x00\xc2\xbf\x00\x00\x00@@\x00\x00\
    @\xc2\x80\x00\x00q^h\x07\x86q_Rq`tqabX\x04\x00\x00\x00g_i1qbh\x02h\x03K\x00\x85qch\x09\x87\
    qdRqe(K\x01K\x02\x85qfh\x0dX\x02\x00\x00\x00i1qg\x89\x88\x87qhRqi(K\x03hANNNJ\xff\xff\xff\
    \xffJ\xff\xff\xff\xffK\x00tqjb\x89h\x05X\x03\x00\x00\x00\xc2\x80\x7fqkh\x07\x86qlRqmtqnb\
    X\x04\x00\x00\x00h_i2qoh\x02h\x03K\x00\x85qph\x09\x87qqRqr(K\x01K\x02\x85qsh\x0dX\x02\x00\
    \x00\x00i2qt\x89\x88\x87quRqv(K\x03h\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tqwb\x89\
    h\x05X\x06\x00\x00\x00\xc3\x94\xc3\xbe,\x01qxh\x07\x86qyRqztq{bX\x04\x00\x00\x00i_u2q|h\x02\
    h\x03K\x00\x85q}h\x09\x87q~Rq\x7f(K\x01K\x01\x85q\x80h\x0dX\x02\x00\x00\x00u2q\x81\x89\x88\
    \x87q\x82Rq\x83(K\x03h\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x84b\x89h\x05X\x04\
    \x00\x00\x00\xc3\xbf\xc3\xbfq\x85h\x07\x86q\x86Rq\x87tq\x88bX\x04\x00\x00\x00j_i4q\x89h\x02\
    h\x03K\x00\x85q\x8ah\x09\x87q\x8bRq\x8c(K\x01K\x01\x85q\x8dh\x0dX\x02\x00\x00\x00i4q\x8e\
    \x89\x88\x87q\x8fRq\x90(K\x03h\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x91b\x89h\
    \x05X\x08\x00\x00\x00\xc2\x90\xc3\xae\xc3\xbe\xc3\xbfq\x92h\x07\x86q\x93Rq\x94tq\x95bX\x04\
    \x00\x00\x00k_u4q\x96h\x02h\x03K\x00\x85q\x97h\x09\x87q\x98Rq\x99(K\x01K\x01\x85q\x9ah\x0d\
    X\x02\x00\x00\x00u4q\x9b\x89\x88\x87q\x9cRq\x9d(K\x03h\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\
    \xffK\x00tq\x9eb\x89h\x05X\x05\x00\x00\x00\x00(k\xc3\xaeq\x9fh\x07\x86q\xa0Rq\xa1tq\xa2b\
    X\x04\x00\x00\x00l_u8q\xa3h\x02h\x03K\x00\x85q\xa4h\x09\x87q\xa5Rq\xa6(K\x01K\x01\x85q\xa7\
    h\x0dX\x02\x00\x00\x00u8q\xa8\x89\x88\x87q\xa9Rq\xaa(K\x03h\x11NNNJ\xff\xff\xff\xffJ\xff\
    \xff\xff\xffK\x00tq\xabb\x89h\x05X\x08\x00\x00\x0090\x00\x00\x00\x00\x00\x00q\xach\x07\x86\
    q\xadRq\xaetq\xafbX\x0b\x00\x00\x00m_fortran3dq\xb0h\x02h\x03K\x00\x85q\xb1h\x09\x87q\xb2\
    Rq\xb3(K\x01K\x02K\x03K\x04\x87q\xb4h\x0dX\x02\x00\x00\x00f4q\xb5\x89\x88\x87q\xb6Rq\xb7\
    (K\x03h\x11NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\xb8b\x88h\x05Xm\x00\x00\x00\x00\x00\
    \x00\x00\x00\x00@A\x00\x00\xc2\x80@\x00\x00\xc2\x80A\x00\x00\x00A\x00\x00\xc2\xa0A\x00\x00\
    \xc2\x80?\x00\x00PA\x00\x00\xc2\xa0@\x00\x00\xc2\x88A\x00\x00\x10A\x00\x00\xc2\xa8A\x00\x00\
    \x00@\x00\x00`A\x00\x00\xc3\x80@\x00\x00\xc2\x90A\x00\x00\x20A\x00\x00\xc2\xb0A\x00\x00@\
    @\x00\x00pA\x00\x00\xc3\xa0@\x00\x00\xc2\x98A\x00\x000A\x00\x00\xc2\xb8Aq\xb9h\x07\x86q\xba\
    Rq\xbbtq\xbcbX\x07\x00\x00\x00n_emptyq\xbdh\x02h\x03K\x00\x85q\xbeh\x09\x87q\xbfRq\xc0(K\
    \x01K\x00K\x03\x86q\xc1h\xb7\x89c__builtin__\x0abytes\x0aq\xc2)Rq\xc3tq\xc4bX\x0f\x00\x00\
    \x00o_be_f8_fortranq\xc5h\x02h\x03K\x00\x85q\xc6h\x09\x87q\xc7Rq\xc8(K\x01K\x02K\x02\x86\
    q\xc9h\x0dX\x02\x00\x00\x00f8q\xca\x89\x88\x87q\xcbRq\xcc(K\x03h\x5cNNNJ\xff\xff\xff\xff\
    J\xff\xff\xff\xffK\x00tq\xcdb\x88h\x05X!\x00\x00\x00?\xc3\xb0\x00\x00\x00\x00\x00\x00@\x08\
    \x00\x00\x00\x00\x00\x00@\x00\x00\x00\x00\x00\x00\x00@\x10\x00\x00\x00\x00\x00\x00q\xceh\
    \x07\x86q\xcfRq\xd0tq\xd1bX\x1b\x00\x00\x00StructuredToParameterName@@q\xd2}q\xd3h\x01X\x05\
    \x00\x00\x00x.w_0q\xd4sX\x08\x00\x00\x00meta_intq\xd5K\x05X\x08\x00\x00\x00meta_bigq\xd6\
    \x8a\x06\x00\x00\x00\x00\x00\x01X\x09\x00\x00\x00meta_listq\xd7]q\xd8(K\x01G@\x04\x00\x00\
    \x00\x00\x00\x00N\x88X\x01\x00\x00\x00zq\xd9eX\x0a\x00\x00\x00meta_bytesq\xdah\x05X\x02\x00\
    \x00\x00xyq\xdbh\x07\x86q\xdcRq\xddu.";
const NUMPY_P4_ORDERED: &[u8] = b"\
    \x80\x04\x95Q\x06\x00\x00\x00\x00\x00\x00\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\
    \x94)R\x94(\x8c\x0ca_f8_fortran\x94\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruc\
    t\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94\
    R\x94(K\x01K\x02K\x03\x86\x94h\x08\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94\
    R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x88C0\x00\x00\x00\
    \x00\x00\x00\xf0\xbf\x00\x00\x00\x00\x00\x00\xe0?\x00\x00\x00\x00\x00\x00\xe0\xbf\x00\x00\
    \x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf8?\x94t\x94\
    b\x8c\x04b_f2\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94(K\x01K\x03\x85\x94h\x11\x8c\x02\
    f2\x94\x89\x88\x87\x94R\x94(K\x03h\x15NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89\
    C\x06\x00>\x00\xc0\xff{\x94t\x94b\x8c\x04c_i8\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94\
    (K\x01K\x03\x85\x94h\x11\x8c\x02i8\x94\x89\x88\x87\x94R\x94(K\x03h\x15NNNJ\xff\xff\xff\xff\
    J\xff\xff\xff\xffK\x00t\x94b\x89C\x18\x07\x00\x00\x00\x00\x00\x00\x00\xfd\xff\xff\xff\xff\
    \xff\xff\xff\x00\x00\x00\x00\x00\x01\x00\x00\x94t\x94b\x8c\x0bc_i8_scalar\x94h\x07h\x0aK\
    \x00\x85\x94h\x0c\x87\x94R\x94(K\x01)h+\x89C\x08*\x00\x00\x00\x00\x00\x00\x00\x94t\x94b\x8c\
    \x04d_u1\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94(K\x01K\x02K\x02\x86\x94h\x11\x8c\x02\
    u1\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00\
    t\x94b\x89C\x04\x00\xff\x01\x02\x94t\x94b\x8c\x04e_b1\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\
    \x94R\x94(K\x01K\x03\x85\x94h\x11\x8c\x02b1\x94\x89\x88\x87\x94R\x94(K\x03h=NNNJ\xff\xff\
    \xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x03\x01\x00\x01\x94t\x94b\x8c\x07f_be_f4\x94h\x07\
    h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94(K\x01K\x02K\x02\x86\x94h\x11\x8c\x02f4\x94\x89\x88\x87\
    \x94R\x94(K\x03\x8c\x01>\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x10?\xa0\
    \x00\x00\xbf\x00\x00\x00@@\x00\x00@\x80\x00\x00\x94t\x94b\x8c\x04g_i1\x94h\x07h\x0aK\x00\
    \x85\x94h\x0c\x87\x94R\x94(K\x01K\x02\x85\x94h\x11\x8c\x02i1\x94\x89\x88\x87\x94R\x94(K\x03\
    h=NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x02\x80\x7f\x94t\x94b\x8c\x04h_i\
    2\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94(K\x01K\x02\x85\x94h\x11\x8c\x02i2\x94\x89\
    \x88\x87\x94R\x94(K\x03h\x15NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x04\xd4\
    \xfe,\x01\x94t\x94b\x8c\x04i_u2\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94(K\x01K\x01\x85\
    \x94h\x11\x8c\x02u2\x94\x89\x88\x87\x94R\x94(K\x03h\x15NNNJ\xff\xff\xff\xffJ\xff\xff\xff\
    \xffK\x00t\x94b\x89C\x02\xff\xff\x94t\x94b\x8c\x04j_i4\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\
    \x94R\x94(K\x01K\x01\x85\x94h\x11\x8c\x02i4\x94\x89\x88\x87\x94R\x94(K\x03h\x15NNNJ\xff\xff\
    \xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x04\x90\xee\xfe\xff\x94t\x94b\x8c\x04k_u4\x94h\
    \x07h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94(K\x01K\x01\x85\x94h\x11\x8c\x02u4\x94\x89\x88\x87\
    \x94R\x94(K\x03h\x15NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x04\x00(k\xee\x94\
    t\x94b\x8c\x04l_u8\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94(K\x01K\x01\x85\x94h\x11\x8c\
    \x02u8\x94\x89\x88\x87\x94R\x94(K\x03h\x15NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94\
    b\x89C\x0890\x00\x00\x00\x00\x00\x00\x94t\x94b\x8c\x0bm_fortran3d\x94h\x07h\x0aK\x00\x85\
    \x94h\x0c\x87\x94R\x94(K\x01K\x02K\x03K\x04\x87\x94h\x11\x8c\x02f4\x94\x89\x88\x87\x94R\x94\
    (K\x03h\x15NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x88C`\x00\x00\x00\x00\x00\x00\
    @A\x00\x00\x80@\x00\x00\x80A\x00\x00\x00A\x00\x00\xa0A\x00\x00\x80?\x00\x00PA\x00\x00\xa0\
    @\x00\x00\x88A\x00\x00\x10A\x00\x00\xa8A\x00\x00\x00@\x00\x00`A\x00\x00\xc0@\x00\x00\x90\
    A\x00\x00\x20A\x00\x00\xb0A\x00\x00@@\x00\x00pA\x00\x00\xe0@\x00\x00\x98A\x00\x000A\x00\x00\
    \xb8A\x94t\x94b\x8c\x07n_empty\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\x94R\x94(K\x01K\x00K\x03\
    \x86\x94h\xa1\x89C\x00\x94t\x94b\x8c\x0fo_be_f8_fortran\x94h\x07h\x0aK\x00\x85\x94h\x0c\x87\
    \x94R\x94(K\x01K\x02K\x02\x86\x94h\x11\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03hTNNNJ\xff\
    \xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x88C\x20?\xf0\x00\x00\x00\x00\x00\x00@\x08\x00\x00\
    \x00\x00\x00\x00@\x00\x00\x00\x00\x00\x00\x00@\x10\x00\x00\x00\x00\x00\x00\x94t\x94b\x8c\
    \x1bStructuredToParameterName@@\x94}\x94h\x04\x8c\x05x.w_0\x94s\x8c\x08meta_int\x94K\x05\
    \x8c\x08meta_big\x94\x8a\x06\x00\x00\x00\x00\x00\x01\x8c\x09meta_list\x94]\x94(K\x01G@\x04\
    \x00\x00\x00\x00\x00\x00N\x88\x8c\x01z\x94e\x8c\x0ameta_bytes\x94C\x02xy\x94u.";
const NPY_F4_FORTRAN: &[u8] = b"\
    \x93NUMPY\x01\x00v\x00{'descr':\x20'<f4',\x20'fortran_order':\x20True,\x20'shape':\x20(2\
    ,\x203,\x204),\x20}\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\
    \x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\
    \x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00\x00\x00\x00\x00\
    \x00@A\x00\x00\x80@\x00\x00\x80A\x00\x00\x00A\x00\x00\xa0A\x00\x00\x80?\x00\x00PA\x00\x00\
    \xa0@\x00\x00\x88A\x00\x00\x10A\x00\x00\xa8A\x00\x00\x00@\x00\x00`A\x00\x00\xc0@\x00\x00\
    \x90A\x00\x00\x20A\x00\x00\xb0A\x00\x00@@\x00\x00pA\x00\x00\xe0@\x00\x00\x98A\x00\x000A\x00\
    \x00\xb8A";
const NPY_F8_V2: &[u8] = b"\
    \x93NUMPY\x02\x00t\x00\x00\x00{'descr':\x20'<f8',\x20'fortran_order':\x20False,\x20'shap\
    e':\x20(2,\x202),\x20}\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\
    \x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\
    \x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00\x00\x00\x00\
    \x00\x00\xe0?\x00\x00\x00\x00\x00\x00\xf0\xbf\x00\x00\x00\x00\x00\x00\x00@\x9cu\x00\x88<\
    \xe47~";
const NPY_F2_V3: &[u8] = b"\
    \x93NUMPY\x03\x00t\x00\x00\x00{'descr':\x20'<f2',\x20'fortran_order':\x20False,\x20'shap\
    e':\x20(2,),\x20}\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\
    \x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\
    \x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00>\x00\xb4";
const NPY_I4: &[u8] = b"\
    \x93NUMPY\x01\x00v\x00{'descr':\x20'<i4',\x20'fortran_order':\x20False,\x20'shape':\x20(\
    2,),\x20}\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\
    \x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\
    \x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x01\x00\x00\
    \x00\x02\x00\x00\x00";
