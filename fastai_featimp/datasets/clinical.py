"""Synthetic ICU progress notes with a known answer, for testing explanations of text classifiers.

Generative model (naive Bayes, so the evidence of every planted phrase is known exactly):

1. The label comes first: `outcome` is 'died' with probability 0.3, else 'alive' (fastai sorts labels, so
   'died' is a binary model's positive class).
2. Each planted phrase is present or absent independently given the label, with probability
   `p_died` or `p_alive`. Its evidence is the natural log likelihood ratio when present,
   `llr = log(p_died / p_alive)`. A present phrase is written as one short sentence picked from a
   few variants, so the phrase, not its surrounding words, is what carries the signal.
3. The leak, 'family visit', has by far the largest |llr|: families gather at the end of life, so the
   phrase records a consequence of the outcome rather than a clinical cause. Label-independent
   distractor sentences use 'family' and 'visit' apart, in the leak's own context words ("Family
   called this afternoon, questions answered.", "Chaplain visit this afternoon, ..."), so only the
   two-word phrase is evidence. 'family' is never directly followed by 'visit' outside the leak.
4. Label-independent filler (vitals and labs with random numbers, medications with doses, procedures,
   nursing lines) pads each note; the number of filler sentences varies so that most notes have 25 to
   70 words and about a fifth have more than 90 (long enough to be split into chunks by a model that
   reads a fixed number of tokens). About 5% of notes also name a made-up drug, so a model meets
   words it has never seen. Sentence order is shuffled within a note.
5. Each sentence, whatever its kind, is independently ALL-CAPS (p 0.08) or all lower-case (p 0.08),
   to exercise fastai's `xxup` and `xxmaj` markers; otherwise it keeps sentence case.

`clinical_notes()` returns the notes with the draws (`has_<phrase>` columns); `clinical_evidence()`
returns the phrase table."""
from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

__all__ = ['clinical_notes', 'clinical_evidence', 'CLINICAL_LEAK', 'CLINICAL_PHRASES', 'CLINICAL_RARE_DRUGS']

CLINICAL_LEAK = 'family visit'
P_DIED = 0.3

# phrase: (p_died, p_alive, sentence variants). Ordered by |llr| descending; the |llr| are at least
# 0.2 apart so that a ranking of them is meaningful. Survival phrases are common enough that planted
# sentences per note differ little between the classes (about 2.0 vs 1.8), so note length is a weak cue.
_PLANTED = {
    CLINICAL_LEAK: (0.55, 0.02, ['Family visit this afternoon, questions answered.',
                                 'Family visit at bedside, updated on plan.',
                                 'Family visit today, plan reviewed.']),
    'norepinephrine': (0.32, 0.05, ['Remains on norepinephrine for MAP goal.',
                                    'Norepinephrine titrated overnight.',
                                    'Started norepinephrine, MAP above 65.']),
    'ambulating': (0.09, 0.45, ['Ambulating in hallway with PT.',
                                'Patient ambulating with assistance.',
                                'Ambulating to chair this morning.']),
    'rising lactate': (0.24, 0.06, ['Rising lactate on repeat labs.',
                                    'Labs notable for rising lactate.',
                                    'Rising lactate, cultures sent.']),
    'tolerating diet': (0.16, 0.50, ['Tolerating diet without nausea.',
                                     'Tolerating diet, advance as able.',
                                     'Patient tolerating diet this morning.']),
    'intubated': (0.40, 0.16, ['Remains intubated on current settings.',
                               'Intubated overnight, sedation adjusted.',
                               'Patient intubated, plan reviewed.']),
    'extubated': (0.28, 0.56, ['Extubated this morning, plan reviewed.',
                               'Patient extubated to 2L NC.',
                               'Extubated overnight without issue.']),
}
CLINICAL_PHRASES = tuple(_PLANTED)

# Equally likely in both classes (llr 0). None ends in 'family' or starts with 'visit', so no two
# adjacent sentences can spell the leak either.
_DISTRACTORS = ['Family called this afternoon, questions answered.',
                'Family at bedside, updated on plan.',
                'Discussed plan with family by phone.',
                'Chaplain visit this afternoon, questions answered.',
                'PT visit at bedside, updated on plan.',
                'Follow-up visit with cardiology tomorrow.']
