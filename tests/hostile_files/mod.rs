//! Generators of hostile files too large (or too regular) to commit, shared by the regression
//! tests (`tests/hostile.rs`) and the corpus run (`tests/hostile_corpus.rs`). Each is a few
//! lines of bytes that a reader without decode budgets would turn into gigabytes.

#![allow(dead_code)]

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An ONNX `ModelProto` (ir_version 7, opset 13) whose graph holds `n` empty initializers:
/// 2 bytes each in the file, a ~230-byte `TensorProto` each once decoded.
pub fn onnx_empty_initializers(n: usize) -> Vec<u8> {
    let mut out = vec![0x08, 0x07, 0x42, 0x02, 0x10, 0x0d, 0x3a];
    varint(2 * n as u64, &mut out);
    for _ in 0..n {
        out.extend_from_slice(&[0x2a, 0x00]);
    }
    out
}

/// A `ProgramDesc` whose one block declares `n` empty variables (2 bytes each, a `VarDesc`
/// each once decoded).
pub fn pdmodel_empty_vars(n: usize) -> Vec<u8> {
    let mut out = vec![0x0a];
    varint(2 * n as u64, &mut out);
    for _ in 0..n {
        out.extend_from_slice(&[0x1a, 0x00]);
    }
    out
}

/// A PIR program header followed by a list of `n` zeros: 2 bytes each, a 32-byte JSON value
/// each once parsed.
pub fn pir_many_values(n: usize) -> Vec<u8> {
    let mut out = br#"{"base_code": {"magic": "pir", "version": 1}, "pad": ["#.to_vec();
    for i in 0..n {
        out.extend_from_slice(if i + 1 < n { b"0," } else { b"0" });
    }
    out.extend_from_slice(b"]}");
    out
}

/// `inference.yml` with ten levels of ten aliases each (about 1 KB): yaml-rust2 would
/// deep-copy 10^10 nodes. `block`: block style, which has no brackets for a nesting limit.
pub fn alias_bomb(block: bool) -> String {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        if block {
            s += &format!("a{i}: &a{i}\n");
            for _ in 0..10 {
                s += &format!("  - *a{}\n", i - 1);
            }
        } else {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            s += &format!("a{i}: &a{i} [{refs}]\n");
        }
    }
    s + "PreProcess: {transform_ops: [{ResizeImage: {resize_short: 256}}, {CropImage: {size: 224}}]}\n"
}

