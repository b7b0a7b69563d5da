/*
 * grpo4j: fused group-robust preference loss (GR-DPO / GR-IPO), flat C ABI.
 *
 * One call reads policy logits [2B, T, V] (rows [0, B) chosen, rows [B, 2B) rejected, labels already
 * shifted, -100 masks a position), gathers the masked sequence log-probs, forms the DPO or IPO loss per
 * pair, reduces it per labeller group, updates the group weights by exponentiated gradient in log space,
 * and writes dJ/dlogits. See README.md for the exact formulas.
 *
 * Memory: every pointer lives where the backend computes: host memory for GRPO4J_BACKEND_CPU and
 * GRPO4J_BACKEND_REFERENCE, device memory (or managed memory) for GRPO4J_BACKEND_CUDA. CUDA calls are
 * asynchronous on exec->stream; input problems the kernels find (non-finite logits, labels or group ids
 * out of range) are then reported through outputs.flags, not through the returned status.
 *
 * Errors: every function returns a grpo4j_status; on failure grpo4j_last_error() returns a message for
 * the calling thread. No C++ exception crosses this boundary.
 */
#ifndef GRPO4J_H
#define GRPO4J_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define GRPO4J_API __declspec(dllexport)
#else
#define GRPO4J_API __attribute__((visibility("default")))
#endif

#define GRPO4J_ABI_VERSION 4
#define GRPO4J_IGNORE_INDEX (-100)

typedef enum grpo4j_status {
  GRPO4J_OK = 0,
  GRPO4J_INVALID_ARGUMENT = 1,
  GRPO4J_NON_FINITE_INPUT = 2,
  GRPO4J_NO_CUDA_DEVICE = 3,
  GRPO4J_CUDA_ERROR = 4,
  GRPO4J_OUT_OF_MEMORY = 5,
  GRPO4J_INTERNAL_ERROR = 6
} grpo4j_status;

typedef enum grpo4j_float_type { GRPO4J_F32 = 0, GRPO4J_BF16 = 1, GRPO4J_F16 = 2 } grpo4j_float_type;
typedef enum grpo4j_index_type { GRPO4J_I32 = 0, GRPO4J_I64 = 1 } grpo4j_index_type;
/* The pair losses are a table (native/src/losses/, one file each; grpo4j_loss_info lists them): these two codes are
 * the paper's, every other code is the table's. */
typedef enum grpo4j_loss_type { GRPO4J_LOSS_DPO = 0, GRPO4J_LOSS_IPO = 1 } grpo4j_loss_type;
/* How a log-ratio x = s - ref becomes the score the f-divergence losses compare (TRL's f_divergence_type). */
typedef enum grpo4j_f_divergence {
  GRPO4J_REVERSE_KL = 0,      /* x (standard DPO) */
  GRPO4J_FORWARD_KL = 1,      /* 1 - exp(-x) */
  GRPO4J_JS_DIVERGENCE = 2,   /* log 2 + log sigmoid(x) */
  GRPO4J_ALPHA_DIVERGENCE = 3 /* (exp(min((a-1) x, 80)) - 1) / (a-1), a = f_alpha; x itself when |a-1| < 1e-6 */
} grpo4j_f_divergence;
#define GRPO4J_MAX_LOSS_TERMS 4
typedef enum grpo4j_weighting {
  GRPO4J_WEIGHTING_ROBUST = 0,              /* w_g = (1-chi)/K + chi*alpha_g, alpha updated each training call */
  GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING = 1, /* w_g = (1/N_g) / sum_h (1/N_h), fixed */
  GRPO4J_WEIGHTING_AVERAGE = 2              /* J = mean over pairs of the per-pair loss (plain DPO/IPO) */
} grpo4j_weighting;
typedef enum grpo4j_group_norm {
  GRPO4J_NORM_BATCH_MEAN = 0,       /* L_g = mean of the pair losses of group g in the batch */
  GRPO4J_NORM_DATASET_FREQUENCY = 1 /* L_g = N / (N_g * B) * sum of the pair losses of group g */
} grpo4j_group_norm;
typedef enum grpo4j_backend {
  GRPO4J_BACKEND_CPU = 0,      /* multithreaded, vectorised */
  GRPO4J_BACKEND_CUDA = 1,     /* asynchronous on exec->stream */
  GRPO4J_BACKEND_REFERENCE = 2 /* single-threaded double-precision loops: the oracle for tests */
} grpo4j_backend;

