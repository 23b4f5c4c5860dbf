//! `inference.yml`, the deployment config PaddleX/PaddleClas write beside an inference model:
//! `PreProcess.transform_ops` (ResizeImage / CropImage / NormalizeImage / ToCHWImage, with
//! optional DecodeImage) and `PostProcess.Topk` (`topk`, `label_list`). Read with yaml-rust2
//! (pure Rust, maintained, YAML 1.2; serde_yaml is deprecated and serde_yml is not one we trust).
//! Every op must be one our preprocessing reproduces; anything else is an error naming it.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};
use crate::preprocess::PreprocessConfig;

/// A config far beyond any real one (label lists of 1000 names are ~30 KB).
const MAX_BYTES: usize = 4 << 20;
/// Flow-collection nesting we accept before parsing (real files nest 2).
const MAX_NESTING: usize = 32;
/// What alias expansion may add, in nodes plus scalar bytes: yaml-rust2 deep-copies the anchored
/// node for every alias, so ten levels of ten aliases in 1 KB would build 10^10 nodes. Real
/// configs use at most a few small aliases (PaddleX shares one shape list), which fit easily.
const MAX_ALIAS_EXPANSION: u64 = 1 << 20;

/// What `inference.yml` says.
#[derive(Clone, Debug, PartialEq)]
pub struct DeployConfig {
    pub preprocess: PreprocessConfig,
    /// `PostProcess.Topk.label_list`, if given.
    pub labels: Option<Vec<String>>,
    pub topk: Option<usize>,
    /// `Global.model_name`, for messages.
    pub model_name: Option<String>,
}

fn err(path: &str, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.into(),
        format: "inference.yml",
        reason: reason.into(),
    }
}

fn number(v: &Yaml) -> Option<f64> {
    match v {
        Yaml::Integer(i) => Some(*i as f64),
        Yaml::Real(_) => v.as_f64(),
        // `scale: '1./255.'` as PaddleClas writes it
        Yaml::String(s) => match s.split_once('/') {
            Some((a, b)) => Some(a.trim().parse::<f64>().ok()? / b.trim().parse::<f64>().ok()?),
            None => s.trim().parse().ok(),
        },
        _ => None,
    }
}

fn triple(v: &Yaml, path: &str, what: &str) -> Result<[f32; 3]> {
    let items = v
        .as_vec()
        .ok_or_else(|| err(path, format!("{what} is not a list")))?;
    match items
        .iter()
        .map(number)
        .collect::<Option<Vec<f64>>>()
        .as_deref()
    {
        Some([a, b, c]) => Ok([*a as f32, *b as f32, *c as f32]),
        _ => Err(err(path, format!("{what} should be three numbers"))),
    }
}

fn size(v: &Yaml, path: &str, what: &str) -> Result<u32> {
    let n = match v {
        Yaml::Array(a) if a.len() == 2 && a[0] == a[1] => number(&a[0]),
        other => number(other),
    };
    match n {
        Some(n) if (1.0..=16384.0).contains(&n) && n.fract() == 0.0 => Ok(n as u32),
        _ => Err(err(
            path,
            format!("{what} should be a positive whole number (a square size)"),
        )),
    }
}

/// Sizes of the event stream, without building it: each anchored node's expanded size
/// (nodes + scalar bytes, its own aliases expanded) and what the aliases add in all.
#[derive(Default)]
struct AliasBudget {
    /// Per open collection: its anchor id and the expanded size of its contents so far.
    open: Vec<(usize, u64)>,
    anchored: std::collections::HashMap<usize, u64>,
    expansion: u64,
}

impl AliasBudget {
    /// A node of expanded size `size` (anchored as `anchor` when non-zero) ends.
    fn node(&mut self, anchor: usize, size: u64) {
        if anchor != 0 {
            self.anchored.insert(anchor, size);
        }
        if let Some((_, total)) = self.open.last_mut() {
            *total = total.saturating_add(size);
        }
    }
}

impl MarkedEventReceiver for AliasBudget {
    fn on_event(&mut self, ev: Event, _: Marker) {
        match ev {
            Event::Scalar(text, _, anchor, _) => self.node(anchor, 1 + text.len() as u64),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.open.push((anchor, 1))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, size)) = self.open.pop() {
                    self.node(anchor, size);
                }
            }
            Event::Alias(id) => {
                // An alias inside its own anchor (not yet closed) is one bad node.
                let size = self.anchored.get(&id).copied().unwrap_or(1);
                self.expansion = self.expansion.saturating_add(size);
                self.node(0, size);
            }
            _ => {}
        }
    }
}

/// `Err` when the aliases would expand past `MAX_ALIAS_EXPANSION`: counted on the event stream
/// (linear in the text, nothing copied) before yaml-rust2 builds the tree.
fn check_alias_expansion(text: &str, path: &str) -> Result<()> {
    let mut budget = AliasBudget::default();
    Parser::new(text.chars())
        .load(&mut budget, true)
        .map_err(|e| err(path, format!("not YAML: {e}")))?;
    if budget.expansion > MAX_ALIAS_EXPANSION {
        return Err(err(
            path,
            format!(
                "its aliases (`*name`) expand to more than {} nodes and scalar bytes ({} counted; \
                 an alias bomb?); real configs use a few small ones",
                MAX_ALIAS_EXPANSION, budget.expansion
            ),
        ));
    }
    Ok(())
}

