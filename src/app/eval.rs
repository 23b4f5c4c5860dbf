//! `gpu-resnet eval`: top-1 / top-5 accuracy and images/s on a labelled set, either a
//! PaddleClas label list (`relative/path.jpg class_id` per line, paths relative to `--data`) or
//! an ImageFolder tree (one sub-folder per class; sorted folder names are class ids 0, 1, ...).
//! Files decode on CPU threads while the GPU runs the previous batch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use crate::app::args::{ListFormat, ModelArgs};
use crate::app::feed;
use crate::classify::top_k;
use crate::error::{Error, Result};

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Image root: the paths in --labels are relative to it. Without --labels, an ImageFolder
    /// tree: one sub-folder per class, sorted names = class ids.
    #[arg(long)]
    pub data: PathBuf,
    /// PaddleClas label list: `relative/path.jpg class_id` per line.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Images per GPU batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Decoding threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Evaluate only the first N images of the list.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Extensions an ImageFolder walk takes as images (others, like a README, are skipped).
const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "bmp", "webp", "gif", "tif", "tiff"];

/// A PaddleClas label list: `path class_id` per line (the path may contain spaces).
pub fn read_label_list(list: &Path, root: &Path) -> Result<Vec<(PathBuf, usize)>> {
    let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
    let mut items = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: &str| {
            Error::Input(format!(
                "{}:{}: {why}: `{line}` (expected `relative/path.jpg class_id`)",
                list.display(),
                n + 1
            ))
        };
        let (path, class) = line
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| bad("no class id"))?;
        let class = class
            .parse::<usize>()
            .map_err(|_| bad("the class id is not a non-negative integer"))?;
        items.push((root.join(path.trim()), class));
    }
    Ok(items)
}

/// An ImageFolder tree: `root/<class>/**/<image>`, classes numbered in sorted name order.
pub fn read_image_folder(root: &Path) -> Result<Vec<(PathBuf, usize)>> {
    let mut classes: Vec<PathBuf> = list_dir(root)?.into_iter().filter(|p| p.is_dir()).collect();
    classes.sort();
    if classes.is_empty() {
        return Err(Error::Input(format!(
            "{}: no class sub-folders (an ImageFolder tree has one per class; or pass --labels)",
            root.display()
        )));
    }
    let mut items = Vec::new();
    for (class, dir) in classes.iter().enumerate() {
        let mut files = Vec::new();
        walk_images(dir, &mut files)?;
        files.sort();
        items.extend(files.into_iter().map(|f| (f, class)));
    }
    Ok(items)
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(dir, err)))
        .collect()
}

fn walk_images(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in list_dir(dir)? {
        if path.is_dir() {
            walk_images(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// What `eval` measured.
#[derive(Debug, Default, serde::Serialize)]
pub struct EvalReport {
    pub images: usize,
    pub classified: usize,
    pub unreadable: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
    /// Over the classified images.
    pub top1: f64,
    pub top5: f64,
    pub seconds: f64,
    /// Classified images per second, decoding included.
    pub images_per_s: f64,
    pub errors: Vec<String>,
}

pub fn eval(args: EvalArgs) -> Result<()> {
    if args.batch == 0 {
        return Err(Error::Input("--batch must be at least 1".into()));
    }
    let mut items = match &args.labels {
        Some(list) => read_label_list(list, &args.data)?,
        None => read_image_folder(&args.data)?,
    };
    if let Some(n) = args.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        return Err(Error::Input(format!(
            "{}: no images to evaluate",
            args.data.display()
        )));
    }
    let (spec, classifier) = args.model.classifier()?;
    let classes = classifier.model().classes;
    if let Some((path, class)) = items.iter().find(|(_, c)| *c >= classes) {
        return Err(Error::Input(format!(
            "{}: class id {class} is out of range for a {classes}-class model",
            path.display()
        )));
    }
    // Compile the full-batch plan before the clock starts: images/s is the steady state.
    classifier.plan(args.batch.min(items.len()))?;
    let threads = args.threads.unwrap_or_else(feed::default_threads);
    let progress = indicatif::ProgressBar::new(items.len() as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images, {per_sec}, ETA {eta}")
    {
        progress.set_style(style);
    }
    let mut report = EvalReport {
        images: items.len(),
        ..Default::default()
    };
    let paths: Vec<PathBuf> = items.iter().map(|(p, _)| p.clone()).collect();
    let start = Instant::now();
    let mut failures = Vec::new();
    feed::in_batches(
        paths,
        args.batch,
        threads,
        |i, img| {
            classifier.check_image(img).map_err(|e| Error::Image {
                path: items[i].0.clone(),
                reason: e.to_string(),
            })
        },
        |_, e| {
            progress.inc(1);
            failures.push(e.to_string());
        },
        |ready| {
            let images: Vec<_> = ready.iter().map(|(_, img)| img).collect();
            for ((i, _), logits) in ready.iter().zip(classifier.logits(&images)?) {
                let top = top_k(&logits, 5);
                let truth = items[*i].1;
                report.classified += 1;
                report.top1_correct +=
                    usize::from(top.first().is_some_and(|t| t.class_id == truth));
                report.top5_correct += usize::from(top.iter().any(|t| t.class_id == truth));
            }
            progress.inc(ready.len() as u64);
            Ok(())
        },
    )?;
    progress.finish_and_clear();
    report.seconds = start.elapsed().as_secs_f64();
    report.unreadable = failures.len();
    report.errors = failures;
    if report.classified == 0 {
        return Err(Error::Input(format!(
            "none of the {} images could be read; first error: {}",
            report.images,
            report.errors.first().map_or("-", String::as_str)
        )));
    }
    let n = report.classified as f64;
    report.top1 = report.top1_correct as f64 / n;
    report.top5 = report.top5_correct as f64 / n;
    report.images_per_s = n / report.seconds.max(1e-9);
    match args.format {
        ListFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => return Err(Error::Input(format!("cannot write JSON: {e}"))),
        },
        ListFormat::Table => {
            for e in &report.errors {
                eprintln!("skipped: {e}");
            }
            println!(
                "{} ({}) on {}, batch {}, {threads} decoding thread(s)",
                spec.name,
                classifier.model().storage.name(),
                classifier.model().ctx.describe(),
                args.batch
            );
            println!(
                "top-1 accuracy: {:.4} ({}/{})",
                report.top1, report.top1_correct, report.classified
            );
            println!(
                "top-5 accuracy: {:.4} ({}/{})",
                report.top5, report.top5_correct, report.classified
            );
            if report.unreadable > 0 {
                println!("unreadable: {} (skipped)", report.unreadable);
            }
            println!(
                "throughput: {:.1} images/s ({} images in {:.2} s, decoding included)",
                report.images_per_s, report.classified, report.seconds
            );
        }
    }
    Ok(())
}
