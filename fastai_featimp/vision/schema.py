"""What a fastai image learner expects: the transform that reads an image (`PILImage.create`, or `PILImageBW.create`),
the item transforms (Resize ...) and batch transforms (IntToFloatTensor, Normalize ...) of its validation pipeline,
the columns it was built from, and what its outputs mean. An image learner is recognised by its data pipeline (an
image block: a `create` that makes a fastai `PILImage`), whatever the model (vision_learner, timm, a custom CNN)."""
from __future__ import annotations

from dataclasses import dataclass

from fastai.data.transforms import Categorize, ColReader, EncodedMultiCategorize, MultiCategorize
from fastai.learner import Learner
from fastai.losses import BCEWithLogitsLossFlat
from fastai.vision.core import PILBase, PILMask
from PIL import Image

__all__ = ['VisionSchema', 'vision_schema', 'is_vision']


@dataclass
class VisionSchema:
    "What the learner's image pipeline expects and what its outputs mean."
    create: object                # the pipeline's transform reading an image (PILImage.create), as get_preds runs it
    image_type: type              # PILImage (mode 'RGB') or PILImageBW (mode 'L')
    mode: str                     # the PIL mode the model reads
    channels: int
    path_col: str | None          # the DataFrame column of image paths the learner was built from (from_df), if known
    path_prefix: str              # that column's ColReader prefix (the folder its paths are relative to)
    y_names: list                 # the label column(s), if known
    y_vocab: list | None          # labels of a single-label classifier, else None
    multi_label: bool
    n_out: int | None             # read from the model on the first batch (None until then)
    output_names: list | None = None


def _pipelines(learn) -> list:
    "The x and y pipelines of the learner's dataset (kept by load_learner, which drops the data)."
    tfms = getattr(getattr(learn.dls, 'train_ds', None), 'tfms', None)
    return list(tfms) if tfms is not None else []


def _creator(pipeline):
    "`(transform, image type)`: the transform of `pipeline` that makes a fastai image (not a mask), or (None, None)."
    for f in getattr(pipeline, 'fs', []):
        if not str(getattr(f, 'name', '')).endswith('.create'): continue
        try: made = f(Image.new('RGB', (1, 1)))   # an image given as a PIL image is wrapped, not read
        except Exception: continue
        if isinstance(made, PILBase) and not isinstance(made, PILMask): return f, type(made)
    return None, None


def is_vision(learn) -> bool:
    pipes = _pipelines(learn)
    return isinstance(learn, Learner) and bool(pipes) and _creator(pipes[0])[0] is not None


def vision_schema(learn) -> VisionSchema:
    "Read what the image learner expects; a TypeError naming the learner when it is not an image learner."
    if not is_vision(learn):
        raise TypeError(f"expected a fastai learner over images (an ImageBlock in its data pipeline, e.g. vision_learner); "
                        f"got {type(learn).__name__} over {type(learn.dls).__name__}")
    pipes = _pipelines(learn)
    create, image_type = _creator(pipes[0])
    mode = image_type._open_args.get('mode', 'RGB')
    reader = next((f for f in pipes[0].fs if isinstance(f, ColReader)), None)
    cols = list(getattr(reader, 'cols', None) or [])
    y_pipes = pipes[1:]
    y_cols = [c for p in y_pipes for f in p.fs if isinstance(f, ColReader) for c in (f.cols or [])]
    cat = next((f for p in y_pipes for f in p.fs if isinstance(f, Categorize)
                and not isinstance(f, (MultiCategorize, EncodedMultiCategorize))), None)
    multi = next((f for p in y_pipes for f in p.fs if isinstance(f, (MultiCategorize, EncodedMultiCategorize))), None)
    y_vocab = list(cat.vocab) if cat is not None and cat.vocab is not None else None
    names = y_vocab or (list(multi.vocab) if multi is not None and multi.vocab is not None else None)
    return VisionSchema(create=create, image_type=image_type, mode=mode, channels=len(Image.new(mode, (1, 1)).getbands()),
                        path_col=str(cols[0]) if len(cols) == 1 else None,
                        path_prefix=str(getattr(reader, 'pref', '') or '') if reader is not None else '',
                        y_names=[str(c) for c in y_cols], y_vocab=y_vocab,
                        multi_label=multi is not None or isinstance(learn.loss_func, BCEWithLogitsLossFlat),
                        n_out=len(names) if names else None, output_names=names)
