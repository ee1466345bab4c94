"""Callbacks of SLER-IR Studio: Gradio values in, library and ``analysis`` calls, Gradio values out.

Every public method of ``Callbacks`` backs one event of ``demo.ui``. Inputs arrive as file paths
(``type="filepath"`` with ``image_mode=None``, so 16-bit, RGBA and palette files reach
``slerir.imaging`` untouched), outputs are numpy images (shown as lossless PNG), plotly figures,
tables and JSON. Computation lives in ``slerir`` and ``analysis``; here we only choose what to show.

Errors: anything a user can cause (not an image, too large, wrong option) becomes a ``gr.Error``
with a plain message; an unexpected failure is logged with its traceback on the server and shown
as a short ``gr.Error`` too, so the page never shows a stack trace and the server keeps serving.

Restorations are cached (bounded by bytes) under a hash of the pixels and the options, so the
analysis that follows a restoration (``/analyze`` after ``/restore``, the opacity slider, the
heatmaps) reuses it instead of running the network again.

The page runs ``restore_steps`` / ``analyze_steps``: generators that yield a status line (restoring,
tile i of n, routing, GLGF, embedding) while a worker thread restores. A new input of the same session
(``new_image``) blanks the views and supersedes the work on the previous image, which stops at its next
tile or step. Photos are restored at full size (in one pass up to ``WHOLE_MAX_PIXELS``) and analysed on
a copy of at most ``ANALYSIS_MAX_SIDE`` px; large restorations take turns (``BIG_PIXELS``). Every network
run goes through ``run_model``, which ``spaces.GPU`` decorates on a ZeroGPU Space.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import itertools
import logging
import math
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np
from PIL import Image

from slerir.checkpoint import CheckpointError
from slerir.degradations import KINDS, MASK_KINDS, DegradationSpec, degrade
from slerir.imaging import MAX_DECODE_PIXELS, ImageError, ImageTooLarge, ImageTooSmall, read_image, to_uint8
from slerir.inference import ENSEMBLES, RestorationResult, Restorer
from slerir.metrics import psnr, ssim

log = logging.getLogger("slerir.demo")

MAX_PIXELS = 4096 * 4096  # size guard: larger images are refused with a message
# Photos above WHOLE_MAX_PIXELS are restored in overlapping tiles of this side: a 768-px pass needs about
# 0.45 GB (1024 px: 0.8 GB), and covers a 4096x4096 photo with 21 MP of work (1024 px: 26 MP).
TILE = 768
ZOOM_SIDE = 384  # the 1:1 crop of the before/after pair
SLIDER_MAX_SIDE = 2048  # the before/after slider shows at most this (the download is full size)
MAP_MAX_SIDE = 768  # routing / GLGF views are drawn at most this large
PLAYGROUND_MAX_SIDE = 768  # Playground images are downscaled to this (degradation + 3 restorations)
LOCAL_SAMPLES = 300  # local embeddings drawn in the sphere / UMAP views
CACHE_BYTES = 600 * 2**20  # memory for cached restorations
ANALYSIS_MAX_SIDE = 768  # the analysis views of a larger photo are computed on a copy downscaled to this
# Up to this many padded pixels run in one pass. The model's time per pixel is flat up to about 0.6 MP and
# grows beyond (memory traffic): a 2000x1500 photo takes 7.6 s in one pass and 5.0-5.4 s in nine 736x568
# tiles (the library's tiles share each side evenly), measured with benchmarks/app_latency.py's photo.
WHOLE_MAX_PIXELS = 1024 * 1024
BIG_PIXELS = 1024 * 1024  # restorations above this take turns (one at a time); smaller ones run beside them
POLL_S = 0.25  # how often a running restoration's status is refreshed
MODEL_WORKERS = 4  # threads running restorations (bounded further by each event's concurrency limit)
GAIN_VISIBLE_DB = 1.0  # below this measured PSNR gain the restore summary says the result will look much like the input
NO_LAYER = "(none)"
TIE_MARGIN = 0.1  # top-1 weight minus runner-up below this: a near-tie, drawn grey in the expert maps
MAP_TOP1, MAP_PAIR = "top expert (near-ties grey)", "top-2 pair (split cells)"
AUTO = "auto"
# "treat as" choices of the Restore tab: class name -> label; "auto" lets the image decide
TREAT_AS_LABELS = {"noise": "noise", "rain": "rain", "haze": "haze", "blur": "blur", "lowlight": "low light"}

# ---------------------------------------------------------------------------------------------
# errors


class UserError(ValueError):
    """A problem with what the user asked for; its message is shown as is."""


class Cancelled(Exception):
    """A restoration stopped because its request was cancelled (the user uploaded another image)."""


class Job:
    """Progress and cancellation of one restoration running in a worker thread.

    ``progress(done, total)`` is the library's tile callback: it records the count, and raises
    ``Cancelled`` once ``cancel`` is set, so a tiled restoration stops at the next tile."""

    def __init__(self, superseded: Callable[[], bool] | None = None,
                 listener: Callable[[int, int], None] | None = None):
        self.cancel = threading.Event()
        self.listener = listener
        self.superseded = superseded or (lambda: False)
        self.state = "queued"
        self.done = self.total = 0

    def stopped(self) -> bool:
        return self.cancel.is_set() or self.superseded()

    def progress(self, done: int, total: int) -> None:
        if self.stopped():
            raise Cancelled()
        self.done, self.total = done, total
        if self.listener is not None:
            self.listener(done, total)

    def text(self) -> str:
        if self.state == "restoring" and self.total > 1:
            return f"restoring: tile {min(self.done + 1, self.total)} of {self.total}"
        return self.state


_USER_ERRORS = (ImageError, UserError, CheckpointError, ValueError)


MIN_SIDE = 8  # smaller uploads are refused (nothing to see in the maps)


def user_message(e: Exception) -> str:
    """The demo's wording of the library's typed errors (``slerir.imaging``, ``slerir.inference``): the
    library checks once, the demo only says it in its own words."""
    if isinstance(e, ImageTooLarge) and e.limit != MAX_DECODE_PIXELS:
        side = int(math.sqrt(e.limit))
        return (f"The image is {e.width}x{e.height} = {e.width * e.height:,} pixels; this demo accepts up to "
                f"{e.limit:,} (about {side}x{side}). Downscale it, or run the command-line tool locally, "
                "which tiles any size.")
    if isinstance(e, ImageTooSmall):
        return f"The image is {e.width}x{e.height} pixels; it needs to be at least {e.min_side}x{e.min_side}."
    return str(e)


def _to_gr_error(e: Exception) -> gr.Error:
    if isinstance(e, gr.Error):
        return e
    if isinstance(e, _USER_ERRORS):
        return gr.Error(user_message(e), title="Cannot process this input", print_exception=False)
    if isinstance(e, MemoryError):
        return gr.Error("Out of memory on the server for this image: try a smaller one.", title="Too large")
    log.exception("unexpected error in a demo callback")
    return gr.Error(f"Something went wrong on the server ({type(e).__name__}). The error was logged; "
                    "please try another image or reload the page.", title="Internal error")


def user_errors(fn: Callable) -> Callable:
    """Turn exceptions into ``gr.Error`` (plain message, no stack trace) for functions and generators."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*a, **kw):
            try:
                yield from fn(*a, **kw)
            except Cancelled:  # superseded by a newer image: its views are already blank, say nothing
                return
            except Exception as e:  # noqa: BLE001 - every failure must reach the user as a message
                raise _to_gr_error(e) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except Exception as e:  # noqa: BLE001
            raise _to_gr_error(e) from None
    return wrapper


