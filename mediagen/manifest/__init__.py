"""What was published: the manifest, its conditional commit, costs, pruning and the gallery."""
