"""Can this explanation of an image be believed? Deletion and insertion curves of its regions in the explanation's order
against random orders and the reverse, with the explanation's own way of removing a region (its grid and `mask`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.progress import counting
from ..common.setup import method_setup
from ..core.faithfulness import check_base, check_ks, evaluation_frame, faithfulness_of_row, k_label
from ..core.params import Flag, Integer, ParameterError, Seed, checked
from ..vision.data import load_images
from ..vision.kind import VISION
from ..vision.masking import default_bs, masked_outputs
from ..vision.units import region_setup

__all__ = ['evaluate_image_explanation']


@checked(n_random=Integer(1), seed=Seed(), bs=Integer(1, none=True), show_progress=Flag())
def evaluate_image_explanation(
    learn,                      # the fastai image learner the explanation was made with
    expl,                       # the DataFrame returned by learn.explain(images)
    data=None,                  # the images explained, as given to explain (the explanation keeps only small copies)
    *,
    k=None,                     # regions for comprehensiveness@k and sufficiency@k (default: 1, 3, 5 and 0.2 of a row's, as the rows allow)
    n_random:int=20,            # random orders of the same regions, for chance level
    seed:int|None=None,         # same seed, same random orders
    bs:int|None=None,           # masked images per forward pass
    path_col:str|None=None,     # the path column of a DataFrame
    show_progress:bool=True,    # a fastprogress bar over the masked images evaluated
):
    """Faithfulness of an image explanation, image by image and overall (`row == 'all'`): `deletion_aopc`,
    `insertion_aopc`, `comprehensiveness@K` and `sufficiency@K`, each for the explanation's order (`Explanation`),
    random orders (`Random`, `RandomStd`) and the reverse order (`Reverse`); higher is better for all. Regions are
    removed as the explanation removed them (its `grid` and `mask`). The curves are in `attrs['curves']`."""
    if not isinstance(expl, pd.DataFrame) or not {'row', 'Top', 'Left', 'Contribution'} <= set(expl.columns) \
            or 'grid' not in expl.attrs:
        raise ParameterError('expl', "`expl` must be the DataFrame returned by learn.explain(images) of this image "
                                     "learner, with its attrs (pandas drops them in to_csv or a concat)")
    if data is None:
        raise ParameterError('data', "`data` must be the images that were explained (the explanation keeps only small "
                                     "copies for drawing)")
    attrs = expl.attrs
    s = method_setup(learn, VISION, output='raw' if attrs.get('output') == 'raw' else 'probability', seed=seed)
    mask = attrs.get('mask', 'blur')
    mask = tuple(mask) if isinstance(mask, list) else mask
    rows = sorted(expl['row'].unique())
    parts = {r: expl[expl['row'] == r] for r in rows}
    ks = check_ks(k, {r: len(p) for r, p in parts.items()})
    cost = sum(2 * (len(p) + 1) * (n_random + 2) for p in parts.values())
    scores, curves = [], []
    with s.computing():
        images = load_images(learn, s.schema, data, path_col=path_col, param='data')
        if images.n_rows != len(attrs['outputs']):
            raise ParameterError('data', f"`data` holds {images.n_rows} images but `expl` explains "
                                         f"{len(attrs['outputs'])}: pass the images that were explained")
        setups = region_setup(images, tuple(attrs['grid']), mask)
        bs = bs or default_bs(images.pixels)
        with counting(learn, show_progress, cost, 'evaluating the explanation') as progress:
            for r in rows:
                regions, fill, _ = setups[r]
                part = parts[r]
                if list(part['Variable']) != regions.names or \
                        part[['Top', 'Left', 'Bottom', 'Right']].to_numpy().tolist() != regions.boxes.tolist():
                    raise ParameterError('data', f"image {r} of `data` is not the image explained in row {r} of `expl` "
                                                 "(its regions differ): pass the images that were explained, in order")
                k_out = s.labels.index(attrs['targets'][r]) if attrs['targets'][r] in s.labels else s.target()
                def value(keep, r=r, regions=regions, fill=fill, k_out=k_out):
                    out = masked_outputs(learn.model, images.model_input, images.pixels[r], fill, regions.pixel_region,
                                         keep, bs, progress.add)
                    return s.activation(out).reshape(keep.shape[0], -1)[:, k_out].double().numpy()
                ends = value(torch.tensor([[True] * len(regions.names), [False] * len(regions.names)]))
                if abs(float(ends[0]) - attrs['outputs'][r]) > 1e-4 * max(1.0, abs(float(ends[0]))):
                    raise ParameterError('data', f"row {r} of `expl` explains an output of {attrs['outputs'][r]:.4g}, "
                                                 f"but this learner gives {float(ends[0]):.4g} on image {r} of `data`: "
                                                 "another image or another learner")
                if np.isfinite(attrs['base_values'][r]): check_base(r, attrs['base_values'][r], float(ends[1]), 'mask')
                row_scores, row_curves = faithfulness_of_row(value, part['Contribution'].to_numpy(float), ks, n_random,
                                                             s.stream('random orders', r))
                scores.append(row_scores); curves.append(row_curves)
    return evaluation_frame(rows, scores, curves, method=attrs.get('method'), grid=tuple(attrs['grid']), mask=mask,
                            k=[k_label(x) for x in ks], n_random=n_random, seed=seed, output=attrs.get('output'),
                            targets=list(attrs['targets']))