/// A safetensors file of `tensors` (name, shape, f32 values) whose JSON header is padded with
/// spaces (as the format allows) to a length of 10 mod 256, so that the file opens with 0x0a:
/// the first byte of a Paddle ProgramDesc.
pub fn safetensors_padded_to_0x0a(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let (mut entries, mut data) = (Vec::new(), Vec::new());
    for (name, shape, values) in tensors {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        entries.push(format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{start},{}]}}",
            dims.join(","),
            data.len()
        ));
    }
    let mut header = format!("{{{}}}", entries.join(","));
    while header.len() % 256 != 10 {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    assert_eq!(out[0], 0x0a);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

fn short_str(out: &mut Vec<u8>, s: &str) {
    out.push(0x8c);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// `{name: array}` pickled with protocol 4: shape, dtype f4 and the raw data given.
pub fn pickle_one_array(name: &str, shape: &[u64], raw: &[u8], memoize: bool) -> Vec<u8> {
    let mut out = vec![0x80, 4, b'}', b'('];
    short_str(&mut out, name);
    short_str(&mut out, "numpy._core.multiarray");
    short_str(&mut out, "_reconstruct");
    out.push(0x93);
    short_str(&mut out, "numpy");
    short_str(&mut out, "ndarray");
    out.push(0x93);
    out.extend_from_slice(&[
        b'K', 0, 0x85, b'C', 1, b'b', 0x87, b'R', b'(', b'K', 1, b'(',
    ]);
    for &d in shape {
        out.extend_from_slice(&[0x8a, 8]);
        out.extend_from_slice(&d.to_le_bytes());
    }
    out.push(b't');
    short_str(&mut out, "numpy");
    short_str(&mut out, "dtype");
    out.push(0x93);
    short_str(&mut out, "f4");
    out.extend_from_slice(&[0x89, 0x88, 0x87, b'R', b'(', b'K', 3]);
    short_str(&mut out, "<");
    out.extend_from_slice(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89B");
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(raw);
    out.extend_from_slice(b"tb");
    if memoize {
        out.extend_from_slice(b"r\x00\x00\x01\x00"); // LONG_BINPUT 65536
    }
    out
}

fn safetensors_raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The committed small files of `tests/data/hostile/` (cases.tsv says what each should give),
/// built from the fuzz seeds and by hand; `hostile_corpus.rs` checks they are current.
pub fn small_cases(root: &std::path::Path) -> Vec<(&'static str, Vec<u8>)> {
    use gpu_resnet::weights::deploy::proto::{AttributeProto, ModelProto};
    use prost::Message;
    let mut cases: Vec<(&'static str, Vec<u8>)> = Vec::new();
    // pickles
    let command = "touch /tmp/gpu-resnet-pwned";
    let mut code = vec![0x80, 2, b'c'];
    code.extend_from_slice(b"os\nsystem\nX");
    code.extend_from_slice(&(command.len() as u32).to_le_bytes());
    code.extend_from_slice(command.as_bytes());
    code.extend_from_slice(b"\x85R.");
    cases.push(("pickle_os_system.pdparams", code));
    let mut big = pickle_one_array("big", &[1 << 40], &[0; 16], false);
    big.extend_from_slice(b"u.");
    cases.push(("pickle_2pow40_elements.pdparams", big));
    let mut marks = vec![0x80, 2];
    marks.extend(std::iter::repeat_n(b'(', 2000));
    marks.push(b'.');
    cases.push(("pickle_nested_marks.pdparams", marks));
    let mut shared = pickle_one_array("a", &[8], &[0; 32], true);
    for i in 0..1000 {
        short_str(&mut shared, &format!("alias{i}"));
        shared.extend_from_slice(b"j\x00\x00\x01\x00");
    }
    shared.extend_from_slice(b"u.");
    cases.push(("pickle_shared_array_1000_names.pdparams", shared));
    // safetensors
    cases.push((
        "safetensors_offsets_past_end.safetensors",
        safetensors_raw(
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[1099511627776,1099511627784]}}"#,
            &[0; 8],
        ),
    ));
    let mut huge_header = safetensors_raw(
        r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        &[0; 4],
    );
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("safetensors_header_length_2pow64.safetensors", huge_header));
    // other formats
    cases.push(("empty.pdparams", Vec::new()));
    cases.push((
        "torch_zip.pth",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00archive/data.pkl".to_vec(),
    ));
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let header =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 3, 224, 224), }";
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    npy.extend_from_slice(&(h.len() as u16).to_le_bytes());
    npy.extend_from_slice(h.as_bytes());
    npy.extend_from_slice(&[0; 64]);
    cases.push(("npy_2pow40_batch.npy", npy));
    // deployment programs: the fuzz seeds, edited
    let seed =
        std::fs::read(root.join("fuzz/corpus/deploy_onnx/resnet18_vd_tiny_weights.onnx")).unwrap();
    let mut m = ModelProto::decode(seed.as_slice()).unwrap();
    let graph = m.graph.as_mut().unwrap();
    let pool = graph
        .node
        .iter_mut()
        .find(|n| n.op_type.as_deref() == Some("MaxPool"))
        .unwrap();
    pool.attribute.push(AttributeProto {
        name: Some("dilations".into()),
        ints: vec![2, 2],
        ..Default::default()
    });
    cases.push(("onnx_dilated_maxpool.onnx", m.encode_to_vec()));
    cases.push((
        "onnx_conv_weight_without_dims.onnx",
        std::fs::read(root.join("tests/data/deploy/fuzz_conv_weight_without_dims.onnx")).unwrap(),
    ));
    cases.push((
        "pdmodel_without_pdiparams.pdmodel",
        std::fs::read(root.join("fuzz/corpus/deploy_pdmodel/resnet18_vd.pdmodel")).unwrap(),
    ));
    cases.push(("yaml_alias_bomb_flow.yml", alias_bomb(false).into_bytes()));
    cases.push(("yaml_alias_bomb_block.yml", alias_bomb(true).into_bytes()));
    cases
}