# ---------------------------------------------------------------------------------------------
# GPUs on Hugging Face ZeroGPU Spaces


def gpu_decorator(spaces_module: Any = None) -> Callable[[Callable], Callable]:
    """``spaces.GPU`` when the ``spaces`` package is importable (a ZeroGPU Space attaches a GPU for the
    duration of each decorated call; elsewhere ``spaces`` leaves the function as it is), else a no-op.
    ``spaces`` is not a requirement: ZeroGPU Spaces have it installed."""
    if spaces_module is None:
        try:
            import spaces as spaces_module  # noqa: PLC0415
        except ImportError:
            return lambda fn: fn
    return spaces_module.GPU


on_gpu = gpu_decorator()


@on_gpu
def run_model(restorer: Restorer, img: np.ndarray, **kw) -> RestorationResult:
    """Every network run of the app goes through here (``Restorer.restore``), so a ZeroGPU Space can
    give it a GPU."""
    return restorer.restore(img, **kw)


# ---------------------------------------------------------------------------------------------
# small infrastructure


class ResultCache:
    """Thread-safe LRU of restorations, bounded by the bytes of their arrays."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._d: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def nbytes(r: RestorationResult) -> int:
        n = r.image.nbytes + r.input.nbytes
        for a in (r.local_embedding, r.fused_embedding, r.alpha, r.local_class_sims):
            n += 0 if a is None else a.nbytes
        for lm in r.routing:
            n += lm.weights.nbytes + lm.topk.nbytes + lm.logits.nbytes
        return n

    def get(self, key: tuple):
        with self._lock:
            hit = self._d.get(key)
            if hit is None:
                return None
            self._d.move_to_end(key)
            return hit[0]

    def put(self, key: tuple, value: RestorationResult) -> None:
        size = self.nbytes(value)
        if size > self.max_bytes // 4:  # a 16 MP restoration (0.4 GB) is not kept: the analysis uses a copy
            return
        with self._lock:
            if key in self._d:
                self._bytes -= self._d.pop(key)[1]
            self._d[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._d) > 1:
                _, (_, s) = self._d.popitem(last=False)
                self._bytes -= s


class Scratch:
    """A private temp folder for the PNGs we return.

    We encode PNGs ourselves (zlib level 1: lossless, about 4x faster than PIL's default level 6,
    files a little larger) in a small thread pool (zlib releases the GIL), and return their paths;
    Gradio then only copies the files into its cache (cleaned by ``delete_cache``), so re-sending
    the same view costs nothing. Our copies are deleted after ``max_age`` seconds, and the folder
    when the process exits.
    """

    def __init__(self, max_age: float = 600.0, workers: int = 2):
        self.dir = Path(tempfile.mkdtemp(prefix="slerir_demo_"))
        # removed when this object goes away or the process exits (else one folder per restart piles up)
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.dir), ignore_errors=True)
        self.max_age = max_age
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slerir-png")
        self._n = itertools.count()

    def prune(self) -> None:
        now = time.time()
        for p in list(self.dir.rglob("*.png")):  # a list: the loop removes folders rglob would enter
            try:
                if now - p.stat().st_mtime > self.max_age:
                    p.unlink()
                    if p.parent != self.dir and not any(p.parent.iterdir()):
                        p.parent.rmdir()
            except OSError:
                pass

    def _write(self, img: np.ndarray, stem: str, exact: bool = False) -> str:
        if exact:  # a file name the user will see when downloading
            d = self.dir / uuid.uuid4().hex[:12]
            d.mkdir()
            path = d / f"{stem}.png"
        else:
            path = self.dir / f"{stem}_{next(self._n)}_{uuid.uuid4().hex[:8]}.png"
        Image.fromarray(img if img.dtype == np.uint8 else to_uint8(img)).save(path, format="PNG", compress_level=1)
        return str(path)

    def png(self, img: np.ndarray, stem: str = "img", exact: bool = False) -> str:
        """Write one lossless PNG (named ``stem.png`` if ``exact``); returns its path."""
        self.prune()
        return self._write(img, stem, exact)

    def pngs(self, items: list[tuple[np.ndarray, str]], stem: str = "img") -> list[tuple[str, str]]:
        """[(image, caption)] -> [(png path, caption)], encoded in parallel."""
        self.prune()
        paths = list(self.pool.map(lambda it: self._write(it[0], stem), items))
        return [(p, cap) for p, (_, cap) in zip(paths, items)]


def _remember(table: OrderedDict, sid: str, value) -> None:
    """``table[sid] = value``, keeping the most recent 4096 sessions (bounded: the oldest are forgotten)."""
    table[sid] = value
    table.move_to_end(sid)
    while len(table) > 4096:
        table.popitem(last=False)


def pixel_key(img: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(str(img.shape).encode())
    h.update(np.ascontiguousarray(img).data)
    return h.hexdigest()


def fit_size(h: int, w: int, max_side: int) -> tuple[int, int]:
    """(h, w) scaled down (never up) so that the longer side is at most ``max_side``."""
    s = min(1.0, max_side / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H,W,3) float or uint8 -> uint8 (h,w,3), Lanczos; returned unchanged (as uint8) if same size."""
    u8 = to_uint8(img) if img.dtype != np.uint8 else img
    if u8.shape[:2] == tuple(size):
        return u8
    return np.asarray(Image.fromarray(u8).resize((size[1], size[0]), Image.LANCZOS))


def as_float(img_u8: np.ndarray) -> np.ndarray:
    return img_u8.astype(np.float32) / 255.0


# ---------------------------------------------------------------------------------------------
# the callbacks


