"""Grad-CAM's default layer on the bodies fastai users train besides resnets: a timm model through fastai's own
`TimmBody` (timm itself is not installed here: a model with timm's `default_cfg` and `forward_features`), and a vision
transformer written as timm writes it (a class token and registers, attention with q_norm / k_norm), whose last
blocks reach the head only through the class token (the layer pytorch-grad-cam's users are told to pick by hand,
with a `reshape_transform`). Each against pytorch-grad-cam on the same layer."""
import os
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from helpers import assert_call_leaves_everything


def _grad_cam_reference():
    "pytorch-grad-cam and OpenCV (which sets LD_LIBRARY_PATH on import: put back, later subprocesses inherit it)."
    saved = os.environ.get('LD_LIBRARY_PATH')
    pytest.importorskip('pytorch_grad_cam')
    import cv2
    if saved is None: os.environ.pop('LD_LIBRARY_PATH', None)
    else: os.environ['LD_LIBRARY_PATH'] = saved
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    return cv2, GradCAM, ClassifierOutputTarget


def _no_hooks(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in model.modules())


def _compare(learn, paths, layer, reshape_transform=None):
    cv2, GradCAM, ClassifierOutputTarget = _grad_cam_reference()
    e = assert_call_leaves_everything(learn, lambda: learn.explain(paths, method='gradcam', output='raw',
                                                                   show_progress=False))
    assert _no_hooks(learn.model)
    xb = learn.dls.test_dl(paths).one_batch()[0].as_subclass(torch.Tensor)
    with GradCAM(model=learn.model.eval(), target_layers=[layer], reshape_transform=reshape_transform) as cam:
        theirs = cam(input_tensor=xb, targets=[ClassifierOutputTarget(1)] * len(paths))
    learn.model.train()
    minmax = lambda m: (m - m.min()) / (1e-7 + (m - m.min()).max())
    for mine, ref in zip(e.attrs['cams'], theirs):   # their post-processing: min-max scaled, resized with OpenCV, again
        assert mine.max() > 0                         # not the all-zero map of a layer the output does not see
        np.testing.assert_allclose(minmax(cv2.resize(minmax(mine).astype(np.float32), (32, 32))), ref, atol=1e-4)
    return e


class TimmLikeCNN(nn.Module):
    "What fastai's TimmBody reads of a timm model: `default_cfg` (a pool size: features come from forward_features)."
    default_cfg = {'pool_size': (1, 1)}

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.stages = nn.Sequential(nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU()),
                                    nn.Sequential(nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU()))
        self.head = nn.Linear(32, 10)      # timm's own classifier: TimmBody never calls it

    def forward_features(self, x): return self.stages(self.stem(x))

    def forward(self, x): return self.head(self.forward_features(x).mean((2, 3)))


def test_a_timm_body_through_fastais_timm_body(marked):
    from fastai.vision.all import Learner, create_head
    from fastai.vision.learner import TimmBody
    learn, test = marked
    torch.manual_seed(0)
    model = nn.Sequential(TimmBody(TimmLikeCNN(), pretrained=False), create_head(32, 2))   # as create_timm_model builds it
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        timm_learn = Learner(learn.dls, model)
    e = _compare(timm_learn, list(test['path'][:3]), model[0].model.stages[1])
    assert e.attrs['layer'] == '0'   # the body (its output is its last stage's, 4 x 4), not timm's unused classifier


class Attention(nn.Module):
    "timm's attention: qkv in one linear layer, q_norm and k_norm on (N, heads, tokens, dim): 4-d, and no map."
    def __init__(self, dim, heads=2):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.q_norm, self.k_norm = nn.Identity(), nn.Identity()

    def forward(self, x):
        n, t, c = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q), self.k_norm(k)
        a = torch.softmax(q @ k.transpose(-2, -1) / (c // self.heads) ** 0.5, -1)
        return self.proj((a @ v).transpose(1, 2).reshape(n, t, c))


class Block(nn.Module):
    "A pre-norm transformer block, as timm's ViT writes it."
    def __init__(self, dim):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim)
        self.norm2, self.mlp = nn.LayerNorm(dim), nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """8-pixel patches of a 32-pixel image: 16 tokens after a class token and 4 registers (timm's `reg_tokens`); the
    head reads the class token."""
    def __init__(self, dim=32, registers=4):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 8, stride=8)
        self.lead = nn.Parameter(torch.randn(1, 1 + registers, dim) * 0.1)
        self.pos = nn.Parameter(torch.randn(1, 17 + registers, dim) * 0.1)
        self.blocks = nn.Sequential(Block(dim), Block(dim))
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, 2)

    def forward(self, x):
        t = self.patch_embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.lead.expand(len(t), -1, -1), t], 1) + self.pos
        return self.head(self.norm(self.blocks(t))[:, 0])


def test_a_vision_transformer_gets_the_last_layer_that_mixes_tokens(marked):
    from fastai.vision.all import Learner
    learn, test = marked
    torch.manual_seed(0)
    vit = TinyViT()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        vit_learn = Learner(learn.dls, vit)
    def tokens_to_map(t): return t[:, 5:].reshape(t.shape[0], 4, 4, t.shape[2]).permute(0, 3, 1, 2)   # their recipe
    e = _compare(vit_learn, list(test['path'][:3]), vit.blocks[-1].norm1, reshape_transform=tokens_to_map)
    # the last block's output and the final norm reach the head only through the class token: all-zero maps there;
    # the attention's q_norm / k_norm outputs (N, heads, tokens, dim) are 4-d but no map; qkv is a linear layer
    assert e.attrs['layer'] == 'blocks.1.norm1'
    zero = vit_learn.explain(list(test['path'][:2]), method='gradcam', layer='norm', show_progress=False)
    assert all((np.asarray(c) == 0).all() for c in zero.attrs['cams'])
