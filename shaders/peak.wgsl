// Adapter micro-benchmarks. `fma_peak`: 8 independent vec4 FMA chains per invocation, so the
// ALUs, not latency, bound it. `copy`: a streaming vec4 copy for memory bandwidth.
//
// The prelude defines CT (the arithmetic type measured).

struct Params {
    count: u32, // vec4 elements to copy / invocations that store
}

override ITERS: u32 = 2048u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;


@compute @workgroup_size(WG)
fn fma_peak(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = grid_index(wid, groups, lid);
    let seed = CT(f32(t % 7u) * 0.001);
    let m = vec4<CT>(CT(0.999));
    let c = vec4<CT>(CT(0.001));
    var a0 = vec4<CT>(seed);
    var a1 = a0 + c;
    var a2 = a1 + c;
    var a3 = a2 + c;
    var a4 = a3 + c;
    var a5 = a4 + c;
    var a6 = a5 + c;
    var a7 = a6 + c;
    for (var i = 0u; i < ITERS; i++) {
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a4 = fma(a4, m, c);
        a5 = fma(a5, m, c);
        a6 = fma(a6, m, c);
        a7 = fma(a7, m, c);
    }
    if (t < p.count) {
        dst[t] = vec4<f32>(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
    }
}

@compute @workgroup_size(WG)
fn copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = grid_index(wid, groups, lid);
    if (t < p.count) {
        dst[t] = src[t];
    }
}
