"""Meta-analysis: this trial among the others (``alliance meta``).

Stages, in the order data flow: ``studies`` (a study table or ``results.json`` files in, each
effect oriented so that a positive r means higher alliance with better outcome), ``pooling``
(random-effects meta-analysis on Fisher's z, as R's ``metafor::rma``), ``literature`` (the
bundled table of published effects), then ``document`` (``meta.json``), ``figure`` (the forest
plot) and ``page`` (``meta.html``); ``command`` is the command line's entry.
"""