/* Bits of outputs.flags (and of grpo4j_sequence_logprobs' flags). */
#define GRPO4J_FLAG_NON_FINITE 1  /* a log-sum-exp or a labelled logit is NaN or infinite */
#define GRPO4J_FLAG_LABEL_RANGE 2 /* a label is neither -100 nor in [0, V) */
#define GRPO4J_FLAG_GROUP_RANGE 4 /* a group id is outside [0, K) */
#define GRPO4J_FLAG_GROUP_SIZE 8  /* a group size N_g < 1 where the options need N_g */
#define GRPO4J_FLAG_GRAD_RANGE 16 /* f16 logits: a row's gradient coefficient reaches f16's largest value (65504),
                                     so dJ/dlogits could be written as infinity; the call's results are void */
#define GRPO4J_FLAG_GROUP_STATS 32 /* CUDA group step: group statistics not finite, or pair counts that are not whole
                                      numbers in [0, 2^31) adding up to at least one pair (the host backends refuse
                                      such statistics with GRPO4J_INVALID_ARGUMENT instead) */

/* Token-level input: logits [rows, seq_len, vocab] and labels [rows, seq_len], both contiguous. */
typedef struct grpo4j_tokens {
  const void* logits;
  const void* labels;
  int64_t rows;
  int64_t seq_len;
  int64_t vocab;
  int32_t logits_type; /* grpo4j_float_type */
  int32_t label_type;  /* grpo4j_index_type */
} grpo4j_tokens;

typedef struct grpo4j_options {
  double beta;            /* > 0 */
  double label_smoothing; /* in [0, 0.5); read by the losses flagged GRPO4J_LOSS_LABEL_SMOOTHING */
  double eta;             /* group-weight step size, >= 0 */
  double chi;             /* mix of robust and uniform weights, in [0, 1] */
  double adjustment;      /* C of L_g += C / sqrt(N_g) before the weight update; 0 = off */
  int32_t loss_type;      /* a loss code of the table; the loss when num_terms = 0 */
  int32_t weighting;      /* grpo4j_weighting */
  int32_t group_norm;     /* grpo4j_group_norm */
  int32_t ipo_length_norm; /* 1: IPO divides each sequence's log-ratio by its response-token count (TRL) */
  int32_t f_divergence;    /* grpo4j_f_divergence; other than REVERSE_KL only with losses flagged F_DIVERGENCE */
  int32_t num_terms;       /* 0: the loss is loss_type alone; 1..GRPO4J_MAX_LOSS_TERMS: sum_t term_weights[t] *
                              (loss term_types[t]) per pair, as TRL's list of loss types with loss_weights */
  double f_alpha;          /* alpha of GRPO4J_ALPHA_DIVERGENCE, finite */
  double discopop_tau;     /* > 0 where discopop is used (TRL: 0.05) */
  double simpo_gamma;      /* SimPO's target margin gamma, finite (TRL: 0.5) */
  double term_weights[GRPO4J_MAX_LOSS_TERMS]; /* finite */
  int32_t term_types[GRPO4J_MAX_LOSS_TERMS];  /* loss codes of the table */
} grpo4j_options;

/* Outputs; any pointer may be NULL when that output is not wanted. */
typedef struct grpo4j_outputs {
  float* loss;                  /* [1] objective J */
  float* pair_loss;             /* [B] */
  float* pair_margin;           /* [B] h = (s_w - ref_w) - (s_l - ref_l) */
  float* pair_chosen_reward;    /* [B] beta * (s_w - ref_w) */
  float* pair_rejected_reward;  /* [B] beta * (s_l - ref_l) */
  float* pair_chosen_logp;      /* [B] s_w */
  float* pair_rejected_logp;    /* [B] s_l */
  float* group_loss;            /* [K] L_g as normalised by group_norm, without the adjustment */
  float* group_weight;          /* [K] w_g used in J (after this call's update) */
  float* group_reward_accuracy; /* [K] fraction of the group's pairs with h > 0 */
  float* group_logp_accuracy;   /* [K] fraction with s_w > s_l */
  float* group_chosen_reward;   /* [K] mean chosen reward */
  float* group_rejected_reward; /* [K] mean rejected reward */
  float* group_margin;          /* [K] mean margin h */
  int32_t* group_count;         /* [K] pairs of group g in the batch */
  int32_t* flags;               /* [1] GRPO4J_FLAG_* bits; 0 when the inputs were fine */
} grpo4j_outputs;

