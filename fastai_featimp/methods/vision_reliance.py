"""Should this prediction be trusted? For each image, the prediction with and without the flagged regions (boxes known
to be shortcuts, such as the region first in the importance ranking), and over a whole set, how many predictions rest
on them and what removing them at prediction time costs."""
from __future__ import annotations

import pandas as pd
import torch

from ..common.progress import counting
from ..common.reliance import checked_threshold, data_threshold, reliance_scorer, reliance_scores, target_words
from ..common.setup import method_setup
from ..core.checks import plain
from ..core.params import Choice, Flag, Integer, Seed, checked
from ..core.results import reliance_frame
from ..vision.data import load_images
from ..vision.kind import VISION
from ..vision.masking import default_bs, fill_image, forward_pixels
from ..vision.reliance import flagged_boxes, flagged_pixels

__all__ = ['vision_reliance']


@checked(output=Choice('probability', 'raw'), seed=Seed(), bs=Integer(1, none=True), show_progress=Flag())
def vision_reliance(
    learn,                         # a fastai learner over images
    data,                          # images: paths, PIL images, uint8 arrays, a DataFrame (with the label column: a summary metric) or a test_dl
    flagged,                       # boxes (top, left, bottom, right) in the images' own pixels, or a boolean mask of their size
    *,
    target=None,                   # class explained (default: a binary model's positive class, else each image's predicted class)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw'
    mask='blur',                   # what the flagged pixels become, before Normalize: 'blur', 'mean' or a colour (0..255)
    threshold:float|None=None,     # an image relies on the flagged regions when |Change| >= threshold (or the class flips)
    metric=None,                   # the summary's metric with and without (default: accuracy; the loss for a regression)
    greater_is_better=None,        # for a custom metric: whether higher is better
    path_col:str|None=None,        # the path column of a DataFrame
    label_col:str|None=None,       # the label column (for the summary metric; default: the learner's)
    seed:int|None=None,            # unused (the computation is deterministic); accepted like every method's
    bs:int|None=None,              # images per forward pass
    show_progress:bool=True,       # a fastprogress bar over the images run again without the flagged regions
):
    """One row per image, in input order: `Prediction` and `Without` (the output for `target` with the flagged pixels
    replaced by the `mask` fill), `Change`, `Predicted`, `PredictedWithout`, `Flipped`, `Found` (the boxes that cover
    pixels the model sees) and `Relies`. `attrs`: `flagged`, `target`, `mask`, `threshold` and a `summary` (with labels:
    the metric with and without the flagged regions)."""
    s = method_setup(learn, VISION, output=output, target=target)
    schema = s.schema
    threshold = checked_threshold(threshold, s.output_kind)
    boxes, masks = flagged_boxes(flagged)
    lc = label_col if label_col is not None else (schema.y_names[0] if schema.y_names else None)
    labelled = isinstance(data, pd.DataFrame) and lc in data.columns or \
        hasattr(data, 'dataset') and len(getattr(data.dataset, 'tls', [])) > 1
    scorer = reliance_scorer(s, metric, greater_is_better) if labelled else None   # a bad metric fails before the work
    model = learn.model
    with s.computing():
        loaded = load_images(learn, schema, data, path_col=path_col, label_col=label_col, labelled=labelled, param='data')
        pixels, found = flagged_pixels(loaded.geometries, boxes, masks)
        bs = bs or default_bs(loaded.pixels)
        without = loaded.pixels.clone()
        for i, px in enumerate(pixels):
            fill = fill_image(loaded.pixels[i], mask, loaded.scale)
            without[i] = torch.where(px.to(without.device)[None], fill, loaded.pixels[i])
        with counting(learn, show_progress, 2 * loaded.n_rows, 'reliance') as progress:
            raw = forward_pixels(model, loaded.model_input, loaded.pixels, bs, progress.add)
            raw_without = forward_pixels(model, loaded.model_input, without, bs, progress.add)
    n = loaded.n_rows
    prob, prob_without = s.activation(raw).reshape(n, -1), s.activation(raw_without).reshape(n, -1)
    ks = [s.target(target, int(prob[i].argmax())) for i in range(n)]
    rows = torch.arange(n)
    regression = labelled and schema.y_vocab is None and not schema.multi_label
    threshold, rule = data_threshold(threshold, s.output_kind,
                                     *((loaded.target.double().numpy().ravel(), 'the labels on the data given') if regression
                                       else (prob[rows, ks].double().numpy(), 'the outputs on the data given')))
    label = lambda p: [plain(s.labels[int(k)]) for k in p.argmax(1)] if schema.y_vocab is not None else [None] * len(p)
    scores = reliance_scores(scorer, raw, raw_without, loaded.target) if labelled else None
    return reliance_frame(prob[rows, ks].double().numpy(), prob_without[rows, ks].double().numpy(), label(prob),
                          label(prob_without), found, threshold, loaded.index, scores=scores,
                          flagged=[list(b) for b in boxes] if boxes is not None else ['mask'],
                          target=target_words(s, target, ks, 'image'), mask=mask if isinstance(mask, str) else list(mask),
                          output=s.output_kind, kind=VISION.name, threshold_rule=rule,
                          counts_found=False)   # every image holds its boxes: no count to give
