//! Host and shader parameter structs cannot drift: every WGSL uniform struct a kernel reads
//! (`struct Params` / `ResizeParams`) is reflected through naga and compared, member by member,
//! with the `#[repr(C)]` Rust struct the host writes into the uniform: same names, same byte
//! offsets, and a Rust size that covers the WGSL struct and is a whole number of 16-byte rows.

use std::mem::{offset_of, size_of};

use gpu_resnet::kernels::{conv, head, pool, preprocess, winograd, Specialization, Storage};

/// A Rust parameter struct's layout: its size and the offsets of the fields WGSL also has.
struct HostLayout {
    name: &'static str,
    size: usize,
    fields: Vec<(&'static str, usize)>,
}

/// `host_layout!(Type { field, ... })`: the named fields' offsets (padding fields left out).
macro_rules! host_layout {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        HostLayout {
            name: stringify!($ty),
            size: size_of::<$ty>(),
            fields: vec![$((stringify!($field), offset_of!($ty, $field))),*],
        }
    };
}

/// The WGSL struct `name` of `spec`'s source: (member name, offset) and its size.
fn wgsl_layout(spec: &Specialization, name: &str) -> (Vec<(String, u32)>, u32) {
    let module = naga::front::wgsl::parse_str(&spec.source)
        .unwrap_or_else(|e| panic!("{} `{}` does not parse: {e}", spec.family, spec.entry));
    let ty = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{} has no struct `{name}`", spec.family))
        .1;
    match &ty.inner {
        naga::TypeInner::Struct { members, span } => (
            members
                .iter()
                .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                .collect(),
            *span,
        ),
        other => panic!("`{name}` is not a struct: {other:?}"),
    }
}

fn assert_same_layout(spec: &Specialization, wgsl_name: &str, host: &HostLayout) {
    let (members, span) = wgsl_layout(spec, wgsl_name);
    let what = format!("{} `{wgsl_name}` vs {}", spec.family, host.name);
    for (member, offset) in members.iter().filter(|(m, _)| !m.starts_with("_pad")) {
        let host_offset = host
            .fields
            .iter()
            .find(|(f, _)| f == member)
            .unwrap_or_else(|| panic!("{what}: the host struct has no field `{member}`"))
            .1;
        assert_eq!(
            host_offset, *offset as usize,
            "{what}: `{member}` at byte {host_offset} on the host, {offset} in WGSL"
        );
    }
    for (field, _) in &host.fields {
        assert!(
            members.iter().any(|(m, _)| m == field),
            "{what}: the host field `{field}` is not in the WGSL struct"
        );
    }
    assert!(
        host.size >= span as usize && host.size.is_multiple_of(16),
        "{what}: host size {} must cover the WGSL struct's {span} bytes in 16-byte rows",
        host.size
    );
}

#[test]
fn conv_params_match_conv_wgsl() {
    let host = host_layout!(conv::ConvParams {
        in_h,
        in_w,
        in_c4,
        out_h,
        out_w,
        out_c4,
        m_total,
        bias_row,
        stride,
        residual,
        relu,
        fold_rows,
        bias_col,
        lanes_m,
        slab,
    });
    for storage in [Storage::F32, Storage::F16Packed] {
        for (device, subgroup) in conv::TILE_POLICIES {
            let layer = gpu_resnet::arch::find_arch("ResNet50_vd")
                .unwrap()
                .conv_layers(gpu_resnet::arch::Stage1Shortcut::Projection)[0]
                .clone();
            let tile = conv::Tile::for_layer(layer.cout, device, subgroup);
            let spec = conv::ConvVariant::of(&layer, tile).specialization(storage);
            assert_same_layout(&spec, "Params", &host);
        }
    }
}

#[test]
fn winograd_params_match_both_stages() {
    let host = host_layout!(winograd::WinogradParams {
        in_h,
        in_w,
        c4,
        tiles_h,
        tiles_w,
        tiles,
        slab,
        residual,
        relu,
        bias_row,
        bias_col,
    });
    for stage in [winograd::Stage::Input, winograd::Stage::Output] {
        for storage in [Storage::F32, Storage::F16Packed] {
            for tile in winograd::Winograd::ALL {
                let spec = winograd::specialization(storage, stage, tile);
                assert_same_layout(&spec, "Params", &host);
            }
        }
    }
}

#[test]
fn pool_head_and_preprocess_params_match_their_wgsl() {
    let pool_host = host_layout!(pool::PoolParams {
        in_h,
        in_w,
        c4,
        out_h,
        out_w,
        total
    });
    assert_same_layout(&pool::max_pool_3x3s2(Storage::F32), "Params", &pool_host);
    let head_host = host_layout!(head::HeadParams {
        hw,
        c4,
        classes4,
        classes,
        bias_offset,
        batch
    });
    assert_same_layout(
        &head::specialization(Storage::F32, 2048, head::Stage::Fc { images: 8 }),
        "Params",
        &head_host,
    );
    let layout_host = host_layout!(preprocess::LayoutParams { h, w, total });
    assert_same_layout(&preprocess::from_nchw(Storage::F32), "Params", &layout_host);
    let resize_host = host_layout!(preprocess::ResizeParams {
        src_w,
        src_h,
        out_w,
        out_h,
        base
    });
    assert_same_layout(
        &preprocess::resize_crop_normalize(),
        "ResizeParams",
        &resize_host,
    );
}

#[test]
fn a_drifted_struct_is_caught() {
    // The check itself must be able to fail: a host layout with a field moved.
    let mut host = host_layout!(pool::PoolParams {
        in_h,
        in_w,
        c4,
        out_h,
        out_w,
        total
    });
    host.fields[1].1 += 4;
    let spec = pool::max_pool_3x3s2(Storage::F32);
    let caught = std::panic::catch_unwind(|| assert_same_layout(&spec, "Params", &host));
    assert!(caught.is_err(), "a moved field went unnoticed");
}
