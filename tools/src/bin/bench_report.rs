//! Turns the figures one `make bench` run recorded (`target/bench/results.tsv`, rows
//! appended by `record` in `tools/bench/lib.sh`) into a Markdown report, printed and
//! written to `--markdown`, and an SVG bar chart written to `--svg`.
//!
//! ```text
//! bench_report --results target/bench/results.tsv \
//!     --markdown target/bench/report.md --svg target/bench/report.svg
//! ```
//!
//! The chart has one group of bars per figure that has a baseline: aioproto, the
//! baseline and uvloop, each divided by the baseline, so figures in different units
//! share one axis and the baseline's bar is always 1×.

use std::path::PathBuf;
use std::process::ExitCode;

use aioproto_tools::bench_results::{self, Figure, number};
use clap::Parser;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Writes the Markdown report and SVG chart of one `make bench` run.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// The rows the bench sections recorded.
    #[arg(long, value_name = "TSV", default_value = "target/bench/results.tsv")]
    results: PathBuf,
    /// Where to write the Markdown report (also printed on stdout).
    #[arg(long, value_name = "FILE", default_value = "target/bench/report.md")]
    markdown: PathBuf,
    /// Where to write the SVG chart.
    #[arg(long, value_name = "FILE", default_value = "target/bench/report.svg")]
    svg: PathBuf,
}

const WIDTH: u32 = 1400;
const LABEL_RIGHT: i32 = 600;
const PLOT_LEFT: i32 = 620;
const PLOT_RIGHT: i32 = 1300;
const TOP: i32 = 90;
const BAR: i32 = 15;
const GROUP_GAP: i32 = 12;
const SECTION_HEAD: i32 = 30;
/// Room a bar's label needs on the bar's right.
const LABEL_ROOM: i32 = 150;
/// Bars longer than this ratio are cut at the edge and labelled with their value.
const MAX_SCALE: f64 = 4.0;

const AIOPROTO: RGBColor = RGBColor(31, 119, 180);
const BASELINE: RGBColor = RGBColor(150, 150, 150);
const UVLOOP: RGBColor = RGBColor(44, 160, 44);

/// One bar: who, the ratio to the baseline, and the raw value for its label.
struct Bar {
    who: &'static str,
    color: RGBColor,
    ratio: f64,
    value: f64,
}

fn bars(figure: &Figure) -> Vec<Bar> {
    let Some((base, _)) = figure.baseline else {
        return Vec::new();
    };
    if base <= 0.0 {
        return Vec::new();
    }
    [
        ("aioproto", AIOPROTO, figure.aioproto),
        ("baseline", BASELINE, Some(base)),
        ("uvloop", UVLOOP, figure.uvloop),
    ]
    .into_iter()
    .filter_map(|(who, color, value)| {
        value.map(|value| Bar {
            who,
            color,
            ratio: value / base,
            value,
        })
    })
    .collect()
}

/// A red tick across aioproto's bar at its target, when the target is a ratio.
fn target_mark(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    figure: &Figure,
    y: i32,
    x_of: &impl Fn(f64) -> i32,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    match &figure.target {
        Some(target) if target.relative => root.draw(&PathElement::new(
            vec![
                (x_of(target.limit), y - 2),
                (x_of(target.limit), y + BAR + 2),
            ],
            RED.stroke_width(3),
        )),
        _ => Ok(()),
    }
}

