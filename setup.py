from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = next(line.split("'")[1] for line in (here / 'fastai_featimp' / '__init__.py').read_text().splitlines()
               if line.startswith('__version__'))

setup(
    name='fastai_featimp',
    version=version,
    description='Feature importance and explanations for fastai tabular, text and image models',
    long_description=(here / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['fastai_featimp', 'fastai_featimp.*']),
    package_data={'fastai_featimp.datasets': ['*.gz', 'README.md']},
    include_package_data=True,
    # fastai brings torch, pandas, numpy, matplotlib, scikit-learn, fastcore and fastprogress; scipy is ours.
    # torch stays at or below 2.14.1, the newest release these machines can install.
    # regex: grapheme clusters (an emoji with joiners is one character to a reader); joblib and cloudpickle: pieces
    # of work on any joblib backend (Dask is the optional extra).
    install_requires=['fastai>=2.8,<2.9', 'torch<=2.14.1', 'pandas', 'numpy', 'scipy', 'matplotlib',
                      'fastcore', 'fastprogress', 'scikit-learn', 'ipython', 'regex', 'joblib', 'cloudpickle'],
    # The test tools and references, in the ranges the suite is known to pass with (tools/fresh_check.sh checks
    # the newest versions pip resolves in a brand-new environment). shap, captum and grad-cam (pytorch-grad-cam) are
    # references in the tests.
    extras_require={'dev': ['pytest>=9.0,<10', 'nbclient>=0.10,<0.12', 'nbformat>=5.10,<6', 'ipykernel>=6.29,<8',
                            'shap>=0.51,<0.52', 'captum>=0.9,<0.10', 'dask[distributed]>=2025.1',
                            'grad-cam>=1.5,<1.6'],
                    'dask': ['dask[distributed]>=2025.1'], 'shap': ['shap>=0.46'], 'captum': ['captum>=0.7']},
    entry_points={'console_scripts': ['fastai-featimp=fastai_featimp.cli:main']},
    classifiers=['License :: OSI Approved :: Apache Software License', 'Programming Language :: Python :: 3',
                 'Topic :: Scientific/Engineering :: Artificial Intelligence'],
    project_urls={'Data license (UCI Adult, CC BY 4.0)': 'https://doi.org/10.24432/C5XW20'},
)
