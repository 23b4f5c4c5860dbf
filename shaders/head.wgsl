// The classifier head in two passes: global average pool, then the FC layer.
// `pool`: one invocation per (image, channel group) averages the feature map once into a small
// f32 buffer (the plan's scratch). `fc`: one invocation per group of 4 classes and NB images:
// each weight load feeds NB images, and every lane of a workgroup has classes to compute (no
// lane waits on another: no workgroup memory, no barrier, which end a coroutine on lavapipe).
// FC weights are laid out [in][classes4] in S4 units, the bias follows them; sums are kept in
// f32 whatever the storage type. Logits are f32.
//
// The prelude defines S4, CT, ld(), st(), FEAT_C4 (feature channels / 4), HW (pixels of the
// feature map: `pool`'s loop bound is a constant, see `kernels::head::Stage::Pool`) and NB
// (images per invocation of `fc`); the generator writes out the `// @unroll b < NB` blocks.

struct Params {
    hw: u32,          // pixels of the final feature map (== HW)
    c4: u32,          // feature channels / 4 (== FEAT_C4)
    classes4: u32,    // classes rounded up to 4, / 4
    classes: u32,
    bias_offset: u32, // in S4 units, inside `wts`
    batch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// @if POOL
@group(0) @binding(1) var<storage, read> src: array<S4>;
@group(0) @binding(2) var<storage, read_write> pooled: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c4 = wid.x * WG + lid;
    let n = wid.y;
    if (c4 >= FEAT_C4) {
        return;
    }
    var sum = vec4<f32>(0.0);
    for (var i = 0u; i < HW; i++) {
        sum += vec4<f32>(ld(src[(n * HW + i) * FEAT_C4 + c4]));
    }
    pooled[n * FEAT_C4 + c4] = sum / f32(HW);
}
// @end

// @if FC
@group(0) @binding(1) var<storage, read> pooled: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wts: array<S4>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(WG)
fn fc(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let k4 = wid.x * WG + lid;
    if (k4 >= p.classes4) {
        return;
    }
    let n0 = wid.y * NB;
    // Images past the batch read image n0's features (in range) and store nothing.
    var img: array<u32, NB>;
    var acc: array<vec4<f32>, NB>;
    let bias = vec4<f32>(ld(wts[p.bias_offset + k4]));
    // @unroll b < NB
    img[{b}] = select(n0, n0 + {b}u, n0 + {b}u < p.batch) * FEAT_C4;
    acc[{b}] = bias;
    // @end
    var row = k4;
    for (var c4 = 0u; c4 < FEAT_C4; c4++) {
        let w0 = vec4<f32>(ld(wts[row]));
        let w1 = vec4<f32>(ld(wts[row + p.classes4]));
        let w2 = vec4<f32>(ld(wts[row + 2u * p.classes4]));
        let w3 = vec4<f32>(ld(wts[row + 3u * p.classes4]));
        row += 4u * p.classes4;
        // @unroll b < NB
        {
            let f = pooled[img[{b}] + c4];
            acc[{b}] = fma(vec4<f32>(f.x), w0, acc[{b}]);
            acc[{b}] = fma(vec4<f32>(f.y), w1, acc[{b}]);
            acc[{b}] = fma(vec4<f32>(f.z), w2, acc[{b}]);
            acc[{b}] = fma(vec4<f32>(f.w), w3, acc[{b}]);
        }
        // @end
    }
    // @unroll b < NB
    if (n0 + {b}u < p.batch) {
        for (var j = 0u; j < 4u; j++) {
            let k = 4u * k4 + j;
            if (k < p.classes) {
                logits[(n0 + {b}u) * p.classes + k] = acc[{b}][j];
            }
        }
    }
    // @end
}
// @end
