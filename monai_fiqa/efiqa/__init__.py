"""EFIQA (Wang et al.): label-free fundus quality maps from an anatomical (vessel) prior - networks, vessel
segmentation, the masked-inpainting prior (stage 1), the adapter on a frozen encoder (stage 2), training, assessor."""
