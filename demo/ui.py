"""Layout of SLER-IR Studio (Gradio 6) and the settings it is launched with.

``build_demo(restorer, bank=None, model_card=None)`` returns the ``gr.Blocks`` app; ``app.py``
loads the weights and launches it with ``launch_kwargs()``. Callbacks live in ``demo.callbacks``,
analysis (maps, statistics, figures) in ``analysis``.

Named API endpoints (``gradio_client``: ``client.predict(..., api_name="/restore")``):
    /restore(image, treat_as="auto") -> (before/after pair, restored PNG, class probabilities, summary)
    /analyze(image, opacity, treat_as="auto") -> routing, GLGF and embedding views + a JSON summary (last output)
    (treat_as: auto, noise, rain, haze, blur or low light: restore the image as that degradation)
    /degrade(image, noise, noise_mask, rain, rain_mask, haze, haze_mask, blur, blur_mask,
             lowlight, lowlight_mask, seed) -> (degraded PNG, degradation map, note)
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import gradio as gr

from slerir.degradations import KINDS, MASK_KINDS
from slerir.inference import Restorer

from .callbacks import (ZOOM_SIDE, AUTO, GAIN_VISIBLE_DB, MAP_PAIR, MAP_TOP1, MAX_PIXELS, NO_LAYER, TILE, TREAT_AS_LABELS, Callbacks,
                        user_errors)
from .components import image_input
from .examples import EXAMPLES_DIR, clean_examples, degraded_examples

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
QUEUE_MAX_SIZE = 16  # requests waiting beyond this are refused ("queue full") instead of piling up
MAX_FILE_SIZE = "50mb"  # a 4096x4096 photo as PNG can exceed 25 MB
# Every 15 min, delete the temp files this app created that are older than 30 min.
DELETE_CACHE = (900, 1800)
# Separate bounded queues, so that a short request never waits behind a long one of another kind:
# restorations run up to three at a time (large photos take turns inside, ``Callbacks.big_pixels``), the
# analysis views (always of an image of at most 768 px) and the Playground one at a time each.
RESTORE_QUEUE = dict(concurrency_id="restore", concurrency_limit=3)
ANALYSIS_QUEUE = dict(concurrency_id="analysis", concurrency_limit=1)
PLAYGROUND_QUEUE = dict(concurrency_id="playground", concurrency_limit=1)

CSS = """
.gradio-container {max-width: 1400px !important; margin: auto;}
#sler-header h1 {margin-bottom: 0.2em;}
#sler-header p {margin-top: 0.1em; color: var(--body-text-color-subdued);}
.sler-legend {display: flex; flex-wrap: wrap; gap: 0.9em; align-items: center; padding: 0.4em 0;}
.sler-legend span.sw {display: inline-block; width: 1.1em; height: 1.1em; border-radius: 3px;
                      vertical-align: middle; margin-right: 0.35em; border: 1px solid rgba(0,0,0,0.25);}
.sler-note {font-size: 0.92em;}
/* result galleries grow with their images: no inner scrolling, no square cells with blank bands above
   and below landscape maps */
.sler-fit .grid-wrap {height: auto !important; max-height: none !important; overflow: visible !important;}
.sler-fit .thumbnail-item {aspect-ratio: auto !important; height: auto !important;}
.sler-fit .thumbnail-item img {height: auto !important; max-height: 520px; object-fit: contain !important;}
.sler-fit .grid-container {padding-top: 2.2em;}
/* the 1:1 crop is drawn at its own size, not stretched to the column */
.sler-one-to-one img {object-fit: none !important;}
/* captions and table headers wrap instead of being cut ("Noise (sigm...", "same top e...") */
.caption-label {white-space: normal !important; overflow: visible !important; text-overflow: clip !important;}
th .header-content, th span {white-space: normal !important; overflow-wrap: anywhere;}
#status {min-height: 1.6em; padding: 0.2em 0.6em; border-left: 3px solid var(--color-accent);}
"""

# Plotly draws a figure that arrives while its tab is hidden at its default 700 px width and only
# redraws on a window resize; opening a tab sends one (a few times, as the tab's layout settles).
RESIZE_JS = """() => { for (const t of [0, 60, 200, 500]) setTimeout(() => window.dispatchEvent(new Event('resize')), t); }"""

# Gradio scopes ``css`` to the app's content; the page frame (its 32-px side padding) needs a plain style tag.
HEAD = """<style>
/* phones: gallery grids and padding shrink with the screen (a 4-column grid of 100-px cells and the
   frame's padding made a 390-px page 504 px wide) */
