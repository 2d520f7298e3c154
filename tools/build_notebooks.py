"""Writes the notebooks in nbs/ from the cells below and executes them, so they are committed with their outputs.

    python tools/build_notebooks.py            # all
    python tools/build_notebooks.py 02         # those whose name contains 02
"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

def adult_setup(cont: str = 'ADULT_CONT_NAMES', bs: int = 64, fit: str = 'learn.fit_one_cycle(1)', after: str = ''):
    "The code cell shared by the notebooks: imports, the bundled Adult data and the fastai tutorial learner."
    return code("from fastai.tabular.all import *\n"
                "import matplotlib.pyplot as plt\n"
                "import fastai_featimp\n"
                "from fastai_featimp.datasets import adult, ADULT_CAT_NAMES, ADULT_CONT_NAMES\n\n"
                "train_df, test_df = adult()\n"
                "set_seed(42, reproducible=True)\n"
                "dls = TabularDataLoaders.from_df(train_df, y_names='salary', cat_names=ADULT_CAT_NAMES,\n"
                f"                                 cont_names={cont}, procs=[Categorify, FillMissing, Normalize],\n"
                f"                                 valid_idx=list(range(26000, len(train_df))), bs={bs})\n"
                "learn = tabular_learner(dls, metrics=accuracy)\n"
                f"with learn.no_bar(): {fit}" + (f"\n{after}" if after else ''))


QUICKSTART = [
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

CORRELATED = [
    md("# Correlated features: groups, a dependence map and conditional permutation\n\n"
       "When two inputs carry the same information, permuting one of them alone makes both look unimportant "
       "(the model still reads the other), and permuting one freely creates rows that never occur (a Doctorate "
       "with five years of schooling), where the model is judged on inputs it never saw. In Adult, `education` "
       "and `education-num` are the same information written twice, and `relationship` and `marital-status` "
       "overlap. This notebook shows three views of the same model side by side."),
    adult_setup(after='test_dl = learn.dls.test_dl(test_df)'),
    md("## 1. The dependence map\n\n"
       "`learn.feature_dependence()` measures how strongly each pair of inputs is associated, in [0, 1], on the "
       "learner's processed inputs (by default the training set): |Spearman| between two continuous columns, "
       "bias-corrected Cramér's V between two categorical ones, the correlation ratio eta between a categorical "
       "and a continuous one. Missing values are treated as fastai treats them (filled continuous values, `#na#` "
       "as a level); FillMissing's `_na` indicators belong to their column and are not listed. The plot clusters "
       "columns on `1 - association`."),
    code("assoc = learn.feature_dependence()\n"
         "learn.plot_feature_dependence(assoc=assoc);"),
    md("## 2. Three views of importance\n\n"
       "* **marginal** (the default): each column permuted freely over the whole test set;\n"
       "* **automatic groups** (`groups='auto'`): columns whose clusters join at an association of at least "
       "`threshold` (0.7 here, the default) are permuted together and reported as one row, `a + b`;\n"
       "* **conditional** (`strategy='conditional'`): each column is permuted only among rows that are alike in "
       "the columns most associated with it, so the permuted rows stay realistic. The importance then measures "
       "what a column adds *beyond* what its partners already carry."),
    code("views = {\n"
         "    'marginal': learn.feature_importance(test_dl, seed=42, show_progress=False),\n"
         "    \"groups='auto'\": learn.feature_importance(test_dl, groups='auto', seed=42, show_progress=False),\n"
         "    \"strategy='conditional'\": learn.feature_importance(test_dl, strategy='conditional', seed=42,\n"
         "                                                       show_progress=False),\n"
         "}\n"
         "fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), sharex=True)\n"
         "for ax, (title, fi) in zip(axes, views.items()):\n"
         "    fastai_featimp.plot_importance(fi, ax=ax, title=title)\n"
         "fig.tight_layout()"),
    md("How to read them together:\n\n"
       "* `education` alone scores almost nothing under marginal permutation: the model reads `education-num`, "
       "which carries the same information. Grouped, `education + education-num` shows what that information is "
       "worth.\n"
       "* Under conditional permutation, `education-num` scores exactly zero: within a stratum of the same "
       "`education` level it takes a single value, so there is nothing left to permute. It adds nothing beyond "
       "`education`, and vice versa; only the group view says the information itself matters.\n"
       "* `relationship` and `marital-status` drop under conditional permutation: much of what each says is "
       "already in the other (and in `age`)."),
    md("## How conditional strata are built\n\n"
       "For each column (or group), the partners are the other columns with the highest association with it, "
       "at most two, and only those with an association of at least 0.2; a column with no such partner is "
       "permuted freely. A categorical partner contributes its levels; a continuous one quantile bins, as many "
       "as keep about 20 rows per stratum (between 2 and 10 bins). Rows are permuted only within their stratum. "
       "A row alone in its stratum keeps its own value, which pulls the importance towards zero; "
       "`fi.attrs['conditional']` lists each column's partners, the number of strata and how many rows were "
       "alone."),
    code("pd.DataFrame(views[\"strategy='conditional'\"].attrs['conditional']).T"),
]

EXPLAIN = [
    md("# Explain a single prediction\n\n"
       "Global importance says what the model uses on average. To know what drove *one* prediction, and whether "
       "it rests on a sensible signal, `learn.explain(rows)` computes Shapley values per input column: how much "
       "each column moved this row's predicted probability away from the average prediction over a background "
       "of typical rows. A categorical column is switched as its integer code (its whole embedding), a "
       "continuous one in its processed value, and FillMissing's `_na` indicator moves with its column."),
    adult_setup(),
    md("Find a confident but wrong prediction on the test set, and a confident correct one to compare."),
    code("with learn.no_bar():\n"
         "    probs, targs = learn.get_preds(dl=learn.dls.test_dl(test_df))\n"
         "pred = probs.argmax(1)\n"
         "confidence = probs.max(1).values\n"
         "wrong = ((pred != targs.view(-1)) & (confidence > 0.9)).nonzero().view(-1)\n"
         "right = ((pred == targs.view(-1)) & (confidence > 0.9) & (pred == 1)).nonzero().view(-1)\n"
         "rows = test_df.iloc[[int(wrong[0]), int(right[0])]]\n"
         "rows"),
    code("expl = learn.explain(rows, seed=42, show_progress=False)   # exact: 9 columns, 512 coalitions\n"
         "expl[expl['row'] == 0].sort_values('Contribution', key=abs, ascending=False)"),
    code("fig, axes = plt.subplots(1, 2, figsize=(15, 4.5))\n"
         "for r, ax in enumerate(axes):\n"
         "    learn.plot_explanation(expl, row=r, ax=ax)\n"
         "axes[0].set_title(f\"confident and wrong (true label: {rows['salary'].iloc[0]})\")\n"
         "axes[1].set_title(f\"confident and right (true label: {rows['salary'].iloc[1]})\")\n"
         "fig.tight_layout()"),
    md("Both rows explain the probability of `>50K`: for a binary model every row explains its positive class, so "
       "contributions point the same way in every row and can be summarised. Each waterfall starts at the base "
       "value (the mean predicted probability of `>50K` over 100 training "
       "rows) and adds one column at a time, largest first, to reach this row's prediction; `base + sum of "
       "contributions = prediction` holds exactly (`expl.attrs` keeps the base values and outputs).\n\n"
       "Read the wrong one against the raw row. Its contributions come from columns that do separate incomes on "
       "average; a confident error then often means the deciding information is not among the inputs at all. "
       "The tutorial model never sees `capital-gain`, `hours-per-week` or `sex`: compare them in the two rows "
       "above. Explanations show what the model used, not what it should have used."),
    md("## From local to global: 200 test rows\n\n"
       "Averaging |contribution| over many rows gives a global view that agrees in spirit with permutation "
       "importance; the beeswarm shows the direction: each dot is one row, coloured by the column's value."),
    code("many = learn.explain(test_df.iloc[:200], n_background=50, seed=42, show_progress=False)\n"
         "learn.plot_explanation_summary(many);"),
    md("With more than 14 columns, `method='auto'` switches from exact enumeration to `method='shapley'`: Shapley "
       "values estimated on a budget of coalitions (`max_evals`, by default 2,048 plus 2 per column per row, as shap's "
       "KernelExplainer), still exact when every coalition of the columns that can change the row fits in the budget. "
       "It reports a standard error per column in `Std` and still adds up exactly to the prediction. "
       "`method='permutation'` (`n_permutations`) gives the antithetic permutation estimator instead."),
    md("## Which explanation can I believe?\n\n"
       "Exact and sampled Shapley values scored by their faithfulness: the columns removed in the explanation's "
       "order (each takes the background rows' values, the same value function the Shapley values use), against "
       "random orders of the same columns and the reverse."),
    code("rows = test_df.iloc[:20]\n"
         "table = learn.compare_explanations(rows, n_random=10, seed=0, n_background=50)\n"
         "table[['Method', 'deletion_aopc', 'insertion_aopc', 'comprehensiveness@1', 'Rank', 'Agreement', 'Seconds']]"),
    code("fastai_featimp.plot_deletion_curves(table.attrs['evaluations']['exact']);"),
    md("The sanity check (Adebayo et al. 2018) re-draws the model's weights from the output layer down and explains "
       "the rows again: an explanation of the *model* must stop agreeing with the original. The verdict gives the "
       "final rank correlation with a 95% interval over the rows; it passes when the whole interval lies within "
       "±0.3, fails when it lies beyond, and says \"no verdict\" when the interval straddles the threshold (explain "
       "more rows)."),
    code("print(learn.sanity_check(rows, method='exact', seed=0, n_background=30).attrs['verdict'])"),
]

PARTIAL = [
    md("# Partial dependence, ICE and accumulated local effects\n\n"
       "Importance says *how much* a column matters; these plots say *how*: does the predicted probability of "
       "earning more than 50K rise with age, and where does it flatten? Everything is computed on the model's "
       "processed inputs (codes and normalised values) and shown in the units of the data."),
    adult_setup(cont="ADULT_CONT_NAMES + ['hours-per-week']",
                after='rows = test_df.sample(1000, random_state=0)   # the rows to average over'),
    md("## Age: partial dependence with ICE curves\n\n"
       "Each thin line (ICE) is one person: their age is set to each grid value (quantiles of the data between "
       "the 5th and 95th percentiles, turned into the model's normalised values with the learner's own "
       "Normalize statistics) while everything else stays as it is. The thick line, the partial dependence, is "
       "their mean; the ticks at the bottom are the deciles of age in these rows."),
    code("learn.plot_partial_dependence('age', rows, kind='both', subsample=200, seed=0, show_progress=False);"),
    md("## Education: one bar per level\n\n"
       "A categorical column is set to every level of the training vocabulary, in the vocabulary's order "
       "(`.plot(sort='value')` orders them by effect), labelled by its original value; levels the model never "
       "met in training are left out."),
    code("learn.plot_partial_dependence('education', rows, show_progress=False);"),
    md("## Two columns at once\n\n"
       "A two-way dependence shows interactions: here, how the effect of hours worked depends on age."),
    code("learn.plot_partial_dependence(['age', 'hours-per-week'], rows, grid_resolution=12, show_progress=False);"),
    md("## When columns are correlated: ALE next to PD\n\n"
       "`education-num` is a recoding of `education`. Partial dependence sets `education-num` to 16 for every "
       "row, including people whose `education` says HS-grad: rows that never occur, where the model is "
       "extrapolating. Accumulated local effects (Apley & Zhu 2020) only compare each row with values close "
       "to its own (within quantile bins) and add those local changes up, so they never leave the data."),
    code("fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))\n"
         "learn.partial_dependence('education-num', rows, show_progress=False).plot(ax=axes[0])\n"
         "learn.accumulated_local_effects('education-num', rows, bins=15).plot(ax=axes[1])\n"
         "axes[0].set_title('partial dependence'); axes[1].set_title('accumulated local effects')\n"
         "fig.tight_layout()"),
    md("**When to trust which.** With columns that vary independently of the others, PD is the easiest to "
       "read and ICE curves show whether everyone follows the average (parallel curves) or not (interactions). "
       "When a column is strongly associated with others (check `learn.feature_dependence()`), PD mixes in the "
       "model's behaviour on impossible rows; prefer ALE, which is centred to mean zero and reads as the change "
       "relative to an average row. For a categorical column, ALE orders the levels by how alike their rows are "
       "(see notebook 08); PD with its ICE dots shows the levels in the vocabulary's order."),
]

DROP = [
    md("# Drop-column importance: what is a column worth to the best model you can train without it?\n\n"
       "Permutation importance asks how much the *trained* model relies on a column. Drop-column importance "
       "asks another question: retrain the same recipe without the column, and measure how much worse the "
       "result is. `learn.drop_column_importance(train_df, test_df)` reads the recipe back from the learner "
       "(procs, columns, batch size, architecture, loss, optimiser, weight decay, the fit's length and the learning "
       "rate it was trained with, read from the recorder), "
       "retrains once with all columns as the reference and once without each column, with the same seeds, "
       "and scores every model on the test set."),
    adult_setup(bs=256, fit='learn.fit_one_cycle(1, 1e-2)'),
    code("perm = learn.feature_importance(df=test_df, seed=42, show_progress=False)\n"
         "drop = learn.drop_column_importance(train_df, test_df, seed=42, n_jobs=2, show_progress=False)\n"
         "fastai_featimp.plot_importance_comparison(perm, drop);"),
    code("{k: drop.attrs[k] for k in ['epochs', 'epochs_source', 'lr', 'lr_source', 'original_score', 'reference']}"),
    md("The recipe repeats the learner's last fit: one epoch at `lr_max=1e-2`, read from the learning rates the "
       "recorder kept (fastai's `fit_one_cycle(1, 1e-2)` leaves `learn.lr` at its default 1e-3). The reference "
       "retraining scores close to the original model; when it does not, a warning gives both numbers and says "
       "to pass `epochs=` and `lr=`, because importances would then measure the retraining, not the columns."),
    md("**Why they differ, especially for embedded categoricals.** Permuting `education` feeds the trained "
       "network another row's embedding; the network has learnt to lean on `education-num` for the same "
       "information, so `education` looks unimportant, and `education-num` looks very important. Retrain "
       "without `education-num` and the network simply learns an embedding for `education` that carries the "
       "same information: dropping either costs little, because the other one replaces it. `marital-status` "
       "and `relationship` are in the same position. Drop-column "
       "importance measures what is *irreplaceable*; permutation importance measures what this particular "
       "model *uses*. A column can be used heavily and still be replaceable. Each drop-column estimate here "
       "comes from one training run per configuration (`n_repeats=1`): differences between training runs are "
       "noise of the same order as small importances; use `n_repeats=3` or more for intervals."),
]


TEXT = [
    md("# Which words drove this prediction? Explaining a fastai text classifier\n\n"
       "An ICU team trained a model to predict death from clinical notes, and it worked suspiciously well. Its "
       "strongest signal turned out to be that a *family visit* was mentioned: relatives fly in when they are told "
       "the patient is dying. The phrase records a consequence of the outcome, not a cause, and a model that "
       "leans on it is useless where it matters, before the family is called. This notebook reproduces the story "
       "on `clinical_notes()`, a synthetic corpus shipped with the package whose answer is known: every planted "
       "phrase has a known log likelihood ratio, and 'family visit' is the leak with the largest one (the words "
       "'family' and 'visit' also occur apart, in the same context, with no signal)."),
    code("from fastai.text.all import *\n"
         "import fastai_featimp\n"
         "from fastai_featimp.datasets import clinical_notes, clinical_evidence\n\n"
         "train_df, test_df = clinical_notes(3000, seed=0), clinical_notes(1000, seed=1)\n"
         "clinical_evidence()"),
    md("A small AWD_LSTM trained from scratch (no pretrained weights: nothing to download), about a minute on two "
       "CPU cores."),
    code("def train(df):\n"
         "    set_seed(0, reproducible=True)\n"
         "    dls = TextDataLoaders.from_df(df, text_col='text', label_col='outcome', valid_pct=0.2, seed=0, bs=64)\n"
         "    config = {**awd_lstm_clas_config, 'emb_sz': 100, 'n_hid': 256, 'n_layers': 2}\n"
         "    learn = text_classifier_learner(dls, AWD_LSTM, config=config, pretrained=False, drop_mult=0.5, metrics=accuracy)\n"
         "    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 1e-2)\n"
         "    print(f'validation accuracy {learn.recorder.values[-1][2]:.3f}')\n"
         "    return learn\n\n"
         "learn = train(train_df)"),
    md("## One note, in front of the clinician\n\n"
       "`learn.explain(text)` attributes the predicted probability of `died` (the positive class of this binary "
       "model) to the words of the note as Shapley values: the model runs on the whole note with a chosen set of "
       "words replaced by `xxunk`, on a budget of such masked notes (`max_evals`, by default 20 per word; exact, "
       "every set enumerated, where 2^words fits in it), and each word's share of the prediction is estimated from "
       "them, with its standard error in `Std` (`n_permutations=` gives the permutation estimator instead). They add "
       "up exactly: the output with every word masked plus the contributions is the prediction. A word keeps fastai's markers (`Family` is `xxmaj family`), and the offsets point into the note "
       "as it was written, so the highlight is on the clinician's words, not fastai's tokens."),
    code("note = test_df[test_df['has_family_visit']]['text'].iloc[0]\n"
         "calm = test_df[~test_df['has_family_visit'] & (test_df['outcome'] == 'alive')]['text'].iloc[0]\n"
         "expl = learn.explain([note, calm], seed=0, show_progress=False)   # one explanation: one colour scale\n"
         "learn.show_explanation(expl, row=0)\n"
         "learn.show_explanation(expl, row=1)   # not the last line: shown all the same\n"
         "print('two notes, one colour scale')"),
    md("**How to read it.** The note is shown exactly as it was written. Red pushes towards `died`, blue away, on one "
       "scale per explanation, stated in the legend under each note: full colour at the largest contribution among "
       "all the notes of the explanation, rounded up to 1, 2, 2.5 or 5 times a power of ten (in percentage points of "
       "the predicted probability). The two notes above were explained in one call, so they share that scale and can "
       "be compared, and a note whose largest word moves the prediction by a few points is still visibly shaded. "
       "Separate calls each choose their own scale: `scale=0.25` fixes full colour at 25 points across explanations, "
       "and `scale='row'` scales each note to its own largest word instead (the legend says which). The "
       "header says what is predicted, the prediction, and what the model says with every word masked; the words "
       "that push most either way are listed with their values under the note, so a printout keeps the numbers; a "
       "dotted underline marks a word the model never saw (a rare drug name: it reads it as unknown, so masking it "
       "changes nothing). "
       "`show_explanation` displays itself in Jupyter whether or not it is the last line of the cell."),
    code("expl[expl['row'] == 0].sort_values('Contribution', key=abs, ascending=False).head(8)"),
    md("Occlusion (`method='occlusion'`, each word masked alone) needs one masked note per word instead of twenty "
       "and agrees here; integrated "
       "gradients (`method='integrated_gradients'`) follow the gradient along the embeddings. The same view as a "
       "figure, every word placed by its measured width:"),
    code("learn.plot_explanation(learn.explain(note, method='occlusion', show_progress=False), width=8);"),
    md("## The whole test set: which phrases does the model rely on?\n\n"
       "`learn.feature_importance(df=test_df)` masks each candidate phrase (every word and two-word phrase in at "
       "least `min_support` notes) wherever it occurs, in every note, runs the model again and measures the change "
       "in the loss over the whole set, with a bootstrap over notes for the interval. Here on 200 notes to keep the "
       "notebook quick."),
    code("fi = learn.feature_importance(df=test_df.head(200), min_support=30, exclude='english', seed=0, show_progress=False)\n"
         "fi.head(10)[['Variable', 'Type', 'Importance', 'CI_low', 'CI_high', 'Support', 'MeanDelta']]"),
    code("learn.plot_feature_importance(fi, top=12);"),
    md("**How to read the two numbers.** `Importance` is the change of the loss over the whole set when the phrase "
       "is masked everywhere: it grows with how often the phrase occurs (`Support`) and how much it moves each "
       "prediction, so it answers *what would the model lose without this phrase*. `MeanDelta` is the average "
       "change of P(died) on the notes that contain it: a per-note effect with a direction, so it answers *what does "
       "this phrase do where it appears*. On real text, function words ('the', 'and') can reach a sizeable "
       "`Importance` because masking them everywhere disturbs the model's reading: `exclude='english'` drops "
       "candidates that start or end with a short list of English function words (or pass your own list), and "
       "`sort_by='MeanDelta'` ranks by the per-note effect. The unigrams 'visit' and 'family' follow the leak: "
       "masking either breaks the phrase."),
    code("import scipy.stats\n"
         "planted = learn.feature_importance(df=test_df, candidates=list(clinical_evidence()['phrase']), seed=0,\n"
         "                                   show_progress=False).set_index('Variable')\n"
         "table = clinical_evidence().set_index('phrase').join(planted[['MeanDelta', 'Importance']])\n"
         "print('Spearman(llr, MeanDelta) =', round(scipy.stats.spearmanr(table['llr'], table['MeanDelta']).statistic, 2))\n"
         "table"),
    md("## Remove the leak, retrain\n\n"
       "The fix is in the data, not the model: the leak sentence is removed from every training note, the same "
       "recipe is retrained, and the held-out notes are scored without it too (a prediction has to be made before "
       "anyone knows whether the family will come)."),
    code("import re\n"
         "no_leak = lambda df: df.assign(text=df['text'].str.replace(r'(?i)family visit[^.]*\\.\\s*', '', regex=True))\n"
         "clean = train(no_leak(train_df))\n"
         "test_clean = no_leak(test_df)\n"
         "def accuracy_on(l, df):\n"
         "    with l.no_bar(): return float(l.validate(dl=l.dls.test_dl(df[['text', 'outcome']], with_labels=True))[1])\n"
         "print(f\"with the leak, scored on notes without it: {accuracy_on(learn, test_clean):.3f}\")\n"
         "print(f\"retrained without the leak:               {accuracy_on(clean, test_clean):.3f}\")"),
    code("fi_clean = clean.feature_importance(df=test_clean.head(200), min_support=30, exclude='english', seed=0,\n"
         "                                   show_progress=False)\n"
         "fi_clean.head(8)[['Variable', 'Type', 'Importance', 'Support', 'MeanDelta']]"),
    code("clean.show_explanation(clean.explain(no_leak(test_df[test_df['has_family_visit']]).iloc[:1], seed=0,\n"
         "                                     show_progress=False))"),
    md("Without the leak the ranking is led by the clinical signals the generator planted (vasopressors, a rising "
       "lactate, a patient walking or eating), and the same note is now explained by them."),
    md("## Should this prediction be trusted?\n\n"
       "Retraining takes a new model through validation and approval; the model in use today still leans on the "
       "leak. What a clinician needs now is the answer for the patient in front of them: *what would the model say "
       "without the phrase we know to be a shortcut?* `flagged=` takes the phrase (here the top row of the ranking "
       "above). A note that rests on it opens with a banner; one that does not opens with a grey line saying what was "
       "checked and found (here: the phrase does not occur in the note; where it occurs, the prediction with and "
       "without it), so \"checked, it does not rest on it\" is never "
       "confused with \"not checked\"."),
    code("flagged = fi.head(1)   # the top of the ranking: 'family visit'\n"
         "checked = learn.explain([note, calm], method='occlusion', flagged=flagged, show_progress=False)\n"
         "learn.show_explanation(checked, row=0)\n"
         "learn.show_explanation(checked, row=1)"),
    md("And across the test set, the audit: how many predictions rest on the leak, and what removing it at "
       "prediction time costs, next to the model retrained without it."),
    code("rel = learn.reliance(test_df, flagged, show_progress=False)\n"
         "s = rel.attrs['summary']\n"
         "print(f\"{s['n_with_flagged']} of {s['n_rows']} notes mention it; {s['share_relies']:.1%} of all predictions rest on \"\n"
         "      f\"it and {s['share_flipped']:.1%} change class without it\")\n"
         "print(f\"accuracy with it {s['score']:.3f}, with it masked at prediction time {s['score_without']:.3f}, \"\n"
         "      f\"retrained without it {accuracy_on(clean, test_clean):.3f}\")\n"
         "rel[rel['Relies']].head()"),
    code("learn.plot_reliance(rel);"),
    md("## Which explanation can I believe?\n\n"
       "Three methods, three answers that can disagree. `compare_explanations` scores each by how fast the "
       "prediction falls when the words it ranks first are masked (deletion) and how fast it comes back when they "
       "alone are put back (insertion), next to random orders of the same words: a method that ranks the words that "
       "matter first beats chance by a wide margin."),
    code("leak_notes = test_df[test_df['has_family_visit']]['text'].head(6).tolist()\n"
         "table = learn.compare_explanations(leak_notes, n_random=10, seed=0)\n"
         "print(table.attrs['reason'])\n"
         "table[['Method', 'deletion_aopc', 'insertion_aopc', 'comprehensiveness@1', 'Rank', 'Agreement', 'Seconds']]"),
    code("ev = table.attrs['evaluations']['shapley']\n"
         "fastai_featimp.plot_deletion_curves(ev);"),
    md("The sanity check (Adebayo et al. 2018): re-draw the weights from the output layer down and explain again. "
       "An explanation of the *model* must change; one that stays correlated with the original explains the input. "
       "The verdict gives the final rank correlation with a 95% interval over the notes: it passes when the whole "
       "interval lies within ±0.3, fails when it lies beyond, and says \"no verdict\" when the interval straddles "
       "the threshold (explain more notes, or longer ones)."),
    code("check = learn.sanity_check(leak_notes[:3], method='occlusion', seed=0)\n"
         "print(check.attrs['verdict'])\n"
         "check"),
]

TRAINING = [
    md("# Importance while training: watch what the model learns to rely on\n\n"
       "A leak, or an identifier the model memorises, shows while the model trains, long before anyone analyses the "
       "finished model. `fastai_featimp.ImportanceCallback` measures permutation importance after every epoch on "
       "held-out rows *and* on a fixed sample of training rows. A column that matters far more on the rows the model "
       "trained on than on held-out rows is being memorised; a column that dominates from the first epoch is "
       "probably a leak. The callback changes nothing in the training: scoring runs in eval mode on its own copy of "
       "the rows, every random generator is put back, and the weights come out bit for bit the same as without it."),
    md("Two columns are planted in the UCI Adult training data: `record_id`, an identifier shared by about three "
       "rows each (nothing to learn, but a network with a large embedding can learn its training rows by heart), "
       "and `payroll_flag`, written after the salary was known (it agrees with the label for 90% of the rows)."),
    code("from fastai.tabular.all import *\n"
         "import fastai_featimp\n"
         "from fastai_featimp.datasets import adult, ADULT_CAT_NAMES, ADULT_CONT_NAMES\n\n"
         "train_df, test_df = adult()\n"
         "rng = np.random.default_rng(0)\n"
         "train_df['record_id'] = [f'r{i}' for i in rng.integers(0, len(train_df) // 3, len(train_df))]\n"
         "flip = rng.random(len(train_df)) < 0.1\n"
         "train_df['payroll_flag'] = np.where((train_df['salary'] == '>50K') ^ flip, 'high', 'standard')\n\n"
         "set_seed(42, reproducible=True)\n"
         "dls = TabularDataLoaders.from_df(train_df, y_names='salary', cat_names=ADULT_CAT_NAMES + ['record_id', 'payroll_flag'],\n"
         "                                 cont_names=ADULT_CONT_NAMES, procs=[Categorify, FillMissing, Normalize],\n"
         "                                 valid_idx=list(range(26000, len(train_df))), bs=64)\n"
         "learn = tabular_learner(dls, metrics=accuracy)\n"
         "cb = fastai_featimp.ImportanceCallback()   # defaults: every epoch, 2,000 held-out and 2,000 training rows\n"
         "with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(5, 1e-2, cbs=cb)"),
    code("cb.history.head()"),
    code("fastai_featimp.plot_importance_history(cb.history, top=6);"),
    md("Solid lines are held-out rows, dashed lines the training sample. `payroll_flag` leads from the first epoch. "
       "`record_id` climbs on the training rows epoch after epoch while it stays low on held-out rows: the network "
       "is learning which training rows earn more, not anything about people."),
    code("fastai_featimp.plot_train_vs_valid(cb.history);"),
    code("print(cb.report())"),
    md("`cb.report()` says it in sentences: a column is *memorised* when its training importance exceeds its held-out "
       "importance by more than their combined 95% interval (a bootstrap over rows) and by at least a tenth of the "
       "top held-out importance; a *likely leak* has led the held-out importance since the first evaluation and "
       "carries more than half of it at the end. Nothing is raised during training: the report is for you to read. "
       "`ImportanceCallback(df=test_df)` scores a held-out frame of your own instead of the validation set; "
       "`every=2` evaluates every other epoch; `n_repeats=3` adds intervals over permutations; text learners are "
       "watched through their most frequent phrases (or `candidates=`). The overhead on this model is about 5% "
       "(`benchmarks/bench_callback.py`)."),
]

INTERACTIONS = [
    md("# Interactions: which columns act together?\n\n"
       "Importance and Shapley values split credit between columns; they do not say that a prediction comes from "
       "two columns *together*. This notebook finds a planted interaction in a synthetic table, then looks at the "
       "Adult model: Shapley interaction values for one row, Friedman's H-statistic for the whole model, and the "
       "two-way partial dependence of the strongest pair."),
    code("from fastai.tabular.all import *\n"
         "import fastai_featimp\n"
         "from fastai_featimp.datasets import adult, ADULT_CAT_NAMES, ADULT_CONT_NAMES\n\n"
         "rng = np.random.default_rng(0)\n"
         "df = pd.DataFrame(rng.uniform(-1, 1, (4000, 4)), columns=['x1', 'x2', 'x3', 'x4'])\n"
         "df['y'] = df['x1'] * df['x2'] + df['x3'] + 0.05 * rng.normal(size=len(df))   # x1 and x2 act together\n"
         "set_seed(0, reproducible=True)\n"
         "dls = TabularDataLoaders.from_df(df, y_names='y', cont_names=['x1', 'x2', 'x3', 'x4'], procs=[Normalize],\n"
         "                                 y_block=RegressionBlock(), valid_idx=list(range(3200, 4000)), bs=128)\n"
         "toy = tabular_learner(dls, layers=[64, 32])\n"
         "with toy.no_bar(), toy.no_logging(): toy.fit_one_cycle(8, 1e-2)\n"
         "toy.interaction_strength(df.iloc[3200:], show_progress=False)"),
    md("**Friedman's H** of a pair is the share of the variance of their joint partial dependence that the two "
       "separate partial dependences do not explain: 0 when the effects add up, 1 when the pair acts only "
       "together. Here `x1 × x2` is close to 1 and every pair with `x3` is close to 0. H divides by the variance "
       "of the joint effect, so for a pair whose joint effect is tiny it is unstable: the pairs with `x4` are not near zero "
       "although `x4` is noise: it has no effect of its own, and H divides by almost nothing. Read H next to importance. "
       "`kind='total'` gives each column's interaction with all the others."),
    code("toy.interaction_strength(df.iloc[3200:], kind='total', show_progress=False)"),
    md("## One prediction: Shapley interaction values\n\n"
       "`learn.explain_interactions(rows)` splits each row's Shapley values further: off the diagonal, the pairwise "
       "Shapley interaction index (shared equally between the two cells), on the diagonal what each column does "
       "alone. Each row of the matrix sums to that column's Shapley value (`learn.explain`), and the whole matrix "
       "to the prediction minus the base value. They come from the same exact coalition values as `explain`, so "
       "they need at most 14 columns (or `groups=`)."),
    code("inter = toy.explain_interactions(df.iloc[3200:3201], n_background=100, seed=0, show_progress=False)\n"
         "fastai_featimp.plot_interactions(inter, row=0);"),
    md("## The Adult model"),
    code("train_df, test_df = adult()\n"
         "set_seed(42, reproducible=True)\n"
         "dls = TabularDataLoaders.from_df(train_df, y_names='salary', cat_names=ADULT_CAT_NAMES,\n"
         "                                 cont_names=ADULT_CONT_NAMES + ['hours-per-week'], procs=[Categorify, FillMissing, Normalize],\n"
         "                                 valid_idx=list(range(26000, len(train_df))), bs=64)\n"
         "learn = tabular_learner(dls, metrics=accuracy)\n"
         "with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(2)\n"
         "pairs = learn.interaction_strength(test_df, n_rows=300, seed=0, show_progress=False)\n"
         "fastai_featimp.plot_interactions(pairs, top=8);"),
    md("The default studies the eight most important columns (permutation importance on `df`), on a seeded sample "
       "of 300 rows: each partial dependence at one row averages the model over all 300 rows, so the cost grows "
       "with the square of `n_rows` (`grid=` evaluates at fewer rows). The strongest pair is one call away from "
       "its two-way partial dependence, here with the rows' bootstrap band for one of its columns:"),
    code("a, b = pairs.iloc[0][['Variable_1', 'Variable_2']]\n"
         "fig, axes = plt.subplots(1, 2, figsize=(13, 4.3))\n"
         "learn.plot_partial_dependence([a, b], test_df.sample(1000, random_state=0), grid_resolution=10, ax=axes[0], show_progress=False)\n"
         "learn.partial_dependence(a, test_df.sample(1000, random_state=0), n_bootstrap=200, seed=0, show_progress=False).plot(ax=axes[1])\n"
         "fig.tight_layout()"),
    md("## ALE of a categorical column\n\n"
       "Accumulated local effects now take categorical columns too: the levels are ordered by how alike their rows "
       "are on the other columns (Kolmogorov-Smirnov distances for continuous columns, differences of frequencies "
       "for categorical ones, one-dimensional scaling, as Apley & Zhu and R's `iml` do), then each step between "
       "neighbouring levels is measured on the rows of both levels and accumulated. Unlike partial dependence, it "
       "never moves a row to a level unlike its own. `n_bootstrap` adds a band over rows."),
    code("learn.accumulated_local_effects('relationship', test_df.sample(2000, random_state=0), n_bootstrap=100, seed=0).plot();"),
]


NOTEBOOKS = {'01_quickstart.ipynb': QUICKSTART, '02_correlated_features.ipynb': CORRELATED,
             '03_explain_a_prediction.ipynb': EXPLAIN, '04_partial_dependence.ipynb': PARTIAL,
             '05_drop_column.ipynb': DROP, '06_text_explanations.ipynb': TEXT,
             '07_importance_while_training.ipynb': TRAINING, '08_interactions.ipynb': INTERACTIONS}


def build(name, cells):
    nb = nbformat.v4.new_notebook(cells=cells, metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3',
                                                                          'language': 'python'}})
    out = Path(__file__).resolve().parents[1] / 'nbs' / name
    NotebookClient(nb, kernel_name='python3', timeout=600, resources={'metadata': {'path': str(out.parent)}}).execute()
    for cell in nb.cells:   # library warnings (torch, fastai) are noise in the rendered docs
        if cell.cell_type == 'code':
            cell.outputs = [o for o in cell.outputs if not (o.output_type == 'stream' and o.name == 'stderr')]
    nbformat.write(nb, out)
    print('wrote', out)


if __name__ == '__main__':
    for name, cells in NOTEBOOKS.items():
        if len(sys.argv) < 2 or any(a in name for a in sys.argv[1:]): build(name, cells)
