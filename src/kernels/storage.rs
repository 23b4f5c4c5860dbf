//! How activations and weights are stored, and the WGSL prelude each storage puts before a
//! kernel source.

/// How activations and weights are stored and computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// f32 storage, f32 arithmetic.
    F32,
    /// f16 storage and arithmetic (`enable f16;`, needs SHADER_F16).
    F16Native,
    /// f16 storage in native f16 types, f32 arithmetic (needs SHADER_F16): for adapters whose
    /// f16 arithmetic is slower than f32 (lavapipe: 28 vs 104 GFLOP/s), where conversions on
    /// load/store are cheap but unpacking u32 pairs is not.
    F16Mixed,
    /// f16 storage as pairs packed in u32, f32 arithmetic: runs on every adapter.
    F16Packed,
}

impl Storage {
    /// Whether the kernels need the SHADER_F16 feature.
    pub fn needs_shader_f16(self) -> bool {
        matches!(self, Storage::F16Native | Storage::F16Mixed)
    }

    /// Bytes of one group of 4 channels.
    pub fn bytes_per_4(self) -> u64 {
        match self {
            Storage::F32 => 16,
            Storage::F16Native | Storage::F16Mixed | Storage::F16Packed => 8,
        }
    }

    /// The same stored layout with f32 arithmetic (f16-native's storage computes in f32 as
    /// the mixed mode does; the others already do).
    pub fn with_f32_math(self) -> Storage {
        match self {
            Storage::F16Native => Storage::F16Mixed,
            s => s,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Storage::F32 => "fp32",
            Storage::F16Native => "fp16-native",
            Storage::F16Mixed => "fp16-native-f32math",
            Storage::F16Packed => "fp16-packed",
        }
    }

    /// The WGSL prelude that defines `S4` (4 stored channels), `CT` (compute scalar),
    /// `ld(S4) -> vec4<CT>` and `st(vec4<CT>) -> S4`.
    pub fn prelude(self) -> &'static str {
        match self {
            Storage::F32 => {
                "alias CT = f32;\nalias S4 = vec4<f32>;\n\
                 fn ld(v: S4) -> vec4<CT> { return v; }\n\
                 fn st(v: vec4<CT>) -> S4 { return v; }\n"
            }
            Storage::F16Native => {
                "enable f16;\nalias CT = f16;\nalias S4 = vec4<f16>;\n\
                 fn ld(v: S4) -> vec4<CT> { return v; }\n\
                 fn st(v: vec4<CT>) -> S4 { return v; }\n"
            }
            Storage::F16Mixed => {
                "enable f16;\nalias CT = f32;\nalias S4 = vec4<f16>;\n\
                 fn ld(v: S4) -> vec4<CT> { return vec4<f32>(v); }\n\
                 fn st(v: vec4<CT>) -> S4 { return vec4<f16>(v); }\n"
            }
            Storage::F16Packed => {
                "alias CT = f32;\nalias S4 = vec2<u32>;\n\
                 fn ld(v: S4) -> vec4<CT> { return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }\n\
                 fn st(v: vec4<CT>) -> S4 { return vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw)); }\n"
            }
        }
    }

    /// Host values in this storage's byte layout (both f16 modes share one layout: packed
    /// pairs put the first half in the low 16 bits, as an f16 array does).
    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        match self {
            Storage::F32 => bytemuck::cast_slice(values).to_vec(),
            Storage::F16Native | Storage::F16Mixed | Storage::F16Packed => {
                let halves: Vec<half::f16> =
                    values.iter().map(|&v| half::f16::from_f32(v)).collect();
                bytemuck::cast_slice(&halves).to_vec()
            }
        }
    }
}