typedef struct grpo4j_batch {
  grpo4j_tokens tokens;       /* rows = 2 * num_pairs */
  const float* ref_logps;     /* [2B] reference sequence log-probs, chosen rows then rejected rows */
  const int32_t* group_ids;   /* [B] in [0, K) */
  const int64_t* group_sizes; /* [K] N_g in the training set; needed by DATASET_FREQUENCY,
                                 IMPORTANCE_SAMPLING and adjustment != 0, else may be NULL */
  double* log_alpha;          /* [K] group-weight state, updated in place by a ROBUST training call */
  void* grad;                 /* [2B, T, V] in the logits type; may equal tokens.logits (in place) */
  int64_t num_pairs;          /* B >= 1 */
  int32_t num_groups;         /* K >= 1 */
  int32_t reserved;           /* 0 */
  grpo4j_outputs out;
} grpo4j_batch;

typedef struct grpo4j_exec {
  void* stream;        /* cudaStream_t for GRPO4J_BACKEND_CUDA (NULL = legacy default stream) */
  int32_t backend;     /* grpo4j_backend */
  int32_t num_threads; /* CPU threads; <= 0 means grpo4j_cpu_default_threads() */
} grpo4j_exec;

/* Training step: forward, group-weight update (ROBUST), objective and dJ/dlogits into batch->grad. */
GRPO4J_API grpo4j_status grpo4j_loss_forward_backward(const grpo4j_options* options, const grpo4j_batch* batch,
                                                      const grpo4j_exec* exec);

/* Evaluation: the same outputs from the current weights; no gradient (grad ignored), no weight update. */
GRPO4J_API grpo4j_status grpo4j_loss_forward(const grpo4j_options* options, const grpo4j_batch* batch,
                                             const grpo4j_exec* exec);

/* The same computation in three phases, so that group statistics can be combined between them: summed over the
 * ranks of a data-parallel job (all-reduce), or over the micro-batches of an optimiser step. Composed on one batch
 * -- statistics, group step with update_weights = 1, logits gradient -- they give what
 * grpo4j_loss_forward_backward gives, bit for bit; the one-shot calls are that composition.
 *
 * Group statistics: [K][GRPO4J_GROUP_STATS] doubles, row g for group g. Sums over a batch's pairs, so that the
 * statistics of several batches (or ranks) are combined by adding them element-wise.
 *
 * On CUDA every buffer is device memory (group_stats, workspace and group_coef included) and the calls are
 * asynchronous like the one-shot ones. Problems found on the device are or-ed into out.flags, which phase 1 sets:
 * phase 1's input flags also make its dl/ds zero and its loss sums NaN, so that the group step of every rank that
 * sums them raises GRPO4J_FLAG_GROUP_STATS, leaves log_alpha alone and writes zero coefficients. */
#define GRPO4J_GROUP_STATS 7
#define GRPO4J_STAT_LOSS_SUM 0        /* sum of the group's pair losses l_i */
#define GRPO4J_STAT_PAIRS 1           /* pairs of the group */
#define GRPO4J_STAT_REWARD_HITS 2     /* pairs with h > 0 */
#define GRPO4J_STAT_LOGP_HITS 3       /* pairs with s_w > s_l */
#define GRPO4J_STAT_CHOSEN_REWARD 4   /* sum of beta * (s_w - ref_w) */
#define GRPO4J_STAT_REJECTED_REWARD 5 /* sum of beta * (s_l - ref_l) */
#define GRPO4J_STAT_MARGIN 6          /* sum of h */

