//! Paddle op attributes as ProgramDesc and PIR both spell them, and the checks both formats
//! share: an op whose attributes ask for something the engine does not compute (a global max
//! pool, NHWC data, a transposed matmul input, a scaled product, training-mode batch norm,
//! dropout that scales at inference) becomes `Unsupported`, naming the first such attribute, so
//! a model that is not the ResNet we compute is refused rather than answered.

use super::program::OpKind;

/// Reading one op's attributes by name (absent: `None` / empty).
pub trait PaddleAttrs {
    fn ints(&self, name: &str) -> Vec<i64>;
    fn bool(&self, name: &str) -> Option<bool>;
    fn float(&self, name: &str) -> Option<f64>;
    fn str(&self, name: &str) -> Option<String>;
}

/// `pool2d` with its kernel (an attribute in ProgramDesc, a constant input in PIR).
pub fn pool2d(a: &dyn PaddleAttrs, kernel: [i64; 2]) -> OpKind {
    let max = match a.str("pooling_type").as_deref() {
        Some("max") => true,
        Some("avg") | None => false,
        Some(other) => {
            return OpKind::Unsupported(format!(
                "pooling_type `{other}` (max and avg are computed)"
            ))
        }
    };
    let global_flag = a.bool("global_pooling") == Some(true);
    let adaptive = a.bool("adaptive") == Some(true);
    if max && (global_flag || adaptive) {
        return OpKind::Unsupported(
            "a global or adaptive max pool (global_pooling/adaptive with pooling_type max)".into(),
        );
    }
    let global = !max && (global_flag || (adaptive && kernel == [1, 1]));
    if adaptive && !global {
        return OpKind::Unsupported("adaptive pooling to a size other than 1x1".into());
    }
    OpKind::Pool {
        max,
        kernel,
        stride: pair(&a.ints("strides"), 1),
        pads: paddle_pads(&a.ints("paddings")),
        ceil: a.bool("ceil_mode") == Some(true),
        exclusive: a.bool("exclusive").unwrap_or(true),
        global,
        auto_pad: auto_pad(a.str("padding_algorithm")),
    }
}

/// The first attribute of a `op_type` op (Paddle's name, without PIR's `1.` and trailing `_`)
/// that the engine would not honour, as a reason for `OpKind::Unsupported`.
pub fn unhonoured(op_type: &str, a: &dyn PaddleAttrs) -> Option<String> {
    let layout = |name: &str| {
        a.str(name)
            .filter(|f| !matches!(f.as_str(), "" | "NCHW" | "AnyLayout"))
            .map(|f| format!("{name} `{f}` (only NCHW is computed)"))
    };
    let set = |name: &str| a.bool(name) == Some(true);
    match op_type {
        "conv2d" | "pool2d" => layout("data_format"),
        "batch_norm" => layout("data_layout")
            .or_else(|| layout("data_format"))
            .or_else(|| {
                set("trainable_statistics")
                    .then(|| "trainable_statistics (batch statistics at inference)".into())
            })
            .or_else(|| {
                (a.bool("is_test") == Some(false) && !set("use_global_stats"))
                    .then(|| "is_test false (training-mode batch statistics)".into())
            }),
        "matmul" | "matmul_v2" => {
            let transposed_x = ["transpose_X", "transpose_x", "trans_x"]
                .into_iter()
                .find(|n| set(n));
            if let Some(n) = transposed_x {
                return Some(format!("{n} (the features are never transposed)"));
            }
            match a.float("alpha") {
                Some(alpha) if alpha != 1.0 => Some(format!("alpha {alpha} (a scaled product)")),
                _ => None,
            }
        }
        "mul" => ["x_num_col_dims", "y_num_col_dims"]
            .into_iter()
            .find_map(|n| {
                let v = a.ints(n);
                (!v.is_empty() && v != [1]).then(|| format!("{n} {v:?} (1 is computed)"))
            }),
        "dropout" => {
            let mode = a
                .str("dropout_implementation")
                .or_else(|| a.str("mode"))
                .unwrap_or_else(|| "downgrade_in_infer".into());
            let p = a.float("dropout_prob").or_else(|| a.float("p"));
            (mode != "upscale_in_train" && p != Some(0.0)).then(|| {
                format!("dropout `{mode}` (scales by 1 - p at inference; only upscale_in_train is an identity)")
            })
        }
        _ => None,
    }
}

/// `[a, b]` from a 2-list (or a 1-list repeated); `fill` when absent.
pub fn pair(v: &[i64], fill: i64) -> [i64; 2] {
    match v {
        [a, b, ..] => [*a, *b],
        [a] => [*a, *a],
        [] => [fill, fill],
    }
}

/// Paddle's paddings: `[h, w]` or `[top, bottom, left, right]` -> top, left, bottom, right.
pub fn paddle_pads(v: &[i64]) -> [i64; 4] {
    match v {
        [t, b, l, r] => [*t, *l, *b, *r],
        _ => {
            let [h, w] = pair(v, 0);
            [h, w, h, w]
        }
    }
}

/// `padding_algorithm` unless it is the explicit default.
pub fn auto_pad(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty() && s != "EXPLICIT")
}
