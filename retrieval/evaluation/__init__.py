"""Measuring the answer path, apart from it: nothing here is imported when a question is answered.

reqa.py: the ReQA task on SQuAD-format data and its metrics; evaluate.py: `newsbot eval`;
abstention.py: how well confidence separates answerable questions; spans.py: the answer span
against SQuAD's answers; fit.py: the reranker's weights.
"""