/* Bytes of the workspace phase 1 fills for phase 3 (per position the softmax statistics, per row dl/ds), for a
 * batch of `rows` = 2B rows of seq_len positions; in the backend's memory, 16-byte aligned. */
GRPO4J_API int64_t grpo4j_workspace_bytes(int64_t rows, int64_t seq_len);

/* Phase 1: reads tokens, ref_logps and group_ids; writes the pair outputs of batch->out (pair_*) and out.flags,
 * the batch's group statistics into group_stats, and the workspace. log_alpha, group_sizes, grad and the group
 * outputs are not used. */
GRPO4J_API grpo4j_status grpo4j_loss_statistics(const grpo4j_options* options, const grpo4j_batch* batch,
                                                double* group_stats, void* workspace, const grpo4j_exec* exec);

/* Phase 2, from group statistics (one batch's, or several summed): L_g, A_g = L_g + C/sqrt(N_g), with
 * update_weights != 0 and ROBUST weighting the exponentiated-gradient update of batch->log_alpha (in place), the
 * weights w_g, the objective J and the group outputs of batch->out (loss, group_*). The batch size B in the
 * normalisations is the sum of the GRPO4J_STAT_PAIRS column. group_coef [K] (may be NULL) receives dJ/dl_i for
 * a pair of group g: w_g * norm_g, or 1/B for AVERAGE. Reads num_groups, group_sizes and log_alpha of batch;
 * tokens, ref_logps, group_ids and grad are not used. */
GRPO4J_API grpo4j_status grpo4j_group_step(const grpo4j_options* options, const grpo4j_batch* batch,
                                           const double* group_stats, int32_t update_weights, double* group_coef,
                                           const grpo4j_exec* exec);

/* Phase 3: batch->grad = group_coef[g_i] * dl_i/ds_r * (onehot - softmax) for the rows of pair i, from the
 * workspace phase 1 filled for this same batch (tokens unchanged since; grad may equal tokens.logits). */
GRPO4J_API grpo4j_status grpo4j_logits_gradient(const grpo4j_batch* batch, const void* workspace,
                                                const double* group_coef, const grpo4j_exec* exec);

/* Phase 1 from sequence log-probs instead of logits, for callers that never form the whole logits tensor (a fused
 * LM head that works through the tokens in chunks): logps [2B] are s_r (chosen rows, then rejected rows) and
 * token_counts [2B] (may be NULL: all 1) the response tokens n_r, read by the losses flagged GRPO4J_LOSS_LENGTHS.
 * batch->tokens is not read; ref_logps, group_ids, num_pairs, num_groups and out are. Writes the pair outputs,
 * out.flags, group_stats and dloss [2B] = dl_i/ds_r, all in the backend's memory. */
GRPO4J_API grpo4j_status grpo4j_sequence_statistics(const grpo4j_options* options, const grpo4j_batch* batch,
                                                    const float* logps, const int32_t* token_counts,
                                                    double* group_stats, double* dloss, const grpo4j_exec* exec);

/* Phase 3 for sequence log-probs: row_coef[r] = dJ/ds_r = (float)(group_coef[g_i] * dloss[r]) for the rows r of
 * pair i, from grpo4j_sequence_statistics' dloss and grpo4j_group_step's group_coef. Reads only group_ids, num_pairs,
 * num_groups (and out.flags on CUDA) of batch: its other pointers may be stale or NULL. */
GRPO4J_API grpo4j_status grpo4j_sequence_gradient(const grpo4j_batch* batch, const double* dloss,
                                                  const double* group_coef, float* row_coef, const grpo4j_exec* exec);

/* Token-level passes: every position of tokens [rows, seq_len, V] on its own (a chunk of a fused LM head's logits).
 * grpo4j_token_logprobs reads the logits once: logps[p] = z[p][label] - logsumexp(z[p]) (0 where masked) and, in
 * stats, 8 bytes per position (8-byte aligned, the backend's own layout) from which grpo4j_token_gradient rebuilds
 * the softmax; flags (may be NULL) as grpo4j_sequence_logprobs'. grpo4j_token_gradient writes
 * grad[p][v] = coef[p] * (onehot(label_p)[v] - softmax(z[p])[v]), zeros where masked; grad may equal the logits. */
