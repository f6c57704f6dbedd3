"""Data in and out: image files and tensors, the sources and splits of contents and styles, the embedded
no-download data, the example-image and COCO / WikiArt recipes, and video files."""
