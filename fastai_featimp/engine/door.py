"""A capability's door for one kind: the engine's function with the kind's own options in place of `**options`, so
that `help(learn.explain)`, the command line and argument checks see one plain signature per kind."""
from __future__ import annotations

import inspect

from fastcore.docments import docments

from ..core.params import check
from .protocol import PIECES

__all__ = ['kind_door']


def kind_door(kind, capability: str, fn, data_name: str | None = None):
    """`fn` (an engine capability taking `_kind` and `**options`) for `kind`: its parameters, then the adapter's
    options for `capability`, each checked against its declared constraint; `data_name` renames the data argument
    as the kind calls it ('texts', 'images')."""
    options = kind.adapter().options.get(capability, ())
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != '_kind' and p.kind is not p.VAR_KEYWORD]
    if data_name: params = [p.replace(name=data_name) if p.name == 'data' else p for p in params]
    own_default = {'method': kind.adapter().default_method} if capability == 'explain' else {}
    params = [p.replace(default=own_default[p.name]) if p.name in own_default else p for p in params]
    own = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default) for o in options]
    sig = inspect.Signature(params + own)
    declared = {o.name: o for o in options}
    name = f'{capability}_{kind.name}'

    def door(learn, *args, **kwargs):
        unknown = [k for k in kwargs if k not in sig.parameters or k == 'learn']
        if unknown:
            raise TypeError(f"{capability}() got an unexpected keyword argument {unknown[0]!r}: a {kind.name} learner's "
                            f"{capability} takes {', '.join(p for p in list(sig.parameters)[1:])}")
        if data_name and data_name in kwargs: kwargs['data'] = kwargs.pop(data_name)
        for key, value in kwargs.items():
            if key in declared and declared[key].constraint is not None: check(key, declared[key].constraint, value)
        given = {o.name: o.default for o in options if o.name not in kwargs}   # the kind's defaults, not the loader's
        given.update({k: v for k, v in own_default.items() if k not in kwargs})
        try: return fn(learn, *args, _kind=kind, **given, **kwargs)
        except NotImplementedError as e:   # a piece of the protocol this kind's adapter does not provide
            if str(e) not in PIECES: raise   # not ours (a torch op on some device, say): as it is
            raise TypeError(f"{capability} is not available for a {kind.name} learner: its adapter does not implement "
                            f"`{e}` (see fastai_featimp.Adapter and Items)") from None

    notes = {k: v for k, v in docments(fn).items() if k not in ('_kind', 'options')}
    if data_name and 'data' in notes: notes[data_name] = notes.pop('data')
    door.__name__ = door.__qualname__ = name
    door.__signature__ = sig
    door.__doc__ = fn.__doc__
    door.__docments__ = {**notes, **{o.name: o.comment for o in options}}
    door.constraints = {**getattr(fn, 'constraints', {}), **{o.name: o.constraint for o in options if o.constraint}}
    return door
