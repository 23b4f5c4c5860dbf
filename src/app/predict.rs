//! `gpu-resnet predict`: classify image files and print each one's top-k classes (ImageNet
//! names, softmax probabilities) as a table or JSON, in the order given. An unreadable file is
//! an entry with its error; the others are still classified.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

// `ModelArgs` is kept reachable here, where it was first defined.
use crate::app::args::ListFormat;
pub use crate::app::args::ModelArgs;
use crate::app::feed;
use crate::classify::Prediction;
use crate::error::{Error, Result};
use crate::labels::label;

#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Image files (jpeg, png, bmp, webp, gif, tiff).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Classes to print per image.
    #[arg(long, default_value_t = 5)]
    pub topk: usize,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Images per GPU batch (one plan run each).
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
}

/// One image's line of output: its top classes, or why it could not be classified.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Entry {
    Classified { file: String, topk: Vec<Top> },
    Failed { file: String, error: String },
}

#[derive(serde::Serialize)]
struct Top {
    class_id: usize,
    label: String,
    score: f32,
}

pub fn predict(args: PredictArgs) -> Result<()> {
    if args.topk == 0 || args.batch == 0 {
        return Err(Error::Input("--topk and --batch must be at least 1".into()));
    }
    let opened = args.model.open()?;
    let labels = opened.labels.clone();
    if labels.is_some() {
        eprintln!("labels and preprocessing from the model's inference.yml");
    }
    let (spec, classifier) = opened.into_classifier()?;
    let classes = classifier.model().classes;
    let name_of = |class_id: usize| match &labels {
        Some(l) => l[class_id].clone(),
        None => label(class_id, classes),
    };
    let files: Vec<String> = args
        .images
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut results: Vec<Option<Result<Vec<Prediction>>>> =
        (0..files.len()).map(|_| None).collect();
    let mut failures = Vec::new();
    let start = Instant::now();
    let mut batches = 0;
    feed::in_batches(
        args.images.clone(),
        args.batch,
        feed::default_threads(),
        |i, img| {
            classifier.check_image(img).map_err(|e| Error::Image {
                path: args.images[i].clone(),
                reason: e.to_string(),
            })
        },
        |i, e| failures.push((i, e)),
        |ready| {
            let images: Vec<_> = ready.iter().map(|(_, img)| img).collect();
            let top = classifier.classify(&images, args.topk)?;
            for ((i, _), t) in ready.iter().zip(top) {
                results[*i] = Some(Ok(t));
            }
            batches += 1;
            Ok(())
        },
    )?;
    for (i, e) in failures {
        results[i] = Some(Err(e));
    }
    let entries: Vec<Entry> = files
        .into_iter()
        .zip(results)
        .map(|(file, r)| match r {
            Some(Ok(top)) => Entry::Classified {
                file,
                topk: top
                    .iter()
                    .map(|t| Top {
                        class_id: t.class_id,
                        label: name_of(t.class_id),
                        score: t.score,
                    })
                    .collect(),
            },
            Some(Err(e)) => Entry::Failed {
                file,
                error: e.to_string(),
            },
            None => Entry::Failed {
                file,
                error: "not classified".into(),
            },
        })
        .collect();
    print_entries(&entries, args.format);
    let failed = entries
        .iter()
        .filter(|e| matches!(e, Entry::Failed { .. }))
        .count();
    let done = entries.len() - failed;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} ({}) on {}: {done} image(s) in {batches} batch(es), {secs:.2} s ({:.1} images/s)",
        spec.name,
        classifier.model().storage.name(),
        classifier.model().ctx.describe(),
        done as f64 / secs.max(1e-9),
    );
    if failed > 0 {
        return Err(Error::Input(format!(
            "{failed} of {} image(s) could not be classified (see their entries)",
            entries.len()
        )));
    }
    Ok(())
}

fn print_entries(entries: &[Entry], format: ListFormat) {
    match format {
        ListFormat::Json => match serde_json::to_string_pretty(entries) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("error: cannot write JSON: {e}"),
        },
        ListFormat::Table => {
            println!("| file | rank | class_id | score | label |");
            println!("|---|---|---|---|---|");
            for e in entries {
                match e {
                    Entry::Classified { file, topk } => {
                        for (rank, t) in topk.iter().enumerate() {
                            println!(
                                "| {file} | {} | {} | {:.4} | {} |",
                                rank + 1,
                                t.class_id,
                                t.score,
                                t.label
                            );
                        }
                    }
                    Entry::Failed { file, error } => {
                        println!("| {file} | - | - | - | error: {error} |");
                    }
                }
            }
        }
    }
}
