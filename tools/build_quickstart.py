"Writes nbs/01_quickstart.ipynb from the cells below and executes it so it is committed with its outputs."
from pathlib import Path

import nbformat
from nbclient import NotebookClient

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
cells = [
    md("# Quickstart: which columns drive a fastai tabular model?\n\n"
       "`import fastai_featimp` adds `learn.feature_importance()` and `learn.plot_feature_importance()` to fastai's "
       "tabular learners. This notebook trains the fastai tutorial model on the UCI Adult census data, which ships "
       "with the package (no download), and asks which inputs the network relies on."),
    code("from fastai.tabular.all import *\n"
         "import fastai_featimp\n"
         "from fastai_featimp.datasets import adult, ADULT_CAT_NAMES, ADULT_CONT_NAMES\n\n"
         "train_df, test_df = adult()   # 32,561 training rows, 16,281 held-out test rows\n"
         "train_df.head(3)"),
    md("Train the fastai tutorial's learner (one epoch keeps this notebook quick; the tutorial uses more)."),
    code("set_seed(42, reproducible=True)\n"
         "dls = TabularDataLoaders.from_df(train_df, y_names='salary', cat_names=ADULT_CAT_NAMES,\n"
         "                                 cont_names=ADULT_CONT_NAMES, procs=[Categorify, FillMissing, Normalize],\n"
         "                                 valid_idx=list(range(26000, len(train_df))), bs=64)\n"
         "learn = tabular_learner(dls, metrics=accuracy)\n"
         "with learn.no_bar(): learn.fit_one_cycle(1)"),
    md("## Permutation importance on the test set\n\n"
       "**Why the test set?** The validation set picked the epochs and the learning rate, so the model is tuned "
       "to it; importance measured there is optimistic, exactly like a validation score. A labelled test set the "
       "model never influenced gives the unbiased estimate. Without one, `feature_importance()` falls back to the "
       "validation set and says so in a warning.\n\n"
       "Each column is shuffled across the whole test set (one permutation per repeat, never per batch), the model "
       "predicts again, and the loss is computed over the whole set. The importance is how much worse it gets."),
    code("test_dl = learn.dls.test_dl(test_df)   # labelled: test_df has the salary column\n"
         "fi = learn.feature_importance(test_dl=test_dl, n_repeats=5, seed=42)\n"
         "fi"),
    code("learn.plot_feature_importance(fi);"),
    md("**What shuffling a categorical means here.** fastai turns `occupation` into an integer code and looks the "
       "code up in an embedding table. The package shuffles the *codes*, before the embedding, so each row receives "
       "another row's whole embedding vector: the column's information is broken, but every input the network sees "
       "is still a real level. (Shuffling the embedding *outputs* one dimension at a time, as some snippets do, "
       "creates vectors that belong to no level at all.) A continuous column is shuffled in its normalised form, "
       "which is the same as shuffling the raw values.\n\n"
       "**Missing values.** `FillMissing` replaces a missing `age` with the median and adds an `age_na` indicator "
       "column. The indicator carries part of the same information, so the package shuffles `age_na` with the same "
       "permutation as `age` and reports them together as one row, `age`. (Adult's continuous columns happen to have "
       "no missing values, so there are no `_na` columns in this model.)"),
    md("## Correlated columns: permute them together\n\n"
       "`education` and `education-num` say the same thing. Shuffle one and the model still reads the other, so "
       "each alone looks less important than the information really is. `groups=` permutes the members with one "
       "shared row permutation and reports the group as one row of `Type` `group`:"),
    code("fi_grouped = learn.feature_importance(test_dl=test_dl, seed=42,\n"
         "                                      groups={'education (both)': ['education', 'education-num']})\n"
         "fi_grouped[['Variable', 'Type', 'Importance', 'CI_low', 'CI_high', 'Members']]"),
    md("Compare with the table above: here the pair scores *below* `education-num` alone. Shuffling "
       "`education-num` by itself creates rows that never occur (a Doctorate with five years of schooling), and the "
       "network's answers on such rows are poor, which inflates the single-column score. Shuffling the pair "
       "together keeps every row's two values consistent, so it measures the information the pair carries."),
    md("## Reading the confidence intervals\n\n"
       "Shuffling is random, so each repeat gives a slightly different number. `Importance` is the mean over "
       "repeats, `Std` their spread, and `CI_low`/`CI_high` a 95% t-interval for the mean: it narrows with more "
       "`n_repeats`. It measures the noise of the shuffling on *this* test set and *this* trained model, not how "
       "the importance would vary with another training run. A column whose interval contains 0 (`p_value` large) "
       "is not detectably used by the model. The raw per-repeat values are kept in `fi.attrs['importances']`."),
    code("fi.attrs['baseline'], fi.attrs['importances']['age']"),
    md("Any fastai metric works, computed over the whole test set with the activation fastai applies for it; "
       "the importance is always the drop in quality, positive when shuffling hurts:"),
    code("res = learn.feature_importance(test_dl=test_dl, metric=[accuracy, RocAucBinary()], seed=42)\n"
         "res['roc_auc_score'].head(4)"),
]
nb = nbformat.v4.new_notebook(cells=cells, metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3',
                                                                      'language': 'python'}})
out = Path(__file__).resolve().parents[1] / 'nbs' / '01_quickstart.ipynb'
NotebookClient(nb, kernel_name='python3', timeout=600, resources={'metadata': {'path': str(out.parent)}}).execute()
for cell in nb.cells:   # library warnings (torch, fastai) are noise in the rendered docs
    if cell.cell_type == 'code':
        cell.outputs = [o for o in cell.outputs if not (o.output_type == 'stream' and o.name == 'stderr')]
nbformat.write(nb, out)
print('wrote', out)
