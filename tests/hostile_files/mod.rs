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