P_DISTRACTOR = 0.12   # each, independently: about a third of notes mention 'family' without the leak

CLINICAL_RARE_DRUGS = ('Zorvexatil', 'Quildrapam', 'Brevantrox', 'Plenditoxin', 'Xarmethiline')
P_RARE = 0.05
P_UPPER, P_LOWER = 0.08, 0.08
P_LONG = 0.2
N_FILL_SHORT, N_FILL_LONG = (4, 9), (16, 22)   # inclusive ranges of filler sentences per note


def _int(u, lo, hi): return lo + int(u * (hi - lo + 1))   # uniform u in [0, 1) -> integer in [lo, hi]
def _num(u, lo, hi, d=1): return f'{lo + u * (hi - lo):.{d}f}'
def _of(u, options): return options[int(u * len(options))]


# Label-independent filler: each takes four uniforms, so the numbers vary from note to note. None may
# contain a planted phrase or the words 'family' or 'visit'; 'lactate' and 'tolerating' alone are fine
# (they make the two-word phrases, not their parts, the evidence).
_FILLERS = [
    # vitals
    lambda u: (f'HR {_int(u[0], 58, 128)}, BP {_int(u[1], 92, 165)}/{_int(u[2], 48, 95)}, RR {_int(u[3], 12, 28)}, '
               f'SpO2 {_int(u[0], 90, 100)}% on {_of(u[1], ["RA", "2L NC", "4L NC", "high flow"])}.'),
    lambda u: f'Tmax {_num(u[0], 36.4, 39.2)} C overnight.',
    lambda u: f'Afebrile, HR {_int(u[0], 60, 110)} in sinus rhythm.',
    lambda u: f'Urine output {_int(u[0], 3, 25) * 100} mL over 24 hours.',
    lambda u: f'Weight {_num(u[0], 52, 118)} kg, up {_num(u[1], 0.1, 2.5)} kg from admission.',
    lambda u: f'Blood glucose {_int(u[0], 88, 245)} this morning.',
    # medications
    lambda u: f'Metoprolol {_of(u[0], ["12.5", "25", "50"])} mg PO BID.',
    lambda u: 'Heparin 5000 units SC q8h.',
    lambda u: 'Pantoprazole 40 mg IV daily.',
    lambda u: 'Acetaminophen 650 mg PO q6h as needed.',
    lambda u: 'Insulin sliding scale with meals.',
    lambda u: f'Vancomycin {_of(u[0], ["750", "1000", "1250", "1500"])} mg IV q12h, trough pending.',
    lambda u: 'Piperacillin-tazobactam 4.5 g IV q8h.',
    lambda u: f'Furosemide {_of(u[0], ["20", "40", "80"])} mg IV once with good response.',
    lambda u: 'Atorvastatin 40 mg PO nightly.',
    lambda u: f'Potassium chloride {_of(u[0], ["20", "40"])} mEq given for repletion.',
    # procedures and imaging
    lambda u: f'{_of(u[0], ["Right", "Left"])} IJ central line placed without complication.',
    lambda u: f'{_of(u[0], ["Right", "Left"])} radial arterial line in place.',
    lambda u: 'Chest X-ray shows stable bibasilar opacities.',
    lambda u: f'Echo with EF {_int(u[0], 6, 13) * 5}%, no effusion.',
    lambda u: f'Peripheral IV replaced in {_of(u[0], ["left", "right"])} forearm.',
    lambda u: 'CT head without acute findings.',
    # nursing
    lambda u: 'Turned q2h, skin intact.',
    lambda u: 'Foley draining clear yellow urine.',
    lambda u: 'Oral care performed, mucosa moist.',
    lambda u: f'Pain {_int(u[0], 0, 8)}/10, repositioned in bed.',
    lambda u: 'Bed alarm on, fall precautions maintained.',
    lambda u: 'Tolerating tube feeds at goal.',
    lambda u: 'Slept intermittently overnight.',
    # labs
    lambda u: f'Na {_int(u[0], 131, 147)}, K {_num(u[1], 3.1, 5.5)}, Cr {_num(u[2], 0.5, 2.6)}.',
    lambda u: f'WBC {_num(u[0], 3.8, 18.5)}, Hgb {_num(u[1], 7.2, 14.8)}, Plt {_int(u[2], 85, 430)}.',
    lambda u: f'Lactate {_num(u[0], 0.7, 1.9)} this morning.',
    lambda u: 'Blood cultures pending, no growth to date.',
    lambda u: f'ABG {_num(u[0], 7.29, 7.48, 2)}/{_int(u[1], 32, 52)}/{_int(u[2], 65, 140)} on current settings.',
    lambda u: f'Magnesium {_num(u[0], 1.5, 2.6)}, repleted as needed.',
    # plan
    lambda u: 'Plan reviewed on rounds.',
    lambda u: 'Continue current management.',
]