/// Parses `inference.yml`; `path` names it in errors.
pub fn parse_inference_yml(bytes: &[u8], path: &str) -> Result<DeployConfig> {
    if bytes.len() > MAX_BYTES {
        return Err(err(
            path,
            format!("{} bytes, more than any real config", bytes.len()),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| err(path, format!("not UTF-8: {e}")))?;
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(err(path, "nested deeper than any real config"));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    check_alias_expansion(text, path)?;
    let docs = YamlLoader::load_from_str(text).map_err(|e| err(path, format!("not YAML: {e}")))?;
    let doc = docs.first().ok_or_else(|| err(path, "empty"))?;
    let ops = doc["PreProcess"]["transform_ops"]
        .as_vec()
        .ok_or_else(|| err(path, "no `PreProcess.transform_ops` list"))?;
    let mut pre = PreprocessConfig::imagenet(256, 224);
    let (mut resize, mut crop) = (None, None);
    for op in ops {
        let (name, args) = match op
            .as_hash()
            .map(|h| h.iter().collect::<Vec<_>>())
            .as_deref()
        {
            Some([(k, v)]) => (k.as_str().unwrap_or(""), *v),
            _ => {
                return Err(err(
                    path,
                    "each transform op should be a one-key mapping (`- ResizeImage: {...}`)",
                ))
            }
        };
        let arg = |k: &str| &args[k];
        match name {
            "DecodeImage" | "ReadImage" => {
                let bgr = arg("to_rgb").as_bool() == Some(false)
                    || arg("format").as_str().is_some_and(|f| f.eq_ignore_ascii_case("BGR"));
                if bgr {
                    return Err(err(path, format!("{name} asks for BGR input; the engine feeds RGB as PaddleClas's ImageNet models expect")));
                }
            }
            "ResizeImage" => {
                if !arg("size").is_badvalue() && arg("resize_short").is_badvalue() {
                    return Err(err(path, "ResizeImage with `size` (a fixed resize) is not supported; only `resize_short`"));
                }
                match arg("interpolation") {
                    Yaml::BadValue | Yaml::Null => {}
                    Yaml::Integer(1) => {}
                    Yaml::String(s) if s.eq_ignore_ascii_case("bilinear") || s.eq_ignore_ascii_case("linear") => {}
                    other => return Err(err(path, format!("ResizeImage interpolation {other:?}: only bilinear is reproduced"))),
                }
                resize = Some(size(arg("resize_short"), path, "ResizeImage.resize_short")?);
            }
            "CropImage" | "CenterCropImage" => crop = Some(size(arg("size"), path, "CropImage.size")?),
            "NormalizeImage" => {
                if !arg("mean").is_badvalue() {
                    pre.mean = triple(arg("mean"), path, "NormalizeImage.mean")?;
                }
                if !arg("std").is_badvalue() {
                    pre.std = triple(arg("std"), path, "NormalizeImage.std")?;
                }
                if let Some(bad) = pre.std.iter().find(|s| s.is_nan() || **s <= 0.0) {
                    return Err(err(path, format!("NormalizeImage.std holds {bad}")));
                }
                let scale = match arg("scale") {
                    Yaml::BadValue | Yaml::Null => 1.0 / 255.0,
                    v => number(v).ok_or_else(|| err(path, "NormalizeImage.scale is not a number"))?,
                };
                if (scale - 1.0 / 255.0).abs() > 1e-9 {
                    return Err(err(path, format!("NormalizeImage.scale {scale}: only 1/255 is reproduced")));
                }
                match arg("order").as_str() {
                    None | Some("") | Some("hwc") => {}
                    Some(o) => return Err(err(path, format!("NormalizeImage.order `{o}`: only hwc is reproduced"))),
                }
            }
            "ToCHWImage" => {}
            other => {
                return Err(err(path, format!(
                    "transform op `{other}` is not one the engine reproduces (DecodeImage, ResizeImage, CropImage, NormalizeImage, ToCHWImage)"
                )))
            }
        }
    }
    pre.resize_short = resize.ok_or_else(|| err(path, "no ResizeImage with resize_short"))?;
    pre.crop = crop.ok_or_else(|| err(path, "no CropImage with a size"))?;
    if pre.crop > pre.resize_short {
        return Err(err(
            path,
            format!(
                "crop {} larger than the resized short side {}",
                pre.crop, pre.resize_short
            ),
        ));
    }
    let topk = &doc["PostProcess"]["Topk"];
    let labels = match &topk["label_list"] {
        Yaml::BadValue | Yaml::Null => None,
        Yaml::Array(items) => Some(
            items
                .iter()
                .map(|l| match l {
                    Yaml::String(s) => Ok(s.clone()),
                    Yaml::Integer(i) => Ok(i.to_string()),
                    Yaml::Real(r) => Ok(r.clone()),
                    _ => Err(err(
                        path,
                        "PostProcess.Topk.label_list holds a non-text entry",
                    )),
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        _ => return Err(err(path, "PostProcess.Topk.label_list is not a list")),
    };
    Ok(DeployConfig {
        preprocess: pre,
        labels,
        topk: topk["topk"].as_i64().and_then(|k| usize::try_from(k).ok()),
        model_name: doc["Global"]["model_name"].as_str().map(str::to_string),
    })
}
