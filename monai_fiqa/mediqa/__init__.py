"""MedIQA (Xun et al.): CT/MR quality with prompts and salient slices - network, two-stage training, assessor."""
