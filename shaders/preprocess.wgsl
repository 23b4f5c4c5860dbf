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
