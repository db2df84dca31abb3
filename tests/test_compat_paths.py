"""0.1 import paths that bundle configs and user code name keep resolving for one release (removed in 0.3)."""

from __future__ import annotations

import pytest
from monai.bundle import ConfigParser

OLD_TARGETS = [
    "monai_fiqa.engine.fthnet_assessor.FTHNetAssessor",
    "monai_fiqa.engine.efiqa_assessor.EFIQAAssessor",
    "monai_fiqa.engine.mediqa_assessor.MedIQAAssessor",
    "monai_fiqa.engine.recipes.train_from_csvs",
    "monai_fiqa.engine.efiqa_train.train_adapter",
    "monai_fiqa.engine.mediqa_train.train_mediqa",
    "monai_fiqa.engine.batch.assess_folder",
    "monai_fiqa.engine.batch.evaluate_csv",
    "monai_fiqa.engine.volume_batch.assess_volume_folder",
    "monai_fiqa.engine.volume_batch.evaluate_score_csv",
    "monai_fiqa.engine.TrainConfig",
    "monai_fiqa.networks.FTHNet",
    "monai_fiqa.networks.MedIQA",
    "monai_fiqa.networks.EFIQAAdapter",
    "monai_fiqa.networks.FundusConvEncoder",
    "monai_fiqa.networks.PatchFeatureEncoder",
    "monai_fiqa.networks.vessel_unet",
    "monai_fiqa.networks.vessel_inpainter",
    "monai_fiqa.synth.render_fundus",
    "monai_fiqa.transforms.RandFundusQualityMixd",
    "monai_fiqa.data.read_quality_csv",
]


@pytest.mark.parametrize("target", OLD_TARGETS)
def test_old_target_paths_resolve_to_the_new_homes(target):
    parser = ConfigParser({"obj": {"_target_": target, "_mode_": "callable"}})
    assert callable(parser.get_parsed_content("obj"))


def test_a_0_1_style_network_config_builds_the_same_network():
    from monai_fiqa.fthnet.network import FTHNet

    old = ConfigParser({"net": {"_target_": "monai_fiqa.networks.FTHNet", "embed_dim": 8, "depths": [1, 1, 1, 1]}})
    net = old.get_parsed_content("net")
    assert type(net) is FTHNet
