"Drawing the association between inputs: a dendrogram beside the reordered heatmap."
from __future__ import annotations

import numpy as np

from .labels import text_colour_on

__all__ = ['plot_dependence']


def plot_dependence(assoc, figsize=None):
    "A dendrogram of average-linkage clustering on `1 - association` beside the heatmap in dendrogram order."
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform
    names = list(assoc.index)
    n = len(names)
    if n < 2: raise ValueError("a dependence plot needs at least two columns")
    dist = np.clip(1 - assoc.to_numpy(), 0, 1)
    np.fill_diagonal(dist, 0)
    tree = linkage(squareform(dist, checks=False), method='average')
    side = max(5.0, 0.22 * n + 2)   # about 0.22 inch per column keeps 50 labels legible
    fig, (ax_tree, ax_map) = plt.subplots(1, 2, figsize=figsize or (side * 1.45, side),
                                          gridspec_kw=dict(width_ratios=[1, 2.2]))
    fontsize = 9 if n <= 25 else max(5, 9 - (n - 25) // 8)
    order = dendrogram(tree, labels=names, orientation='left', ax=ax_tree, color_threshold=0.3,
                       leaf_font_size=fontsize)['leaves'][::-1]   # top-to-bottom, as the heatmap rows
    ax_tree.set_xlabel('1 - association')
    # leaves sit at distance 0 on the right edge: widen past it, so merges at distance 0 (identical columns)
    # are drawn in full instead of on the frame
    far = max(float(tree[:, 2].max()) if len(tree) else 0.0, 0.05)
    ax_tree.set_xlim(far * 1.05, -0.04 * far)
    ordered = assoc.iloc[order, order]
    im = ax_map.imshow(ordered.to_numpy(), vmin=0, vmax=1, cmap='viridis', aspect='auto')
    ax_map.set_xticks(range(n), ordered.columns, rotation=90, fontsize=fontsize)
    ax_map.set_yticks(range(n), ordered.index, fontsize=fontsize)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                v = ordered.iat[i, j]
                ax_map.text(j, i, f'{v:.2f}', ha='center', va='center', fontsize=7,
                            color=text_colour_on(im.cmap(im.norm(v))))
    fig.colorbar(im, ax=ax_map, fraction=0.04, label='association')
    fig.suptitle("Association between inputs (|Spearman|, Cramér's V, eta)")
    fig.tight_layout()
    return fig
