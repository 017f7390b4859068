/* sigmoid.h — the one logistic function: a raw logit to P(relevant), as
 * TEI, Cohere and FlagEmbedding's normalize=True report scores. */
#ifndef RR_COMMON_SIGMOID_H
#define RR_COMMON_SIGMOID_H

#include <math.h>

static inline float rr_sigmoid(float x) { return (float)(1.0 / (1.0 + exp(-(double)x))); }

#endif
