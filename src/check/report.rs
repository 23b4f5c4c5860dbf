//! What `gpu-resnet check` found, and its two renderings: a Markdown table per adapter for
//! people and JSON for dashboards.

use serde::Serialize;

/// One comparison of a GPU result with its reference.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    /// "conv", "pool", "head", "model" or "golden".
    pub family: &'static str,
    pub name: String,
    pub passed: bool,
    /// `max |got - want| / max |want|`; None when the run itself failed (see `note`).
    pub max_rel_err: Option<f64>,
    pub tolerance: f64,
    /// Why it failed (an error, a ranking that moved), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Optional adapter features a mode's runs relied on.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct FeaturesUsed {
    pub shader_f16: bool,
    /// The conv kernels shared weights by subgroup broadcast (see `conv::Tile::for_layer`).
    pub subgroups: bool,
    /// Whether the end-to-end plans timed their pass with timestamp queries.
    pub timestamps: bool,
    /// Conv dispatches of the end-to-end plans whose tile came from the tuning cache
    /// (`gpu-resnet tune`); 0: every plan used the default tiles.
    pub tuned_convs: usize,
}

/// One precision / f16 mode on one adapter.
#[derive(Clone, Debug, Serialize)]
pub struct ModeReport {
    pub precision: &'static str,
    /// How the storage was chosen: "fp32", "fp16 auto", "fp16 forced".
    pub chosen: &'static str,
    /// `Storage::name()`: fp32, fp16-native, fp16-native-f32math, fp16-packed.
    pub storage: &'static str,
    pub uses: FeaturesUsed,
    pub seconds: f64,
    pub items: Vec<Item>,
}

impl ModeReport {
    pub fn failed(&self) -> usize {
        self.items.iter().filter(|i| !i.passed).count()
    }

    /// The column heading in the Markdown table.
    fn heading(&self) -> String {
        match self.chosen {
            "" => self.storage.to_string(),
            chosen => format!("{} ({chosen})", self.storage),
        }
    }
}

/// What the adapter offers, as read from it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AdapterFeatures {
    pub shader_f16: bool,
    pub subgroup: bool,
    pub subgroup_min_size: u32,
    pub subgroup_max_size: u32,
    pub timestamp_query: bool,
    pub timestamp_query_inside_passes: bool,
}

/// The limits a plan is checked against.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AdapterLimits {
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_storage_buffers_per_shader_stage: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct AdapterReport {
    /// Index in `gpu-resnet adapters --backend <backend>` order; None for wgpu's default.
    pub index: Option<usize>,
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub features: AdapterFeatures,
    pub limits: AdapterLimits,
    /// Set when the adapter could not be used at all (no device, no f16 mode); counts as a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub modes: Vec<ModeReport>,
    pub seconds: f64,
}

impl AdapterReport {
    pub fn checks(&self) -> usize {
        self.modes.iter().map(|m| m.items.len()).sum()
    }

    pub fn failed(&self) -> usize {
        self.modes.iter().map(ModeReport::failed).sum::<usize>() + usize::from(self.error.is_some())
    }

    pub fn passed(&self) -> bool {
        self.failed() == 0
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub passed: bool,
    pub checks: usize,
    pub failed: usize,
    pub adapters: Vec<AdapterReport>,
}

impl Report {
    pub fn new(adapters: Vec<AdapterReport>) -> Report {
        let failed = adapters.iter().map(AdapterReport::failed).sum();
        Report {
            passed: failed == 0,
            checks: adapters.iter().map(AdapterReport::checks).sum(),
            failed,
            adapters,
        }
    }