fn chart(figures: &[Figure], path: &std::path::Path) -> Result<(), String> {
    let charted: Vec<(&Figure, Vec<Bar>)> = figures
        .iter()
        .map(|f| (f, bars(f)))
        .filter(|(_, bars)| bars.len() > 1)
        .collect();
    let sections = {
        let mut names: Vec<&str> = charted.iter().map(|(f, _)| f.section.as_str()).collect();
        names.dedup();
        names.len() as i32
    };
    let bar_rows: i32 = charted.iter().map(|(_, b)| b.len() as i32).sum();
    let height =
        TOP + sections * SECTION_HEAD + bar_rows * BAR + charted.len() as i32 * GROUP_GAP + 50;
    let top_ratio = charted
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|b| b.ratio))
        .fold(1.0_f64, f64::max);
    let scale_max = top_ratio.clamp(1.5, MAX_SCALE).ceil().max(2.0);
    let x_of = |ratio: f64| {
        PLOT_LEFT + ((ratio.min(scale_max) / scale_max) * f64::from(PLOT_RIGHT - PLOT_LEFT)) as i32
    };

    let root = SVGBackend::new(path, (WIDTH, height.max(200) as u32)).into_drawing_area();
    let draw_err = |e: DrawingAreaErrorKind<std::io::Error>| format!("{}: {e}", path.display());
    root.fill(&WHITE).map_err(draw_err)?;
    let font = |size: i32| ("sans-serif", size).into_font().color(&BLACK);
    let left = Pos::new(HPos::Left, VPos::Center);
    let right = Pos::new(HPos::Right, VPos::Center);
    root.draw(&Text::new(
        "aioproto / raw tokio baseline / uvloop, each divided by the baseline (1× = the baseline)",
        (20, 25),
        font(20).pos(left),
    ))
    .map_err(draw_err)?;
    root.draw(&Text::new(
        "costs (instructions, µs, syscalls, bytes): shorter is better; rates (units ending in /s): longer is better",
        (20, 50),
        font(14).pos(left),
    ))
    .map_err(draw_err)?;
    let mut legend_x = PLOT_LEFT;
    for (who, color) in [
        ("aioproto", AIOPROTO),
        ("baseline", BASELINE),
        ("uvloop", UVLOOP),
    ] {
        root.draw(&Rectangle::new(
            [(legend_x, 66), (legend_x + 14, 80)],
            color.filled(),
        ))
        .map_err(draw_err)?;
        root.draw(&Text::new(who, (legend_x + 20, 73), font(14).pos(left)))
            .map_err(draw_err)?;
        legend_x += 120;
    }
    root.draw(&PathElement::new(
        vec![(legend_x + 7, 64), (legend_x + 7, 82)],
        RED.stroke_width(3),
    ))
    .map_err(draw_err)?;
    root.draw(&Text::new(
        "aioproto's target",
        (legend_x + 20, 73),
        font(14).pos(left),
    ))
    .map_err(draw_err)?;

    // Grid: one line per whole ratio, the baseline's 1× darker.
    let grid_bottom = height - 40;
    let mut tick = 0.0;
    while tick <= scale_max + 1e-9 {
        let x = x_of(tick);
        let style = if tick == 1.0 {
            BLACK.stroke_width(2)
        } else {
            RGBColor(220, 220, 220).stroke_width(1)
        };
        root.draw(&PathElement::new(
            vec![(x, TOP - 4), (x, grid_bottom)],
            style,
        ))
        .map_err(draw_err)?;
        root.draw(&Text::new(
            format!("{tick:.1}×"),
            (x, grid_bottom + 14),
            font(12).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(draw_err)?;
        tick += if scale_max > 2.0 { 1.0 } else { 0.5 };
    }

    let mut y = TOP;
    let mut section: Option<&str> = None;
    for (figure, bars) in &charted {
        if section != Some(figure.section.as_str()) {
            section = Some(figure.section.as_str());
            root.draw(&Text::new(
                figure.section.clone(),
                (20, y + SECTION_HEAD / 2),
                ("sans-serif", 16, FontStyle::Bold)
                    .into_font()
                    .color(&BLACK)
                    .pos(left),
            ))
            .map_err(draw_err)?;
            y += SECTION_HEAD;
        }
        let group_height = bars.len() as i32 * BAR;
        let better = if figure.is_rate() { "higher" } else { "lower" };
        root.draw(&Text::new(
            format!("{} ({}, {better} is better)", figure.name, figure.unit),
            (LABEL_RIGHT, y + group_height / 2),
            font(13).pos(right),
        ))
        .map_err(draw_err)?;
        for bar in bars {
            let end = x_of(bar.ratio);
            root.draw(&Rectangle::new(
                [(PLOT_LEFT, y + 1), (end.max(PLOT_LEFT + 1), y + BAR - 1)],
                bar.color.filled(),
            ))
            .map_err(draw_err)?;
            let cut = if bar.ratio > scale_max { " ▶" } else { "" };
            let label = format!("{} {} ({:.2}×){cut}", bar.who, number(bar.value), bar.ratio);
            // Beside the bar when there is room on its right, else inside its end, in white.
            let style = if end + LABEL_ROOM <= PLOT_RIGHT {
                font(11).pos(left)
            } else {
                font(11).color(&WHITE).pos(right)
            };
            let x = if end + LABEL_ROOM <= PLOT_RIGHT {
                (end + 4).max(PLOT_LEFT + 4)
            } else {
                end - 4
            };
            root.draw(&Text::new(label, (x, y + BAR / 2), style))
                .map_err(draw_err)?;
            if bar.who == "aioproto" {
                target_mark(&root, figure, y, &x_of).map_err(draw_err)?;
            }
            y += BAR;
        }
        y += GROUP_GAP;
    }
    root.present().map_err(draw_err)
}

fn run(cli: &Cli) -> Result<(), String> {
    let text = std::fs::read_to_string(&cli.results)
        .map_err(|e| format!("cannot read {}: {e}", cli.results.display()))?;
    let figures =
        bench_results::parse(&text).map_err(|e| format!("{}: {e}", cli.results.display()))?;
    if figures.is_empty() {
        return Err(format!(
            "{} holds no figures: did the bench sections run?",
            cli.results.display()
        ));
    }
    let report = bench_results::markdown(&figures);
    for path in [&cli.markdown, &cli.svg] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    std::fs::write(&cli.markdown, &report)
        .map_err(|e| format!("cannot write {}: {e}", cli.markdown.display()))?;
    chart(&figures, &cli.svg)?;
    print!("{report}");
    println!(
        "\nwritten: {} and {}",
        cli.markdown.display(),
        cli.svg.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_report: {e}");
            ExitCode::FAILURE
        }
    }
}
