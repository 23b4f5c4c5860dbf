// Input layout: an already-normalised float32 NCHW batch with 3 channels becomes the
// channels-last activation layout of the first conv (4 channels, the 4th zero).
//
// The prelude defines S4, CT, ld(), st().

struct Params {
    h: u32,
    w: u32,
    total: u32, // batch * h * w
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<S4>;

@compute @workgroup_size(WG)
fn from_nchw(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = (wid.y * groups.x + wid.x) * WG + lid;
    if (t >= p.total) {
        return;
    }
    let plane = p.h * p.w;
    let n = t / plane;
    let pix = t % plane;
    let at = n * 3u * plane + pix;
    dst[t] = st(vec4<CT>(vec4<f32>(src[at], src[at + plane], src[at + 2u * plane], 0.0)));
}

// Images: PaddleClas's ResizeImage(resize_short) + CropImage + NormalizeImage of one decoded
// image, written straight into its slot of the plan's float32 NCHW input.
//
// The host computes cv2's INTER_LINEAR taps (source indices and 11-bit weights, from
// (d + 0.5) * scale - 0.5 in double as cv2 does) for the cropped window only; this kernel
// applies them with cv2's fixed-point arithmetic, so every 8-bit value equals cv2's, and maps
// the value through the normalisation table the host computed as numpy does in float32. The
// result is bit-identical to the CPU reference (src/preprocess.rs) on any adapter.

struct ResizeParams {
    src_w: u32,
    src_h: u32,
    out_w: u32,
    out_h: u32,
    base: u32, // this image's first value in the batch: n * 3 * out_h * out_w
}

override RX: u32 = 8u;
override RY: u32 = 8u;

@group(0) @binding(0) var<uniform> rp: ResizeParams;
// RGBA8, one u32 per pixel, R in the low byte (alpha unused).
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
// out_w column taps then out_h row taps: (source index 0, source index 1, weight 0, weight 1).
@group(0) @binding(2) var<storage, read> taps: array<vec4<u32>>;
// 256 entries: the normalised R, G, B value of each 8-bit level.
@group(0) @binding(3) var<storage, read> levels: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> tensor: array<f32>;

fn rgba(v: u32) -> vec4<u32> {
    return (vec4<u32>(v) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(255u);
}

@compute @workgroup_size(RX, RY)
fn resize_crop_normalize(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let y = gid.y;
    if (x >= rp.out_w || y >= rp.out_h) {
        return;
    }
    let col = taps[x];
    let row = taps[rp.out_w + y];
    let r0 = row.x * rp.src_w;
    let r1 = row.y * rp.src_w;
    // Horizontal pass, exact in u32 (at most 255 * 2 * 2048).
    let h0 = rgba(pixels[r0 + col.x]) * col.z + rgba(pixels[r0 + col.y]) * col.w;
    let h1 = rgba(pixels[r1 + col.x]) * col.z + rgba(pixels[r1 + col.y]) * col.w;
    // Vertical pass rounded as cv2's SIMD path does: drop 4 bits, multiply-high by the 11-bit
    // weight, add, round off the last 2 bits, saturate.
    let s4 = vec4<u32>(4u);
    let s16 = vec4<u32>(16u);
    let sum = (((h0 >> s4) * row.z) >> s16) + (((h1 >> s4) * row.w) >> s16);
    let v = min((sum + vec4<u32>(2u)) >> vec4<u32>(2u), vec4<u32>(255u));
    let plane = rp.out_w * rp.out_h;
    let at = rp.base + y * rp.out_w + x;
    tensor[at] = levels[v.x].x;
    tensor[at + plane] = levels[v.y].y;
    tensor[at + 2u * plane] = levels[v.z].z;
}
