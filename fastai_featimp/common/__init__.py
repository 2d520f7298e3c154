"""fastai pieces that every data kind shares: scorers (the loss or any metric, over a whole set, with its
direction), what a model output means (activations, labels, targets), and progress bars."""
