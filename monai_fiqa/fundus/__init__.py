"""The fundus modality: preprocessing (FOV crop), landmarks, input checks, renderer, degradation physics, camera
emulation, pseudo-MOS, ladders, labelled-set writer, MONAI transforms."""
