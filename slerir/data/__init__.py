"""Training and validation data.

- ``slerir.data.images``: the clean training photos (``resolve_root``, ``load_clean_images``);
- ``slerir.data.augment``: the augmentations a recipe draws, their registry ``AUGMENTATIONS`` and the
  hook signatures for new ones;
- ``slerir.data.sampler``: ``TrainSampler`` (synthetic batches, a function of the step), ``make_sample``,
  ``collate``;
- ``slerir.data.validation``: the fixed validation sets, ``profile_val_set`` and ``selection_score``.

Paired training sets (the literature's) are in ``slerir.datasets_std``, benchmarks in ``slerir.benchmarks``.
"""
from slerir.data.augment import (AUGMENTATIONS, DARK_GAMMA, DEFOCUS_AREA, DEFOCUS_SIGMA, FAINT_HAZE_BETA,
                                 FAINT_RAIN_DENSITY, FLAT_CONTRAST, FLAT_LEVEL, HOOKS, LIGHT_HAZE_MAX, LIGHT_RAIN_MAX,
                                 LONG_BLUR_LENGTH, PALE_AREA, PALE_CONTRAST, PALE_LEVEL, SAMPLE_KINDS, SHADOW_AREA,
                                 SHADOW_GAIN, STAGES, ZOOM_FACTOR, Augmentation, RecipeEntry, darken, defocus,
                                 each_spec, flatten, pale, parse_recipe, sample_kinds, shadow, soft_region, zoom)
from slerir.data.images import CLEAN_SUBDIR, SPLITS, load_clean_images, resolve_root
from slerir.data.sampler import (BLUR_MARGIN, HAZE_CONTEXT, NUM_CLASSES, TrainSampler, blur_margin, collate,
                                 make_sample, time_batches)
from slerir.data.validation import (CLEAN_CAP_DB, LARGE_FACTOR, LARGE_MODES, VAL_PROFILES, ZOOM_VAL_KINDS,
                                    profile_val_set, selection_score, val_set, val_set_flat_blur, val_set_flat_rain,
                                    val_set_full, val_set_large, val_set_linear_blur, val_set_pale_blur,
                                    val_set_wide_rain, val_set_zoom)
