// Winograd F(m x m, 3x3) for the 3x3 stride-1 convs (m = M: 2 or 4, ALPHA = M + 2): the
// transforms on either side of the batched GEMM. Each m x m block of output pixels ("tile" p
// of P, over every image) reads an ALPHA x ALPHA input patch d, transformed to V = B^T d B
// (ALPHA^2 values per channel); the GEMM (conv.wgsl as a 1x1 conv over ALPHA^2 slabs of SLAB
// pixels, one weight block per slab) multiplies each position by the transformed weights
// U = G g G^T; the output transform takes the products M to the m x m outputs Y = A^T M A,
// adds the folded BN bias and the residual, and applies the ReLU.
//
// The transforms' arithmetic is generated on the host from the matrices
// (src/kernels/winograd_transform.rs) and pasted at the `// @transform` lines; the generator
// (`kernels::unroll`) writes out the ALPHA x ALPHA loads and the m x m stores, so that every
// index is a constant and the patch stays in registers.
//
// Scratch layout: V[(xi * SLAB + p) * c4 + c], M[(xi * SLAB + p) * out_c4 + c] for
// xi = ALPHA i + j the position in the patch; SLAB is P rounded up so that no GEMM tile
// straddles two slabs (the pad tiles hold zeros). The prelude defines S4, CT, ld(), st() for
// the activations and W4, ldw(), stw() for V and M (f32 in every plan: `winograd::SCRATCH`).

struct Params {
    in_h: u32,     // the conv's input (= output) map
    in_w: u32,
    c4: u32,       // channel groups of V (input transform) or of the output (output transform)
    tiles_h: u32,  // ceil(h / m)
    tiles_w: u32,
    tiles: u32,    // batch * tiles_h * tiles_w
    slab: u32,     // tiles rounded up (the GEMM's slab)
    residual: u32, // output transform: 1 adds `res`
    relu: u32,
    bias_row: u32, // the conv weight texture's bias row and column block
    bias_col: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// `// @if INPUT` / `// @if OUTPUT` keep one stage per generated source (their bindings differ).

// @if INPUT
// ---- input transform: one invocation per (tile of SLAB, channel group) ----

@group(0) @binding(1) var<storage, read> src: array<S4>;
@group(0) @binding(2) var<storage, read_write> v_out: array<W4>;

fn tap(img: u32, y: i32, x: i32, c: u32) -> vec4<CT> {
    if (y < 0 || x < 0 || y >= i32(p.in_h) || x >= i32(p.in_w)) {
        return vec4<CT>(0.0);
    }
    return ld(src[((img * p.in_h + u32(y)) * p.in_w + u32(x)) * p.c4 + c]);
}

@compute @workgroup_size(WG)
fn input_transform(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = grid_index(wid, groups, lid);
    if (t >= p.slab * p.c4) {
        return;
    }
    let c = t % p.c4;
    let tile = t / p.c4;
    // Zeros for the pad tiles past `tiles` (function variables start zeroed).
    var d: array<array<vec4<CT>, ALPHA>, ALPHA>;
    if (tile < p.tiles) {
        let tx = tile % p.tiles_w;
        let ty = (tile / p.tiles_w) % p.tiles_h;
        let img = tile / (p.tiles_w * p.tiles_h);
        let y0 = i32(ty * M) - 1;
        let x0 = i32(tx * M) - 1;
        // @unroll i < ALPHA
        // @unroll j < ALPHA
        d[{i}][{j}] = tap(img, y0 + {i}, x0 + {j}, c);
        // @end
        // @end
    }
    let stride = p.slab * p.c4;
    let at = tile * p.c4 + c;
    // @transform INPUT
}
// @end

// @if OUTPUT
// ---- output transform: one invocation per (tile, output channel group) ----

@group(0) @binding(1) var<storage, read> m_in: array<W4>;
@group(0) @binding(2) var wts: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> res: array<S4>;
@group(0) @binding(4) var<storage, read_write> dst: array<S4>;

// One output value: the bias, the residual and the ReLU, where (y, x) is inside the map.
fn store(img: u32, y: u32, x: u32, c: u32, bias: vec4<CT>, value: vec4<CT>) {
    if (y >= p.in_h || x >= p.in_w) {
        return;
    }
    var v = value + bias;
    let o = ((img * p.in_h + y) * p.in_w + x) * p.c4 + c;
    if (p.residual != 0u) {
        v += ld(res[o]);
    }
    if (p.relu != 0u) {
        v = max(v, vec4<CT>(0.0));
    }
    dst[o] = st(v);
}

@compute @workgroup_size(WG)
fn output_transform(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = grid_index(wid, groups, lid);
    if (t >= p.tiles * p.c4) {
        return;
    }
    let c = t % p.c4;
    let tile = t / p.c4;
    let stride = p.slab * p.c4;
    let at = tile * p.c4 + c;
    var m: array<array<vec4<CT>, ALPHA>, ALPHA>;
    // @unroll i < ALPHA
    // @unroll j < ALPHA
    m[{i}][{j}] = ldw(m_in[({i}u * ALPHA + {j}u) * stride + at]);
    // @end
    // @end
    // @transform OUTPUT
    let bias = vec4<CT>(textureLoad(wts, vec2<u32>(p.bias_col + c, p.bias_row), 0));
    let tx = tile % p.tiles_w;
    let ty = (tile / p.tiles_w) % p.tiles_h;
    let img = tile / (p.tiles_w * p.tiles_h);
    // @unroll i < M
    // @unroll j < M
    store(img, ty * M + {i}u, tx * M + {j}u, c, bias, y{i}_{j});
    // @end
    // @end
}
// @end
