"""The lab: model-selection and diagnosis tools of SLER-IR (not part of the product).

``levels`` (how strong each synthetic degradation is, and what weights gain on it), ``passthrough``
(clean photos through the model), ``select`` (the shipping rule over validation weights), ``scale`` and
``local`` (global statistics pooled at another scale, local cues), ``routing_check`` (does each layer's routing
decide, follow the kind, split composites), ``gate_check`` (GLGF's gate on training samples), ``real_check``
(the real photos), ``detail`` (white noise: detail kept, noise left), ``override`` (the same tensors under
another parameter-free setting), ``blend`` (tensors on the line between two folders), ``judge`` (the selection
rule of docs/v2/selection.md in one command), ``ablate`` (the ablation table), ``claims`` (the paper's three
claims with seeds and verdicts, issue #32).
Each is a command line: ``python -m lab.<tool> --help``.

lab may import ``slerir`` and ``analysis``; nothing imports lab (not ``slerir``, ``analysis``, ``demo``
nor ``app.py``): the app ships without it.
"""
