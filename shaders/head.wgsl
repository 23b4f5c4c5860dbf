// The classifier head in one kernel: global average pool, then the FC layer.
// A workgroup serves one image and WG x 4 classes: it first averages the image's feature map
// into workgroup memory (every workgroup of the image repeats this; it is small next to the FC),
// then each invocation computes 4 classes. FC weights are laid out [in][classes4] in S4 units,
// the bias follows them; sums are kept in f32 whatever the storage type. Logits are f32.
//
// The prelude defines S4, CT, ld(), st() and FEAT_C4 (feature channels / 4).

struct Params {
    hw: u32,          // pixels of the final feature map
    c4: u32,          // feature channels / 4 (== FEAT_C4)
    classes4: u32,    // classes rounded up to 4, / 4
    classes: u32,
    bias_offset: u32, // in S4 units, inside `wts`
}


@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<S4>;
@group(0) @binding(2) var<storage, read> wts: array<S4>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;

var<workgroup> feat: array<vec4<f32>, FEAT_C4>;
// The pixel count, read through workgroup memory: Mesa 22.3's lavapipe specialises shaders on
// uniform values that bound loops and, for this loop, recompiled (and leaked ~250 KB) on every
// submission. A bound loaded from workgroup memory is not a uniform to it.
var<workgroup> hw_shared: u32;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = wid.y;
    if (lid == 0u) {
        hw_shared = p.hw;
    }
    let hw = workgroupUniformLoad(&hw_shared);
    let scale = 1.0 / f32(hw);
    for (var c4 = lid; c4 < p.c4; c4 += WG) {
        var sum = vec4<f32>(0.0);
        for (var i = 0u; i < hw; i++) {
            sum += vec4<f32>(ld(src[(n * hw + i) * p.c4 + c4]));
        }
        feat[c4] = sum * scale;
    }
    workgroupBarrier();

    let k4 = wid.x * WG + lid;
    if (k4 >= p.classes4) {
        return;
    }
    var acc = vec4<f32>(ld(wts[p.bias_offset + k4]));
    for (var c4 = 0u; c4 < p.c4; c4++) {
        let f = feat[c4];
        let row = 4u * c4 * p.classes4 + k4;
        acc = fma(vec4<f32>(f.x), vec4<f32>(ld(wts[row])), acc);
        acc = fma(vec4<f32>(f.y), vec4<f32>(ld(wts[row + p.classes4])), acc);
        acc = fma(vec4<f32>(f.z), vec4<f32>(ld(wts[row + 2u * p.classes4])), acc);
        acc = fma(vec4<f32>(f.w), vec4<f32>(ld(wts[row + 3u * p.classes4])), acc);
    }
    for (var j = 0u; j < 4u; j++) {
        let k = 4u * k4 + j;
        if (k < p.classes) {
            logits[n * p.classes + k] = acc[j];
        }
    }
}
