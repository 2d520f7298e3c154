"""Images for the engine: an image's units are regions of a grid over the part of it the model sees, placed by their
box in the image's own pixels; a removed region's pixels take a fill (a blur, the mean colour, a colour) before
Normalize; masked copies are built on the model's device, many per forward pass; flagged inputs are boxes (or a
boolean mask) in the images' own pixels. Its own explanation method is Grad-CAM."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..core.checks import plain
from ..core.params import AnyOf, Instance, Integer, ParameterError
from ..core.results import Kept
from ..core.state import eval_mode
from ..engine.protocol import Adapter, Items, Option, Units, Without
from .gradcam import default_layer, grad_cam, integrated_gradients, resolve_layer
from .masking import default_bs, fill_image, forward_pixels, masked_outputs
from .reliance import flagged_boxes, flagged_pixels
from .superpixels import checked_superpixels, segment_maps
from .units import GRID_RULE, checked_grid, mean_image_of, region_setup

__all__ = ['VisionAdapter']

EVALS_PER_REGION, EXACT_BUDGET = 32, 2 ** 9 - 2   # default budget: 32 per region, never below a 3x3 grid's exact count

_GRID = Option('grid', None, "regions: a rows x columns grid over the part of the image the model sees (default 4: "
                             "4x4)", AnyOf(Integer(2), Instance((tuple, list), 'a (rows, columns) pair'), none=True,
                                           what=GRID_RULE))
_MASK = Option('mask', 'blur', "what a removed region becomes, before Normalize: 'blur', 'mean' (the image's mean "
                               "colour) or a colour (0..255 per channel)")
_SUPERPIXELS = Option('superpixels', None, "regions that follow the image's colours instead of the grid: about this "
                                           "many superpixels per image (SLIC), or one integer label map per image in "
                                           "its own pixels (e.g. skimage.segmentation.slic's); None: the grid")
_PATH_COL = Option('path_col', None, "the path column of a DataFrame (default: the one the learner was built from)")


class VisionAdapter(Adapter):
    unit, item, items = 'region', 'image', 'images'
    gradients = True
    fewer_units_hint = ', or a coarser `grid=` (fewer `superpixels=`)'
    explanation_methods = ('shapley', 'occlusion', 'integrated_gradients', 'gradcam')
    pictures = {'html': 'fastai_featimp.plot.image:image_explanation_html',
                'page': 'fastai_featimp.plot.image:image_explanation_page',
                'table': 'fastai_featimp.plot.image:regions_table',
                'plot': 'fastai_featimp.plot.image:plot_image_explanation',
                'show': 'fastai_featimp.plot.image:show_image_explanation',
                'shap': 'fastai_featimp.interop.shap:image_to_shap',
                'importance': 'fastai_featimp.plot.image:plot_region_importance'}
    options = {
        'explain': (_GRID, _SUPERPIXELS, _MASK, Option('layer', None, "method='gradcam': the module (or its name in learn.model) whose "
                                                        "activations are used; default the last one with a spatial output"),
                    _PATH_COL),
        'reliance': (_MASK, _PATH_COL, Option('label_col', None, "the label column (for the summary metric; default: "
                                                                 "the learner's)")),
        'captum_inputs': (_GRID, _SUPERPIXELS, _MASK, _PATH_COL),
        'feature_importance': (_GRID, _MASK, _PATH_COL,
                               Option('superpixels', None, "refused: each image has superpixels of its own, and a "
                                                           "ranking over a set needs the same regions in every image")),
    }

    def default_budget(self, n_units: int) -> int: return max(EXACT_BUDGET, EVALS_PER_REGION * n_units)

    def load(self, s, data, *, param, labelled=False, label_col=None, bs=None, method=None, show_progress=True,
             grid=4, superpixels=None, mask='blur', layer=None, path_col=None):
        from .data import load_images   # imports torchvision, which sets environment variables: on first use only
        if grid is not None and superpixels is not None:
            raise ParameterError('grid', "give the regions once: `grid=` (the same grid in every image) or "
                                         "`superpixels=` (each image's own), not both")
        grid, superpixels = checked_grid(4 if grid is None else grid), checked_superpixels(superpixels)
        if labelled and superpixels is not None:   # importance over a set (reliance never takes superpixels)
            raise ParameterError('superpixels', "region importance removes the same region from every image, and each "
                                                "image has superpixels of its own: rank the regions of a `grid=` here, "
                                                "and explain single images with learn.explain(images, superpixels=...)")
        if layer is not None and method != 'gradcam':
            raise ParameterError('layer', f"`layer` is for `method=`'gradcam', not {method!r}")
        layer = resolve_layer(s.learn.model, layer)
        data = load_images(s.learn, s.schema, data, path_col=path_col, label_col=label_col, labelled=labelled,
                           param=param)
        segments = None if superpixels is None else segment_maps(data, superpixels)
        return ImageItems(s, data, grid, mask, bs, layer, superpixels, segments)

    def from_explanation(self, s, expl, data, *, bs=None):
        from .data import load_images
        if 'grid' not in expl.attrs:
            raise ParameterError('expl', "`expl` must be the DataFrame returned by learn.explain(images) of this image "
                                         "learner, with its attrs (pandas drops them in to_csv or a concat)")
        if data is None:
            raise ParameterError('data', "`data` must be the images that were explained (the explanation keeps only "
                                         "small copies for drawing)")
        mask = expl.attrs.get('mask', 'blur')
        images = load_images(s.learn, s.schema, data, param='data')
        if images.n_rows != len(expl.attrs['outputs']):
            raise ParameterError('data', f"`data` holds {images.n_rows} images but `expl` explains "
                                         f"{len(expl.attrs['outputs'])}: pass the images that were explained")
        items = ImageItems(s, images, tuple(expl.attrs['grid']), tuple(mask) if isinstance(mask, list) else mask, bs,
                           None, expl.attrs.get('superpixels'),   # the label maps as they were (any resolution)
                           None if 'segments' not in expl.attrs else [np.asarray(m) for m in expl.attrs['segments']])
        for r, part in expl.groupby('row', sort=True):
            regions = items.setup(int(r))[0]
            if list(part['Variable']) != regions.names or \
                    part[['Top', 'Left', 'Bottom', 'Right']].to_numpy().tolist() != regions.boxes.tolist():
                raise ParameterError('data', f"image {r} of `data` is not the image explained in row {r} of `expl` "
                                             "(its regions differ): pass the images that were explained, in order")
        return items

    def frame_columns(self) -> set: return {'row', 'Top', 'Left', 'Contribution'}

    def flagged(self, s, flagged): return flagged_boxes(flagged)

    def describe_flagged(self, flagged) -> list:
        boxes, _ = flagged
        return [list(b) for b in boxes] if boxes is not None else ['mask']

    def is_labelled(self, s, data, label_col) -> bool:
        lc = label_col if label_col is not None else (s.schema.y_names[0] if s.schema.y_names else None)
        return isinstance(data, pd.DataFrame) and lc in data.columns or \
            hasattr(data, 'dataset') and len(getattr(data.dataset, 'tls', [])) > 1

    def importance_columns(self, items) -> tuple:
        """Each region's box in the images' own pixels (in the model's input when the images differ in size, as
        `attrs['coordinates']` says), and the images' mean to draw the ranking over."""
        data, grid = items.data, items.grid
        boxes = np.stack([items.setup(i)[0].boxes for i in range(items.n_rows)])   # (n, R, 4)
        same = bool((boxes == boxes[:1]).all())
        if same: box = boxes[0]
        else:
            H, W = data.pixels.shape[-2:]
            ys, xs = np.linspace(0, H, grid[0] + 1).round().astype(int), np.linspace(0, W, grid[1] + 1).round().astype(int)
            box = np.array([(ys[i], xs[j], ys[i + 1], xs[j + 1]) for i in range(grid[0]) for j in range(grid[1])])
        mean_image, size = mean_image_of(data, same)
        mask = items.mask
        return (dict(Top=box[:, 0], Left=box[:, 1], Bottom=box[:, 2], Right=box[:, 3]),
                dict(grid=grid, mask=mask if isinstance(mask, str) else list(mask), mean_image=mean_image,
                     image_size=size, coordinates='image' if same else 'model input (the images differ in size)'))

    def reliance_attrs(self, items, options: dict) -> dict:
        mask = options.get('mask', 'blur')
        return dict(mask=mask if isinstance(mask, str) else list(mask), counts_found=False)  # every image holds its boxes


