"The CUDA path: the model on a GPU gives the CPU's results (skipped where no GPU is present)."
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device')


def test_cuda_matches_cpu(binary_learner, binary_test):
    kw = dict(df=binary_test, n_repeats=3, seed=0, show_progress=False, metric=['loss', 'accuracy', 'roc_auc'])
    cpu = binary_learner.feature_importance(**kw)
    binary_learner.model.cuda()
    try:
        gpu = binary_learner.feature_importance(**kw)
        assert next(binary_learner.model.parameters()).is_cuda   # left where it was
    finally:
        binary_learner.model.cpu()
    for name in cpu:
        assert gpu[name].attrs['baseline'] == pytest.approx(cpu[name].attrs['baseline'], abs=1e-5)
        for v in cpu[name]['Variable']:
            np.testing.assert_allclose(gpu[name].attrs['importances'][v], cpu[name].attrs['importances'][v],
                                       atol=1e-4)
