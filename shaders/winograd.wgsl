// Winograd F(2x2, 3x3) for the 3x3 stride-1 convs: the transforms on either side of the
// batched GEMM. Each 2x2 block of output pixels ("tile" p of P, over every image) reads a
// 4x4 input patch d, transformed to V = B^T d B (16 values per channel); the GEMM (conv.wgsl
// as a 1x1 conv over 16 slabs of SLAB pixels, one weight block per slab) multiplies each of
// the 16 positions by the transformed weights U = G g G^T; the output transform takes the
// 4x4 products M to the 2x2 outputs Y = A^T M A, adds the folded BN bias and the residual,
// and applies the ReLU.
//
// Scratch layout: V[(xi * SLAB + p) * c4 + c], M[(xi * SLAB + p) * out_c4 + c] for xi = 4 i + j
// the position in the 4x4 patch; SLAB is P rounded up so that no GEMM tile straddles two
// slabs (the pad tiles hold zeros). The prelude defines S4, CT, ld(), st().

struct Params {
    in_h: u32,     // the conv's input (= output) map
    in_w: u32,
    c4: u32,       // channel groups of V (input transform) or of the output (output transform)
    tiles_h: u32,  // ceil(h / 2)
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
@group(0) @binding(2) var<storage, read_write> v_out: array<S4>;

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
    var d: array<array<vec4<CT>, 4>, 4>;
    if (tile < p.tiles) {
        let tx = tile % p.tiles_w;
        let ty = (tile / p.tiles_w) % p.tiles_h;
        let img = tile / (p.tiles_w * p.tiles_h);
        let y0 = i32(ty * 2u) - 1;
        let x0 = i32(tx * 2u) - 1;
        for (var i = 0; i < 4; i++) {
            for (var j = 0; j < 4; j++) {
                d[i][j] = tap(img, y0 + i, x0 + j, c);
            }
        }
    } else {
        for (var i = 0; i < 4; i++) {
            for (var j = 0; j < 4; j++) {
                d[i][j] = vec4<CT>(0.0);
            }
        }
    }
    // B^T d: rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3); then the same along columns.
    var r: array<array<vec4<CT>, 4>, 4>;
    for (var j = 0; j < 4; j++) {
        r[0][j] = d[0][j] - d[2][j];
        r[1][j] = d[1][j] + d[2][j];
        r[2][j] = d[2][j] - d[1][j];
        r[3][j] = d[1][j] - d[3][j];
    }
    let stride = p.slab * p.c4;
    let at = tile * p.c4 + c;
    for (var i = 0u; i < 4u; i++) {
        v_out[(i * 4u + 0u) * stride + at] = st(r[i][0] - r[i][2]);
        v_out[(i * 4u + 1u) * stride + at] = st(r[i][1] + r[i][2]);
        v_out[(i * 4u + 2u) * stride + at] = st(r[i][2] - r[i][1]);
        v_out[(i * 4u + 3u) * stride + at] = st(r[i][1] - r[i][3]);
    }
}
// @end

// @if OUTPUT
// ---- output transform: one invocation per (tile, output channel group) ----

@group(0) @binding(1) var<storage, read> m_in: array<S4>;
@group(0) @binding(2) var wts: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> res: array<S4>;
@group(0) @binding(4) var<storage, read_write> dst: array<S4>;

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
    var m: array<array<vec4<CT>, 4>, 4>;
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            m[i][j] = ld(m_in[(i * 4u + j) * stride + at]);
        }
    }
    // A^T m: rows (m0 + m1 + m2, m1 - m2 - m3); then the same along columns.
    var s: array<array<vec4<CT>, 4>, 2>;
    for (var j = 0u; j < 4u; j++) {
        s[0][j] = m[0][j] + m[1][j] + m[2][j];
        s[1][j] = m[1][j] - m[2][j] - m[3][j];
    }
    let bias = vec4<CT>(textureLoad(wts, vec2<u32>(p.bias_col + c, p.bias_row), 0));
    let tx = tile % p.tiles_w;
    let ty = (tile / p.tiles_w) % p.tiles_h;
    let img = tile / (p.tiles_w * p.tiles_h);
    for (var i = 0u; i < 2u; i++) {
        for (var j = 0u; j < 2u; j++) {
            let y = ty * 2u + i;
            let x = tx * 2u + j;
            if (y < p.in_h && x < p.in_w) {
                var v: vec4<CT>;
                if (j == 0u) {
                    v = s[i][0] + s[i][1] + s[i][2];
                } else {
                    v = s[i][1] - s[i][2] - s[i][3];
                }
                v += bias;
                let o = ((img * p.in_h + y) * p.in_w + x) * p.c4 + c;
                if (p.residual != 0u) {
                    v += ld(res[o]);
                }
                if (p.relu != 0u) {
                    v = max(v, vec4<CT>(0.0));
                }
                dst[o] = st(v);
            }
        }
    }
}
// @end
