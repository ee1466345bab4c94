"""Print the outcome table of docs/RELIABILITY.md from what the library and the app actually do:

    python -m tests.reliability.corpus_table

Builds the corpus and a small random model in a temp folder, serves the app on 127.0.0.1 as
app.py does (demo size guard, tile, queue, limits), sends every corpus file to ``/restore`` and
prints one Markdown row per file. ``test_corpus.test_doc_table_is_current`` checks that the rows
in the document are still what the code does.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from tests.reliability import corpus as C

HEADER = ("| input | what it is | library: `load_image`, then `Restorer.restore` with the demo's guard "
          "| app: `/restore` (what the user sees) |\n|---|---|---|---|")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def library_cell(path: Path, restorer) -> str:
    load = C.library_load(path)
    if not load.ok:
        return _cell(f"error: {load.text}")
    res = C.library_restore(path, restorer)
    if res.ok:
        return _cell(f"ok: restored, {res.text}")
    return _cell(f"decodes ({load.text}); restore refuses: {res.text}")


def app_cell(client, path: Path, url: str) -> str:
    got = C.app_restore(client, path, url)
    return _cell(f"ok: {got.text}" if got.ok else f"error: {got.text}")


def rows(cases: dict, corpus_dir: Path, restorer, client, url: str) -> list[str]:
    return [f"| `{name}` | {_cell(case.what)} | {library_cell(corpus_dir / name, restorer)} | "
            f"{app_cell(client, corpus_dir / name, url)} |" for name, case in cases.items()]


def main() -> int:
    import socket

    import torch

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="slerir_corpus_table_"))
    os.environ["GRADIO_TEMP_DIR"] = str(tmp / "gradio")
    from gradio_client import Client

    from demo.ui import MAX_PIXELS, TILE, build_demo, launch_kwargs
    from slerir.checkpoint import save_weights
    from slerir.inference import Restorer
    from tests.conftest import make_model

    cases = C.build(tmp / "corpus")
    weights = save_weights(make_model(), tmp / "weights")
    restorer = Restorer.from_pretrained(weights, max_pixels=MAX_PIXELS, tile=TILE)
    demo = build_demo(restorer)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = demo.launch(**launch_kwargs(server_port=port, prevent_thread_lock=True, quiet=True))
    try:
        client = Client(url, verbose=False, download_files=False)
        table = rows(cases, tmp / "corpus", restorer, client, url)
    finally:
        with contextlib.redirect_stdout(sys.stderr):  # Gradio prints "Closing server..."
            demo.close()
    print(HEADER)
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
