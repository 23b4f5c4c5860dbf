// Adapter micro-benchmarks. `fma_peak`: CHAINS independent FMA chains of `V` (CT or a vector of
// CT, from the host's prelude) per invocation, so that the ALUs, not latency, bound it; the
// host sweeps CHAINS, the vector width and the workgroup size and keeps the fastest (how many
// independent chains a driver needs to fill its units, and how many it can keep in registers,
// differ: Mesa 25's lavapipe runs 8 x vec4 chains, Mesa 22.3's best shape, well below its
// peak, which 16 scalar chains reach).
// `copy`: a streaming vec4 copy for memory bandwidth.
//
// The prelude defines CT (the arithmetic type measured), V (one chain's type) and
// `widen(V) -> vec4<f32>`.

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
    let m = V(CT(0.999));
    let c = V(CT(0.001));
    // @unroll k < CHAINS
    var a{k} = V(CT(f32((t + {k}u) % 7u) * 0.001));
    // @end
    for (var i = 0u; i < ITERS; i++) {
        // @unroll k < CHAINS
        a{k} = fma(a{k}, m, c);
        // @end
    }
    var sum = V(CT(0.0));
    // @unroll k < CHAINS
    sum += a{k};
    // @end
    if (t < p.count) {
        dst[t] = widen(sum);
    }
}

@compute @workgroup_size(WG)
fn copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = grid_index(wid, groups, lid);
    if (t < p.count) {
        dst[t] = src[t];
    }
}
