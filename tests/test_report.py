"""`learn.report` and `fastai-featimp report`: one self-contained HTML page whose sections hold the numbers the methods
themselves return with the same seed; bad input refused before any work; nothing half-written; the page renders."""
import ast
import html
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from helpers import assert_call_leaves_everything

PKG = Path(__file__).resolve().parents[1] / 'fastai_featimp'


class Page(HTMLParser):
    "What a test reads off the page: sections, tables (cells with their exact values), facts, calls, examples, links."
    def __init__(self, text):
        super().__init__()
        self.sections, self.tables, self.facts, self.calls, self.examples, self.links = [], {}, {}, [], [], []
        self.verdicts, self.captions, self._table, self._row, self._cell, self._fact, self._in = {}, [], None, None, None, None, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ('src', 'href'):
            if name in a: self.links.append(a[name])
        if tag == 'section': self.sections.append(a['id'])
        if tag == 'table':
            self._table = a.get('class', '').split()[-1]
            self.tables[self._table] = []
        if tag == 'tr': self._row = []; self._fact = a.get('data-key')
        if tag in ('td', 'th'): self._cell = {'text': '', 'value': a.get('data-value')}
        if tag == 'div' and a.get('class') == 'call': self._in.append('call'); self.calls.append('')
        if tag == 'div' and a.get('class') == 'example':
            self.examples.append((self.sections[-1], int(a['data-row']))); self._in.append('example')
        if tag == 'p' and 'verdict' in a.get('class', ''): self._in.append(a['class'].split()[-1]); self.verdicts[a['class'].split()[-1]] = ''
        if tag == 'h3': self._in.append('h3')

    def handle_endtag(self, tag):
        if tag in ('td', 'th') and self._cell is not None: self._row.append(self._cell); self._cell = None
        if tag == 'tr' and self._row is not None:
            if self._fact: self.facts[self._fact] = self._row[-1]
            elif self._table is not None: self.tables[self._table].append(self._row)
            self._row = None
        if tag == 'div' and self._in and self._in[-1] in ('call', 'example'): self._in.pop()
        if tag in ('p', 'h3') and self._in and self._in[-1] not in ('call', 'example'): self._in.pop()

    def handle_data(self, data):
        if self._cell is not None: self._cell['text'] += data
        if self._in and self._in[-1] == 'call': self.calls[-1] += data
        elif self._in and self._in[-1] in self.verdicts: self.verdicts[self._in[-1]] += data
        elif self._in and self._in[-1] == 'h3': self.captions.append(('h3', data))
        elif self._in and self._in[-1] == 'example' and data.startswith('row '): self.captions.append(('row', data))

    def column(self, table, name) -> list:
        "A table's column: exact values for numbers, text otherwise."
        head = [c['text'] for c in self.tables[table][0]]
        j = head.index(name)
        return [float(r[j]['value']) if r[j]['value'] is not None else r[j]['text'] for r in self.tables[table][1:]]


def read(path) -> Page: return Page(Path(path).read_text(encoding='utf-8'))


def no_external_reference(text: str) -> None:
    assert not re.search(r'''(src|href)\s*=\s*["']?\s*(https?:|//)''', text, re.I)
    assert not re.search(r'url\(\s*["\']?(https?:|//)', text, re.I) and '<script' not in text.lower() and '@import' not in text


# --- a tabular learner -----------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def tab(binary_learner, binary_test, tmp_path_factory):
    "The report of the binary learner on 1,500 test rows, flagging `level`, checked to leave everything as it was."
    data = binary_test.head(1500)
    path = tmp_path_factory.mktemp('tab') / 'report.html'
    written = assert_call_leaves_everything(
        binary_learner, lambda: binary_learner.report(data, path, flagged=['level'], seed=0, show_progress=False), data)
    assert written == path
    return binary_learner, data, path, read(path)


def test_tabular_report_has_every_section_with_how_to_read_it(tab):
    _, _, path, page = tab
    assert page.sections == ['run', 'importance', 'dependence', 'effects', 'reliance', 'examples', 'faithfulness', 'warnings']
    text = path.read_text(encoding='utf-8')
    assert text.count('<p class="how">') == len(page.sections)
    no_external_reference(text)
    assert all(link.startswith(('data:image/svg+xml;base64,', 'data:image/png;base64,', '#')) for link in page.links)
    assert os.path.getsize(path) < 5_000_000
    assert [p.name for p in path.parent.iterdir()] == ['report.html']   # no temporary file left beside it


