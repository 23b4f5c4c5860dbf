//! The tuning cache end to end: a plan that takes its tiles (and Winograd) from a table computes
//! what the default plan does, and a stale or damaged cache file is ignored, never fatal.

mod common;

use common::*;
use gpu_resnet::arch::{Op, Stage1Shortcut};
use gpu_resnet::kernels::winograd::{self, Winograd};
use gpu_resnet::tune::{self, ConvShape, TuneStamp, TuneStatus, TuneTable, TunedTile};
use gpu_resnet::weights::synthetic::{synthetic_input, synthetic_weights};
use gpu_resnet::{resolve, Model, Storage};

/// A table that puts every conv of ResNet18 at batch 2, 32x32, on an 8x32 tile (shared by
/// subgroups where the adapter can), the 3x3 stride-1 ones as Winograd in tile `wino`.
fn table_for(storage: Storage, wino: Winograd) -> TuneTable {
    let spec = resolve("ResNet18").unwrap();
    let graph = spec.arch.graph(32, 32, 1000, Stage1Shortcut::Projection);
    let share = ctx()
        .fixed_subgroup_size()
        .filter(|s| 32 % s == 0)
        .unwrap_or(0);
    let mut table = TuneTable::new(TuneStamp::of(ctx(), storage));
    for op in &graph.ops {
        if let Op::Conv { conv, input, .. } = *op {
            let layer = &graph.convs[conv];
            let t = graph.tensors[input];
            table.entries.insert(
                ConvShape::of(layer, (t.h, t.w), 2).key(),
                TunedTile {
                    tm: 8,
                    tn4: 8,
                    share,
                    ms: 1.0,
                    heuristic_ms: 2.0,
                    winograd: winograd::eligible(layer).then_some(wino),
                    staged: false,
                },
            );
        }
    }
    table
}

/// Every Winograd tile, from the table, matches the default plan, in FP32 and in an f16
/// storage (where F(4x4) keeps its scratch in FP32).
#[test]
fn a_tuned_plan_with_winograd_matches_the_default_plan() {
    let spec = resolve("ResNet18").unwrap();
    let weights = synthetic_weights(&spec.arch, 1000, 3);
    let input = synthetic_input(2 * 3 * 32 * 32, 5);
    for storage in [Storage::F32, Storage::F16Packed] {
        let mut model = Model::new(ctx(), &weights, storage).unwrap();
        model.set_tuning(None);
        let want = model.plan(2, 32, 32).unwrap().run(&input).unwrap();
        model.prepare_winograd(&weights).unwrap();
        for wino in Winograd::ALL {
            model.set_tuning(Some(table_for(storage, wino)));
            let plan = model.plan(2, 32, 32).unwrap();
            let used = plan
                .convs
                .iter()
                .flatten()
                .any(|c| c.winograd == Some(wino));
            let (tuned, convs) = plan.tuned_convs();
            assert_eq!(tuned, convs, "every conv dispatch takes the table's tile");
            assert!(used, "the 3x3 stride-1 convs run as {wino:?}");
            let got = plan.run(&input).unwrap();
            let err = rel_err(&got, &want);
            let tol = tolerance(storage, Compared::Model);
            assert!(
                err <= tol,
                "{} {wino:?}: rel err {err:.2e} > {tol:.2e}",
                storage.name()
            );
        }
    }
}

