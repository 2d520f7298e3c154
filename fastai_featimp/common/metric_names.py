"The metric names the package knows (no fastai import: the command line offers them before loading fastai)."

__all__ = ['METRIC_NAMES']

METRIC_NAMES = ('loss', 'accuracy', 'error_rate', 'roc_auc', 'rmse', 'mae', 'mse', 'msle', 'exp_rmspe', 'r2', 'f1',
                'balanced_accuracy')