def test_tabular_numbers_are_the_methods_own(tab):
    learn, data, _, page = tab
    fi = learn.feature_importance(df=data, seed=0, show_progress=False, n_repeats=3)
    top = fi.head(15)
    assert page.column('importance', 'Variable') == list(top['Variable'])
    for col in ('Importance', 'CI_low', 'CI_high', 'p_value'): assert page.column('importance', col) == list(top[col])
    assert float(page.facts['baseline']['value']) == fi.attrs['baseline']
    rel = learn.reliance(data, ['level'], seed=0, show_progress=False)
    for key in ('share_relies', 'share_flipped', 'score', 'score_without'):
        assert float(page.facts[key]['value']) == rel.attrs['summary'][key], key
    needed = [v for v, low in zip(fi['Variable'], fi['CI_low']) if low > 0][:6]
    h = learn.interaction_strength(data, features=needed, n_rows=200, seed=0, show_progress=False)
    assert page.column('interactions', 'H') == list(h['H'].head(5))
    assert any(c.startswith(f"learn.interaction_strength(data, features={needed!r}, n_rows=200, seed=0") for c in page.calls)


def test_tabular_examples_teach_what_they_say(tab):
    learn, data, _, page = tab
    groups, current = {}, None
    for what, text in page.captions:
        if what == 'h3': current = text; groups[current] = []
        else: groups[current].append(text)
    assert list(groups) == ['Most confident right', 'Most confident wrong', 'Relying most on the flagged inputs']
    said = lambda caption, what: re.search(rf'{what} (\S+)', caption).group(1)
    assert all(said(c, 'label') == said(c, 'predicted') for c in groups['Most confident right'])
    assert all(said(c, 'label') != said(c, 'predicted') for c in groups['Most confident wrong'])
    positions = list(dict.fromkeys(row for _, row in page.examples))
    expl = learn.explain(data.iloc[positions], seed=0, show_progress=False, flagged=['level'])
    captions = [c for c in sum(groups.values(), [])]
    for (_, row), caption in zip(page.examples, captions):
        i = positions.index(row)
        assert f"row {row} of the data" in caption and f"{expl.attrs['outputs'][i]:.4g}, base {expl.attrs['base_values'][i]:.4g}" in caption
    rel = learn.reliance(data, ['level'], seed=0, show_progress=False)
    relying = [r for s, r in page.examples][-2:]
    assert rel.loc[relying, 'Relies'].all()
    assert rel.loc[relying, 'Change'].abs().min() >= rel.loc[rel['Relies'], 'Change'].abs().nlargest(2).min()


def test_tabular_faithfulness_is_the_methods_own(tab):
    learn, data, _, page = tab
    rows = data.iloc[list(dict.fromkeys(r for _, r in page.examples))[:3]]
    cmp = learn.compare_explanations(rows, seed=0)
    assert page.column('compare', 'Method') == list(cmp['Method'])
    assert page.column('compare', 'deletion_aopc') == list(cmp['deletion_aopc'])
    method = cmp.attrs['recommended'] or cmp['Method'].iloc[0]
    checked = learn.sanity_check(rows, method=method, seed=0)
    assert checked.attrs['verdict'] in page.verdicts['sanity']
    assert page.column('sanity', 'RankCorrelation') == list(checked['RankCorrelation'])
    assert f"learn.sanity_check(data.iloc[{list(map(int, rows.index))}], method={method!r}, seed=0)" in page.calls


def test_the_same_seed_gives_the_same_page(tab, tmp_path):
    learn, data, path, _ = tab
    again = learn.report(data, tmp_path / 'again.html', flagged=['level'], seed=0, show_progress=False)
    timeless = lambda p: re.sub(r'<tr data-key="seconds">.*?</tr>', '', Path(p).read_text(encoding='utf-8'))
    assert timeless(again) == timeless(path)


def test_warnings_of_the_methods_are_on_the_page(binary_learner, binary_test, tmp_path):
    "Levels never seen in training: every call on the data warns; the page says it once, with the calls that said it."
    data = binary_test.head(300).assign(noise_cat='zzz')
    path = binary_learner.report(data, tmp_path / 'w.html', seed=0, show_progress=False, n_examples=1,
                                 options={'partial_dependence': {'grid_resolution': 5}})
    page, text = read(path), path.read_text(encoding='utf-8')
    warned = html.unescape(text[text.index('<section id="warnings">'):])
    assert warned.count("never occurred in training") == 1 and "'noise_cat'" in warned
    assert 'from feature_importance (importance)' in warned and 'explain (examples)' in warned
    assert any("grid_resolution=5" in c for c in page.calls)   # the caller's options reach the calls, shown as made


# --- bad input: a clear error before any work, nothing written ---------------------------------------------------------

@pytest.fixture
def no_work(monkeypatch):
    "Any call of a method by the report fails the test: the error must come first."
    from fastai_featimp.report import build
    def refused(*args, **kwargs): raise AssertionError('the report started working before refusing its input')
    monkeypatch.setattr(build.Run, 'call', refused)


