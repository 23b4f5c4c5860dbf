//! `.pdparams` files as PaddlePaddle and numpy write them: the golden checkpoints (protocols 2
//! and 4) and numpy-made pickles of every dtype and layout, whole, truncated and damaged (an
//! error, never a panic). Hand-made hostile pickles are in tests/pickles.rs.
//!
//! Expected values marked "numpy" were computed once with numpy 2.4 from the same files (see
//! `checksum`); CI runs without Python.

mod common;

use common::files::*;
use common::golden;
use common::numpy_pickles::{NUMPY_P2, NUMPY_P4_ORDERED};
use gpu_resnet::tensor::TensorMap;
use gpu_resnet::weights::pdparams::read_pdparams;
use gpu_resnet::weights::read_tensors;

/// `sum(checksum(t) * (k + 1))` over the arrays in sorted-name order (numpy: `sorted(dict)`).
fn combined_checksum(tensors: &TensorMap) -> u64 {
    tensors.values().enumerate().fold(0u64, |acc, (k, t)| {
        acc.wrapping_add(checksum(&t.data).wrapping_mul(k as u64 + 1))
    })
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
    let mut rng = Rng::new(0x5eed);
    for file in [RESNET18_VD.file, RESNET50_VD.file] {
        let bytes = read_golden(file);
        // Damage in the first 256 KB (opcodes, lengths, shapes of the first arrays), parsed up to
        // there: Ok is impossible for a prefix, but any panic fails the test.
        let mut prefix = bytes[..256 << 10].to_vec();
        for _ in 0..300 {
            let at = below(&mut rng, prefix.len());
            let old = prefix[at];
            prefix[at] ^= 1 << below(&mut rng, 8);
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
