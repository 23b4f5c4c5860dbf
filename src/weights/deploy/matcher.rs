//! Turns the structure the walk found into one of the family's architectures and its weights:
//! block kind and counts, stem and shortcut kinds decide the architecture; then every conv,
//! pool and the head are checked against that architecture's layer table (kernel, stride,
//! padding, channels), and the errors say which op differs from what the architecture has.

use super::program::{OpKind, Program};
use super::walk::{ConvUnit, Found, Walker};
use crate::arch::{Arch, Block, ConvLayer, Shortcut, Stage1Shortcut, Stem, ARCHS};
use crate::error::{Error, Result};
use crate::weights::{ConvBn, ModelWeights};

/// What matching a program gives.
#[derive(Clone, Debug)]
pub struct Matched {
    pub weights: ModelWeights,
    pub input_name: String,
    /// `None` when the program's input size is dynamic.
    pub input_hw: Option<(usize, usize)>,
    /// Parameters of the file no layer uses.
    pub ignored: Vec<String>,
    /// The program ends in a softmax (PaddleClas exports add one); the engine returns logits.
    pub softmax: bool,
}

fn describe(block: Block, depths: &[usize], stem: Stem, shortcut: Shortcut) -> String {
    format!(
        "{} blocks {depths:?}, {} stem, {} shortcuts",
        match block {
            Block::Basic => "basic",
            Block::Bottleneck => "bottleneck",
        },
        match stem {
            Stem::Plain => "7x7",
            Stem::Deep => "3-conv (deep)",
        },
        match shortcut {
            Shortcut::Strided => "strided-conv",
            Shortcut::AvgPool => "avg-pool + conv (vd)",
        }
    )
}

/// The architecture a found structure is, with the stage-1 shortcut convention.
fn identify(w: &Walker, f: &Found) -> Result<(Arch, Stage1Shortcut)> {
    let source = &w.p.source;
    let cout = |u: &ConvUnit| {
        w.p.params
            .get(w.input(u.conv, 1).unwrap_or(""))
            .and_then(|t| t.shape.first().copied())
    };
    let block = match f.blocks.first().map(|b| b.branch.len()) {
        Some(2) => Block::Basic,
        Some(3) => Block::Bottleneck,
        _ => {
            return Err(Error::tensor(
                source,
                "<blocks>",
                format!(
                    "{} residual blocks found; a ResNet has 8 or more of 2 or 3 convs",
                    f.blocks.len()
                ),
            ))
        }
    };
    let mut depths: Vec<usize> = Vec::new();
    let mut last_c = None;
    for b in &f.blocks {
        if b.branch.len() != f.blocks[0].branch.len() {
            return Err(w.err(
                w.op(b.add),
                format!(
                    "a block of {} convs among blocks of {}",
                    b.branch.len(),
                    f.blocks[0].branch.len()
                ),
            ));
        }
        let c = b.branch.last().and_then(cout);
        if c != last_c || depths.is_empty() {
            depths.push(0);
            last_c = c;
        }
        *depths.last_mut().expect("pushed") += 1;
    }
    let stem = match f.stem.len() {
        1 => Stem::Plain,
        3 => Stem::Deep,
        n => {
            return Err(w.err(
                w.op(f.stem[0].conv),
                format!("a stem of {n} convs; the family's stems have 1 (7x7) or 3 (3x3)"),
            ))
        }
    };
    let shortcut = if f
        .blocks
        .iter()
        .any(|b| matches!(b.shortcut, Some((_, Some(_)))))
    {
        Shortcut::AvgPool
    } else {
        Shortcut::Strided
    };
    let stage1 = if f.blocks[0].shortcut.is_some() {
        Stage1Shortcut::Projection
    } else {
        Stage1Shortcut::IdentityWhenSameShape
    };
    let arch = ARCHS
        .iter()
        .copied()
        .find(|a| a.block == block && a.stage_depths[..] == depths[..] && a.stem == stem && a.shortcut == shortcut)
        .ok_or_else(|| {
            let names: Vec<&str> = ARCHS.iter().map(|a| a.name).collect();
            Error::tensor(
                source,
                "<structure>",
                format!(
                    "the program is a network of {}, which is none of the family's architectures ({})",
                    describe(block, &depths, stem, shortcut),
                    names.join(", ")
                ),
            )
        })?;
    Ok((arch, stage1))
}