@pytest.mark.parametrize('kwargs, error', [
    (dict(path='{tmp}/missing/report.html'), r"path .*missing/report.html: the folder .* does not exist"),
    (dict(path='{tmp}'), r"path .* is a folder; give a file name"),
    (dict(path='{tmp}/report.png'), r"path .*report.png must end in .html"),
    (dict(flagged=['levels']), r"flagged names \['levels'\], which are not input columns .*'level'"),
    (dict(flagged=[]), r"flagged is empty"),
    (dict(rows=[0, 10_000]), r"rows \[10000\] are not positions of data"),
    (dict(seed=-1), r"seed must be an integer >= 0"),
    (dict(metric='accuracyy'), r"accuracyy"),
    (dict(options={'fit': {}}), r"options names \['fit'\], which the report does not call"),
    (dict(data='drop-label'), r"data lacks the column\(s\) \['y'\]: the report needs .*label"),
])
def test_bad_input_is_refused_before_any_work(binary_learner, binary_test, tmp_path, no_work, kwargs, error):
    from fastai_featimp import ParameterError
    data = binary_test.head(50)
    kwargs = {k: (v.format(tmp=tmp_path) if isinstance(v, str) and k == 'path' else v) for k, v in kwargs.items()}
    if kwargs.pop('data', None): data = data.drop(columns='y')
    path = kwargs.pop('path', tmp_path / 'report.html')
    assert_call_leaves_everything(binary_learner, lambda: binary_learner.report(data, path, **kwargs), data,
                                  raises=ParameterError, match=error)
    assert not (tmp_path / 'report.html').exists() and not list(tmp_path.glob('.*part'))


def test_an_interrupted_report_leaves_the_old_page_and_nothing_else(binary_learner, binary_test, tmp_path, monkeypatch):
    from fastai_featimp.report import sections
    path = tmp_path / 'report.html'
    path.write_text('the old page')
    def interrupted(run): raise KeyboardInterrupt
    monkeypatch.setattr(sections, 'faithfulness', interrupted)
    with pytest.raises(KeyboardInterrupt):
        binary_learner.report(binary_test.head(200), path, seed=0, show_progress=False)
    assert path.read_text() == 'the old page' and sorted(p.name for p in tmp_path.iterdir()) == ['report.html']


def test_the_report_calls_methods_only_through_the_learner():
    "Layout: the report imports no method module and no kind adapter; it calls `learn.<method>`."
    for path in sorted((PKG / 'report').glob('*.py')):   # `.tabular` (level 1) is the report's own page for tables
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert (node.module or '').split('.')[0] not in ('methods', 'tabular', 'text'), (path.name, node.module)
            if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and not node.level):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or '']
                assert not any(n.startswith(('fastai_featimp.methods', 'fastai_featimp.tabular', 'fastai_featimp.text'))
                               for n in names), (path.name, names)


# --- a text learner -------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def txt(custom_text, notes, tmp_path_factory):
    data = notes[1].head(200)
    path = tmp_path_factory.mktemp('txt') / 'report.html'
    assert_call_leaves_everything(
        custom_text, lambda: custom_text.report(data, path, flagged=['family visit'], seed=0, show_progress=False), data)
    return custom_text, data, path, read(path)


def test_text_report_sections_and_numbers(txt):
    learn, data, path, page = txt
    assert page.sections == ['run', 'importance', 'reliance', 'examples', 'faithfulness', 'warnings']
    no_external_reference(path.read_text(encoding='utf-8'))
    fi = learn.feature_importance(df=data, seed=0, show_progress=False)
    assert page.column('importance', 'Variable') == list(fi['Variable'].head(15))
    for col in ('Importance', 'CI_low', 'CI_high', 'Support'): assert page.column('importance', col) == list(fi[col].head(15))
    rel = learn.reliance(data, ['family visit'], seed=0, show_progress=False)
    for key in ('share_relies', 'share_flipped', 'n_with_flagged'):
        assert float(page.facts[key]['value']) == rel.attrs['summary'][key], key
    text = path.read_text(encoding='utf-8')
    assert 'Relying most on the flagged inputs' in text and 'Outlined' in text   # shaded as show_explanation shows it


def test_text_flagged_phrase_must_occur(custom_text, notes, tmp_path, no_work):
    from fastai_featimp import ParameterError
    data = notes[1].head(50)
    assert_call_leaves_everything(custom_text, lambda: custom_text.report(data, tmp_path / 'r.html', flagged=['famly visit']),
                                  data, raises=ParameterError, match=r"phrase\(s\) \['famly visit'\] occur in none of the 50 texts")


# --- the console script, and the page in a browser ------------------------------------------------------------------