/// The untuned default on a CPU adapter: F(4x4) in FP32 on the 3x3 stride-1 convs whose GEMM
/// has at least `F4_MIN_TILES` tiles (ResNet18 at 224: the 56x56 convs at batch 1, the 56, 28
/// and 14 ones at batch 8; never the 512-channel 7x7s), the direct conv elsewhere; the same in
/// an f16 storage (F(4x4)'s scratch is FP32 there).
#[test]
fn the_default_plan_runs_f4_where_it_pays_on_cpu_adapters() {
    if ctx().info.device_type != wgpu::DeviceType::Cpu {
        eprintln!("the default's Winograd rule is for CPU adapters: skipped");
        return;
    }
    let spec = resolve("ResNet18").unwrap();
    let weights = synthetic_weights(&spec.arch, 1000, 3);
    for storage in [Storage::F32, Storage::F16Packed] {
        let mut model = Model::new(ctx(), &weights, storage).unwrap();
        model.set_tuning(None);
        model.set_shipped(None);
        for (batch, maps) in [(1, &[56][..]), (8, &[56, 28, 14][..])] {
            let plan = model.plan(batch, 224, 224).unwrap();
            for c in plan.convs.iter().flatten() {
                let s = &c.shape;
                let f4 = (s.kernel, s.stride) == (3, 1) && maps.contains(&s.in_h);
                assert_eq!(
                    c.winograd,
                    f4.then_some(Winograd::F4),
                    "{} {s:?}",
                    storage.name()
                );
            }
        }
    }
}