GRPO4J_API grpo4j_status grpo4j_token_logprobs(const grpo4j_tokens* tokens, void* stats, float* logps,
                                               int32_t* flags, const grpo4j_exec* exec);
GRPO4J_API grpo4j_status grpo4j_token_gradient(const grpo4j_tokens* tokens, const void* stats, const float* coef,
                                               void* grad, const grpo4j_exec* exec);

/* Masked sequence log-probs s_r [rows] and response-token counts [rows] (token_counts and flags may be
 * NULL), e.g. to precompute reference log-probs once per data set. */
GRPO4J_API grpo4j_status grpo4j_sequence_logprobs(const grpo4j_tokens* tokens, float* logps, int32_t* token_counts,
                                                  int32_t* flags, const grpo4j_exec* exec);

/* The loss table: grpo4j_loss_count() entries, each with its name (TRL's), a one-line formula, its code (the value
 * of loss_type and term_types) and GRPO4J_LOSS_* flags. Strings are static. */
#define GRPO4J_LOSS_USES_REFERENCE 1   /* reads ref_logps; without it the loss is reference-free */
#define GRPO4J_LOSS_F_DIVERGENCE 2     /* compares f-divergence scores; the others need GRPO4J_REVERSE_KL */
#define GRPO4J_LOSS_LABEL_SMOOTHING 4  /* reads label_smoothing */
#define GRPO4J_LOSS_NEEDS_SMOOTHING 8  /* label_smoothing must be > 0 (a log of it is taken) */
#define GRPO4J_LOSS_LENGTHS 16         /* reads the response-token counts (clamped to >= 1) */
#define GRPO4J_LOSS_SORTS 32           /* sorts log-ratios across the pairs of a group within one call: a pair's loss
                                          depends on the other pairs of its group in that call */
#define GRPO4J_LOSS_TAU 64             /* reads discopop_tau */
#define GRPO4J_LOSS_GAMMA 128          /* reads simpo_gamma */
typedef struct grpo4j_loss_info {
  const char* name;
  const char* formula;
  int32_t code;
  int32_t flags;
} grpo4j_loss_info;
GRPO4J_API int32_t grpo4j_loss_count(void);
/* Entry `index` in [0, grpo4j_loss_count()) of the table, in code order. */
GRPO4J_API grpo4j_status grpo4j_loss_info_at(int32_t index, grpo4j_loss_info* info);

/* Message of the calling thread's last failure ("" if none). Valid until that thread's next call. */
GRPO4J_API const char* grpo4j_last_error(void);
GRPO4J_API int32_t grpo4j_abi_version(void);
/* The structs' layout as this library was compiled, for bindings to check at load time: "name=bytes" entries
 * separated by ';', each struct's size ("grpo4j_batch.size=...") and every field's offset ("grpo4j_batch.grad=...").
 * A static string; never NULL. */
GRPO4J_API const char* grpo4j_abi_layout(void);
GRPO4J_API int32_t grpo4j_cpu_default_threads(void);
/* 1 when the library was built with its CUDA backend. */
GRPO4J_API int32_t grpo4j_cuda_compiled(void);

/* Small CUDA helpers so that callers without a CUDA binding (the JVM) can stage device memory.
 * Without a usable device they return GRPO4J_NO_CUDA_DEVICE (count: 0). */
GRPO4J_API grpo4j_status grpo4j_cuda_device_count(int32_t* count);
GRPO4J_API grpo4j_status grpo4j_cuda_malloc(void** ptr, int64_t bytes);
GRPO4J_API grpo4j_status grpo4j_cuda_free(void* ptr);
/* cudaMemcpyAsync with cudaMemcpyDefault on stream: either side may be host or device. */
GRPO4J_API grpo4j_status grpo4j_cuda_memcpy(void* dst, const void* src, int64_t bytes, void* stream);
GRPO4J_API grpo4j_status grpo4j_cuda_synchronize(void* stream);

#ifdef __cplusplus
}
#endif

#endif