@media (max-width: 640px) {
  .gradio-container .app {padding-left: 6px !important; padding-right: 6px !important; box-sizing: border-box;}
  .gradio-container .grid-container {grid-template-columns: repeat(auto-fill, minmax(72px, 1fr)) !important;}
  .gradio-container .sler-legend {gap: 0.5em;}
  .gradio-container .tab-wrapper button {padding-left: 4px !important; padding-right: 4px !important;
                                         font-size: 12px !important;}
  /* wide tables scroll inside their own box, not the page */
  .gradio-container .tabitem .block {max-width: calc(100vw - 12px);}
  .gradio-container .table-container, .gradio-container .table-wrap {max-width: calc(100vw - 24px);
                                                                      overflow-x: auto;}
}
/* Gradio measures the tab buttons in an invisible copy of the tab bar; on a phone that copy stuck out
   to the right and made the page scroll sideways */
.gradio-container .tab-container.visually-hidden {max-width: 100%; overflow: hidden;}
</style>"""

THEME = gr.themes.Soft(primary_hue="blue", secondary_hue="orange", neutral_hue="slate")

INTRO = """
<div id="sler-header">

# SLER-IR Studio

<p>All-in-one image restoration with <b>layer-wise expert routing</b> on a <b>spherical degradation
embedding</b> fused at <b>global and local granularity</b> (GLGF) &mdash; an open reimplementation of
SLER-IR (arXiv 2603.05940), trained by us. Restore an image, then open the other tabs to see
which experts each layer chose, where the global or the local embedding decided, and where your
image sits on the degradation sphere.</p>
</div>
"""

ROUTING_HELP = """
Every routed layer of the U-Net has its own pool of experts and its own router. Below, each pixel is
coloured by the expert with the highest routing weight in that layer (the map has the layer's
resolution, 1/2 to 1/8 of the image); **grey** cells are near-ties, where the top expert leads the
runner-up by less than 0.1 of the weight, so the colour would claim a decision that was not made.
"top-2 pair" splits every cell between the two experts it mixes. The entropy H is the mean per-cell
entropy of the routing weights in bits: 0 = one expert decides, log2 E = all experts share equally.
**H = 1 bit means a cell's weight is, on average, as uncertain as an even split between two experts.**
"""

GLGF_HELP = """
Global-Local Granularity Fusion mixes one image-level embedding with per-region embeddings:
`z(p) = slerp(z_local(p), z_global, alpha(p))`. The alpha map shows the global share per region
(blue = the local embedding decides, red = the global one). The model is also run with routing from
the global embedding only and from the local embeddings only; the bars show how often the fused
routing picks the same top expert as each, and the images show what changes.
"""

PLAYGROUND_HELP = """
Pick a clean picture, add degradations (strength 0 = off; a partial region splits the image between
degradations), then **Degrade + restore**: you get PSNR/SSIM against the clean image and how the
routing changed. Change top-k or force one layer to a single expert and click **Restore again** to
see what that does.
"""


def _legend_html(E: int) -> str:
    from analysis.maps import EXPERT_COLORS

    from analysis.maps import TIE_COLOR

    items = "".join(f'<span><span class="sw" style="background:{EXPERT_COLORS[e % len(EXPERT_COLORS)]}"></span>'
                    f"expert {e}</span>" for e in range(E))
    items += f'<span><span class="sw" style="background:{TIE_COLOR}"></span>near-tie</span>'
    return f'<div class="sler-legend"><b>Experts:</b>{items}</div>'


def _class_legend_html(classes) -> str:
    from analysis.maps import class_color

    items = "".join(f'<span><span class="sw" style="background:{class_color(c)}"></span>{c}</span>' for c in classes)
    return f'<div class="sler-legend"><b>Classes:</b>{items}</div>'


def _soup_checkpoints(meta: dict) -> set[str]:
    """The trained checkpoints a soup's weights come from, each once: a part that is itself a soup gives its own
    parts (``parts_meta``, written by ``slerir.average``), so a checkpoint inside two of the soups it averages
    (same path, same meta) counts once; parts without their meta are told apart by path."""
    parts = meta.get("averaged_from") or []
    metas = meta.get("parts_meta") or []
    if len(metas) != len(parts):
        return {str(p) for p in parts}
    out: set[str] = set()
    for path, m in zip(parts, metas):
        out |= _soup_checkpoints(m) if m.get("averaged_from") else {f"{path} {json.dumps(m, sort_keys=True, default=str)}"}
    return out


def _model_line(restorer: Restorer) -> str:
    cfg, meta = restorer.cfg, restorer.meta or {}
    params = sum(p.numel() for p in restorer.model.parameters())
    bits = [f"preset **{cfg.name}**", f"{params / 1e6:.2f}M parameters",
            f"{len(restorer.model.layer_names)} routed layers x {cfg.num_experts} experts, top-{cfg.top_k}",
            f"embedding d = {cfg.embed_dim}", f"{cfg.num_classes} classes ({', '.join(cfg.classes)})"]
    if meta.get("averaged_from"):  # a soup (slerir.average): its "step" is only its last part's
        bits.append(f"weight mean of {len(_soup_checkpoints(meta))} checkpoints")
    elif "step" in meta:
        bits.append(f"trained {meta['step']:,} steps")
    return "Model: " + " · ".join(bits) + "."


def default_model_card(restorer: Restorer) -> str:
    """Shown in the About tab when ``assets/MODEL_CARD.md`` is absent."""
    cfg, meta = restorer.cfg, restorer.meta or {}
    rows = "\n".join(f"| {k} | {v} |" for k, v in cfg.to_dict().items())
    tc = meta.get("train_config", {})
    train = ""
    if tc:
        train = (f"\n\nTraining: {meta.get('step', '?'):,} steps, patches {tc.get('patch')} px, batch "
                 f"{tc.get('batch')}, tasks '{tc.get('tasks')}', device {meta.get('device', '?')}, "
                 f"{meta.get('wall_time_s', 0) / 3600:.1f} h.")
    return f"""
