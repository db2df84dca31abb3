"""monai-fiqa MONAI Deploy application: image quality for every DICOM series (and PNG/NIfTI) of a study."""
