//! Host side of the WGSL kernels: one file per kernel family, paired with `shaders/<family>.wgsl`.
//! Every family is specialised two ways: a short generated prelude that fixes the storage type
//! (f32, native f16, or f16 pairs packed in u32) and register-tile sizes, and WGSL `override`
//! constants for shapes and flags. Never a copied kernel.
//!
//! Each family also owns its dispatch: `conv::dispatch`, `pool::dispatch`, `head::dispatch`,
//! `preprocess::layout_dispatch` turn one op of the graph into an [`OpDispatch`] (label, shape,
//! FLOPs, specialisation, parameters, bindings, workgroups) that the plan only binds and records.

mod act_texture;
pub mod conv;
mod conv_weights;
mod dispatch;
mod generator;
pub mod head;
pub mod peak;
pub mod pool;
pub mod preprocess;
pub mod staged;
mod storage;
pub mod tile;
pub mod winograd;
mod winograd_transform;

// The specialisation types and the pipeline cache live beside the device that owns the cache;
// re-exported here, where every family builds its specialisations.
pub use crate::gpu::pipelines::{
    bind_group_layout, Kernel, PipelineCache, PipelineKey, Specialization, COMMON,
};
pub use dispatch::{grid, DispatchEnv, OpDispatch, Resource};
pub use generator::unroll;
pub use storage::Storage;

/// Every specialisation the engine's plans use for `storage`, across all architectures and
/// every tile policy ([`conv::TILE_POLICIES`]), and the staged tiles the tuner may choose:
/// what the shader tests validate and cross-compile.
pub fn used_specializations(storage: Storage) -> Vec<Specialization> {
    use crate::arch::{Op, Stage1Shortcut, ARCHS};
    let mut specs: Vec<Specialization> = vec![
        preprocess::from_nchw(storage),
        preprocess::resize_crop_normalize(),
        pool::max_pool_3x3s2(storage),
    ];
    specs.extend(preprocess::TexelDecode::ALL.map(preprocess::resize_crop_normalize_texture));
    let mut seen = std::collections::HashSet::new();
    let mut features = std::collections::BTreeSet::new();
    for arch in ARCHS {
        for stage1 in [
            Stage1Shortcut::Projection,
            Stage1Shortcut::IdentityWhenSameShape,
        ] {
            let graph = arch.graph(64, 64, 1000, stage1);
            for op in &graph.ops {
                if let Op::Conv { conv: c, .. } = *op {
                    let layer = &graph.convs[c];
                    let policies = conv::TILE_POLICIES.map(|(device, subgroup)| {
                        conv::Tile::for_layer(layer.cout, device, subgroup)
                    });
                    let staged = staged::MICRO_TILES.map(|(tm, tn4)| staged::tile(tm, tn4));
                    for tile in policies.into_iter().chain(staged) {
                        let v = conv::ConvVariant::of(layer, tile);
                        if seen.insert(v) {
                            specs.push(v.specialization(storage));
                        }
                        if winograd::eligible(layer) {
                            // The batched GEMM runs the same tile as a 1x1 conv.
                            let gemm = conv::ConvVariant {
                                kernel: 1,
                                pad: 0,
                                avg_pool: false,
                                tile,
                                act_texture: false,
                                row_taps: false,
                            };
                            if seen.insert(gemm) {
                                specs.push(gemm.specialization(storage));
                            }
                        }
                    }
                }
            }
            features.insert(graph.features);
        }
    }
    for tile in winograd::Winograd::ALL {
        specs.push(winograd::specialization(
            storage,
            winograd::Stage::Input,
            tile,
        ));
        specs.push(winograd::specialization(
            storage,
            winograd::Stage::Output,
            tile,
        ));
    }
    for f in features {
        specs.push(head::specialization(
            storage,
            f,
            head::Stage::Pool { pixels: 49 },
        ));
        for images in [1, head::MAX_IMAGES] {
            specs.push(head::specialization(storage, f, head::Stage::Fc { images }));
        }
    }
    specs
}
