"""Classical context models as first-class predictors, with numba kernels.

* `ctw` (`ctw.CtwPredictor`): Context Tree Weighting over the bits of each byte;
* `ppm` (`ppm.PpmPredictor`): PPM with escapes, exclusions and SEE;
* `order` (`order_k.OrderKPredictor`): an adaptive order-k Markov baseline.

Each starts empty, learns online from everything it observes (the context
given to `reset` included), hands out full 256-way float64 distributions
whose entries are all > 0, and keeps its memory under a `memory` limit with a
defined behaviour when the limit is reached (see each module).
"""