## Model card

*No `assets/MODEL_CARD.md` ships with these weights; this summary is generated from the checkpoint.
Measured benchmark numbers belong in the model card.*

{_model_line(restorer)}{train}

### What is the paper's and what is ours
* **From the paper (SLER-IR, arXiv 2603.05940, public as an abstract only):** layer-wise expert routing
  (each routed layer has its own experts and router); a spherical uniform degradation embedding trained
  contrastively (a linear, unnormalised embedding lets severity bias the router); global-local granularity
  fusion; the three- and five-task benchmarks.
* **Ours (the paper gives no code or details):** the CPU-sized U-Net backbone with NAFNet-style blocks;
  cosine routing against unit expert keys with a learned scale, top-k and load balancing; K = 6 classes
  including *clean* with fixed octahedron prototypes; d = 3 so the demo's sphere is the true embedding space;
  GLGF as a learned per-region slerp weight alpha; the synthetic degradation models and mixtures; the
  training schedule; every number measured here.

### Configuration
| field | value |
|---|---|
{rows}
"""


ABOUT_PATH = Path(__file__).resolve().parent / "ABOUT.md"
ABOUT_FALLBACK = """
## How to read this app

Restore an image in the first tab; the other tabs show how the model routed it: which experts each layer
chose (**Routing**), where the image-level or the per-region degradation embedding decided (**GLGF**), and
where the image sits among labelled examples on the degradation sphere (**Embedding**). The **Playground**
degrades a clean picture with controls, so you can see the routing change. The model card is below.
"""


def load_about(path: str | Path = ABOUT_PATH) -> str:
    """The About tab's short primer (``demo/ABOUT.md``); a few generic lines when the file is missing or
    unreadable, so the app still starts."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ABOUT_FALLBACK
    return text or ABOUT_FALLBACK