/// The found conv units in the order of `arch.conv_layers(stage1)`, with each one's pool.
fn in_layer_order(f: &Found) -> Vec<(&ConvUnit, Option<usize>)> {
    let mut out: Vec<(&ConvUnit, Option<usize>)> = f.stem.iter().map(|u| (u, None)).collect();
    for b in &f.blocks {
        let (last, rest) = b.branch.split_last().expect("a block has convs");
        out.extend(rest.iter().map(|u| (u, None)));
        if let Some((u, pool)) = &b.shortcut {
            out.push((u, *pool));
        }
        out.push((last, None));
    }
    out
}

struct Params<'a> {
    w: &'a Walker<'a>,
    used: std::collections::BTreeSet<String>,
}

impl Params<'_> {
    /// Parameter `name` (input `k` of op `at`) with the shape `want`.
    fn take(&mut self, at: usize, name: &str, want: &[usize], arch: &Arch) -> Result<Vec<f32>> {
        let op = self.w.op(at);
        let t = self.w.p.params.get(name).ok_or_else(|| {
            self.w.err(
                op,
                format!("reads `{name}`, which is not a parameter of the file"),
            )
        })?;
        if t.shape != want {
            return Err(Error::tensor(
                &self.w.p.source,
                name,
                format!(
                    "shape {:?}, where {} needs {want:?} (read by op {} `{}`)",
                    t.shape, arch.name, op.index, op.op_type
                ),
            ));
        }
        if let Some(bad) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::tensor(
                &self.w.p.source,
                name,
                format!("value {} at flat index {bad} is not finite", t.data[bad]),
            ));
        }
        self.used.insert(name.to_string());
        Ok(t.data.clone())
    }
}