def _llr(p_died, p_alive): return math.log(p_died / p_alive)


def clinical_evidence() -> pd.DataFrame:
    "The planted phrases: `phrase`, `p_died`, `p_alive`, `llr` (natural log), `direction`; by |llr| descending."
    rows = [(ph, pd_, ps, _llr(pd_, ps), 'died' if pd_ > ps else 'alive') for ph, (pd_, ps, _) in _PLANTED.items()]
    ev = pd.DataFrame(rows, columns=['phrase', 'p_died', 'p_alive', 'llr', 'direction'])
    return ev.sort_values('llr', key=abs, ascending=False, ignore_index=True)


def _check_args(n, seed):
    # bool is an int subclass; True rows or seed True is surely a mistake
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f'n must be an integer >= 1, got {n!r}')
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f'seed must be a non-negative integer or None, got {seed!r}')


def _case(sentence, u):
    if u < P_UPPER: return sentence.upper()
    if u < P_UPPER + P_LOWER: return sentence.lower()
    return sentence


def clinical_notes(n: int = 3000, seed: int | None = 0) -> pd.DataFrame:
    """`n` synthetic ICU progress notes: columns `text`, `outcome` ('died'/'alive') and a boolean
    `has_<phrase>` per planted phrase recording its draw. `df.attrs['evidence']` maps each phrase to its
    llr (see `clinical_evidence()`). The same `seed` gives the same frame."""
    _check_args(n, seed)
    rng = np.random.default_rng(seed)
    n = int(n)
    died = rng.random(n) < P_DIED
    p_died, p_surv = (np.array([v[i] for v in _PLANTED.values()]) for i in (0, 1))
    has = rng.random((n, len(_PLANTED))) < np.where(died[:, None], p_died, p_surv)
    distract = rng.random((n, len(_DISTRACTORS))) < P_DISTRACTOR
    n_fill = np.where(rng.random(n) < P_LONG, rng.integers(*N_FILL_LONG, n, endpoint=True),
                      rng.integers(*N_FILL_SHORT, n, endpoint=True))
    rare = np.where(rng.random(n) < P_RARE, rng.integers(len(CLINICAL_RARE_DRUGS), size=n), -1)
    variants = [v[2] for v in _PLANTED.values()]

    texts = []
    for i in range(n):
        sents = [_of(u, variants[j]) for j, u in zip(np.flatnonzero(has[i]), rng.random(len(_PLANTED)))]
        sents += [_DISTRACTORS[j] for j in np.flatnonzero(distract[i])]
        # no filler twice in one note; numbers differ between notes
        sents += [_FILLERS[j](u) for j, u in zip(rng.choice(len(_FILLERS), n_fill[i], replace=False),
                                                 rng.random((n_fill[i], 4)).tolist())]
        if rare[i] >= 0:
            sents.append(f'{CLINICAL_RARE_DRUGS[rare[i]]} {_of(rng.random(), ["5", "10", "20"])} mg daily.')
        cases = rng.random(len(sents))
        texts.append(' '.join(_case(sents[k], cases[k]) for k in rng.permutation(len(sents))))

    df = pd.DataFrame({'text': texts, 'outcome': np.where(died, 'died', 'alive')})
    for j, phrase in enumerate(_PLANTED):
        df[f'has_{phrase.replace(" ", "_")}'] = has[:, j]
    df.attrs['evidence'] = {ph: _llr(pd_, ps) for ph, (pd_, ps, _) in _PLANTED.items()}
    return df
