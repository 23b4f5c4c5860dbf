//! The register tile every conv family shares (the direct conv, its staged variant, Winograd's
//! batched GEMM): its shape, the policy that picks it per adapter kind and map, the workgroup's
//! lane count and the channel rounding. The families import it from here, never from each other.

/// Invocations per conv workgroup.
pub const WORKGROUP: u32 = 64;

/// The adapter kinds whose tiles differ, as (device type, fixed subgroup size): CPU adapters
/// with 8-wide subgroups (lavapipe on AVX2), CPU adapters without usable subgroups, GPUs.
pub const TILE_POLICIES: [(wgpu::DeviceType, Option<u32>); 3] = [
    (wgpu::DeviceType::Cpu, Some(8)),
    (wgpu::DeviceType::Cpu, None),
    (wgpu::DeviceType::DiscreteGpu, None),
];

/// The register tile of one invocation: `tm` output pixels x `4 * tn4` output channels, and
/// how its inputs and weights arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    pub tm: u32,
    pub tn4: u32,
    /// 0: every invocation fetches its own weight texels. S > 0: subgroups of S invocations
    /// (all on one channel tile) fetch them between them and share them by broadcast.
    pub share: u32,
    /// The workgroup computes one block of 8 x 8 such micro-tiles, staging its input and
    /// weight tiles in workgroup memory ([`super::staged`]; `share` is then 0).
    pub staged: bool,
}

impl Tile {
    /// The tile for a layer with `cout` output channels on a `device` of this type.
    ///
    /// - CPU adapters (lavapipe, llvmpipe): 16 pixels x 64 channels. A load whose address
    ///   varies per invocation costs a per-lane loop there, so the tile is as large as pays.
    ///   ResNet50 batch 8 conv layers on lavapipe (`bench --profile`): 8x8 24 GFLOP/s,
    ///   16x16 36, 16x32 38, 8x64 36, 16x64 44 (more output channels per invocation win:
    ///   the weight texels are shared by the workgroup, the pixel loads are not).
    /// - GPUs: 8 pixels x 8 channels, 64 accumulators per invocation, which leaves registers
    ///   for occupancy.
    ///
    /// `tn4` shrinks to divide the channel groups.
    ///
    /// `subgroup`: the adapter's subgroup size where it has subgroups of one fixed size. CPU
    /// adapters then share weights through subgroup broadcasts (lavapipe: 8x fewer texel
    /// fetches; ResNet50 batch 8 ~1.4x faster in a probe); GPUs keep per-invocation fetches
    /// (the 8x8 tile's 8 texels a step are fewer than a GPU subgroup's lanes).
    pub fn for_layer(cout: usize, device: wgpu::DeviceType, subgroup: Option<u32>) -> Tile {
        let (tm, widths): (u32, &[u32]) = match device {
            wgpu::DeviceType::Cpu => (16, &[16, 8, 4, 2, 1]),
            _ => (8, &[2, 1]),
        };
        let c4 = cout.div_ceil(4) as u32;
        let tn4 = widths
            .iter()
            .copied()
            .find(|t| c4.is_multiple_of(*t))
            .unwrap_or(1);
        let share = match (device, subgroup) {
            (wgpu::DeviceType::Cpu, Some(s))
                if s > 1 && s <= WORKGROUP && (tn4 * 4).is_multiple_of(s) =>
            {
                s
            }
            _ => 0,
        };
        // The staged tile is never the default: it has not been measured on a GPU yet, and on
        // CPU adapters its barriers make it slower. The tuner offers it everywhere.
        Tile {
            tm,
            tn4,
            share,
            staged: false,
        }
    }

    /// This tile for a conv of `pixels` output pixels and `out_c4` channel groups: the pixel
    /// tile halves while padding the pixels up to whole tiles would add over a quarter (a 7x7
    /// map at batch 1 has 49 pixels: 4 tiles of 16 compute 64, 7 tiles of 8 compute 56; a 1x1
    /// map computed 16 duplicates of its one pixel); with `min_tiles`, the channel tile then
    /// narrows until the conv has that many (pixel x channel) tiles, so that every core's lane
    /// group has work (ResNet18's 512-channel 3x3 convs on a 1x1 map ran as 8 invocations on
    /// one core: 22 ms each on lavapipe for 4.7 MFLOP). Shared weights put a subgroup's lanes
    /// on distinct pixel tiles of one channel tile, so sharing stops where half of them or
    /// more would only compute duplicates.
    pub fn fit_pixels(self, pixels: u32, out_c4: u32, min_tiles: Option<u32>) -> Tile {
        let pixels = pixels.max(1);
        let mut t = self;
        while t.tm > 1 && pixels.div_ceil(t.tm) * t.tm * 4 > pixels * 5 {
            t.tm /= 2;
        }
        if let Some(min) = min_tiles {
            while t.tn4 > 1
                && out_c4.is_multiple_of(t.tn4 / 2)
                && pixels.div_ceil(t.tm) * (out_c4 / t.tn4) < min
            {
                t.tn4 /= 2;
            }
        }
        if t.share > 0
            && (pixels.div_ceil(t.tm) * 2 <= t.share || !(t.tn4 * 4).is_multiple_of(t.share))
        {
            t.share = 0;
        }
        t
    }
}

/// Channels rounded up to a multiple of 4 (the stem's 3 input channels become 4).
pub fn c4(channels: usize) -> usize {
    channels.div_ceil(4)
}
