//! naga parses and validates every kernel specialisation the plans use (every storage type),
//! then translates it to SPIR-V, MSL, HLSL and GLSL, so a shader that would break on Vulkan,
//! Metal, DX12 or GL fails here, on a machine with none of them.

use gpu_resnet::kernels::{used_specializations, Specialization, Storage};

fn validate(spec: &Specialization) -> Result<(naga::Module, naga::valid::ModuleInfo), String> {
    let module =
        naga::front::wgsl::parse_str(&spec.source).map_err(|e| e.emit_to_string(&spec.source))?;
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    );
    let info = validator
        .validate(&module)
        .map_err(|e| e.emit_to_string(&spec.source))?;
    let mut constants = naga::back::PipelineConstants::default();
    for (name, value) in &spec.constants {
        constants.insert(name.to_string(), *value);
    }
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((naga::ShaderStage::Compute, spec.entry)),
        &constants,
    )
    .map_err(|e| format!("overrides: {e}"))?;
    Ok((module.into_owned(), info.into_owned()))
}

fn translate(spec: &Specialization, storage: Storage) -> Result<(), String> {
    let (module, info) = validate(spec)?;
    let entry = spec.entry.to_string();
    naga::back::spv::write_vec(&module, &info, &naga::back::spv::Options::default(), None)
        .map_err(|e| format!("SPIR-V: {e}"))?;
    naga::back::msl::write_string(
        &module,
        &info,
        &naga::back::msl::Options {
            lang_version: (2, 1),
            ..Default::default()
        },
        &naga::back::msl::PipelineOptions {
            entry_point: Some((naga::ShaderStage::Compute, entry.clone())),
            ..Default::default()
        },
    )
    .map_err(|e| format!("MSL: {e}"))?;
    let mut hlsl = String::new();
    let hlsl_options = naga::back::hlsl::Options {
        shader_model: naga::back::hlsl::ShaderModel::V6_2,
        ..Default::default()
    };
    let hlsl_pipeline = naga::back::hlsl::PipelineOptions {
        entry_point: Some((naga::ShaderStage::Compute, entry.clone())),
    };
    naga::back::hlsl::Writer::new(&mut hlsl, &hlsl_options, &hlsl_pipeline)
        .write(&module, &info, None)
        .map_err(|e| format!("HLSL: {e}"))?;
    // wgpu's GL backend exposes neither SHADER_F16 nor SUBGROUP, so native f16 and shared
    // weights never reach GLSL: the packed path and per-invocation fetches are what GL runs.
    if !storage.needs_shader_f16() && !spec.features.contains(wgpu::Features::SUBGROUP) {
        let mut glsl = String::new();
        let options = naga::back::glsl::Options {
            version: naga::back::glsl::Version::Embedded {
                version: 310,
                is_webgl: false,
            },
            ..Default::default()
        };
        let pipeline = naga::back::glsl::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: entry,
            multiview: None,
        };
        naga::back::glsl::Writer::new(
            &mut glsl,
            &module,
            &info,
            &options,
            &pipeline,
            naga::proc::BoundsCheckPolicies::default(),
        )
        .map_err(|e| format!("GLSL: {e}"))?
        .write()
        .map_err(|e| format!("GLSL: {e}"))?;
    }
    Ok(())
}

#[test]
fn every_specialisation_validates_and_cross_compiles() {
    let mut failures = Vec::new();
    let mut count = 0;
    for storage in [
        Storage::F32,
        Storage::F16Packed,
        Storage::F16Native,
        Storage::F16Mixed,
    ] {
        for spec in used_specializations(storage) {
            count += 1;
            if let Err(e) = translate(&spec, storage) {
                failures.push(format!(
                    "{} {:?} [{}]: {e}",
                    spec.family,
                    spec.constants,
                    storage.name()
                ));
            }
        }
    }
    for storage in [Storage::F32, Storage::F16Native] {
        for shape in gpu_resnet::kernels::peak::FmaShape::sources() {
            count += 1;
            if let Err(e) = translate(
                &gpu_resnet::kernels::peak::fma_spec(storage, shape),
                storage,
            ) {
                failures.push(format!("peak fma {shape} [{}]: {e}", storage.name()));
            }
        }
    }
    count += 1;
    if let Err(e) = translate(&gpu_resnet::kernels::peak::copy_spec(), Storage::F32) {
        failures.push(format!("peak copy: {e}"));
    }
    assert!(count > 30, "only {count} specialisations enumerated");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The conv reading its input from a texture (`ConvVariant::act_texture`, measured by
/// `cargo bench --bench act_texture`, used by no plan): every kernel size, the vd pooled read,
/// every tile policy, every storage.
#[test]
fn the_texture_input_conv_validates_and_cross_compiles() {
    use gpu_resnet::kernels::conv::{ConvVariant, Tile, TILE_POLICIES};
    let mut failures = Vec::new();
    let mut count = 0;
    for storage in [
        Storage::F32,
        Storage::F16Packed,
        Storage::F16Native,
        Storage::F16Mixed,
    ] {
        // The last: the stem's rows of taps (`row_pixel`) read through the texture too.
        for (kernel, pad, avg_pool, row_taps) in [
            (1, 0, false, false),
            (1, 0, true, false),
            (3, 1, false, false),
            (7, 3, false, false),
            (7, 3, false, true),
        ] {
            for (device, subgroup) in TILE_POLICIES {
                let tile = Tile::for_layer(256, device, subgroup);
                let v = ConvVariant {
                    kernel,
                    pad,
                    avg_pool,
                    tile,
                    act_texture: true,
                    row_taps: row_taps && !tile.staged,
                };
                let spec = v.specialization(storage);
                assert_eq!(
                    spec.texture_inputs,
                    [1, 2],
                    "input and weights are textures"
                );
                count += 1;
                if let Err(e) = translate(&spec, storage) {
                    failures.push(format!("{v:?} [{}]: {e}", storage.name()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_broken_shader_is_rejected() {
    // The check must be able to fail.
    let bad = Specialization::new(
        "conv",
        "main",
        Storage::F32.prelude(),
        "fn main() { let x: u32 = 1.5; }",
        0,
    );
    assert!(validate(&bad).is_err());
}