class Callbacks:
    """State shared by the demo's events: the restorer, the embedding bank, caches.

    Args:
        restorer: a loaded ``slerir.inference.Restorer``.
        bank: an ``analysis.embedding.EmbeddingBank`` for the Embedding tab, or None.
        max_pixels: size guard (images above it are refused with a clear message).
        tile: tile side for large images (``Restorer.restore(tile=...)``).
        gains: {kind: (lowest, highest)} PSNR gain in dB these weights measured on synthetic degradations
            of that kind (``analysis.gains.kind_gains``), told with every restoration of the predicted
            kind; None: not told.
    """

    def __init__(self, restorer: Restorer, bank=None, max_pixels: int = MAX_PIXELS, tile: int = TILE,
                 gains: dict[str, tuple[float, float]] | None = None, whole_max_pixels: int = WHOLE_MAX_PIXELS,
                 analysis_max_side: int = ANALYSIS_MAX_SIDE, big_pixels: int = BIG_PIXELS,
                 strength: float | str = 1.0):
        self.restorer = restorer
        # the Restore tab's result keeps this share of the change ("auto": 1 - P(clean), the do-no-harm
        # option of ``Restorer.restore(strength=)``); the analysis views always show the network itself
        self.strength = strength
        self.whole_max_pixels = whole_max_pixels
        self.analysis_max_side = analysis_max_side
        self.big_pixels = big_pixels
        self._big = threading.BoundedSemaphore(1)  # one large restoration at a time (memory, CPU)
        self._shown: OrderedDict[str, str | None] = OrderedDict()  # session -> the image its page shows now
        self._shown_lock = threading.Lock()
        self.workers = ThreadPoolExecutor(max_workers=MODEL_WORKERS, thread_name_prefix="slerir-model")
        self.bank = bank
        self.gains = gains or {}
        self.max_pixels = max_pixels
        m = restorer.cfg.pad_multiple
        self.tile = max(m, tile - tile % m)
        self.cache = ResultCache()
        self.scratch = Scratch()
        self.cfg = restorer.cfg
        self.layers: list[str] = list(restorer.model.layer_names)
        self.E = int(restorer.cfg.num_experts)
        self._proto_bank = None

    def warm_up(self, background: bool = True) -> threading.Thread | None:
        """Import the analysis modules and run one small restoration, so that the first user
        request does not pay for them. In a daemon thread by default (the server starts meanwhile)."""

        def work():
            try:
                import analysis.figures  # noqa: F401  (plotly)
                import analysis.maps  # noqa: F401

                x = np.random.default_rng(0).random((96, 128, 3), dtype=np.float32)
                self.restorer.restore(x, capture=True)
            except Exception:  # noqa: BLE001 - warm-up is best effort
                log.exception("warm-up failed")

        if not background:
            work()
            return None
        t = threading.Thread(target=work, name="slerir-warmup", daemon=True)
        t.start()
        return t

    # -- helpers --------------------------------------------------------------------------------
    def load(self, image) -> np.ndarray:
        """A path (or array) from a Gradio input -> (H,W,3) float32, size-checked."""
        if image is None or (isinstance(image, str) and not image.strip()):
            raise UserError("No image given: upload, paste or capture an image, or pick an example.")
        # the library's one check (size from the header before decoding); user_message words its errors
        return read_image(image, max_pixels=self.max_pixels, min_side=MIN_SIDE)

    def tile_for(self, h: int, w: int) -> int:
        """Tile side for an (h, w) image: one pass up to ``whole_max_pixels`` padded pixels, tiles of at
        most ``self.tile`` px above (see ``WHOLE_MAX_PIXELS``)."""
        m = self.cfg.pad_multiple
        hp, wp = -(-h // m) * m, -(-w // m) * m
        return max(hp, wp, self.tile) if hp * wp <= self.whole_max_pixels else self.tile

    def run(self, img: np.ndarray, progress: Callable | None = None, capture: bool = True,
            **opts) -> RestorationResult:
        """Restore through the cache. ``opts``: top_k, fusion, force_expert. A cached result with
        routing maps also answers ``capture=False``."""
        force = opts.get("force_expert") or None
        treat = opts.get("treat_as") or None
        key = (pixel_key(img), opts.get("top_k"), opts.get("fusion") or "glgf",
               tuple(sorted(force.items())) if force else None) + ((treat,) if treat else ())
        hit = self.cache.get(key)
        if hit is not None and (hit.routing or not capture):
            return hit
        res = run_model(self.restorer, img, capture=capture, tile=self.tile_for(*img.shape[:2]), progress=progress,
                        top_k=opts.get("top_k"), fusion=opts.get("fusion"), force_expert=force,
                        **({"treat_as": treat} if treat else {}))
        self.cache.put(key, res)
        return res

    def analysis_copy(self, img: np.ndarray) -> tuple[np.ndarray, bool]:
        """The image the analysis views are computed on: ``img`` itself, or a copy whose longer side is
        ``analysis_max_side`` (routing maps are drawn at most that large anyway); (image, downscaled)."""
        size = fit_size(*img.shape[:2], self.analysis_max_side)
        return (img, False) if size == img.shape[:2] else (as_float(resize(img, size)), True)

    def _restore_job(self, img: np.ndarray, job: Job, capture: bool, **opts) -> RestorationResult:
        """Worker thread: a large image waits for the previous large one (cancellable), then restores."""
        big = img.shape[0] * img.shape[1] > self.big_pixels
        if big:
            job.state = "waiting for another large photo to finish"
            while not self._big.acquire(timeout=POLL_S):
                if job.stopped():
                    raise Cancelled()
        try:
            if job.stopped():
                raise Cancelled()
            job.state = "restoring"
            return self.run(img, progress=job.progress, capture=capture, **opts)
        finally:
            if big:
                self._big.release()

    def run_with_status(self, img: np.ndarray, capture: bool = True, superseded: Callable[[], bool] | None = None,
                        progress: Callable[[int, int], None] | None = None, **opts):
        """Generator: restore ``img`` in a worker thread, yielding a status line while it runs
        ("restoring: tile 3 of 6"); its return value (``StopIteration.value``) is the result. Closing the
        generator (Gradio cancels the request), or ``superseded()`` turning true (the user uploaded another
        image), stops the restoration at its next tile."""
        job = Job(superseded, progress)
        fut = self.workers.submit(self._restore_job, img, job, capture, **opts)
        try:
            last = None
            while True:
                try:
                    return fut.result(timeout=POLL_S)
                except FutureTimeout:
                    if job.text() != last:
                        last = job.text()
                        yield last
        finally:
            if not fut.done():
                job.cancel.set()

    def _tile_progress(self, progress, img: np.ndarray, desc: str):
        h, w = img.shape[:2]
        if progress is None or (h <= self.tile and w <= self.tile):
            return None
        return lambda done, total: progress((done, total), desc=desc, unit="tiles")

    @staticmethod
    def display_image(res: RestorationResult, max_side: int = MAP_MAX_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
        size = fit_size(*res.input.shape[:2], max_side)
        return as_float(resize(res.input, size)), size

    def proto_bank(self):
        """A bank holding only the model's prototypes (used when no reference bank is shipped)."""
        if self._proto_bank is None:
            from analysis.embedding import EmbeddingBank, fit_pca_basis

            protos = self.restorer.model.prototypes.detach().cpu().numpy()
            d = protos.shape[1]
            self._proto_bank = EmbeddingBank(
                z=np.zeros((0, d), np.float32), labels=np.zeros(0, np.int64), kinds=[], names=[],
                umap_xy=np.zeros((0, 2), np.float32), prototypes=protos,
                proto_umap_xy=np.zeros((len(protos), 2), np.float32), classes=tuple(self.cfg.classes),
                pca_basis=None if d == 3 else fit_pca_basis(protos, 3), meta={"layout": "none"})
        return self._proto_bank

    # -- sessions: a new image supersedes the work on the previous one ---------------------------
    @staticmethod
    def _session(request) -> str | None:
        return getattr(request, "session_hash", None) if request is not None else None

    def show(self, request, image) -> None:
        """Record that the page of ``request``'s session now shows ``image`` (a path); work on any
        other image for that session stops at its next tile or step."""
        sid = self._session(request)
        if sid is None:
            return
        path = image if isinstance(image, (str, type(None))) else str(image)
        with self._shown_lock:
            _remember(self._shown, sid, path)

    def superseded(self, request, image) -> Callable[[], bool]:
        """A check that turns true once the session of ``request`` shows another image than ``image``."""
        sid = self._session(request)
        if sid is None or not isinstance(image, (str, Path)):
            return lambda: False
        path = str(image)
        return lambda: self._shown.get(sid, path) != path

    def new_image(self, payload, request: gr.Request = None):
        """An upload (or example, or clear) replaced the input: record it, so that work on the previous
        image stops, and blank every view that showed the previous image. Runs outside the queue (at once);
        takes the raw payload (no decoding). Returns None for every view and a status line.

        The page starts the new image's restoration only once this answer is shown (``demo.ui`` chains
        it with ``then``): answers of the queue and of direct calls reach the browser by different
        connections, so a blank sent first could otherwise arrive after the restoration and erase it."""
        path = payload.get("path") if isinstance(payload, dict) else getattr(payload, "path", None)
        self.show(request, path)
        text = status_line("new image: restoring") if path else "Upload an image or pick an example."
        return (None,) * 15 + (text,)

    def restore_new(self, image, treat_as: str | None = AUTO, request: gr.Request = None):
        """``restore_steps`` for a changed input; a cleared input (None) has nothing to restore (its views
        are blank already), so it yields nothing new instead of an error."""
        if image is None:
            yield (gr.skip(),) * 5
            return
        yield from self.restore_steps(image, treat_as, request)

    def analyze_new(self, image, opacity: float = 0.55, treat_as: str | None = AUTO, map_mode: str = MAP_TOP1,
                    request: gr.Request = None):
        """``analyze_steps`` after ``restore_new``; nothing for a cleared input."""
        if image is None:
            yield (gr.skip(),) * 12
            return
        yield from self.analyze_steps(image, opacity, treat_as, map_mode, request)

    # -- Restore tab: /restore ------------------------------------------------------------------
    def treat_as(self, choice: str | None) -> str | None:
        """The "treat as" control's value -> a class name for ``Restorer.restore(treat_as=...)`` (None: auto)."""
        if choice in (None, "", AUTO):
            return None
        name = {v: k for k, v in TREAT_AS_LABELS.items()}.get(choice, choice)
        if name not in self.restorer.classes:
            raise UserError(f"'treat as' must be auto or one of {', '.join(TREAT_AS_LABELS.values())}, got {choice!r}.")
        return name

    def restore(self, image, treat_as: str | None = AUTO, progress: Callable[[int, int], None] | None = None):
        """Restore one image at full size (``/restore``).

        Args:
            treat_as: "auto" (the image decides), or a degradation to restore the image as (noise, rain,
                haze, blur, low light): every router then sees that class's prototype.
            progress: ``progress(done, total)`` hears the tiles.
        Returns:
            (before, after) for the slider, the restored PNG path (download), the class
            probabilities {class: p} and a Markdown summary.
        """
        out = None  # an API call stands alone: it neither supersedes nor is superseded by the page's work
        for out in self.restore_steps(image, treat_as, None, progress):
            pass
        return out[:4]

    def restore_steps(self, image, treat_as: str | None = AUTO, request: gr.Request = None,
                      progress: Callable[[int, int], None] | None = None):
        """``restore`` as the page runs it: a generator of (before/after pair, restored PNG path, class
        probabilities, Markdown summary, status line); only the status changes until the last yield. Images
        up to ``analysis_max_side`` keep their routing maps for the analysis that follows; larger ones are
        analysed on a downscaled copy, so their restoration skips the maps."""
        treat = self.treat_as(treat_as)
        img = self.load(image)
        h, w = img.shape[:2]
        if h * w > self.big_pixels:  # held as 8 bits meanwhile (exact: decoded from 8 bits or rounded alike);
            img = to_uint8(img)  # the restorer makes its own float copy, so a 16 MP photo keeps 0.15 GB less
        skip = gr.skip()
        self.show(request, image)
        yield skip, skip, skip, skip, status_line(f"restoring {w}x{h} px")
        res = yield from follow(self.run_with_status(img, capture=max(h, w) <= self.analysis_max_side,
                                                     superseded=self.superseded(request, image), progress=progress,
                                                     treat_as=treat),
                                lambda t: (skip, skip, skip, skip, status_line(f"{t} ({w}x{h} px)")))
        res = self.as_shown(res, treat)
        size = fit_size(h, w, SLIDER_MAX_SIDE)
        stem = Path(image).stem[:60] if isinstance(image, (str, Path)) else "image"
        jobs = [self.scratch.pool.submit(self.scratch.png, res.image, f"{stem}_restored", True),
                self.scratch.pool.submit(self.scratch.png, resize(img, size), "before")]
        if size != (h, w):
            jobs.append(self.scratch.pool.submit(self.scratch.png, resize(res.image, size), "after"))
        paths = [j.result() for j in jobs]
        png, before = paths[0], paths[1]
        after = paths[2] if size != (h, w) else png
        probs = {c: float(p) for c, p in zip(res.classes, res.class_probs)}
        yield ((before, after), png, probs, self.restore_summary(res, (h, w), size, treat),
               status_line(f"restored {w}x{h} px in {res.seconds:.1f} s; next: routing, GLGF and embedding views"))

    def as_shown(self, res: RestorationResult, treat: str | None) -> RestorationResult:
        """The result the Restore tab shows: ``res`` with the app's strength applied (a new result: the cached
        one, which the analysis views reuse, keeps the network's output)."""
        if self.strength == 1.0:
            return res
        return self.restorer.apply_strength(res, self.strength, treated=treat is not None)

    def zoom(self, image, treat_as: str | None = AUTO, fx: float = 0.5, fy: float = 0.5, side: int = ZOOM_SIDE):
        """A 1:1 crop of the before/after pair: ``side`` x ``side`` pixels of the full-size input and
        restoration (no scaling), centred at (fx, fy) of the image (fractions of its width and height).
        Uses the cached restoration when there is one. Returns ((before, after) PNG paths, a caption)."""
        treat = self.treat_as(treat_as)
        img = self.load(image)
        h, w = img.shape[:2]
        res = self.as_shown(self.run(img, capture=False, treat_as=treat), treat)  # as the Restore tab shows it
        ch, cw = min(side, h), min(side, w)
        y0 = int(round(min(max(float(fy), 0.0), 1.0) * (h - ch)))
        x0 = int(round(min(max(float(fx), 0.0), 1.0) * (w - cw)))
        crop = (slice(y0, y0 + ch), slice(x0, x0 + cw))
        before, after = (self.scratch.png(to_uint8(a[crop]), stem) for a, stem in ((img, "zoom_before"),
                                                                                   (res.image, "zoom_after")))
        return (before, after), f"Pixels {x0}-{x0 + cw} x {y0}-{y0 + ch} of {w}x{h}, at 1:1 (one image pixel per screen pixel)."

    def restore_summary(self, res: RestorationResult, hw: tuple[int, int], shown: tuple[int, int],
                        treat: str | None = None) -> str:
        h, w = hw
        pred = res.predicted_class
        p = float(res.class_probs.max())
        tiles = f"{res.tiles} overlapping tiles of {self.tile} px" if res.tiles > 1 else "whole image, no tiling"
        ens = getattr(self.restorer, "ensemble", None)
        if ens:
            tiles += f"; `{ens}` self-ensemble: {len(ENSEMBLES[ens])} passes averaged"
        head = (f"**Looks clean** ({p:.0%}): the model sees no degradation, so it should change little."
                if pred == "clean" and not treat else f"**Predicted degradation: {pred}** ({p:.0%}).")
        sims = " · ".join(f"{c} {s:+.2f}" for c, s in zip(res.classes, res.class_sims))
        lines = [head]
        if treat:
            lines.insert(0, f"**Treated as {TREAT_AS_LABELS.get(treat, treat)}** (your choice): every layer routed by "
                            f"the {treat} prototype. The model's own reading:")
            pred = treat  # the gain told below is the one of the kind the image was restored as
        if pred in self.gains:  # what these weights measurably do about this kind (analysis.gains)
            lo, hi = self.gains[pred]
            lines.append(f"On synthetic {pred} at five strengths (validation photos) these weights gain {lo:+.1f} to "
                         f"{hi:+.1f} dB PSNR" + (": expect the result to look much like the input." if hi < GAIN_VISIBLE_DB
                                                 else "."))
        if res.strength < 1.0 and self.strength == "auto":
            lines.append(f"**Applied at {res.strength:.0%} strength** (do no harm: the result keeps "
                         f"1 - P(clean) of the network's change; the model is {1 - res.strength:.0%} sure the photo "
                         "is clean). Choose a degradation under *Treat as* to apply it fully.")
        elif res.strength < 1.0:
            lines.append(f"**Applied at {res.strength:.0%} strength** (the app's `--strength` setting).")
        lines += [f"Restored {w}x{h} px in **{res.seconds:.2f} s** ({tiles}).",
                 f"Cosine similarity of the global embedding to each class prototype: {sims}."]
        if shown != (h, w):
            lines.append(f"The slider shows a {shown[1]}x{shown[0]} preview; the PNG download is full size.")
        return "\n\n".join(lines)

    # -- Routing / GLGF / Embedding tabs: /analyze ----------------------------------------------
    def analyze(self, image, opacity: float = 0.55, treat_as: str | None = AUTO):
        """``/analyze``: ``analyze_steps`` without the status line (the last yield carries the 11 views,
        the JSON summary last)."""
        for out in self.analyze_steps(image, opacity, treat_as, MAP_TOP1, None):  # stands alone, as restore
            yield out[:-1]

    def analyze_steps(self, image, opacity: float = 0.55, treat_as: str | None = AUTO, map_mode: str = MAP_TOP1,
                      request: gr.Request = None):
        """Everything the analysis tabs show, progressively (a generator).

        Yields a status line first, then the routing views, then GLGF (which needs two more restorations),
        then the embedding views; the last yield carries every output (what API clients get). A photo
        with a side above ``analysis_max_side`` is analysed on a downscaled copy (said in the status, the
        GLGF and embedding notes and the summary). Outputs, in order: routing gallery, usage figure, routing
        table, alpha map, GLGF text, agreement figure, GLGF gallery, sphere figure, UMAP figure, embedding
        text, summary JSON, status line.
        """
        treat = self.treat_as(treat_as)
        stale = self.superseded(request, image)
        skip = gr.skip()
        if stale():  # the page shows another image by now: nothing to draw
            yield (skip,) * 12
            return
        img = self.load(image)
        h, w = img.shape[:2]
        small, scaled = self.analysis_copy(img)
        del img  # a 16 MP photo is 0.2 GB as floats: the views need only the copy
        sh, sw = small.shape[:2]
        where = f" (on a {sw}x{sh} copy of the {w}x{h} photo)" if scaled else ""
        rest = (skip,) * 11
        yield (*rest, status_line(f"routing views{where}"))
        res = yield from follow(self.run_with_status(small, superseded=stale, treat_as=treat),
                                lambda t: (*rest, status_line(f"routing views: {t}{where}")))
        t0 = time.perf_counter()
        routing = self.routing_views(res, opacity, map_mode)
        yield (*routing, *(skip,) * 8, status_line(f"GLGF: restoring with global-only and local-only routing{where}"))
        if stale():
            raise Cancelled()
        # GLGF compares fused routing with its global-only / local-only ablations of the image's own
        # embeddings (with "treat as", every position gets the prototype and alpha = 1: nothing to compare)
        glgf, agree = self.glgf_views(small, self.run(small) if treat else res)
        if stale():
            raise Cancelled()
        if treat:
            glgf = (glgf[0], glgf[1] + f"\n\n*Shown for **auto**: with 'treat as {TREAT_AS_LABELS[treat]}' every "
                    f"position is routed by the {treat} prototype (alpha = 1 everywhere).*", *glgf[2:])
        if scaled:
            glgf = (glgf[0], glgf[1] + f"\n\n*Computed on a {sw}x{sh} copy of your {w}x{h} photo; the restoration "
                    "you download is full size.*", *glgf[2:])
        yield (skip, skip, skip, *glgf, skip, skip, skip, skip, status_line(f"embedding views{where}"))
        emb = self.embedding_views(res)
        if scaled:
            emb = (*emb[:2], emb[2] + f"\n\nEmbeddings of a {sw}x{sh} copy of your {w}x{h} photo.")
        summary = self.summary(res, agree, time.perf_counter() - t0)
        summary["analysis_size"] = [sw, sh]
        summary["treat_as"] = treat or AUTO
        summary["image_size"] = [w, h]
        yield (*routing, *glgf, *emb, summary,
               status_line(f"done: every view shows this image{where}", done=True))

    def routing_gallery(self, res: RestorationResult, opacity: float, mode: str = MAP_TOP1) -> list[tuple[np.ndarray, str]]:
        """Expert maps of every layer over the image: the top expert per cell with near-ties (top-1 margin
        below ``TIE_MARGIN``) in grey, or (``MAP_PAIR``) each cell split between its two top experts."""
        from analysis.maps import expert_map_rgb, expert_pair_rgb, overlay, top1_margin
        from analysis.routing import routing_entropy

        base, size = self.display_image(res)
        items = []
        for lm in res.routing:
            ties = float((top1_margin(lm) < TIE_MARGIN).mean())
            rgb = expert_pair_rgb(lm, size) if mode == MAP_PAIR else expert_map_rgb(lm, size, TIE_MARGIN)
            cap = (f"{lm.name} · 1/{lm.stride:g} res. · H = {routing_entropy(lm):.2f} bits · "
                   f"near-ties {ties:.0%}")
            items.append((overlay(base, rgb, float(opacity)), cap))
        return self.scratch.pngs(items, "routing")

    def routing_views(self, res: RestorationResult, opacity: float, mode: str = MAP_TOP1):
        from analysis.figures import usage_figure
        from analysis.routing import routing_entropy, top1_share

        rows = []
        for lm in res.routing:
            u = lm.usage
            t1 = top1_share(lm)
            rows.append([lm.name, lm.level, f"{lm.weights.shape[1]}x{lm.weights.shape[2]}",
                         round(routing_entropy(lm), 3), *[round(float(x), 3) for x in u],
                         f"expert {int(t1.argmax())} ({t1.max():.0%})"])
        return self.routing_gallery(res, opacity, mode), usage_figure(res), rows

    def routing_table_headers(self) -> list[str]:
        return ["layer", "level", "grid", "entropy (bits)", *[f"usage e{e}" for e in range(self.E)], "most chosen"]

    def glgf_views(self, img: np.ndarray, res: RestorationResult):
        from analysis.figures import agreement_figure
        from analysis.maps import (BLUE_WHITE_RED, alpha_rgb, auto_gain, class_color, class_map_rgb, difference_rgb,
                                   overlay, with_colorbar, with_legend)
        from analysis.routing import agreement

        glob = self.run(img, fusion="global")
        loc = self.run(img, fusion="local")
        ag, al = agreement(res, glob), agreement(res, loc)
        base, size = self.display_image(res)
        fused_d, glob_d, loc_d = (resize(r.image, size) for r in (res, glob, loc))
        alpha = alpha_rgb(res.alpha, size)
        a_mean = float(res.alpha.mean())
        d_g = float(np.abs(res.image - glob.image).mean())
        d_l = float(np.abs(res.image - loc.image).mean())
        g_g, g_l = auto_gain(fused_d, glob_d), auto_gain(fused_d, loc_d)  # white = the 99.5th percentile
        legend = [(c, class_color(c)) for c in res.classes]
        gallery = [
            (fused_d, "fused (GLGF): the restoration you got"),
            (glob_d, "global-only routing"),
            (loc_d, "local-only routing"),
            (difference_rgb(fused_d, glob_d, g_g), f"|fused − global-only| ×{g_g:.0f} (white ≥ {1 / g_g:.3f}; mean {d_g:.4f})"),
            (difference_rgb(fused_d, loc_d, g_l), f"|fused − local-only| ×{g_l:.0f} (white ≥ {1 / g_l:.3f}; mean {d_l:.4f})"),
            (with_legend(overlay(base, class_map_rgb(res.local_class_sims, size, res.classes), 0.6), legend),
             "nearest class prototype of each local embedding"),
        ]
        mg = float(np.mean(list(ag.values()))) if ag else float("nan")
        ml = float(np.mean(list(al.values()))) if al else float("nan")
        text = (f"Mean global share **alpha = {a_mean:.2f}** (0 = the local embedding decides, 1 = the "
                f"global one). Over all layers, fused routing picks the same top expert as global-only "
                f"routing in **{mg:.0%}** of cells and as local-only routing in **{ml:.0%}**.")
        a_lo, a_hi = float(res.alpha.min()), float(res.alpha.max())
        text += f" alpha ranges from {a_lo:.2f} to {a_hi:.2f} over the image."
        cap = self.restorer.cfg.glgf_max_global
        if cap < 1:
            text += (f" This model caps alpha at {cap:.2f} (`glgf_max_global`): the global cue never outweighs the "
                     "local one, so a region whose own cue differs can route apart from the rest.")
        alpha_img = with_colorbar(overlay(base, alpha, 0.85), BLUE_WHITE_RED, 0.0, 1.0,
                                  f"alpha (global share); here {a_lo:.2f} to {a_hi:.2f}")
        alpha_png, *_ = self.scratch.pngs([(alpha_img, "")], "alpha")
        views = (alpha_png[0], text, agreement_figure(ag, al), self.scratch.pngs(gallery, "glgf"))
        return views, {"global": ag, "local": al, "alpha_mean": a_mean}

    def sample_local(self, res: RestorationResult) -> np.ndarray:
        zl = res.local_embedding
        flat = zl.reshape(zl.shape[0], -1).T  # (h*w, d)
        if len(flat) > LOCAL_SAMPLES:
            flat = flat[np.random.default_rng(0).choice(len(flat), LOCAL_SAMPLES, replace=False)]
        return flat

    def embedding_views(self, res: RestorationResult):
        from analysis.figures import sphere_figure, umap_figure

        zl = self.sample_local(res)
        d = int(res.global_embedding.shape[0])
        geometry = ("d = 3: the sphere below **is** the model's embedding space; nothing is projected away."
                    if d == 3 else f"d = {d}: the sphere below is a **projection** (PCA) of the embedding space.")
        nearest = res.classes[int(np.argmax(res.class_sims))]
        you = (f"Your image: the **black diamond** is its global embedding (nearest prototype **{nearest}**), "
               f"the **small black x's** are {len(zl)} sampled local embeddings; class prototypes are the "
               "**coloured squares**.")
        if self.bank is None:
            sphere = sphere_figure(self.proto_bank(), res.global_embedding, zl)
            note = ("**No reference bank is shipped with these weights** (`assets/bank` is missing), so the "
                    "sphere shows only the class prototypes and your image, and there is no UMAP view. "
                    "Build one with the offline analysis job.\n\n" + geometry + "\n\n" + you)
            return sphere, None, note
        sphere = sphere_figure(self.bank, res.global_embedding, zl)
        umap = umap_figure(self.bank, res.global_embedding, zl)
        layout = self.bank.meta.get("layout", "umap")
        note = (f"{geometry}\n\n{you}\n\nReference bank: {len(self.bank):,} embeddings of labelled degraded "
                f"images. The 2-D map was computed offline ({layout.upper()}); your points are placed "
                "among their nearest bank neighbours, without refitting.")
        return sphere, umap, note

    def summary(self, res: RestorationResult, agree: dict, seconds: float) -> dict:
        from analysis.routing import routing_entropy

        return {
            "predicted_class": res.predicted_class,
            "class_probs": {c: round(float(p), 4) for c, p in zip(res.classes, res.class_probs)},
            "class_sims": {c: round(float(s), 4) for c, s in zip(res.classes, res.class_sims)},
            "global_embedding": [round(float(v), 5) for v in res.global_embedding],
            "alpha_mean": round(agree["alpha_mean"], 4),
            "layers": [{
                "name": lm.name, "level": lm.level, "stride": lm.stride,
                "usage": [round(float(u), 4) for u in lm.usage],
                "entropy_bits": round(routing_entropy(lm), 4),
                "agree_global": round(agree["global"].get(lm.name, float("nan")), 4),
                "agree_local": round(agree["local"].get(lm.name, float("nan")), 4),
            } for lm in res.routing],
            "restore_seconds": round(res.seconds, 3),
            "analysis_seconds": round(seconds, 3),
            "tiles": res.tiles,
        }

    def cached_result(self, image, treat_as: str | None = AUTO) -> RestorationResult | None:
        """The restoration the analysis views of ``image`` were drawn from, if cached (no new network run)."""
        if image is None:
            return None
        try:
            img, _ = self.analysis_copy(self.load(image))
            treat = self.treat_as(treat_as)
        except Exception:  # noqa: BLE001 - nothing to redraw
            return None
        return self.cache.get((pixel_key(img), None, "glgf", None) + ((treat,) if treat else ()))

    def redraw_overlays(self, image, opacity: float, mode: str = MAP_TOP1, treat_as: str | None = AUTO):
        """Opacity slider / map mode: redraw the expert-map overlays of the current result (no network run)."""
        res = self.cached_result(image, treat_as)
        if res is None:
            return gr.skip()
        return self.routing_gallery(res, opacity, mode)

    def heatmaps(self, image, layer: str):
        """Per-expert weight heatmaps of one layer (viridis: 0 = never, 1 = all weight)."""
        from analysis.maps import VIRIDIS, weight_heatmap, with_colorbar
        from analysis.routing import top1_share

        if layer not in self.layers:
            raise UserError(f"Unknown layer {layer!r}; choose one of {', '.join(self.layers)}.")
        img, _ = self.analysis_copy(self.load(image))
        res = self.run(img)
        lm = res.layer(layer)
        size = fit_size(*img.shape[:2], MAP_MAX_SIDE)
        t1 = top1_share(lm)
        return self.scratch.pngs([(with_colorbar(weight_heatmap(lm, e, size), VIRIDIS, 0.0, 1.0, "routing weight"),
                                   f"{layer} · expert {e} · mean weight {lm.usage[e]:.2f} · top-1 in {t1[e]:.0%} "
                                   "of cells") for e in range(self.E)], "heatmap")

    # -- figures as files, two images compared ---------------------------------------------------
    def export_figures(self, image, treat_as: str | None = AUTO):
        """PNG and SVG copies of the current image's figures (usage, agreement, sphere, UMAP), for slides
        (kaleido with the local Chromium, ``analysis.export``). Returns (file paths, Markdown note)."""
        from analysis.export import export_static
        from analysis.figures import agreement_figure, sphere_figure, umap_figure, usage_figure
        from analysis.routing import agreement

        res = self.cached_result(image, treat_as)
        if res is None:
            raise UserError("No analysed image yet: restore an image first (its figures are exported).")
        small = res.input if res.input.dtype != np.uint8 else as_float(res.input)
        figs = [(usage_figure(res), "expert_usage")]
        glob, loc = self.run(small, fusion="global"), self.run(small, fusion="local")
        figs.append((agreement_figure(agreement(res, glob), agreement(res, loc)), "glgf_agreement"))
        bank = self.bank or self.proto_bank()
        zl = self.sample_local(res)
        figs.append((sphere_figure(bank, res.global_embedding, zl), "embedding_sphere"))
        if self.bank is not None:
            figs.append((umap_figure(self.bank, res.global_embedding, zl), "embedding_umap"))
        out = Path(tempfile.mkdtemp(dir=self.scratch.dir, prefix="figures_"))
        files, note = export_static([(f, out / stem) for f, stem in figs], ("png", "svg"))
        if not files:
            raise UserError(note or "No figure could be exported.")
        return [str(p) for p in files], note or f"{len(files)} files: {', '.join(stem for _, stem in figs)} as PNG and SVG."

    def compare(self, image_a, image_b, opacity: float = 0.55, map_mode: str = MAP_TOP1):
        """The routing of two images layer by layer (e.g. one photo with noise and with rain).

        Returns: a gallery (for every layer, A's expert map then B's), a usage figure with both images'
        bars side by side, a per-layer table (usage, entropy, and, for images of one size, the share of
        cells with the same top expert) and a Markdown note."""
        import pandas as pd

        from analysis.figures import compare_usage_figure
        from analysis.routing import agreement, routing_entropy

        if image_a is None or image_b is None:
            raise UserError("Give two images to compare (A and B).")
        a, a_scaled = self.analysis_copy(self.load(image_a))
        b, b_scaled = self.analysis_copy(self.load(image_b))
        ra, rb = self.run(a), self.run(b)
        same = a.shape == b.shape
        agree = agreement(ra, rb) if same else {}
        ga, gb = self.routing_gallery(ra, opacity, map_mode), self.routing_gallery(rb, opacity, map_mode)
        gallery = [(p, f"A · {c}") for p, c in ga]
        gallery = [item for pair in zip(gallery, [(p, f"B · {c}") for p, c in gb]) for item in pair]
        fmt = lambda u: " · ".join(f"{x:.2f}" for x in u)  # noqa: E731
        rows = [[la.name, fmt(la.usage), fmt(lb.usage), round(routing_entropy(la), 3), round(routing_entropy(lb), 3),
                 f"{agree[la.name]:.0%}" if same else "n/a (sizes differ)"] for la, lb in zip(ra.routing, rb.routing)]
        table = pd.DataFrame(rows, columns=["layer", "usage A", "usage B", "H A (bits)", "H B (bits)",
                                            "same top expert"])
        note = (f"A: predicted **{ra.predicted_class}** ({float(ra.class_probs.max()):.0%}); "
                f"B: predicted **{rb.predicted_class}** ({float(rb.class_probs.max()):.0%}).")
        if same:
            note += f" Over all layers the two images share the top expert in {np.mean(list(agree.values())):.0%} of cells."
        if a_scaled or b_scaled:
            note += f" Computed on copies downscaled to {self.analysis_max_side} px."
        return gallery, compare_usage_figure(ra, rb), table, note

    # -- Playground: /degrade and the restore that follows --------------------------------------
    def load_clean(self, image) -> tuple[np.ndarray, bool]:
        """The Playground's clean image, downscaled to PLAYGROUND_MAX_SIDE; (image, was_downscaled)."""
        img = self.load(image)
        size = fit_size(*img.shape[:2], PLAYGROUND_MAX_SIDE)
        return (img, False) if size == img.shape[:2] else (as_float(resize(img, size)), True)

    def degrade(self, image, noise: float = 0.0, noise_mask: str = "full", rain: float = 0.0,
                rain_mask: str = "full", haze: float = 0.0, haze_mask: str = "full", blur: float = 0.0,
                blur_mask: str = "full", lowlight: float = 0.0, lowlight_mask: str = "full", seed: float = 0):
        """Apply our synthetic degradations to a clean image.

        Each strength is in [0, 1] (0 = off); each mask is one of full/half/blob/gradient (partial
        masks of different degradations split the image into disjoint regions). Haze is drawn with
        scene depth (``DegradationSpec(scene=True)``: thicker on flat far areas and sky, edges kept).
        Returns: the degraded image (PNG), the per-pixel degradation map, a Markdown note.
        """
        from analysis.maps import label_map_rgb

        clean, downscaled = self.load_clean(image)
        strengths = dict(noise=noise, rain=rain, haze=haze, blur=blur, lowlight=lowlight)
        masks = dict(noise=noise_mask, rain=rain_mask, haze=haze_mask, blur=blur_mask, lowlight=lowlight_mask)
        specs = []
        for kind in KINDS:
            s = float(strengths[kind] or 0.0)
            if not 0.0 <= s <= 1.0:
                raise UserError(f"{kind} strength must be between 0 and 1, got {s}.")
            if s == 0.0:
                continue
            m = masks[kind] or "full"
            if m not in MASK_KINDS:
                raise UserError(f"{kind} region must be one of {', '.join(MASK_KINDS)}, got {m!r}.")
            specs.append(DegradationSpec(kind, strength=s, mask=m, scene=kind == "haze"))  # haze depth follows the picture
        try:
            seed_i = int(seed or 0)
        except (TypeError, ValueError):
            raise UserError(f"seed must be an integer, got {seed!r}") from None
        out = degrade(clean, specs, seed=seed_i)
        h, w = clean.shape[:2]
        mask_rgb = label_map_rgb(out.mask, None, self.cfg.classes)
        if specs:
            what = ", ".join(f"{p['kind']} ({p['mask']}, strength {float(p['strength']):.2f}"
                             f"{', depth from the picture' if p.get('scene') else ''})" for p in out.params)
            present = ", ".join(self.cfg.classes[c] for c in out.classes)
            note = f"Applied: {what}. Classes present in the map: {present}. Seed {seed_i}, {w}x{h} px."
        else:
            note = f"No degradation selected (all strengths are 0): the image is unchanged ({w}x{h} px)."
        if downscaled:
            note += f" The clean image was downscaled to {w}x{h} for the Playground."
        deg_png = self.scratch.png(out.image, "degraded", exact=True)
        return deg_png, self.scratch.png(mask_rgb, "mask"), note

    def playground(self, clean_image, degraded_image, top_k: float | None = None,
                   force_layer: str | None = NO_LAYER, force_expert: float | None = 0,
                   show_layer: str | None = None):
        """Restore the degraded Playground image with the model's defaults and with the chosen
        top-k / forced expert; compare both with the clean image and show how routing changed.

        Returns: gallery (clean, degraded, restorations), metrics table, routing-change table,
        expert maps of ``show_layer`` (clean / degraded / your settings), a Markdown note.
        """
        from analysis.maps import expert_map_rgb, overlay
        from analysis.routing import agreement

        if degraded_image is None:
            raise UserError("Nothing to restore yet: choose a clean image and click 'Degrade + restore'.")
        clean, _ = self.load_clean(clean_image)
        deg = self.load(degraded_image)
        if deg.shape != clean.shape:
            raise UserError("The degraded image does not match the clean one (the clean image changed?): "
                            "click 'Degrade + restore' again.")
        k_default = int(self.cfg.top_k)
        force = None
        if force_layer and force_layer != NO_LAYER:
            force = {force_layer: force_expert if force_expert is not None else 0}
        k = self.restorer.model.check_options(top_k=top_k, force_expert=force)  # OptionError: a message
        force = {n: int(e) for n, e in force.items()} if force else None
        r_clean = self.run(clean)
        r_deg = self.run(deg)
        custom = k != k_default or force is not None
        r_cus = self.run(deg, top_k=k, force_expert=force) if custom else r_deg

        def metrics(x):
            return round(psnr(x, clean), 2), round(ssim(x, clean), 4)

        rows = [["degraded input", *metrics(deg)], ["restored (model defaults)", *metrics(r_deg.image)]]
        if custom:
            label = f"restored (top-k = {k}" + (f", {force_layer} → expert {force[force_layer]}" if force else "") + ")"
            rows.append([label, *metrics(r_cus.image)])
        gallery = [(to_uint8(clean), "clean reference"),
                   (to_uint8(deg), f"degraded · PSNR {rows[0][1]:.2f} dB"),
                   (to_uint8(r_deg.image), f"restored, defaults · PSNR {rows[1][1]:.2f} dB")]
        if custom:
            gallery.append((to_uint8(r_cus.image), f"restored, your settings · PSNR {rows[2][1]:.2f} dB"))

        a_dc = agreement(r_deg, r_clean)
        a_cd = agreement(r_cus, r_deg)
        fmt = lambda u: " · ".join(f"{x:.2f}" for x in u)  # noqa: E731
        change = []
        for lc, ld, lu in zip(r_clean.routing, r_deg.routing, r_cus.routing):
            row = [lc.name, fmt(lc.usage), fmt(ld.usage), f"{a_dc[lc.name]:.0%}"]
            if custom:
                row += [fmt(lu.usage), f"{a_cd[lc.name]:.0%}"]
            change.append(row)
        headers = ["layer", "usage on clean", "usage on degraded", "same top expert: degraded vs clean"]
        if custom:
            headers += ["usage, your settings", "same top expert: your settings vs defaults"]

        show = show_layer if show_layer in self.layers else (force_layer if force else self.layers[0])
        size = fit_size(*clean.shape[:2], MAP_MAX_SIDE)
        maps = []
        for r, cap in ((r_clean, "clean"), (r_deg, "degraded"), *([(r_cus, "your settings")] if custom else [])):
            maps.append((overlay(as_float(resize(r.input, size)), expert_map_rgb(r.layer(show), size), 0.6),
                         f"{show} on {cap}"))
        note = (f"PSNR in dB on RGB in [0, 1]; SSIM: scikit-image defaults (7x7 window), RGB. "
                f"Mean over layers of cells whose top expert is unchanged by the degradation: "
                f"{np.mean(list(a_dc.values())):.0%}.")
        if custom:
            note += f" Your settings keep the default top expert in {np.mean(list(a_cd.values())):.0%} of cells."
        import pandas as pd  # a gradio dependency; a DataFrame carries its own column headers

        return (self.scratch.pngs(gallery, "playground"), pd.DataFrame(rows, columns=["image", "PSNR (dB)", "SSIM"]),
                pd.DataFrame(change, columns=headers), self.scratch.pngs(maps, "pgmap"), note)


def status_line(text: str, done: bool = False) -> str:
    """The Markdown of the status line above the tabs."""
    return f"**{'Ready' if done else 'Working'}:** {text}" + ("" if done else " …")


def follow(gen, wrap: Callable):
    """``yield from`` a generator of status texts, yielding ``wrap(text)`` for each; returns its value."""
    try:
        while True:
            try:
                text = next(gen)
            except StopIteration as e:
                return e.value
            yield wrap(text)
    finally:
        gen.close()  # on cancellation: stops the restoration at its next tile
