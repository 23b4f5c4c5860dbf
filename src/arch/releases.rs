//! The seed document's released model names and how a name resolves to an architecture and
//! input size.

use super::{find_arch, Arch};
use crate::error::{Error, Result};

/// A row of the seed document's model table: a released name, the architecture it shares, its
/// input size and the FLOPs (G) / params (M) the document publishes.
#[derive(Clone, Copy, Debug)]
pub struct Release {
    pub name: &'static str,
    pub arch: &'static str,
    pub crop: u32,
    pub resize_short: u32,
    pub seed_flops_g: f64,
    pub seed_params_m: f64,
}

const fn release(
    name: &'static str,
    arch: &'static str,
    crop: u32,
    flops: f64,
    params: f64,
) -> Release {
    Release {
        name,
        arch,
        crop,
        resize_short: if crop == 224 { 256 } else { crop },
        seed_flops_g: flops,
        seed_params_m: params,
    }
}

/// The seed's table (`ResNet_and_vd.md`, section 1.2), in its order.
pub const RELEASES: &[Release] = &[
    release("ResNet18", "ResNet18", 224, 3.660, 11.690),
    release("ResNet18_vd", "ResNet18_vd", 224, 4.140, 11.710),
    release("ResNet34", "ResNet34", 224, 7.360, 21.800),
    release("ResNet34_vd", "ResNet34_vd", 224, 7.390, 21.820),
    release("ResNet34_vd_ssld", "ResNet34_vd", 224, 7.390, 21.820),
    release("ResNet50", "ResNet50", 224, 8.190, 25.560),
    release("ResNet50_vc", "ResNet50_vc", 224, 8.670, 25.580),
    release("ResNet50_vd", "ResNet50_vd", 224, 8.670, 25.580),
    release("ResNet50_vd_v2", "ResNet50_vd", 224, 8.670, 25.580),
    release("ResNet101", "ResNet101", 224, 15.520, 44.550),
    release("ResNet101_vd", "ResNet101_vd", 224, 16.100, 44.570),
    release("ResNet152", "ResNet152", 224, 23.050, 60.190),
    release("ResNet152_vd", "ResNet152_vd", 224, 23.530, 60.210),
    release("ResNet200_vd", "ResNet200_vd", 224, 30.530, 74.740),
    release("ResNet50_vd_ssld", "ResNet50_vd", 224, 8.670, 25.580),
    release("ResNet50_vd_ssld_v2", "ResNet50_vd", 224, 8.670, 25.580),
    release(
        "Fix_ResNet50_vd_ssld_v2",
        "ResNet50_vd",
        320,
        17.696,
        25.580,
    ),
    release("ResNet101_vd_ssld", "ResNet101_vd", 224, 16.100, 44.570),
];

/// A model name resolved to its architecture and default input size.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    pub name: String,
    pub arch: Arch,
    pub crop: u32,
    pub resize_short: u32,
    pub release: Option<Release>,
}

/// Every name `resolve` accepts without guessing: the seed's releases.
pub fn model_names() -> Vec<&'static str> {
    RELEASES.iter().map(|r| r.name).collect()
}

/// Resolve a model name: a seed release, a bare architecture, or an architecture with the
/// release suffixes that keep its shape (`_ssld`, `_v2`, `_ssld_v2`, a `Fix_` prefix = 320x320).
pub fn resolve(name: &str) -> Result<ModelSpec> {
    if let Some(r) = RELEASES.iter().find(|r| r.name.eq_ignore_ascii_case(name)) {
        let arch = find_arch(r.arch).expect("every release names a known architecture");
        return Ok(ModelSpec {
            name: r.name.to_string(),
            arch,
            crop: r.crop,
            resize_short: r.resize_short,
            release: Some(*r),
        });
    }
    let (base, crop) = match name.strip_prefix("Fix_") {
        Some(rest) => (rest, 320),
        None => (name, 224),
    };
    let mut base = base;
    for suffix in ["_ssld_v2", "_ssld", "_v2"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped;
            break;
        }
    }
    match find_arch(base) {
        Some(arch) => Ok(ModelSpec {
            name: name.to_string(),
            arch,
            crop,
            resize_short: if crop == 224 { 256 } else { crop },
            release: None,
        }),
        None => Err(Error::UnknownModel {
            name: name.to_string(),
            valid: model_names().join(", "),
        }),
    }
}