fn check_conv(w: &Walker, u: &ConvUnit, layer: &ConvLayer, arch: &Arch) -> Result<()> {
    let op = w.op(u.conv);
    let OpKind::Conv {
        kernel,
        stride,
        pads,
        dilation,
        groups,
        auto_pad,
    } = &op.kind
    else {
        unreachable!("a conv unit starts with a conv")
    };
    let p = layer.pad() as i64;
    let want_stride = layer.stride as i64;
    let mut problems = Vec::new();
    if let Some(k) = kernel.filter(|k| *k != [layer.kernel as i64; 2]) {
        problems.push(format!("kernel_shape {k:?}"));
    }
    if *groups != 1 {
        problems.push(format!("groups {groups} (a grouped or depthwise conv)"));
    }
    if *dilation != [1, 1] {
        problems.push(format!("dilation {dilation:?}"));
    }
    if *stride != [want_stride; 2] {
        problems.push(format!("stride {stride:?}"));
    }
    if auto_pad.is_some() || *pads != [p; 4] {
        problems.push(match auto_pad {
            Some(a) => format!("padding {a}"),
            None => format!("padding {pads:?}"),
        });
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(w.err(
        op,
        format!(
            "{} where {} has a {}x{} conv `{}` with stride {want_stride} and padding {p}",
            problems.join(", "),
            arch.name,
            layer.kernel,
            layer.kernel,
            layer.name
        ),
    ))
}

fn check_pool(w: &Walker, at: usize, want_max: bool, arch: &Arch, what: &str) -> Result<()> {
    let op = w.op(at);
    let OpKind::Pool {
        max,
        kernel,
        stride,
        pads,
        ceil,
        exclusive,
        auto_pad,
        ..
    } = &op.kind
    else {
        unreachable!("checked by the walk")
    };
    let ok = if want_max {
        *max && *kernel == [3, 3]
            && *stride == [2, 2]
            && *pads == [1; 4]
            && !*ceil
            && auto_pad.is_none()
    } else {
        // The vd shortcut: 2x2/2, ceil mode (or SAME), padding excluded from the average.
        let same = auto_pad.as_deref().is_some_and(|a| a.starts_with("SAME"));
        !*max
            && *kernel == [2, 2]
            && *stride == [2, 2]
            && *pads == [0; 4]
            && (*ceil || same)
            && *exclusive
    };
    if ok {
        return Ok(());
    }
    Err(w.err(
        op,
        format!(
            "a {} pool with kernel {kernel:?}, stride {stride:?}, padding {pads:?}{}{} where {} has {what}",
            if *max { "max" } else { "average" },
            if *ceil { ", ceil mode" } else { "" },
            auto_pad.as_ref().map(|a| format!(", {a}")).unwrap_or_default(),
            arch.name
        ),
    ))
}

fn conv_weights(ps: &mut Params, u: &ConvUnit, layer: &ConvLayer, arch: &Arch) -> Result<ConvBn> {
    let w = ps.w;
    let c = layer.cout;
    let weight = ps.take(
        u.conv,
        w.input(u.conv, 1)?,
        &[c, layer.cin, layer.kernel, layer.kernel],
        arch,
    )?;
    let own_bias = match w.op(u.conv).inputs.get(2) {
        Some(b) => Some(ps.take(u.conv, b, &[c], arch)?),
        None => None,
    };
    let added_bias = match &u.bias_add {
        Some((at, b)) => Some(ps.take(*at, b, &[c], arch)?),
        None => None,
    };
    let bias: Option<Vec<f32>> = match (own_bias, added_bias) {
        (Some(a), Some(b)) => Some(a.iter().zip(&b).map(|(x, y)| x + y).collect()),
        (a, b) => a.or(b),
    };
    let Some(bn) = u.bn else {
        return Ok(ConvBn::Folded {
            weight,
            bias: bias.unwrap_or_else(|| vec![0.0; c]),
        });
    };
    let OpKind::BatchNorm { epsilon } = w.op(bn).kind else {
        unreachable!("a conv unit's bn is a BatchNorm")
    };
    let mut get = |k: usize| -> Result<Vec<f32>> { ps.take(bn, w.input(bn, k)?, &[c], arch) };
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(w.err(
            w.op(bn),
            format!("epsilon {epsilon}: a batch norm's epsilon must be finite and not negative"),
        ));
    }
    let (gamma, beta, mut mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
    if let Some(bad) = var.iter().position(|&x| x < 0.0) {
        return Err(Error::tensor(
            &w.p.source,
            w.input(bn, 4)?,
            format!("negative variance at channel {bad}"),
        ));
    }
    // BN(conv + b) = BN'(conv) with the mean shifted by b.
    if let Some(b) = bias {
        mean.iter_mut().zip(&b).for_each(|(m, b)| *m -= b);
    }
    Ok(ConvBn::BatchNorm {
        weight,
        gamma,
        beta,
        mean,
        var,
        epsilon,
    })
}

/// Matches `p` against the family; `hint` (a `--model`) must agree with what the file is.
pub fn match_program(p: &Program, hint: Option<&Arch>) -> Result<Matched> {
    let w = Walker::new(p);
    let found = w.walk()?;
    let (arch, stage1) = identify(&w, &found)?;
    if let Some(h) = hint {
        if h.name != arch.name {
            return Err(Error::tensor(
                &p.source,
                "<architecture>",
                format!(
                    "the file holds a {} but {} was asked for",
                    arch.name, h.name
                ),
            ));
        }
    }
    let layers = arch.conv_layers(stage1);
    let units = in_layer_order(&found);
    if units.len() != layers.len() {
        return Err(Error::tensor(
            &p.source,
            "<conv layers>",
            format!(
                "{} conv layers found, {} has {}",
                units.len(),
                arch.name,
                layers.len()
            ),
        ));
    }
    let mut ps = Params {
        w: &w,
        used: Default::default(),
    };
    let mut convs = Vec::with_capacity(layers.len());
    for ((u, pool), layer) in units.iter().zip(&layers) {
        check_conv(&w, u, layer, &arch)?;
        match (pool, layer.avg_pool_input) {
            (Some(at), true) => check_pool(
                &w,
                *at,
                false,
                &arch,
                "a 2x2/2 average pool (ceil mode, padding excluded) before the shortcut conv",
            )?,
            (None, false) => {}
            (Some(at), false) => {
                return Err(w.err(
                    w.op(*at),
                    format!(
                        "a pool before `{}`, where {} has none",
                        layer.name, arch.name
                    ),
                ))
            }
            (None, true) => {
                return Err(w.err(
                    w.op(u.conv),
                    format!(
                        "a shortcut conv without the 2x2 average pool {} has before `{}`",
                        arch.name, layer.name
                    ),
                ))
            }
        }
        convs.push(conv_weights(&mut ps, u, layer, &arch)?);
    }
    check_pool(
        &w,
        found.max_pool,
        true,
        &arch,
        "a 3x3/2 max pool with padding 1 after the stem",
    )?;
    let h = &found.head;
    let features = arch.features();
    let bias_t = p.params.get(&h.bias).ok_or_else(|| {
        w.err(
            w.op(h.matmul),
            format!("the classifier bias `{}` is not a parameter", h.bias),
        )
    })?;
    let classes = match bias_t.shape.as_slice() {
        [n] | [1, n] if *n > 0 => *n,
        s => {
            return Err(Error::tensor(
                &p.source,
                &h.bias,
                format!("the classifier bias has shape {s:?}, expected [classes]"),
            ))
        }
    };
    let want_w = if h.transpose_b {
        [classes, features]
    } else {
        [features, classes]
    };
    let raw = ps.take(h.matmul, &h.weight, &want_w, &arch)?;
    let fc_weight = if h.transpose_b {
        let mut t = vec![0.0; raw.len()];
        for c in 0..classes {
            for k in 0..features {
                t[k * classes + c] = raw[c * features + k];
            }
        }
        t
    } else {
        raw
    };
    let fc_bias = ps.take(h.matmul, &h.bias, &bias_t.shape.clone(), &arch)?;
    let input_hw = match p.input_shape.as_slice() {
        [_, c, hh, ww] if *c == 3 || *c < 0 => match (usize::try_from(*hh), usize::try_from(*ww)) {
            (Ok(h), Ok(w)) if h > 0 && w > 0 => Some((h, w)),
            // -1 (or a symbolic dimension): dynamic
            _ if *hh <= 0 || *ww <= 0 => None,
            // Past this target's usize (wasm32): never a silently wrapped size.
            _ => {
                return Err(Error::tensor(
                    &p.source,
                    &p.input_name,
                    format!("input size {hh}x{ww} does not fit this platform's sizes"),
                ))
            }
        },
        s => {
            return Err(Error::tensor(
                &p.source,
                &p.input_name,
                format!("input shape {s:?}, expected [N, 3, H, W]"),
            ))
        }
    };
    let ignored = p
        .params
        .keys()
        .filter(|k| !ps.used.contains(*k))
        .cloned()
        .collect();
    let weights = ModelWeights {
        arch,
        stage1,
        convs,
        fc_weight,
        fc_bias,
        classes,
        source: p.source.clone(),
    };
    weights.check_shapes()?;
    Ok(Matched {
        weights,
        input_name: p.input_name.clone(),
        input_hw,
        ignored,
        softmax: h.softmax,
    })
}