#[test]
fn stale_and_damaged_cache_files_are_ignored_with_a_reason() {
    let dir = std::env::temp_dir().join(format!("gpu-resnet-tune-{}", std::process::id()));
    let stamp = TuneStamp::of(ctx(), Storage::F32);
    let path = tune::cache_file(&dir, &stamp);
    let (table, status) = tune::load_from(Some(&dir), ctx(), Storage::F32);
    assert!(table.is_none());
    assert_eq!(status, TuneStatus::Missing(path.clone()));

    let mut other = TuneTable::new(TuneStamp {
        driver_info: "another driver".into(),
        ..stamp.clone()
    });
    other.entries.insert(
        "3x3/1 64->64 8x8 b2".into(),
        TunedTile {
            tm: 8,
            tn4: 2,
            share: 0,
            ms: 1.0,
            heuristic_ms: 1.0,
            winograd: None,
            staged: false,
        },
    );
    other.write(&path).unwrap();
    let (table, status) = tune::load_from(Some(&dir), ctx(), Storage::F32);
    assert!(table.is_none());
    assert!(
        status
            .warning()
            .is_some_and(|w| w.contains("another driver")),
        "{status:?}"
    );

    std::fs::write(&path, b"{\"stamp\": 3").unwrap();
    let (table, status) = tune::load_from(Some(&dir), ctx(), Storage::F32);
    assert!(table.is_none());
    assert!(matches!(status, TuneStatus::Ignored(..)), "{status:?}");

    TuneTable::new(stamp).write(&path).unwrap();
    let (table, status) = tune::load_from(Some(&dir), ctx(), Storage::F32);
    assert!(table.is_some());
    assert_eq!(status, TuneStatus::Loaded(path));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every conv shape of ResNet18 at batch 2, 32x32, with its output channels.
fn resnet18_shapes() -> Vec<ConvShape> {
    let spec = resolve("ResNet18").unwrap();
    let graph = spec.arch.graph(32, 32, 1000, Stage1Shortcut::Projection);
    let mut shapes: Vec<ConvShape> = graph
        .ops
        .iter()
        .filter_map(|op| match *op {
            Op::Conv { conv, input, .. } => {
                let t = graph.tensors[input];
                Some(ConvShape::of(&graph.convs[conv], (t.h, t.w), 2))
            }
            _ => None,
        })
        .collect();
    shapes.sort();
    shapes.dedup();
    shapes
}

fn direct(tm: u32, tn4: u32) -> TunedTile {
    TunedTile {
        tm,
        tn4,
        share: 0,
        ms: 1.0,
        heuristic_ms: 2.0,
        winograd: None,
        staged: false,
    }
}

/// The cache's entry wins over the shipped one, the shipped one over the heuristic; a shipped
/// entry that does not fit the layer, or asks for Winograd the model has no weights for, is
/// passed over, not an error; and the plan still computes what the heuristic plan does.
#[test]
fn the_cache_beats_the_shipped_table_which_beats_the_heuristic() {
    use gpu_resnet::tuning::shipped::ShippedTable;
    use gpu_resnet::tuning::{TileRules, TileSource};
    let spec = resolve("ResNet18").unwrap();
    let weights = synthetic_weights(&spec.arch, 1000, 3);
    let input = synthetic_input(2 * 3 * 32 * 32, 5);
    let mut model = Model::new(ctx(), &weights, Storage::F32).unwrap();
    model.set_tuning(None);
    model.set_shipped(None);
    let heuristic_plan = model.plan(2, 32, 32).unwrap();
    assert_eq!(
        heuristic_plan.tile_sources().heuristic,
        heuristic_plan.tuned_convs().1
    );
    let want = heuristic_plan.run(&input).unwrap();

    let shapes = resnet18_shapes();
    assert!(shapes.len() >= 6, "{shapes:?}");
    // Shapes 0..: the cache has every second one; the shipped table has all but the last,
    // shape 3 with a tile that does not divide its channels, shape 1 (a 1x1 conv, which has
    // no Winograd weights whatever the embedded table holds) as Winograd.
    assert_eq!(shapes[1].kernel, 1, "{shapes:?}");
    let mut cache = TuneTable::new(TuneStamp::of(ctx(), Storage::F32));
    let mut shipped_cache = TuneTable::new(TuneStamp::of(ctx(), Storage::F32));
    for (i, shape) in shapes.iter().enumerate() {
        if i % 2 == 0 {
            cache.entries.insert(shape.key(), direct(4, 2));
        }
        let entry = match i {
            3 => direct(8, 5),
            1 => TunedTile {
                winograd: Some(Winograd::F2),
                ..direct(8, 2)
            },
            _ => direct(8, 2),
        };
        if i + 1 < shapes.len() {
            shipped_cache.entries.insert(shape.key(), entry);
        }
    }
    model.set_tuning(Some(cache));
    model.set_shipped(Some(ShippedTable::of(&shipped_cache, TileRules::of(ctx()))));
    let plan = model.plan(2, 32, 32).unwrap();
    for conv in plan.convs.iter().flatten() {
        let i = shapes.iter().position(|s| *s == conv.shape).unwrap();
        let last = i + 1 == shapes.len();
        let (source, tm) = match i {
            _ if i % 2 == 0 => (TileSource::Cache, Some(4)),
            1 | 3 => (TileSource::Heuristic, None),
            _ if last => (TileSource::Heuristic, None),
            _ => (TileSource::Shipped, Some(8)),
        };
        assert_eq!(conv.source, source, "{}", conv.shape.key());
        assert!(conv.winograd.is_none(), "{}", conv.shape.key());
        if let Some(tm) = tm {
            assert_eq!(conv.tile.tm, tm, "{}", conv.shape.key());
        }
    }
    let counts = plan.tile_sources();
    assert!(
        counts.cache > 0 && counts.shipped > 0 && counts.heuristic > 0,
        "{counts:?}"
    );
    assert_eq!(counts.total(), plan.tuned_convs().1);
    assert_eq!(counts.cache + counts.shipped, plan.tuned_convs().0);
    assert!(
        counts.describe().starts_with("cache "),
        "{}",
        counts.describe()
    );
    let got = plan.run(&input).unwrap();
    let err = rel_err(&got, &want);
    let tol = tolerance(Storage::F32, Compared::Model);
    assert!(err <= tol, "rel err {err:.2e} > {tol:.2e}");
}

/// The model finds the embedded table's entry for its own implementation, if one is shipped.
#[test]
fn a_model_reports_its_shipped_table() {
    use gpu_resnet::tuning::shipped::{self, ShippedStatus};
    let spec = resolve("ResNet18").unwrap();
    let weights = synthetic_weights(&spec.arch, 1000, 3);
    let model = Model::new(ctx(), &weights, Storage::F32).unwrap();
    let (table, status) = shipped::lookup(
        shipped::ShippedDefaults::embedded(),
        &TuneStamp::of(ctx(), Storage::F32),
    );
    match (&model.shipped_status, status) {
        // GPU_RESNET_TUNE=off or =cache in this test's environment.
        (ShippedStatus::Off, _) => {}
        (ours, status) => {
            assert_eq!(*ours, status);
            assert_eq!(
                matches!(ours, ShippedStatus::Loaded(..)),
                table.is_some(),
                "{ours:?}"
            );
        }
    }
}
