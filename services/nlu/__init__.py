"""Reading a resident's free message: the category among the town's own, and the place.

text.py normalises (folds, SMS spellings, lemmas), classifier.py is the model (TF-IDF and
logistic regression), place.py finds a street or landmark, reader.py decides (sure,
unsure, not a report, emergency), training.py retrains from the town's reports.
"""
