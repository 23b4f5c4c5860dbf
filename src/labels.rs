//! Class names: ImageNet-1k's for a 1000-class head (PaddleClas's `imagenet1k_label_list.txt`,
//! shipped inside the binary), `class_<id>` for any other head.

use std::sync::OnceLock;

const IMAGENET_1K: &str = include_str!("labels/imagenet1k_label_list.txt");

/// The 1000 ImageNet-1k names, indexed by class id (`"<id> <name>"` per line in the file).
pub fn imagenet1k() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        IMAGENET_1K
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                l.split_once(' ')
                    .map_or(l, |(_, name)| name)
                    .trim()
                    .to_string()
            })
            .collect()
    })
}

/// The name of `class_id` for a head with `classes` outputs.
pub fn label(class_id: usize, classes: usize) -> String {
    let names = imagenet1k();
    if classes == names.len() {
        if let Some(name) = names.get(class_id) {
            return name.clone();
        }
    }
    format!("class_{class_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_names_are_in_id_order() {
        assert_eq!(imagenet1k().len(), 1000);
        for (id, line) in IMAGENET_1K.lines().enumerate() {
            assert!(line.starts_with(&format!("{id} ")), "line {id}: {line}");
        }
        assert_eq!(label(0, 1000), "tench, Tinca tinca");
        assert_eq!(
            label(999, 1000),
            "toilet tissue, toilet paper, bathroom tissue"
        );
        assert_eq!(label(3, 10), "class_3");
    }
}
