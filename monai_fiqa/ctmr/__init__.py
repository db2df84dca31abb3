"""The CT/MR modality: slice preparation and windows, prompts from headers, salient slices, CT and MR physics,
phantoms, artefact registry, training-set synthesis, public MR sources."""
