"""The vision kind: fastai learners whose data pipeline reads images (`vision_learner`, or a plain `Learner` with any
model over ImageBlock DataLoaders; live or from load_learner). Its units are regions of each image
(`vision/adapter.py`)."""
from ..common.kinds import DataKind, register
from .schema import is_vision, vision_schema

__all__ = ['VISION']

VISION = register(DataKind(
    name='vision', learner='images (an ImageBlock in the data pipeline, e.g. vision_learner)',
    recognises=is_vision, schema=vision_schema, adapter_class='fastai_featimp.vision.adapter:VisionAdapter'))
