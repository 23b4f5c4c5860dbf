//! Helpers for the tests of the weight and npy readers: scratch files, error checks,
//! reproducible damage (the synthetic weights' SplitMix64), the numpy checksum and hand-written
//! safetensors files.

use std::path::{Path, PathBuf};

use gpu_resnet::error::Error;
use gpu_resnet::tensor::TensorMap;
use gpu_resnet::weights::pdparams::parse_pdparams;
pub use gpu_resnet::weights::synthetic::Rng;

pub fn read_golden(name: &str) -> Vec<u8> {
    std::fs::read(super::golden(name)).expect("golden file")
}

/// A per-test scratch file, removed when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(name: &str, bytes: &[u8]) -> TempFile {
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
pub fn checksum(data: &[f32]) -> u64 {
    data.iter().enumerate().fold(0u64, |acc, (i, v)| {
        acc.wrapping_add(u64::from(v.to_bits()).wrapping_mul(i as u64 % 65521 + 1))
    })
}

pub fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

pub fn assert_err_contains<T: std::fmt::Debug>(result: Result<T, Error>, needles: &[&str]) {
    let msg = message(result);
    for needle in needles {
        assert!(
            msg.contains(needle),
            "error `{msg}` does not mention `{needle}`"
        );
    }
}

/// A reproducible damage position below `n`.
pub fn below(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

pub const NOWHERE: &str = "test-input";

pub fn pd(bytes: &[u8]) -> Result<TensorMap, Error> {
    parse_pdparams(bytes, Path::new(NOWHERE))
}

pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A safetensors file written by hand: header JSON with consecutive offsets, then the data.
pub fn safetensors_file(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
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

pub fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}
