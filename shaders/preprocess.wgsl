// Input layout: an already-normalised float32 NCHW batch with 3 channels becomes the
// channels-last activation layout of the first conv (4 channels, the 4th zero).
//
// The prelude defines S4, CT, ld(), st().

struct Params {
    h: u32,
    w: u32,
    total: u32, // batch * h * w
}


@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<S4>;

@compute @workgroup_size(WG)
fn from_nchw(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = grid_index(wid, groups, lid);
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
// (d + 0.5) * scale - 0.5 in double as cv2 does) for the cropped window only; these kernels
// apply them with cv2's fixed-point arithmetic (`blend`), so every 8-bit value equals cv2's, and
// map the value through the normalisation table the host computed as numpy does in float32
// (`store_normalized`). The result is bit-identical to the CPU reference (src/preprocess.rs) on
// any adapter. Two entry points share both steps and differ only in where the 8-bit source
// levels come from: an RGBA8 buffer (`resize_crop_normalize`) or a renderer's texture
// (`resize_crop_normalize_texture`).

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
// The texture entry point's source, in place of `pixels` (read with textureLoad: any 2-D float
// texture, whatever its format's channel order or encoding).
@group(0) @binding(5) var image: texture_2d<f32>;

fn rgba(v: u32) -> vec4<u32> {
    return (vec4<u32>(v) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(255u);
}

// cv2's fixed-point bilinear value of the 2x2 source levels `p<row><col>` (each 0..=255) under
// the column tap `col` and row tap `row` (weights in .z, .w).
fn blend(
    p00: vec4<u32>,
    p01: vec4<u32>,
    p10: vec4<u32>,
    p11: vec4<u32>,
    col: vec4<u32>,
    row: vec4<u32>,
) -> vec4<u32> {
    // Horizontal pass, exact in u32 (at most 255 * 2 * 2048).
    let h0 = p00 * col.z + p01 * col.w;
    let h1 = p10 * col.z + p11 * col.w;
    // Vertical pass rounded as cv2's SIMD path does: drop 4 bits, multiply-high by the 11-bit
    // weight, add, round off the last 2 bits, saturate.
    let s4 = vec4<u32>(4u);
    let s16 = vec4<u32>(16u);
    let sum = (((h0 >> s4) * row.z) >> s16) + (((h1 >> s4) * row.w) >> s16);
    return min((sum + vec4<u32>(2u)) >> vec4<u32>(2u), vec4<u32>(255u));
}

// Output pixel (x, y) of the crop, 8-bit levels `v`: its normalised R, G, B into the tensor.
fn store_normalized(x: u32, y: u32, v: vec4<u32>) {
    let plane = rp.out_w * rp.out_h;
    let at = rp.base + y * rp.out_w + x;
    tensor[at] = levels[v.x].x;
    tensor[at + plane] = levels[v.y].y;
    tensor[at + 2u * plane] = levels[v.z].z;
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
    let v = blend(
        rgba(pixels[r0 + col.x]),
        rgba(pixels[r0 + col.y]),
        rgba(pixels[r1 + col.x]),
        rgba(pixels[r1 + col.y]),
        col,
        row,
    );
    store_normalized(x, y, v);
}

// How a texel becomes the 8-bit level PaddleClas would have seen (the host picks it from the
// texture's format):
//   0: the texel is unorm8 of gamma-encoded bytes (rgba8unorm, bgra8unorm): level = round(v * 255);
//   1: the texel is linear light (an -srgb format, which textureLoad decodes, or rgba16float,
//      which renderers fill with linear values): clamp to [0, 1], sRGB-encode with the exact
//      piecewise formula, then round(v * 255), as a renderer writing an 8-bit sRGB image would.
override DECODE: u32 = 0u;

fn srgb_encode(linear: vec3<f32>) -> vec3<f32> {
    let c = clamp(linear, vec3<f32>(0.0), vec3<f32>(1.0));
    let curve = 1.055 * pow(c, vec3<f32>(1.0 / 2.4)) - vec3<f32>(0.055);
    return select(curve, 12.92 * c, c <= vec3<f32>(0.0031308));
}

fn texel_levels(x: u32, y: u32) -> vec4<u32> {
    var v = textureLoad(image, vec2<u32>(x, y), 0).rgb;
    if (DECODE == 1u) {
        v = srgb_encode(v);
    }
    // min() keeps blend's u32 sums in range whatever a NaN texel converts to.
    let level = vec3<u32>(floor(clamp(v, vec3<f32>(0.0), vec3<f32>(1.0)) * 255.0 + 0.5));
    return vec4<u32>(min(level, vec3<u32>(255u)), 0u);
}

@compute @workgroup_size(RX, RY)
fn resize_crop_normalize_texture(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let y = gid.y;
    if (x >= rp.out_w || y >= rp.out_h) {
        return;
    }
    let col = taps[x];
    let row = taps[rp.out_w + y];
    let v = blend(
        texel_levels(col.x, row.x),
        texel_levels(col.y, row.x),
        texel_levels(col.x, row.y),
        texel_levels(col.y, row.y),
        col,
        row,
    );
    store_normalized(x, y, v);
}
