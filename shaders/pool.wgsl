// Max pooling over a KERNEL x KERNEL window (ResNet: 3x3, stride 2, padding 1), channels-last
// in groups of 4. Padding never wins: the window's centre tap is always inside the image and
// seeds the maximum. One invocation per output S4 element.
//
// The prelude (src/kernels/pool.rs) defines S4 (as stored), M4 (what the maximum is taken in),
// key(S4) -> M4 and unkey(M4) -> S4.

struct Params {
    in_h: u32,
    in_w: u32,
    c4: u32,
    out_h: u32,
    out_w: u32,
    total: u32, // batch * out_h * out_w * c4
}

override KERNEL: u32 = 3u;
override STRIDE: u32 = 2u;
override PAD: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<S4>;
@group(0) @binding(2) var<storage, read_write> dst: array<S4>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = grid_index(wid, groups, lid);
    if (t >= p.total) {
        return;
    }
    let c4 = t % p.c4;
    let pix = t / p.c4;
    let ox = pix % p.out_w;
    let oy = (pix / p.out_w) % p.out_h;
    let n = pix / (p.out_w * p.out_h);
    let cy = min(oy * STRIDE, p.in_h - 1u);
    let cx = min(ox * STRIDE, p.in_w - 1u);
    var best = key(src[((n * p.in_h + cy) * p.in_w + cx) * p.c4 + c4]);
    for (var ky = 0u; ky < KERNEL; ky++) {
        for (var kx = 0u; kx < KERNEL; kx++) {
            let iy = i32(oy * STRIDE + ky) - i32(PAD);
            let ix = i32(ox * STRIDE + kx) - i32(PAD);
            if (iy >= 0 && ix >= 0 && iy < i32(p.in_h) && ix < i32(p.in_w)) {
                best = max(best, key(src[((n * p.in_h + u32(iy)) * p.in_w + u32(ix)) * p.c4 + c4]));
            }
        }
    }
    dst[t] = unkey(best);
}