def _examples_gallery(items: list[tuple[Path, str]], label: str, elem_id: str, columns: int) -> gr.Gallery | None:
    """Thumbnails with captions; selecting one loads it (wired in ``build_demo``)."""
    if not items:
        return None
    rows = -(-len(items) // columns)
    return gr.Gallery(value=[(str(p), c) for p, c in items], label=label, columns=columns, height=rows * 150 + 60,
                      allow_preview=False, object_fit="cover", interactive=False, elem_id=elem_id)


def _flag_weak_examples(items: list[tuple[Path, str]], gains: dict[str, tuple[float, float]]) -> list[tuple[Path, str]]:
    """Say next to an example of a single kind when these weights measurably barely restore that kind
    (e.g. the blur example: "little visible change, +0.2 to +0.3 dB measured")."""
    out = []
    for path, caption in items:
        kind = path.stem.split("_")[0]
        if kind in gains and gains[kind][1] < GAIN_VISIBLE_DB:
            lo, hi = gains[kind]
            caption += f": little visible change ({lo:+.1f} to {hi:+.1f} dB measured)"
        out.append((path, caption))
    return out


def _gallery_height(n: int, columns: int, full_width: int = 1330) -> int:
    """Pixel height showing all ``n`` square gallery cells in ``columns`` columns without scrolling
    (at the page's maximum width)."""
    rows = -(-n // columns)
    return rows * (full_width // columns + 20) + 60


def _pick(paths: list[str]):
    def pick(evt: gr.SelectData) -> str:
        return paths[evt.index]
    return pick


def build_demo(restorer: Restorer, bank=None, model_card: str | None = None,
               examples_dir: str | Path = EXAMPLES_DIR, max_pixels: int = MAX_PIXELS,
               tile: int = TILE, gains: dict[str, tuple[float, float]] | None = None, about: str | None = None,
               **callback_options) -> gr.Blocks:
    """The SLER-IR Studio app.

    Args:
        restorer: loaded weights (``Restorer.from_pretrained``).
        bank: ``analysis.embedding.EmbeddingBank`` for the Embedding tab (None: prototypes only).
        model_card: Markdown for the About tab's closed model-card section (None: a summary generated
            from the checkpoint).
        about: the About tab's primer (None: ``demo/ABOUT.md``, or a short fallback when it is missing).
        examples_dir: where the example PNGs are (``python -m demo.examples`` writes them).
        max_pixels: size guard; tile: tile side for large images.
        gains: measured PSNR gain per kind of these weights (``analysis.gains.kind_gains``), told in
            the restore summary; None: not told.
        callback_options: further ``Callbacks`` arguments (``whole_max_pixels``, ``analysis_max_side``,
            ``big_pixels``).
    """
    cb = Callbacks(restorer, bank, max_pixels=max_pixels, tile=tile, gains=gains, **callback_options)
    layers, E = cb.layers, cb.E
    deg_examples = _flag_weak_examples(degraded_examples(examples_dir), gains or {})
    cln_examples = clean_examples(examples_dir)

    with gr.Blocks(title="SLER-IR Studio", delete_cache=DELETE_CACHE, analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(_model_line(restorer), elem_classes=["sler-note"])
        status = gr.Markdown("Upload an image or pick an example.", elem_id="status", elem_classes=["sler-status"])
        with gr.Tabs():
            # ---------------------------------------------------------------- Restore
            with gr.Tab("Restore", id="restore") as tab_restore:
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1):
                        inp = image_input(label="Degraded image (upload, paste or webcam)", type="filepath",
                                         image_mode=None, sources=["upload", "clipboard", "webcam"], height=400,
                                         elem_id="restore-input")
                        treat_as = gr.Radio([AUTO, *TREAT_AS_LABELS.values()], value=AUTO, label="Treat as",
                                            info="auto: the image decides; or restore it as one degradation",
                                            elem_id="treat-as")
                        run_btn = gr.Button("Restore", variant="primary", elem_id="restore-button")
                        ex_gallery = _examples_gallery(deg_examples, "Examples (click one to restore it)",
                                                       "restore-examples", columns=4)
                        gr.Markdown("Examples: pictures shipped with scikit-image, degraded by our own code "
                                    "(`python -m demo.examples`); the last two mix two degradations in different "
                                    "regions.", elem_classes=["sler-note"])
                    with gr.Column(scale=1):
                        slider = gr.ImageSlider(label="Before / after (drag the handle)", format="png",
                                                type="numpy", height=400, interactive=False,
                                                buttons=["fullscreen"], elem_id="restore-slider")
                        with gr.Row(equal_height=False):
                            probs = gr.Label(label="Predicted degradation", num_top_classes=len(restorer.classes),
                                             scale=1)
                            with gr.Column(scale=1):
                                info = gr.Markdown("Restore an image to see the result here.", label="summary",
                                                   elem_classes=["sler-note"], elem_id="restore-summary")
                                download = gr.File(label="Restored image (lossless PNG)", interactive=False,
                                                   elem_id="restore-download")
                        with gr.Accordion("Zoom 1:1 (a 384-px crop at full resolution)", open=False, elem_id="zoom"):
                            with gr.Row():
                                zoom_x = gr.Slider(0, 1, value=0.5, step=0.01, label="across (left to right)")
                                zoom_y = gr.Slider(0, 1, value=0.5, step=0.01, label="down (top to bottom)")
                            zoom_btn = gr.Button("Show the crop", elem_id="zoom-button")
                            zoom_slider = gr.ImageSlider(label="Before / after, 1:1", format="png", type="filepath",
                                                         interactive=False, height=ZOOM_SIDE, elem_id="zoom-slider",
                                                         elem_classes=["sler-one-to-one"])
                            zoom_text = gr.Markdown(elem_classes=["sler-note"])
            # ---------------------------------------------------------------- Routing
            with gr.Tab("Routing", id="routing") as tab_routing:
                gr.Markdown(ROUTING_HELP)
                with gr.Row():
                    opacity = gr.Slider(0.0, 1.0, value=0.55, step=0.05, label="Map opacity over the image",
                                        scale=1)
                    map_mode = gr.Radio([MAP_TOP1, MAP_PAIR], value=MAP_TOP1, label="Maps show", scale=1,
                                        elem_id="map-mode")
                    gr.HTML(_legend_html(E))
                routing_gallery = gr.Gallery(label="Top expert per pixel, every routed layer", columns=3,
                                             format="png", height="auto", object_fit="contain",
                                             elem_id="routing-gallery", elem_classes=["sler-fit"], interactive=False)
                usage_plot = gr.Plot(label="Expert usage and routing entropy per layer", elem_id="usage-plot")
                routing_table = gr.Dataframe(headers=cb.routing_table_headers(), interactive=False,
                                             label="Per-layer routing statistics")
                with gr.Accordion("Per-expert weight heatmaps (on demand)", open=False):
                    with gr.Row():
                        hm_layer = gr.Dropdown(layers, value=layers[0], label="Layer", scale=2)
                        hm_btn = gr.Button("Show heatmaps", scale=1)
                    hm_gallery = gr.Gallery(label="Routing weight of each expert (viridis: 0 to 1)", columns=min(E, 4),
                                            format="png", height=_gallery_height(E, min(E, 4)), object_fit="contain", interactive=False)
                with gr.Accordion("Compare the routing of two images, layer by layer", open=False,
                                  elem_id="compare"):
                    gr.Markdown("For teaching: e.g. the same photo with noise (A) and with rain (B). Maps of one "
                                "layer sit side by side; for images of one size the table gives the share of "
                                "cells where both chose the same top expert.", elem_classes=["sler-note"])
                    with gr.Row():
                        cmp_a = image_input(label="Image A", type="filepath", image_mode=None,
                                            sources=["upload", "clipboard"], height=220, elem_id="compare-a")
                        cmp_b = image_input(label="Image B", type="filepath", image_mode=None,
                                            sources=["upload", "clipboard"], height=220, elem_id="compare-b")
                    cmp_btn = gr.Button("Compare A and B", elem_id="compare-button")
                    cmp_text = gr.Markdown(elem_classes=["sler-note"])
                    cmp_gallery = gr.Gallery(label="Expert maps: A and B for every layer", columns=2, format="png",
                                             height="auto", object_fit="contain", interactive=False,
                                             elem_id="compare-gallery", elem_classes=["sler-fit"])
                    cmp_plot = gr.Plot(label="Expert usage, A and B", elem_id="compare-plot")
                    cmp_table = gr.Dataframe(interactive=False, label="Per layer, A against B")
                with gr.Accordion("Figures as files (PNG and SVG, for slides)", open=False, elem_id="export"):
                    export_btn = gr.Button("Export this image's figures", elem_id="export-button")
                    export_files = gr.File(label="Usage, GLGF agreement, sphere and UMAP figures", file_count="multiple",
                                           interactive=False, elem_id="export-files")
                    export_text = gr.Markdown(elem_classes=["sler-note"])
                with gr.Accordion("All numbers as JSON (what /analyze returns last)", open=False):
                    summary_json = gr.JSON(label="Analysis summary")
            # ---------------------------------------------------------------- GLGF
            with gr.Tab("GLGF", id="glgf") as tab_glgf:
                gr.Markdown(GLGF_HELP)
                with gr.Row(equal_height=False):
                    alpha_img = gr.Image(label="alpha: global share (blue = local, white = even, red = global)",
                                         format="png", interactive=False, height=380, elem_id="alpha-map")
                    with gr.Column():
                        glgf_text = gr.Markdown("Restore an image to see GLGF at work.", label="glgf_summary")
                        agree_plot = gr.Plot(label="Agreement per layer", elem_id="agree-plot")
                gr.HTML(_class_legend_html(restorer.classes))
                glgf_gallery = gr.Gallery(label="Fused, global-only and local-only restorations and their differences",
                                          columns=3, format="png", height="auto", object_fit="contain",
                                          interactive=False, elem_id="glgf-gallery", elem_classes=["sler-fit"])
            # ---------------------------------------------------------------- Embedding
            with gr.Tab("Embedding", id="embedding") as tab_embedding:
                emb_text = gr.Markdown("Restore an image to place it on the degradation sphere.", label="embedding_note",
                                       elem_classes=["sler-note"])
                sphere_plot = gr.Plot(label="Degradation embedding sphere (drag to rotate)", elem_id="sphere-plot")
                umap_plot = gr.Plot(label="UMAP of the reference bank (computed offline)", elem_id="umap-plot")
            # ---------------------------------------------------------------- Playground
            with gr.Tab("Playground", id="playground") as tab_playground:
                gr.Markdown(PLAYGROUND_HELP)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1):
                        clean_in = image_input(label="Clean image", type="filepath", image_mode=None,
                                              sources=["upload", "clipboard"], height=300)
                        clean_gallery = _examples_gallery([(p, p.stem.replace("clean_", "")) for p in cln_examples],
                                                          "Clean examples (scikit-image; click one)",
                                                          "clean-examples", columns=3)
                    with gr.Column(scale=2):
                        deg_inputs = []
                        defaults = {"noise": 0.4}
                        for kind in KINDS:
                            with gr.Row():
                                s = gr.Slider(0.0, 1.0, value=defaults.get(kind, 0.0), step=0.05,
                                              label=f"{kind} strength (0 = off)", scale=3)
                                m = gr.Dropdown(list(MASK_KINDS), value="full", label="region", scale=1)
                            deg_inputs += [s, m]
                        with gr.Row():
                            seed = gr.Number(0, precision=0, label="seed", scale=1)
                            top_k = gr.Slider(1, E, value=int(restorer.cfg.top_k), step=1,
                                              label="top-k experts per pixel", scale=2)
                        with gr.Row():
                            force_layer = gr.Dropdown([NO_LAYER, *layers], value=NO_LAYER,
                                                      label="force every pixel of layer...", scale=2)
                            force_expert = gr.Dropdown(list(range(E)), value=0, label="...to expert", scale=1)
                            show_layer = gr.Dropdown(layers, value=layers[0], label="expert maps of layer", scale=2)
                        with gr.Row():
                            go_btn = gr.Button("Degrade + restore", variant="primary", elem_id="pg-go")
                            again_btn = gr.Button("Restore again (new top-k / forced expert)")
                # results appear with the first run (before it, a tall column of empty placeholders)
                with gr.Column(visible=False, elem_id="pg-results") as pg_results:
                    with gr.Row(equal_height=False):
                        degraded_img = gr.Image(label="Degraded image", type="filepath", format="png",
                                                interactive=False, height=300)
                        mask_img = gr.Image(label="Where each degradation acts (class colours)", format="png",
                                            interactive=False, height=300)
                    gr.HTML(_class_legend_html(restorer.classes))
                    degrade_text = gr.Markdown(label="degrade_note", elem_classes=["sler-note"])
                    pg_gallery = gr.Gallery(label="Clean, degraded and restored", columns=4, format="png", elem_classes=["sler-fit"],
                                            height="auto", object_fit="contain", interactive=False)
                    pg_metrics = gr.Dataframe(headers=["image", "PSNR (dB)", "SSIM"], interactive=False,
                                              label="Quality against the clean image")
                    pg_change = gr.Dataframe(headers=["layer", "usage on clean", "usage on degraded",
                                                       "same top expert: degraded vs clean"], interactive=False, label="How the routing changed (expert usage e0 · e1 · ...)")
                    pg_maps = gr.Gallery(label="Top-expert maps", columns=3, format="png", elem_classes=["sler-fit"], height="auto",
                                         object_fit="contain", interactive=False)
                    pg_text = gr.Markdown(label="playground_note", elem_classes=["sler-note"])
            # ---------------------------------------------------------------- About
            with gr.Tab("About", id="about") as tab_about:
                gr.Markdown(about if about is not None else load_about(), elem_id="about-primer")
                with gr.Accordion("Model card (what was trained, on what, and how it measures)", open=False,
                                  elem_id="model-card"):
                    gr.Markdown(model_card or default_model_card(restorer))

        # ---------------------------------------------------------------------- events
        for tab in (tab_restore, tab_routing, tab_glgf, tab_embedding, tab_playground, tab_about):
            tab.select(None, None, None, js=RESIZE_JS, queue=False, api_visibility="private")
        views = [slider, download, probs, info, routing_gallery, usage_plot, routing_table, alpha_img, glgf_text,
                 agree_plot, glgf_gallery, sphere_plot, umap_plot, emb_text, summary_json]
        restore_outputs = [slider, download, probs, info, status]
        analysis_outputs = [*views[4:], status]
        # A new input (upload, paste, webcam, example, clear) blanks every view at once (outside the queue,
        # no decoding) and supersedes the work on the previous image; its restoration and analysis follow
        # only once the blank is shown (then), so a late blank can never erase them
        new_ev = inp.change(cb.new_image, inputs=[inp], outputs=[*views, status], queue=False, preprocess=False,
                            api_visibility="private", show_progress="hidden")
        (new_ev.then(user_errors(cb.restore_new), inputs=[inp, treat_as], outputs=restore_outputs,
                     api_visibility="private", show_progress="minimal", show_progress_on=[status], **RESTORE_QUEUE)
         .success(user_errors(cb.analyze_new), inputs=[inp, opacity, treat_as, map_mode], outputs=analysis_outputs,
                  api_visibility="private", show_progress="minimal", show_progress_on=[status], **ANALYSIS_QUEUE))
        restore_ev = gr.on([run_btn.click, treat_as.input], user_errors(cb.restore_steps),
                           inputs=[inp, treat_as], outputs=restore_outputs, api_visibility="private",
                           show_progress="minimal", show_progress_on=[status], **RESTORE_QUEUE)
        restore_ev.success(user_errors(cb.analyze_steps), inputs=[inp, opacity, treat_as, map_mode], outputs=analysis_outputs,
                           api_visibility="private", show_progress="minimal", show_progress_on=[status], **ANALYSIS_QUEUE)
        # the named API: the same work without the status line (hidden buttons carry the endpoints)
        api_restore, api_analyze = gr.Button(visible=False), gr.Button(visible=False)
        api_restore.click(user_errors(cb.restore), inputs=[inp, treat_as], outputs=restore_outputs[:4], api_name="restore",
                          **RESTORE_QUEUE, api_description="Restore an image at full size; returns (before, after), "
                                                           "the restored PNG, class probabilities and a summary.")
        api_analyze.click(user_errors(cb.analyze), inputs=[inp, opacity, treat_as], outputs=analysis_outputs[:-1],
                          api_name="analyze", **ANALYSIS_QUEUE,
                          api_description="Routing, GLGF and embedding analysis of an image (of a copy downscaled "
                                          "to 768 px when larger); the last output is a JSON summary.")
        gr.on([opacity.release, map_mode.input], user_errors(cb.redraw_overlays),
              inputs=[inp, opacity, map_mode, treat_as], outputs=[routing_gallery], api_visibility="private",
              show_progress="hidden", concurrency_id="redraw")
        hm_btn.click(user_errors(cb.heatmaps), inputs=[inp, hm_layer], outputs=[hm_gallery],
                     api_name="heatmaps", api_visibility="undocumented", **ANALYSIS_QUEUE)
        cmp_btn.click(user_errors(cb.compare), inputs=[cmp_a, cmp_b, opacity, map_mode],
                      outputs=[cmp_gallery, cmp_plot, cmp_table, cmp_text], api_name="compare", show_progress_on=[cmp_text],
                      api_visibility="undocumented", **ANALYSIS_QUEUE)
        export_btn.click(user_errors(cb.export_figures), inputs=[inp, treat_as], outputs=[export_files, export_text],
                         api_name="export_figures", api_visibility="undocumented", show_progress_on=[export_text],
                         **ANALYSIS_QUEUE)
        gr.on([zoom_btn.click, zoom_x.release, zoom_y.release], user_errors(cb.zoom),
              inputs=[inp, treat_as, zoom_x, zoom_y], outputs=[zoom_slider, zoom_text], api_name="zoom",
              api_visibility="undocumented", show_progress_on=[zoom_text], **RESTORE_QUEUE)
        pg_inputs = [clean_in, degraded_img, top_k, force_layer, force_expert, show_layer]
        pg_outputs = [pg_gallery, pg_metrics, pg_change, pg_maps, pg_text]
        go_btn.click(lambda: gr.Column(visible=True), None, pg_results, queue=False, api_visibility="private")
        go_btn.click(user_errors(cb.degrade), inputs=[clean_in, *deg_inputs, seed],
                     outputs=[degraded_img, mask_img, degrade_text], api_name="degrade", **PLAYGROUND_QUEUE,
                     show_progress_on=[degrade_text],
                     api_description="Degrade a clean image with our synthetic degradations (strength 0..1, "
                                     "0 = off; region full/half/blob/gradient).",
                     ).success(user_errors(cb.playground), inputs=pg_inputs, outputs=pg_outputs,
                               api_name="playground", api_visibility="undocumented", show_progress_on=[pg_text],
                               **PLAYGROUND_QUEUE)
        again_btn.click(user_errors(cb.playground), inputs=pg_inputs, outputs=pg_outputs,
                        api_visibility="private", show_progress_on=[pg_text], **PLAYGROUND_QUEUE)
        if ex_gallery is not None:  # an example click loads it; the new input restores and analyses it
            ex_gallery.select(_pick([str(p) for p, _ in deg_examples]), None, inp, api_visibility="private",
                              show_progress="hidden")
        if clean_gallery is not None:
            clean_gallery.select(_pick([str(p) for p in cln_examples]), None, clean_in, api_visibility="private",
                                 show_progress="hidden")
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1)
    demo.slerir_callbacks = cb  # for tests and benchmarks
    return demo


def launch_kwargs(server_name: str | None = None, server_port: int | None = None, **overrides) -> dict:
    """Arguments for ``Blocks.launch``: 127.0.0.1 unless ``GRADIO_SERVER_NAME`` says otherwise (as
    on Spaces), bounded uploads, only ``assets/`` served from disk, theme and CSS."""
    kw = dict(
        server_name=server_name or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1",
        server_port=server_port or int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[str(ASSETS_DIR)],
        theme=THEME,
        css=CSS,
        head=HEAD,
        footer_links=["api", "gradio"],
    )
    kw.update(overrides)
    return kw
