//! The safetensors and npy readers, and the choice of reader by content: hand-written files,
//! numpy-made fixtures and the golden arrays, whole and damaged (an error, never a panic). The
//! `.pdparams` pickle reader is tested in tests/pdparams.rs and tests/pickles.rs.
//!
//! Expected values marked "numpy" were computed once with numpy 2.4 from the same files (see
//! `checksum`); CI runs without Python.

mod common;

use std::path::Path;

use common::files::*;
use common::golden;
use common::numpy_pickles::NUMPY_P4_ORDERED;
use gpu_resnet::error::Error;
use gpu_resnet::npy::{encode_npy_f32, parse_npy_f32, read_npy_f32, write_npy_f32};
use gpu_resnet::weights::read_tensors;
use gpu_resnet::weights::safetensors::{parse_safetensors, read_safetensors};

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

// --- fixtures made with numpy 2.4 (`numpy.save`) ------------------------------------------------

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

mod hostile_files;

#[test]
fn a_safetensors_file_opening_with_0x0a_is_read_as_safetensors_not_a_paddle_program() {
    use gpu_resnet::weights::{load, Source};
    let tensors = gpu_resnet::weights::pdparams::parse_pdparams(
        &read_golden("ResNet18_vd.pdparams"),
        Path::new("g"),
    )
    .unwrap();
    let list: Vec<(String, Vec<usize>, Vec<f32>)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.shape.clone(), t.data.clone()))
        .collect();
    let bytes = hostile_files::safetensors_padded_to_0x0a(&list);
    assert_eq!(bytes[0], 0x0a);
    let path = std::env::temp_dir().join(format!("padded-{}.safetensors", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let want = gpu_resnet::weights::load_weights(
        &golden("ResNet18_vd.pdparams"),
        &gpu_resnet::arch::find_arch("ResNet18_vd").unwrap(),
    )
    .unwrap();
    let files = [("model.safetensors", bytes.as_slice())];
    for source in [Source::Path(&path), Source::Files(&files)] {
        let got = load(&source, None).unwrap_or_else(|e| panic!("{source:?}: {e}"));
        assert_eq!(got.weights.arch.name, "ResNet18_vd");
        assert_eq!(got.weights.fc_bias, want.fc_bias);
        assert_eq!(got.weights.fc_weight, want.fc_weight);
    }
    let _ = std::fs::remove_file(&path);
}
