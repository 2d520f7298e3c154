"""The fastai image adapter: recognises an image learner by its data pipeline (an ImageBlock's `create`), reads images
with the learner's own item and batch transforms (as `get_preds`), maps the model's pixels back to the image's own
(through Resize's crop, pad or squish), splits an image into regions, and removes regions before Normalize."""
