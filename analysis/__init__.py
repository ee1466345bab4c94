"""Analysis of SLER-IR: routing statistics, embedding geometry, maps, figures and reports.

Modules the web app imports (``maps``, ``routing``, ``embedding``, ``figures``) depend only on
numpy, Pillow, plotly and ``slerir``; the offline jobs (``bank``, ``report``) may use more
(umap-learn is imported lazily inside ``analysis.bank`` only). Nothing here imports ``demo`` or
gradio (STYLE.md #8).
"""