    pub fn to_json(&self) -> String {
        // Plain data: serialisation cannot fail (non-finite errors become null).
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::from("# gpu-resnet check\n");
        for a in &self.adapters {
            out.push_str(&adapter_markdown(a));
        }
        out.push_str(&format!(
            "\n**{}**: {} of {} checks passed on {} adapter(s).\n",
            if self.passed { "PASS" } else { "FAIL" },
            self.checks - self.failed.min(self.checks),
            self.checks,
            self.adapters.len()
        ));
        out
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

fn adapter_markdown(a: &AdapterReport) -> String {
    let mut out = String::new();
    let index = a.index.map_or("default".to_string(), |i| i.to_string());
    out.push_str(&format!(
        "\n## Adapter {index}: {} ({}, {}{}): {}, {} of {} checks passed in {:.1} s\n\n",
        a.name,
        a.backend,
        a.device_type,
        if a.driver.is_empty() {
            String::new()
        } else {
            format!(", {}", a.driver)
        },
        if a.passed() { "PASS" } else { "FAIL" },
        a.checks() - (a.failed() - usize::from(a.error.is_some())),
        a.checks(),
        a.seconds
    ));
    let f = &a.features;
    out.push_str(&format!(
        "Optional features: SHADER_F16 {}, SUBGROUP {}{}, TIMESTAMP_QUERY {} (inside passes {}). \
         A mode that uses subgroups shares conv weights by subgroup broadcast (CPU adapters \
         whose subgroups have one fixed size).\n",
        yes(f.shader_f16),
        yes(f.subgroup),
        if f.subgroup {
            format!(" (sizes {}..{})", f.subgroup_min_size, f.subgroup_max_size)
        } else {
            String::new()
        },
        yes(f.timestamp_query),
        yes(f.timestamp_query_inside_passes),
    ));
    let l = &a.limits;
    out.push_str(&format!(
        "Limits read from the adapter: storage binding {}, buffer {}, workgroup storage {} KiB, \
         {} invocations per workgroup, {} workgroups per dimension, {} storage buffers per stage.\n",
        mib(l.max_storage_buffer_binding_size),
        mib(l.max_buffer_size),
        l.max_compute_workgroup_storage_size >> 10,
        l.max_compute_invocations_per_workgroup,
        l.max_compute_workgroups_per_dimension,
        l.max_storage_buffers_per_shader_stage
    ));
    if let Some(e) = &a.error {
        out.push_str(&format!("\n**Not checked**: {e}\n"));
    }
    if a.modes.is_empty() {
        return out;
    }
    out.push_str(
        "\n| mode | storage | uses f16 | uses subgroups | uses timestamps | tuned tiles | result | time |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for m in &a.modes {
        let tuned = match m.uses.tuned_convs {
            0 => "no".to_string(),
            n => format!("yes ({n} conv dispatches)"),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {tuned} | {} of {} passed | {:.1} s |\n",
            format!("{} {}", m.precision, m.chosen).trim_end(),
            m.storage,
            yes(m.uses.shader_f16),
            yes(m.uses.subgroups),
            yes(m.uses.timestamps),
            m.items.len() - m.failed(),
            m.items.len(),
            m.seconds
        ));
    }
    // One row per item, one column per mode: `pass <max rel err> <= <tolerance>`.
    out.push_str("\n| check |");
    for m in &a.modes {
        out.push_str(&format!(" {} |", m.heading()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(a.modes.len()));
    out.push('\n');
    let mut notes = Vec::new();
    let rows = a.modes.iter().map(|m| m.items.len()).max().unwrap_or(0);
    for row in 0..rows {
        let Some(name) = a
            .modes
            .iter()
            .find_map(|m| m.items.get(row).map(|i| &i.name))
        else {
            continue;
        };
        out.push_str(&format!("| {name} |"));
        for m in &a.modes {
            let cell = match m.items.get(row) {
                Some(item) => {
                    if let Some(note) = &item.note {
                        notes.push(format!("{} / {}: {note}", m.heading(), item.name));
                    }
                    cell(item)
                }
                None => "-".into(),
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push_str("\nFailures:\n");
        for n in notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}

fn cell(item: &Item) -> String {
    let verdict = if item.passed { "pass" } else { "**FAIL**" };
    match item.max_rel_err {
        Some(e) if e.is_finite() => {
            let op = if e <= item.tolerance { "<=" } else { ">" };
            format!("{verdict} {e:.1e} {op} {:.1e}", item.tolerance)
        }
        Some(_) => format!("{verdict} non-finite (tol {:.1e})", item.tolerance),
        None => format!("{verdict} error"),
    }
}
