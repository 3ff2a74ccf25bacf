"""One-off measurements behind newsbot's chosen constants and designs (the reranker's weights, the
abstention curve, the segmenter, the encoding backend...): research, kept so that every figure the docs
attribute to them can be reproduced, and apart from the speed suite. Run each as a module from the
project root, e.g. `python -m benchmarks.research.ranker`."""
