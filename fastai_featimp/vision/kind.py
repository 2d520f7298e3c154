"""The vision kind: fastai learners whose data pipeline reads images (`vision_learner`, or a plain `Learner` with any
model over ImageBlock DataLoaders; live or from load_learner). Its variables are regions of each image (a grid)."""
from ..common.kinds import DataKind, register
from .schema import is_vision, vision_schema

__all__ = ['VISION']

_M = 'fastai_featimp.methods.'


def load_images(learn, schema, data, **options):
    "`vision.data.load_images`, imported on first use: it imports torchvision, which sets environment variables."
    from .data import load_images as load
    return load(learn, schema, data, **options)


VISION = register(DataKind(
    name='vision', learner='images (an ImageBlock in the data pipeline, e.g. vision_learner)',
    recognises=is_vision, schema=vision_schema, load=load_images, units=('region',), variables=None,
    explanation_methods=('shapley', 'occlusion', 'integrated_gradients', 'gradcam'),
    methods={
        'evaluate_explanation': _M + 'vision_faithfulness:evaluate_image_explanation',
        'compare_explanations': _M + 'compare_explanations:compare_explanations',
        'sanity_check': _M + 'sanity_check:sanity_check',
        'reliance': _M + 'vision_reliance:vision_reliance',
        'captum_inputs': _M + 'captum_vision:vision_captum_inputs',
        'feature_importance': _M + 'vision_importance:region_importance',
        'explain': _M + 'vision_explain:explain_images',
    }))
