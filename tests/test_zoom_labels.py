from __future__ import annotations

import numpy as np
from PIL import Image

from monai_fiqa.data import read_quality_csv
from monai_fiqa.fthnet.zoom import window_views, zoom_sample
from monai_fiqa.fundus.mix import MixConfig
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from monai_fiqa.fundus.synth_set import make_labelled_set


def test_window_labels_are_lower_where_the_regional_degradation_is(tmp_path):
    cfg = MixConfig(kinds=("defocus",), p_clean=0.0, n_steps_probs=(1.0,), region_prob=1.0, severity_beta=(50, 1))
    csv_path = make_labelled_set(14, tmp_path, size=256, seed=7, config=cfg)
    checked = 0
    size = 96
    for rec in read_quality_csv(csv_path):
        clean = np.asarray(Image.open(tmp_path / rec.row["clean"]))
        region = np.asarray(Image.open(tmp_path / "masks" / f"{rec.row['id']}_region.png")) > 127
        rgb = np.repeat(region[..., None].astype(np.uint8) * 255, 3, -1)
        cover = [
            w[..., 0].mean() / 255 for w in window_views(fundus_to_square(rgb, 2 * size, fov_square_box(clean)), size)
        ]
        labels = {w: zoom_sample(rec, size, w) for w in range(9)}
        labels = {w: v[1] for w, v in labels.items() if v is not None}
        most = max(labels, key=lambda w: cover[w])
        least = min(labels, key=lambda w: cover[w])
        if cover[most] < 0.2:  # the random region is small: no window is mostly degraded
            continue
        checked += 1
        assert labels[most] < labels[least] - 5, (rec.row["id"], labels, cover)
    assert checked >= 2


def test_rows_without_a_clean_source_have_no_zoom_label(tmp_path):
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "x.csv").write_text("path,mos\na.png,50\n")
    assert zoom_sample(read_quality_csv(tmp_path / "x.csv")[0], 96, 4) is None