@pytest.mark.slow   # a fresh interpreter: out of the quick loop, as every console-script run
def test_console_script_writes_the_report(binary_learner, binary_test, tmp_path):
    script = shutil.which('fastai-featimp')
    assert script, 'the fastai-featimp console script is not installed (pip install -e .)'
    binary_learner.export(tmp_path / 'model.pkl')
    binary_test.head(300).to_csv(tmp_path / 'data.csv', index=False)
    res = subprocess.run([script, 'report', 'model.pkl', 'data.csv', '--flag', 'level', '-o', 'out.html', '--seed', '0'],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout == '' and 'wrote out.html' in res.stderr
    page = read(tmp_path / 'out.html')
    assert 'reliance' in page.sections and any('background=data.sample(100, random_state=0)' in c for c in page.calls)
    bad = subprocess.run([script, 'report', 'model.pkl', 'data.csv', '--flag', 'nope', '-o', 'out2.html'],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and bad.stderr.strip().startswith('fastai-featimp: error: --flag names')
    assert not (tmp_path / 'out2.html').exists()


def chromium():
    return next((shutil.which(n) for n in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(n)), None)


@pytest.mark.slow
def test_the_page_renders_in_headless_chromium(tab, tmp_path):
    browser = chromium()
    if browser is None: pytest.skip('no chromium binary found (apt-get install chromium)')
    from PIL import Image
    shot = tmp_path / 'page.png'
    subprocess.run([browser, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1100,3000',
                    f'--screenshot={shot}', tab[2].as_uri()], capture_output=True, timeout=120)
    import numpy as np
    grey = np.asarray(Image.open(shot).convert('L'))
    dark = (grey < 128).mean()
    assert 0.01 < dark < 0.6, dark                           # text and figures drawn, not a blank (or black) page
    colours = np.unique(np.asarray(Image.open(shot).convert('RGB')).reshape(-1, 3), axis=0)
    assert len(colours) > 50, len(colours)                   # figures in colour, not only text


def test_report_help_answers_without_fastai():
    code = ("import sys\nfrom fastai_featimp.cli import main\ntry: main(['report', '--help'])\nexcept SystemExit: pass\n"
            "print('FASTAI', 'fastai' in sys.modules, 'torch' in sys.modules)")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert '--flag INPUT' in res.stdout and '-o PATH, --out PATH' in res.stdout and 'FASTAI False False' in res.stdout


# --- an image learner -----------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def img(marked, tmp_path_factory):
    import os
    learn, test = marked
    data = test.drop(columns=['image', 'marker_box']).head(60)
    # paths as the learner reads them, relative to its folder (fastai's test_dl puts the folder in front of every path)
    data['path'] = [os.path.relpath(p, learn.dls.path) for p in data['path']]
    box = tuple(int(v) for v in test['marker_box'].dropna().iloc[0])
    path = tmp_path_factory.mktemp('image_report') / 'report.html'
    learn.report(data, path, flagged=[box], seed=0, show_progress=False)
    return learn, data, path, read(path), box


def test_image_report_sections_and_numbers(img):
    learn, data, path, page, box = img
    assert page.sections == ['run', 'importance', 'reliance', 'examples', 'faithfulness', 'warnings']
    text = path.read_text(encoding='utf-8')
    no_external_reference(text)
    fi = learn.feature_importance(df=data, seed=0, show_progress=False)
    assert page.column('importance', 'Variable') == list(fi['Variable'].head(15))
    for col in ('Importance', 'CI_low', 'CI_high', 'Top', 'Left'): assert page.column('importance', col) == list(fi[col].head(15))
    assert page.column('importance', 'Variable')[0] == 'r0c0'   # the marker's corner leads, as the data were made
    rel = learn.reliance(data, [box], seed=0, show_progress=False)
    for key in ('share_relies', 'share_flipped'):
        assert float(page.facts[key]['value']) == rel.attrs['summary'][key], key
    assert text.count('data:image/png;base64') >= 2   # the images explained, drawn with their maps


def test_image_flagged_inputs_are_boxes(marked, tmp_path, no_work):
    from fastai_featimp import ParameterError
    learn, test = marked
    data = test.drop(columns=['image', 'marker_box']).head(10)
    assert_call_leaves_everything(learn, lambda: learn.report(data, tmp_path / 'r.html', flagged=['marker']), data,
                                  raises=ParameterError, match='a box \\(top, left, bottom, right\\)')


def test_a_background_is_refused_where_units_are_not_taken_from_other_rows(custom_text, notes, tmp_path, no_work):
    from fastai_featimp import ParameterError
    data = notes[1].head(20)
    assert_call_leaves_everything(custom_text, lambda: custom_text.report(data, tmp_path / 'r.html', background=data),
                                  data, raises=ParameterError, match="background is for tabular learners: a text's units")
    assert not (tmp_path / 'r.html').exists()
