"Snapshots of everything a call must leave unchanged."
import copy
import random

import numpy as np
import torch


def learner_snapshot(learn):
    return dict(
        weights={k: v.detach().clone() for k, v in learn.model.state_dict().items()},
        modes=[m.training for m in learn.model.modules()],
        dls=learn.dls, loaders=list(learn.dls.loaders), dls_bs=[dl.bs for dl in learn.dls.loaders],
        dls_n=[dl.n for dl in learn.dls.loaders], dls_device=learn.dls.device,
        cat_names=list(learn.dls.cat_names), cont_names=list(learn.dls.cont_names),
        cbs=list(learn.cbs), metrics=list(learn.metrics), loss_func=learn.loss_func,
        recorder_values=copy.deepcopy(learn.recorder.values), opt=learn.opt,
    )


def assert_learner_unchanged(learn, snap):
    now = learner_snapshot(learn)
    for k, v in snap['weights'].items(): assert torch.equal(v, now['weights'][k]), k
    for key in ['modes', 'dls_bs', 'dls_n', 'cat_names', 'cont_names', 'recorder_values']:
        assert now[key] == snap[key], key
    for key in ['dls', 'dls_device', 'loss_func', 'opt']: assert now[key] is snap[key], key
    for key in ['loaders', 'cbs', 'metrics']:
        assert len(now[key]) == len(snap[key]) and all(a is b for a, b in zip(now[key], snap[key])), key


def global_rng_state():
    return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()


def assert_same_rng(a, b):
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])