class ImageItems(Items):
    def __init__(self, s, data, grid, mask, bs, layer, superpixels=None, segments=None):
        self.s, self.data, self.grid, self.mask, self.layer = s, data, grid, mask, layer
        self.superpixels = superpixels
        self.segments = segments   # per image, its superpixels' label map (None: the grid)
        self.bs = bs or default_bs(data.pixels)
        self.n_rows, self.index, self.target, self.source = data.n_rows, data.index, data.target, data.source
        self.model = s.learn.model
        self._setups, self._raw = None, None

    def setup(self, i: int) -> tuple:
        "`(regions, fill, null)` of image `i` (see `vision.units.region_setup`)."
        if self._setups is None: self._setups = region_setup(self.data, self.grid, self.mask, self.segments)
        return self._setups[i]

    def units(self, i: int) -> Units:
        regions, _, null = self.setup(i)
        boxes = regions.boxes.astype(int)
        return Units(list(regions.names), dict(zip(('Top', 'Left', 'Bottom', 'Right'), (boxes[:, c].tolist() for c in range(4)))),
                     {}, ~null.numpy())

    def forward(self, progress=None) -> torch.Tensor:
        if self._raw is None:
            self._raw = forward_pixels(self.model, self.data.model_input, self.data.pixels, self.bs, progress)
        return self._raw

    def values(self, keeps: list, explained, progress=None) -> list:
        out = []
        for i, keep in enumerate(keeps):
            if len(keep) == 0: out.append(np.zeros(0)); continue
            regions, fill, _ = self.setup(i)
            raw = masked_outputs(self.model, self.data.model_input, self.data.pixels[i], fill, regions.pixel_region,
                                 keep, self.bs, progress)
            out.append(explained(i, raw).double().numpy())
        return out

    def without(self, flagged, progress=None) -> Without:
        boxes, masks = flagged
        pixels, found = flagged_pixels(self.data.geometries, boxes, masks)
        without = self.data.pixels.clone()
        for i, px in enumerate(pixels):
            fill = fill_image(self.data.pixels[i], self.mask, self.data.scale)
            without[i] = torch.where(px.to(without.device)[None], fill, self.data.pixels[i])
        raw = forward_pixels(self.model, self.data.model_input, without, self.bs, progress)
        units = []
        for i, px in enumerate(pixels):
            if self._setups is None: units.append([]); continue
            region = self.setup(i)[0].pixel_region.reshape(-1)
            hit = torch.zeros(len(self.setup(i)[0].names), dtype=torch.long).index_add_(
                0, region, px.reshape(-1).long().cpu())
            units.append((hit > 0).tolist())
        return Without(raw, found, [[f'box {tuple(b)}' if isinstance(b, list) else 'the flagged mask' for b in f] for f in found],
                       units)

    def gradient(self, i: int, explained, n_steps: int) -> np.ndarray:
        regions, fill, _ = self.setup(i)
        attr = integrated_gradients(self.model, self.data.model_input, self.data.pixels[i], fill, explained, n_steps,
                                    self.bs)
        region = regions.pixel_region.reshape(-1).to(attr.device)
        return torch.zeros(len(regions.names), dtype=torch.double, device=attr.device).index_add_(
            0, region, attr.sum(0).reshape(-1).double()).cpu().numpy()

    def attributions(self, method: str, ks: list, explained, progress) -> tuple:
        "Grad-CAM per image: its regions' shares of the mean map, and the maps at the layer's resolution."
        data, bs, model = self.data, self.bs, self.model
        n, (H, W) = data.n_rows, data.pixels.shape[-2:]
        layer = self.layer if self.layer is not None else default_layer(model, data.model_input(data.pixels[:1]))
        name = next((k for k, m in model.named_modules() if m is layer), type(layer).__name__)
        phis, cams = [], []
        for start in range(0, n, bs):
            rows = torch.arange(start, min(n, start + bs))
            cam = grad_cam(model, layer, data.model_input(data.pixels[rows]),
                           lambda out: explained(out, [ks[int(i)] for i in rows]))
            up = F.interpolate(cam[:, None], size=(H, W), mode='bilinear', align_corners=False)[:, 0].cpu().double()
            for j, i in enumerate(rows.tolist()):
                regions = self.setup(i)[0]
                sums = torch.zeros(len(regions.names), dtype=torch.double).index_add_(
                    0, regions.pixel_region.reshape(-1), up[j].reshape(-1))
                phis.append((sums / (H * W)).numpy())
                cams.append(Kept(cam[j].cpu().numpy()))
            progress(len(rows))
        return phis, dict(layer=name, cams=cams)

    def captum(self, activation) -> dict:
        """Normalised images as get_preds feeds the model, baselines that are each image with every region removed
        (the fill before Normalize, then normalised), a feature mask (N, 1, H, W) of regions 0..R-1, Grad-CAM's layer."""
        data, model = self.data, self.model
        x = data.model_input(data.pixels)
        baselines = data.model_input(torch.stack([self.setup(i)[1] for i in range(self.n_rows)]))
        regions = torch.stack([self.setup(i)[0].pixel_region for i in range(self.n_rows)])[:, None].to(x.device)

        def forward_func(inputs):
            with eval_mode(model): return activation(model(inputs)).reshape(inputs.shape[0], -1)

        return dict(forward_func=forward_func, inputs=(x.detach(),), baselines=(baselines.detach(),),
                    feature_mask=(regions,), first_group=0, per_pixel=True, layer=default_layer(model, x[:1]))

    def attrs(self) -> dict:
        g = self.data.geometries
        regions = {} if self.segments is None else dict(
            superpixels=self.superpixels if isinstance(self.superpixels, int) else 'given',
            segments=[Kept(m) for m in self.segments])
        return dict(grid=self.grid, **regions, mask=plain(list(self.mask) if not isinstance(self.mask, str) else self.mask),
                    images=[Kept(im) for im in self.data.images], sizes=[tuple(x.size) for x in g],
                    visible=[tuple(float(v) for v in x.visible()) for x in g],
                    null=[[self.setup(i)[0].names[j] for j in np.flatnonzero(self.setup(i)[2].numpy())]
                          for i in range(self.n_rows)] if self._setups is not None else None)
