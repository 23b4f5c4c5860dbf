//! The staged conv tile (`// @if STAGED` in `shaders/conv.wgsl`): a workgroup computes a block
//! of [`LANES_M`]`*tm` pixels x [`LANES_N`]`*tn4` channel groups, staging each K step's input
//! and weight tiles in workgroup memory. Its sizes, its workgroup-memory budget and the
//! micro-tiles offered to the tuner.
//!
//! The block shape is fixed per pipeline (workgroup arrays are sized at compile time), so the
//! lanes are always [`LANES_M`] x [`LANES_N`], never re-laid per layer like the register
//! tile's `lanes_m`.

use super::tile::{Tile, WORKGROUP};
use super::Storage;
use crate::error::{Error, Result};

/// Invocations of a workgroup along pixels (fastest) and along channel groups.
pub const LANES_M: u32 = 8;
pub const LANES_N: u32 = WORKGROUP / LANES_M;

/// Channel groups of 4 per K step: 16 K rows staged at a time. A wider step would halve the
/// barriers but double the workgroup memory (the 64x128 tile would need 24 KiB in f32).
pub const K_GROUPS: u32 = 4;

/// WebGPU's guaranteed `max_compute_workgroup_storage_size`.
pub const WEBGPU_MIN_WORKGROUP_BYTES: u32 = 16384;

/// The micro-tiles (pixels, channel groups) offered as staged candidates: workgroup blocks of
/// 64x32, 32x64, 64x64 and 64x128 (pixels x channels), 4x8 to 8x16 accumulators per
/// invocation (GPU-sized: registers left for occupancy). Like every tile, one runs a layer
/// only where its channel groups divide the layer's (8x4 fits any).
pub const MICRO_TILES: [(u32, u32); 4] = [(8, 1), (4, 2), (8, 2), (8, 4)];

/// A staged tile of `tm` pixels x `4 * tn4` channels per invocation.
pub fn tile(tm: u32, tn4: u32) -> Tile {
    Tile {
        tm,
        tn4,
        share: 0,
        staged: true,
    }
}

/// Pixels of a workgroup's block.
pub fn block_pixels(tile: &Tile) -> u32 {
    LANES_M * tile.tm
}

/// Channel groups (of 4) of a workgroup's block.
pub fn block_groups(tile: &Tile) -> u32 {
    LANES_N * tile.tn4
}

/// Bytes of the workgroup arrays in `storage`: the input tile (K_GROUPS x block pixels) and
/// the weight tile (4 * K_GROUPS rows x block groups), both `vec4<CT>` (f32 but where f16
/// storage also computes in f16).
pub fn workgroup_bytes(tile: &Tile, storage: Storage) -> u32 {
    let vec4 = match storage {
        Storage::F16Native => 8,
        Storage::F32 | Storage::F16Mixed | Storage::F16Packed => 16,
    };
    (K_GROUPS * block_pixels(tile) + 4 * K_GROUPS * block_groups(tile)) * vec4
}

/// The most workgroup memory `tile` needs in any storage (f32 compute).
pub fn max_workgroup_bytes(tile: &Tile) -> u32 {
    workgroup_bytes(tile, Storage::F32)
}

/// `Ok` if the device's workgroup memory holds `tile`'s arrays in `storage`, else a `Limit`
/// error naming `what`.
pub fn check_workgroup_memory(
    tile: &Tile,
    storage: Storage,
    allowed: u32,
    what: &str,
) -> Result<()> {
    let needed = workgroup_bytes(tile, storage);
    if needed > allowed {
        return Err(Error::Limit {
            limit: "max_compute_workgroup_storage_size",
            what: format!(
                "{what}: the staged {}x{} tile's workgroup arrays",
                block_pixels(tile),
                4 * block_groups(tile)
            ),
            needed: needed as u64,
            allowed: allowed as u64,
        });
    }
    Ok(())
}

/// The prelude constants of a staged tile (the block's sizes and loads per lane), or of the register tile
/// (`MSTEP`: the pixel stride between one invocation's pixels, 1 there).
pub fn prelude(tile: &Tile) -> String {
    if !tile.staged {
        return "const MSTEP: u32 = 1u;\n".into();
    }
    let (xloads, wloads) = loads_per_lane(tile);
    format!(
        "const LM: u32 = {LANES_M}u;\nconst MSTEP: u32 = {LANES_M}u;\nconst BM: u32 = {}u;\n\
         const BN4: u32 = {}u;\nconst KC: u32 = {K_GROUPS}u;\nconst KR: u32 = {}u;\n\
         const XLOADS: u32 = {xloads}u;\nconst WLOADS: u32 = {wloads}u;\n",
        block_pixels(tile),
        block_groups(tile),
        4 * K_GROUPS,
    )
}

/// Loads per invocation of one K step: (input tile elements, weight tile texels); (1, 1) for
/// the register tile, whose source has no staged blocks (the generator still needs a value).
pub fn loads_per_lane(tile: &Tile) -> (u32, u32) {
    if !tile.staged {
        return (1, 1);
    }
    (
        (K_GROUPS * block_pixels(tile)).div_ceil(WORKGROUP),
        (4 * K_GROUPS * block_groups(tile)).div_ceil(WORKGROUP),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_staged_candidate_fits_webgpus_minimum_workgroup_memory_in_every_storage() {
        for (tm, tn4) in MICRO_TILES {
            let t = tile(tm, tn4);
            for storage in [
                Storage::F32,
                Storage::F16Native,
                Storage::F16Mixed,
                Storage::F16Packed,
            ] {
                let bytes = workgroup_bytes(&t, storage);
                assert!(
                    bytes <= WEBGPU_MIN_WORKGROUP_BYTES,
                    "{tm}x{tn4} in {}: {bytes} bytes",
                    storage.name()
                );
            }
            assert_eq!(max_workgroup_bytes(&t), workgroup_bytes(&t, Storage::F32));
        }
        // The arithmetic itself: 64x64 in f32 is 4 x 64 + 16 x 16 vec4s of 16 bytes.
        assert_eq!(workgroup_bytes(&tile(8, 2), Storage::F32), 8192);
        assert_eq!(workgroup_bytes(&tile(8, 2), Storage::F16Native), 4096);
    }

    #[test]
    fn a_device_with_too_little_workgroup_memory_is_a_limit_error() {
        let t = tile(8, 4);
        let err = check_workgroup_memory(&t, Storage::F32, 8192, "conv `x`").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("max_compute_workgroup_storage_size") && text.contains("64x128"),
            "{text}"
        );
        assert!(check_workgroup_memory(&t, Storage::F32, 16384, "conv `x`").is_ok());
    }

    #[test]
    fn every_lane_has_whole_loads() {
        for (tm, tn4) in MICRO_TILES {
            let t = tile(tm, tn4);
            let (x, w) = loads_per_lane(&t);
            assert_eq!(x * WORKGROUP, K_GROUPS * block_pixels(&t));
            assert_eq!(w * WORKGROUP, 4 * K_GROUPS * block_groups(&t));
        }
    }
}
